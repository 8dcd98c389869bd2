"""spaCy-compatible English words: spaCy's splits of hand-written sentences, invariants on real text."""

from __future__ import annotations

import gzip
import json

import polars as pl
import pytest

from filters.quality.words import word_count, words
from tests.conftest import shared_file

# the tokens (space-separated) as spaCy 3.8's blank English tokenizer gives them (datatrove's words)
CASES = [
    (
        "We don't know (yet) whether U.S. prices rose 5% to $12.50 in Jan., said Mr. Smith.",
        "We do n't know ( yet ) whether U.S. prices rose 5 % to $ 12.50 in Jan. , said Mr. Smith .",
    ),
    ('A well-known e-mail...said: "no"', 'A well - known e - mail ... said : " no "'),
    (
        "It costs 10km/h;  really?!\n\nNew\tline 3-4 items (R-Kan.)",
        "It costs 10 km/h ; really ? ! New line 3 - 4 items ( R - Kan. )",
    ),
    ("see http://example.com/a-b,c or www.test.org.", "see http://example.com/a-b,c or www.test.org ."),
    ("cannot gonna 8am", "can not gon na 8 am"),
    ("Hello\x1cworld \xa0x", "Hello world x"),
]


@pytest.mark.parametrize(("text", "spaced"), CASES)
def test_words_split_as_spacy_does(text: str, spaced: str) -> None:
    expected = spaced.split(" ")
    frame = pl.DataFrame({"text": [text]})
    assert frame.select(words(pl.col("text"))).item().to_list() == expected
    assert frame.select(word_count(pl.col("text"))).item() == len(expected)


def test_words_of_empty_blank_and_missing_text() -> None:
    frame = pl.DataFrame({"text": ["", " \n\t ", None, "one"]})
    out = frame.select(words(pl.col("text")).alias("w"), word_count(pl.col("text")).alias("n"))
    assert out["w"].to_list() == [[], [], None, ["one"]]
    assert out["n"].to_list() == [0, 0, None, 1]


def test_words_work_inside_lazy_queries_and_keep_row_order() -> None:
    texts = [f"row {i}: it's fine." for i in range(50)]
    out = pl.LazyFrame({"text": texts}).with_columns(n=word_count(pl.col("text"))).collect()
    assert out["n"].to_list() == [7] * 50
    first = pl.DataFrame({"text": texts[:3]}).select(words(pl.col("text"))).to_series().to_list()
    assert first[2] == ["row", "2", ":", "it", "'s", "fine", "."]


@pytest.mark.shared_data
def test_words_partition_the_non_space_characters_of_real_text() -> None:
    with gzip.open(shared_file("c4_sample1k.jsonl.gz"), "rt", encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines][:300]
    tokens = pl.DataFrame({"text": texts}).select(words(pl.col("text"))).to_series().to_list()
    for text, got in zip(texts, tokens, strict=True):
        assert all(token and not any(c.isspace() for c in token) for token in got)
        assert "".join(got) == "".join(text.split())
