"""`winnow decontaminate` and `type = "decontaminate"` in a recipe: GSM8K questions planted into C4 pages
leave the corpus with their benchmark, item and n-gram in the ledger, or are cut out of the pages."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import orjson
import polars as pl
import pytest

from pipeline.report import checked_sentences
from tests.conftest import CliResult, shared_file

Winnow = Callable[..., CliResult]
pytestmark = pytest.mark.shared_data

PAGES = 200
PLANTED = (3, 40, 77, 150, 199)  # pages that get question 6 * k (record 6 * k + 1 of the file)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """200 C4 pages, five of them with a GSM8K test question inserted; and the questions."""
    pages = pl.read_ndjson(shared_file("c4_sample1k.jsonl.gz")).head(PAGES)
    questions = pl.read_ndjson(shared_file("gsm8k_test.jsonl.gz"))["question"].to_list()
    rng = random.Random(0)
    records = []
    for i, (doc_id, text) in enumerate(pages.select("id", "text").rows()):
        if i in PLANTED:
            words = text.split(" ")
            cut = rng.randrange(len(words))
            text = " ".join([*words[:cut], questions[i * 6], *words[cut:]])
        records.append({"id": doc_id, "text": text})
    path = tmp_path_factory.mktemp("corpus") / "pages.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path, questions


def test_decontaminate_removes_planted_questions_and_reports_them(
    tmp_path: Path, winnow: Winnow, corpus: tuple[Path, list[str]]
) -> None:
    pages, _ = corpus
    gsm8k = shared_file("gsm8k_test.jsonl.gz")
    out = tmp_path / "run"
    result = winnow(
        "decontaminate", pages, "--benchmarks", gsm8k, "--benchmark-field", "question",
        "--benchmark-field", "answer", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    removed = pl.read_parquet(out / "removed").sort("id")
    expected = sorted((f"c4-{i}", f"gsm8k_test.jsonl.gz:{i * 6 + 1}") for i in PLANTED)
    assert removed.select("id", "contaminated_item").rows() == expected
    assert set(removed["stage"]) == {"decontaminate"} and set(removed["reason"]) == {
        "contaminated_gsm8k_test"
    }
    assert removed["contaminated_ngram"].str.split(" ").list.len().to_list() == [13] * len(PLANTED)
    assert pl.read_parquet(out / "kept").height == PAGES - len(PLANTED)
    stats = json.loads((out / "stats.json").read_text())
    assert [(s["name"], s["reasons"]) for s in stats["stages"]] == [
        ("decontaminate", {"contaminated_gsm8k_test": len(PLANTED)})
    ]
    report = (out / "report.html").read_text()
    assert "decontaminate" in report and "contaminated_gsm8k_test" in report
    facts = stats["stages"][0]["facts"]["decontamination"]
    (coverage,) = facts["benchmarks"]
    assert coverage["items"] == 2 * 1319 and coverage["unchecked"] == 0  # question + answer, none too short
    assert coverage["by_ngrams"] + coverage["whole"] == coverage["items"]
    (sentence,) = checked_sentences(facts)
    assert sentence.startswith("gsm8k_test: 2,638 of 2,638 items checked")
    later = winnow("stats", out).output
    for shown in (result.output, later, (out / "report.md").read_text(), report):
        assert sentence in " ".join(shown.split()), (
            "the run, `winnow stats` and both reports say what was checked"
        )


def test_a_recipe_redacts_inside_clean(
    tmp_path: Path, winnow: Winnow, corpus: tuple[Path, list[str]]
) -> None:
    pages, questions = corpus
    recipe = tmp_path / "recipe.toml"
    gsm8k = shared_file("gsm8k_test.jsonl.gz")
    recipe.write_text(
        "[[stages]]\n"
        'type = "decontaminate"\n'
        f'benchmarks = [{{ path = "{gsm8k}", name = "gsm8k", fields = ["question"] }}]\n'
        'mode = "redact"\n'
    )
    out = tmp_path / "run"
    result = winnow("clean", pages, "--recipe", recipe, "--out", out)
    assert result.exit_code == 0, result.output
    kept = pl.read_parquet(out / "kept").sort("id")
    assert kept.height == PAGES
    stats = json.loads((out / "stats.json").read_text())
    assert stats["stages"][0]["counters"]["documents_redacted"] == len(PLANTED)
    texts = dict(kept.select("id", "text").rows())
    for i in PLANTED:
        assert questions[i * 6][:60] not in texts[f"c4-{i}"]
    assert "documents_redacted" in (out / "report.html").read_text()


def test_bad_benchmarks_are_clear_errors(
    tmp_path: Path, winnow: Winnow, corpus: tuple[Path, list[str]]
) -> None:
    pages, _ = corpus
    missing = winnow("decontaminate", pages, "--benchmarks", tmp_path / "nope.jsonl", "--out", tmp_path / "a")
    assert missing.exit_code == 1 and "nope.jsonl does not exist" in missing.output
    gsm8k = shared_file("gsm8k_test.jsonl.gz")
    field = winnow(
        "decontaminate", pages, "--benchmarks", gsm8k, "--benchmark-field", "problem", "--out", tmp_path / "b"
    )
    assert (
        field.exit_code == 1
        and "field 'problem'" in field.output
        and "no item has a text field" in field.output
    )
    short = tmp_path / "short.jsonl"  # a 6-word item: under the 8 words an item needs to be checked
    short.write_text(json.dumps({"text": "natalia sold clips to her friends"}) + "\n")
    too_short = winnow("decontaminate", pages, "--benchmarks", short, "--out", tmp_path / "c")
    assert (
        too_short.exit_code == 1
        and "no item has 8 words (the longest has 6): lower `min_ngram`" in " ".join(too_short.output.split())
    )
    for result in (missing, field, too_short):
        assert "Traceback" not in result.output
    lowered = winnow(
        "decontaminate", pages, "--benchmarks", short, "--min-ngram", "6", "--out", tmp_path / "d"
    )
    assert lowered.exit_code == 0, lowered.output
    assert "short: 1 of 1 items checked (0 by their 13-word n-grams, 1 whole (6-12 words))" in " ".join(
        lowered.output.split()
    )
