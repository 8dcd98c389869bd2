"""Gopher repetition rules: statistics of hand-made text, each reason, the stage, a spec reference."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter

import polars as pl
import pytest
from pydantic import ValidationError

from filters.quality.gopher_repetition import GopherRepetition, GopherRepetitionConfig, gopher_repetition
from filters.quality.words import words
from tests.conftest import shared_file

UNIQUE = [
    "Morning fog lifted slowly over the harbour while gulls argued about bread.",
    "A retired teacher repaired bicycles in his garage every second weekend.",
    "The committee postponed its vote because three members were travelling.",
    "Fresh snow covered the mountain pass, so the trucks waited at the border.",
    "Her grandmother kept seeds from each harvest in labelled paper envelopes.",
    "Engineers measured the bridge twice before they trusted the new sensors.",
]


def run(text: str, **config: object) -> dict[str, object]:
    return gopher_repetition(pl.DataFrame({"text": [text]}), GopherRepetitionConfig(**config)).row(
        0, named=True
    )


def test_unique_text_passes_and_empty_text_fails() -> None:
    assert run("\n\n".join(UNIQUE))["reason"] is None
    assert run("")["reason"] == "empty"


def test_duplicate_paragraph_statistics() -> None:
    text = "\n\n".join([UNIQUE[0], UNIQUE[1], UNIQUE[0]])
    out = run(text)
    assert out["gopher_dup_para_frac"] == pytest.approx(1 / 3)
    assert out["gopher_dup_para_char_frac"] == pytest.approx(len(UNIQUE[0]) / len(text))
    assert out["reason"] == "dup_para_frac"  # 1/3 > 0.3
    assert run(text, dup_para_frac=0.34)["reason"] == "dup_para_char_frac"  # 0.33 of the characters > 0.2
    assert run(text, dup_para_frac=0.34, dup_para_char_frac=0.34)["reason"] == "dup_line_frac"


def test_duplicate_lines_and_their_characters() -> None:
    lines = [*UNIQUE[:4], UNIQUE[0]]
    text = "\n".join(lines) + "\n"  # a trailing empty line, as `re.split("\\n+")` gives
    out = run(text)
    assert out["gopher_dup_para_frac"] == 0
    assert out["gopher_dup_line_frac"] == pytest.approx(1 / 6)
    assert out["gopher_dup_line_char_frac"] == pytest.approx(len(UNIQUE[0]) / len(text))
    assert out["reason"] == "dup_line_char_frac"  # 0.2 of the characters: above 0.2 by a hair
    # with the rule disabled the repeated line is still caught, by the later n-gram rules
    assert run(text, dup_line_char_frac=None)["reason"] == "duplicated_6_n_grams"


def test_top_ngram_share_counts_the_most_frequent_ngram() -> None:
    text = "fat cats nap " * 3 + "and dogs run far away from home today"
    out = run(text)
    # "fat cats" 3 times: 3 * 8 characters
    assert out["gopher_top_2_gram_frac"] == pytest.approx(24 / len(text))
    assert out["reason"] == "top_2_gram"
    assert run(text, top_n_grams=((2, 0.4),))["reason"] == "duplicated_5_n_grams"


def test_duplicate_ngrams_jump_over_each_repeat() -> None:
    text = " ".join(["one two three four five six"] * 2) + " " + " ".join(UNIQUE)
    out = run(text, top_n_grams=())
    # the repeat of "one two three four five" is counted, then the scan jumps over it to "six one ...", new
    assert out["gopher_dup_5_gram_frac"] == pytest.approx(len("onetwothreefourfive") / len(text))
    assert out["gopher_dup_6_gram_frac"] == pytest.approx(len("onetwothreefourfivesix") / len(text))
    heavy = " ".join(["one two three four five six"] * 4) + " " + UNIQUE[0]
    assert run(heavy, top_n_grams=())["reason"] == "duplicated_5_n_grams"


def test_config_validates_and_stage_keeps_scores_on_request() -> None:
    with pytest.raises(ValidationError):
        GopherRepetitionConfig(dup_line_frac=2)
    batch = pl.DataFrame({"id": ["a", "b"], "text": ["\n\n".join(UNIQUE), "x\nx\nx"]})
    out = GopherRepetition().apply(batch)
    assert out.columns == ["id", "text", "reason"]
    assert out["reason"].to_list() == [None, "dup_line_frac"]
    stage = GopherRepetitionConfig(keep_scores=True, dup_n_grams=((5, 0.15),)).build()
    scored = stage.apply(batch)
    assert set(stage.score_columns) <= set(scored.columns)
    assert "gopher_dup_5_gram_frac" in stage.score_columns
    assert "gopher_dup_6_gram_frac" not in scored.columns


def test_ngram_statistics_stay_within_each_document_of_a_batch() -> None:
    """Ties, n = 1, documents shorter than n and n-grams repeated only across documents, in one batch."""
    texts = [
        "red fox red fox blue jay blue jay",  # a tie: the first n-gram seen wins
        "red fox ran",  # its n-grams repeat only in the other documents
        "solo",
        "",
        "a b a b a b c a b a b a b",
        "red fox red fox blue jay blue jay",
    ]
    sizes = ((1, 0.9), (2, 0.9), (3, 0.9))
    out = gopher_repetition(
        pl.DataFrame({"text": texts}), GopherRepetitionConfig(top_n_grams=sizes, dup_n_grams=sizes)
    ).with_columns(words(pl.col("text")).alias("w"))
    for row in out.iter_rows(named=True):
        tokens, length = row["w"], len(row["text"])
        for n, _ in sizes:
            grams = [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
            top = 0
            if grams:
                gram, times = Counter(grams).most_common(1)[0]
                top = len(gram) * times
            if length:
                assert row[f"gopher_top_{n}_gram_frac"] == pytest.approx(top / length)
                assert row[f"gopher_dup_{n}_gram_frac"] == pytest.approx(_all_duplicates(tokens, n) / length)
    assert out["gopher_top_2_gram_frac"][1] == pytest.approx(len("red fox") / len(texts[1]))
    assert out["gopher_dup_2_gram_frac"][1] == 0


def _duplicates(items: list[str]) -> tuple[int, int]:
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count, chars = count + 1, chars + len(item)
        seen.add(item)
    return count, chars


def _all_duplicates(tokens: list[str], n: int) -> int:
    seen: set[str] = set()
    chars, i = 0, 0
    while i < len(tokens) - n + 1:
        gram = "".join(tokens[i : i + n])
        if gram in seen:
            chars, i = chars + len(gram), i + n
        else:
            seen.add(gram)
            i += 1
    return chars


def reference_reason(text: str, tokens: list[str]) -> str | None:
    """The Gopher repetition rules written from datatrove's definitions, one document at a time."""
    if not text:
        return "empty"
    paragraphs = re.split(r"\n{2,}", text.strip())
    count, chars = _duplicates(paragraphs)
    if count / len(paragraphs) > 0.3:
        return "dup_para_frac"
    if chars / len(text) > 0.2:
        return "dup_para_char_frac"
    lines = re.split("\n+", text)
    count, chars = _duplicates(lines)
    if count / len(lines) > 0.3:
        return "dup_line_frac"
    if chars / len(text) > 0.2:
        return "dup_line_char_frac"
    for n, frac in ((2, 0.2), (3, 0.18), (4, 0.16)):
        grams = [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        if grams:
            gram, times = Counter(grams).most_common(1)[0]
            if len(gram) * times / len(text) > frac:
                return f"top_{n}_gram"
    for n, frac in ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)):
        if _all_duplicates(tokens, n) / len(text) > frac:
            return f"duplicated_{n}_n_grams"
    return None


@pytest.mark.shared_data
def test_agrees_with_a_reference_on_real_web_text() -> None:
    with gzip.open(shared_file("c4_sample1k.jsonl.gz"), "rt", encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines][:400]
    frame = gopher_repetition(pl.DataFrame({"text": texts}).with_columns(words(pl.col("text")).alias("w")))
    expected = [reference_reason(t, w) for t, w in zip(texts, frame["w"].to_list(), strict=True)]
    assert frame["reason"].to_list() == expected
    assert len(set(expected)) >= 3  # the sample exercises several rules, keeps included
