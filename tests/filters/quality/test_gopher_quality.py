"""Gopher quality rules: each rule at its boundary, the stage, and a from-the-spec reference on real text."""

from __future__ import annotations

import gzip
import json

import polars as pl
import pytest
from pydantic import ValidationError

from filters.quality.gopher_quality import (
    PUNCTUATION,
    STATISTICS,
    STOP_WORDS,
    GopherQuality,
    GopherQualityConfig,
    gopher_quality,
)
from filters.quality.words import words
from tests.conftest import shared_file

PHRASE = "the cat and one dog sat down near some tall trees today"
# 50 words (mean length 3.7), stop words, every word alphabetic
BASE = " ".join([PHRASE] * 4 + ["the end"])


def reason(text: str, **config: object) -> str | None:
    return gopher_quality(pl.DataFrame({"text": [text]}), GopherQualityConfig(**config))["reason"].item()


def test_base_text_passes_every_rule() -> None:
    assert reason(BASE) is None


def test_word_count_bounds_count_non_symbol_words() -> None:
    short = " ".join(BASE.split()[:49])
    assert reason(short) == "gopher_short_doc"
    assert reason(short + " , ; !") == "gopher_short_doc"  # punctuation is no word here
    assert reason(BASE, max_doc_words=49) == "gopher_long_doc"
    assert reason(BASE, max_doc_words=50) is None


def test_mean_word_length_bounds() -> None:
    assert reason(" ".join(["to be of it"] * 13)) == "gopher_below_avg_threshold"  # mean 2
    long_words = " ".join(["the and extraordinarily"] * 17)  # mean (3 + 3 + 15) / 3 = 7
    assert reason(long_words) is None
    assert reason(long_words, max_avg_word_length=6) == "gopher_above_avg_threshold"
    assert reason(long_words, max_avg_word_length=7) is None


def test_hash_and_ellipsis_ratios_are_over_all_words() -> None:
    assert reason(BASE + " #" * 5) is None  # 5 / 55 words
    assert reason(BASE + " #" * 6) == "gopher_too_many_hashes"  # 6 / 56 > 0.1
    assert reason(BASE + " ..." * 6) == "gopher_too_many_ellipsis"
    assert reason("… " * 5 + BASE) is None


def test_bullet_and_ellipsis_lines() -> None:
    lines = [PHRASE] * 4 + ["the end"]
    bulleted = "\n".join(f"  - {line}" for line in lines)
    assert reason(bulleted) == "gopher_too_many_bullets"  # 5 of 5 lines
    assert reason(bulleted.replace("  - ", "• ") + "\nnot a bullet") is None  # 5 of 6 lines
    ellipsis = "\n".join(line + "...  " if i < 2 else line for i, line in enumerate(lines))
    assert reason(ellipsis) == "gopher_too_many_end_ellipsis"  # 2 of 5 lines
    assert reason(ellipsis.replace("...", "", 1)) is None  # 1 of 5 lines


def test_alphabetic_words_and_stop_words() -> None:
    numbers = BASE + " 1" * 13  # 50 alphabetic of 63 words: 0.79
    assert reason(numbers) == "gopher_below_alpha_threshold"
    assert reason(BASE + " 1" * 12) is None  # 50 / 62 = 0.806
    no_stops = BASE.replace("the ", "a ").replace(" and ", " or ")
    assert reason(no_stops) == "gopher_enough_stop_words"
    assert reason(no_stops, stop_words=["cat", "dog"]) is None


def test_rules_report_the_first_failure_in_datatrove_order() -> None:
    # too short and no stop words: the word count rule comes first
    assert reason("cat dog") == "gopher_short_doc"
    assert reason("cat dog", min_doc_words=None) == "gopher_enough_stop_words"


def test_config_validates() -> None:
    with pytest.raises(ValidationError):
        GopherQualityConfig(max_bullet_lines_ratio=1.5)
    with pytest.raises(ValidationError):
        GopherQualityConfig(unknown=1)


def test_stage_drops_statistics_unless_asked() -> None:
    batch = pl.DataFrame({"id": ["a", "b"], "text": [BASE, "too short"], "__order": [0, 1]})
    out = GopherQuality().apply(batch)
    assert out.columns == ["id", "text", "__order", "reason"]
    assert out["reason"].to_list() == [None, "gopher_short_doc"]
    stage = GopherQualityConfig(keep_scores=True).build()
    scored = stage.apply(batch)
    assert stage.score_columns == STATISTICS
    assert {name: scored.schema[name] for name in STATISTICS} == STATISTICS
    assert scored["gopher_non_symbol_words"].to_list() == [50, 2]


def reference_reason(text: str, tokens: list[str]) -> str | None:
    """The Gopher quality rules written from datatrove's definitions, one document at a time."""
    n_words = len(tokens)
    kept = [w for w in tokens if any(c not in PUNCTUATION for c in w)]
    if len(kept) < 50:
        return "gopher_short_doc"
    if len(kept) > 100_000:
        return "gopher_long_doc"
    mean = sum(map(len, kept)) / len(kept)
    if mean < 3:
        return "gopher_below_avg_threshold"
    if mean > 10:
        return "gopher_above_avg_threshold"
    if text.count("#") / n_words > 0.1:
        return "gopher_too_many_hashes"
    if (text.count("...") + text.count("…")) / n_words > 0.1:
        return "gopher_too_many_ellipsis"
    lines = text.splitlines()
    if sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines) > 0.9:
        return "gopher_too_many_bullets"
    if sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines) > 0.3:
        return "gopher_too_many_end_ellipsis"
    if sum(any(c.isalpha() for c in w) for w in tokens) / n_words < 0.8:
        return "gopher_below_alpha_threshold"
    if len(set(STOP_WORDS) & set(tokens)) < 2:
        return "gopher_enough_stop_words"
    return None


@pytest.mark.shared_data
def test_agrees_with_a_reference_on_real_web_text() -> None:
    with gzip.open(shared_file("c4_sample1k.jsonl.gz"), "rt", encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines][:400]
    frame = gopher_quality(pl.DataFrame({"text": texts}).with_columns(words(pl.col("text")).alias("w")))
    expected = [reference_reason(t, w) for t, w in zip(texts, frame["w"].to_list(), strict=True)]
    assert frame["reason"].to_list() == expected
    assert len(set(expected)) >= 3  # the sample exercises several rules, keeps included
