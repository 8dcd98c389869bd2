"""Tests for the synthetic demo corpus generator."""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from flows.demo_corpus import DemoCorpus, write_demo_corpus

N_DOCS = 3000
FIELDS = ["id", "text", "kind", "duplicate_of", "jaccard", "topic"]
_SPLIT = re.compile(r"\W+")


def shingles(text: str) -> set[str]:
    words = [w for w in _SPLIT.split(text.lower()) if w]
    return {" ".join(words[i : i + 5]) for i in range(len(words) - 4)}


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoCorpus, list[str]]:
    path = tmp_path_factory.mktemp("demo") / "demo.jsonl"
    result = write_demo_corpus(path, n_docs=N_DOCS, seed=0)
    return result, path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def records(corpus: tuple[DemoCorpus, list[str]]) -> list[dict[str, Any]]:
    good = []
    for line in corpus[1]:
        try:
            good.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return good


def by_kind(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("kind") == kind]


def test_deterministic_and_seed_dependent(tmp_path: Path) -> None:
    a = write_demo_corpus(tmp_path / "a.jsonl", n_docs=500, seed=3)
    b = write_demo_corpus(tmp_path / "b.jsonl", n_docs=500, seed=3)
    c = write_demo_corpus(tmp_path / "c.jsonl", n_docs=500, seed=4)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.path.read_bytes() != c.path.read_bytes()
    assert a.counts == b.counts and a.n_records == b.n_records


def test_gzip_output_readable_and_deterministic(tmp_path: Path) -> None:
    plain = write_demo_corpus(tmp_path / "x.jsonl", n_docs=300, seed=1)
    gz1 = write_demo_corpus(tmp_path / "one" / "x.jsonl.gz", n_docs=300, seed=1)
    gz2 = write_demo_corpus(tmp_path / "two.jsonl.gz", n_docs=300, seed=1)
    assert gz1.path.read_bytes()[:2] == b"\x1f\x8b"
    assert gz1.path.read_bytes() == gz2.path.read_bytes()
    with gzip.open(gz1.path, "rt", encoding="utf-8") as fh:
        assert fh.read() == plain.path.read_text(encoding="utf-8")
    assert gz1.n_records == plain.n_records == 304


def test_counts_match_lines(corpus: tuple[DemoCorpus, list[str]], records: list[dict[str, Any]]) -> None:
    result, lines = corpus
    assert result.n_records == len(lines) == N_DOCS + 4
    seen = Counter(r["kind"] for r in records)
    seen["bad_record"] += len(lines) - len(records)  # the malformed line
    assert dict(seen) == result.counts
    assert sum(result.counts.values()) == result.n_records
    assert result.counts["bad_record"] == 4
    shares = {"original": 0.75, "exact_duplicate": 0.08, "near_duplicate": 0.08, "junk": 0.09}
    for kind, share in shares.items():
        assert abs(result.counts[kind] / N_DOCS - share) < 0.01


def test_record_shape_and_ids(records: list[dict[str, Any]]) -> None:
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"demo-\d{6}", i) for i in ids)
    for r in records:
        if r["kind"] != "bad_record":
            assert list(r) == FIELDS
            assert isinstance(r["text"], str) and r["text"].strip()
            assert isinstance(r["topic"], str)


def test_duplicates_follow_their_original(records: list[dict[str, Any]]) -> None:
    position = {r["id"]: i for i, r in enumerate(records)}
    kinds = {r["id"]: r["kind"] for r in records}
    dups = by_kind(records, "exact_duplicate") + by_kind(records, "near_duplicate")
    assert dups
    for r in dups:
        assert kinds[r["duplicate_of"]] == "original"
        assert position[r["duplicate_of"]] < position[r["id"]]
    for r in by_kind(records, "original") + by_kind(records, "junk"):
        assert r["duplicate_of"] is None


def test_exact_duplicates_normalise_to_original(records: list[dict[str, Any]]) -> None:
    text = {r["id"]: r["text"] for r in records}
    identical = 0
    for r in by_kind(records, "exact_duplicate"):
        original = text[r["duplicate_of"]]
        assert normalise(r["text"]) == normalise(original)
        identical += r["text"] == original
    n = len(by_kind(records, "exact_duplicate"))
    assert 0 < identical < n  # both byte-identical copies and case/whitespace variants


def test_near_duplicates_jaccard(records: list[dict[str, Any]]) -> None:
    text = {r["id"]: r["text"] for r in records}
    near = by_kind(records, "near_duplicate")
    assert near
    for r in near:
        assert 0.7 <= r["jaccard"] <= 0.97
        expected = shingles(r["text"]), shingles(text[r["duplicate_of"]])
        recomputed = len(expected[0] & expected[1]) / len(expected[0] | expected[1])
        assert r["jaccard"] == pytest.approx(recomputed, abs=1e-9)
        assert normalise(r["text"]) != normalise(text[r["duplicate_of"]])


def test_originals_look_like_prose(records: list[dict[str, Any]]) -> None:
    originals = by_kind(records, "original")
    assert len({r["topic"] for r in originals}) >= 5
    for r in originals:
        paragraphs = r["text"].split("\n\n")
        assert 80 <= len(r["text"].split()) <= 600
        assert 2 <= len(paragraphs) <= 8
        assert all(p.rstrip()[-1] in ".!?" for p in paragraphs)
        assert any(ch.isdigit() for ch in r["text"])


def test_originals_mutually_distinct(records: list[dict[str, Any]]) -> None:
    sample = random.Random(0).sample(by_kind(records, "original"), 300)
    sets = [shingles(r["text"]) for r in sample]
    index: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        for g in s:
            index[g].append(i)
    shared: Counter[tuple[int, int]] = Counter()
    for docs in index.values():
        shared.update(combinations(docs, 2))
    worst = max((k / (len(sets[i]) + len(sets[j]) - k) for (i, j), k in shared.items()), default=0.0)
    assert worst < 0.5


def test_junk_kinds(records: list[dict[str, Any]]) -> None:
    junk = by_kind(records, "junk")
    topics = Counter(r["topic"] for r in junk)
    expected = {
        "char_soup",
        "repeated_line",
        "navigation",
        "number_list",
        "short_fragment",
        "keyword_spam",
        "pseudo_foreign",
    }
    assert set(topics) == expected
    for r in junk:
        if r["topic"] == "short_fragment":
            assert len(r["text"].split()) < 10
        if r["topic"] == "repeated_line":
            lines = r["text"].split("\n")
            assert len(lines) >= 20 and len(set(lines)) == 1
        if r["topic"] == "navigation":
            assert "|" in r["text"] or ">" in r["text"] or "rights reserved" in r["text"]


def test_bad_records(corpus: tuple[DemoCorpus, list[str]], records: list[dict[str, Any]]) -> None:
    malformed = []
    for line in corpus[1]:
        try:
            json.loads(line)
        except json.JSONDecodeError:
            malformed.append(line)
    assert len(malformed) == 1
    bad = {r["topic"]: r for r in by_kind(records, "bad_record")}
    assert set(bad) == {"null_text", "numeric_text", "blank_text"}
    assert bad["null_text"]["text"] is None
    numeric = bad["numeric_text"]["text"]
    assert isinstance(numeric, int | float) and not isinstance(numeric, bool)
    assert isinstance(bad["blank_text"]["text"], str) and bad["blank_text"]["text"].strip() == ""
    assert bad["blank_text"]["text"] != ""


def test_small_corpus(tmp_path: Path) -> None:
    for n in (0, 1, 7):
        result = write_demo_corpus(tmp_path / f"s{n}.jsonl", n_docs=n, seed=0)
        assert result.n_records == n + 4 == len(result.path.read_text(encoding="utf-8").splitlines())
