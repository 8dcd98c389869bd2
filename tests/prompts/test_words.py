"""Words, sentences and chunks of a prompt: the units compression keeps or drops."""

from __future__ import annotations

import re

import numpy as np
import pytest

from prompts.segments import Segment, parse_prompt
from prompts.words import Words, resolve_chunking, split_words


def texts_of(segments: list[Segment], words: Words) -> list[str]:
    return [segments[s].text[a:b] for s, a, b in zip(words.segment, words.start, words.end, strict=True)]


def test_words_are_whitespace_runs_with_their_punctuation() -> None:
    segments = [Segment('He said "stop."  Then (quietly) left,\tat 9:30.')]
    words = split_words(segments, "sentences", "text")
    assert texts_of(segments, words) == ["He", "said", '"stop."', "Then", "(quietly)", "left,", "at", "9:30."]
    assert words.number.tolist() == [False] * 7 + [True]
    assert not words.protected.any()
    assert len(words) == 8


def test_sentences_end_at_stops_and_line_breaks() -> None:
    text = 'One two. Three "four!" Five\nsix seven? (Eight.) nine 3.5 ten'
    words = split_words([Segment(text)], "sentences", "text")
    assert words.sentence.tolist() == [0, 0, 1, 1, 2, 3, 3, 4, 5, 5, 5]
    assert words.chunk.tolist() == words.sentence.tolist()


def test_paragraph_chunks_end_at_blank_lines() -> None:
    text = "First one. Still first.\nSame paragraph.\n \nSecond here.\n\n\nThird"
    words = split_words([Segment(text)], "paragraphs", "text")
    assert words.chunk.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 2]
    assert words.sentence.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4]


def test_document_chunks_are_segments_and_ids_run_across_them() -> None:
    segments = [Segment("Alpha beta. Gamma."), Segment(""), Segment("Delta\n\nepsilon.")]
    words = split_words(segments, "documents", "documents")
    assert words.segment.tolist() == [0, 0, 0, 2, 2]
    assert words.chunk.tolist() == [0, 0, 0, 1, 1]
    assert words.sentence.tolist() == [0, 0, 1, 2, 3]
    assert texts_of(segments, words) == ["Alpha", "beta.", "Gamma.", "Delta", "epsilon."]


def test_protected_words_from_segments_spans_and_patterns() -> None:
    parsed = parse_prompt("Call <winnow-keep>room 12</winnow-keep> now, ticket AB-99x please")
    segment = parsed.segments[0]
    words = split_words(parsed.segments, "sentences", "text", [re.compile(r"AB-\d+"), re.compile(r"z*")])
    assert texts_of(parsed.segments, words) == ["Call", "room", "12", "now,", "ticket", "AB-99x", "please"]
    # a pattern that matches part of a word protects the whole word; empty matches protect nothing
    assert words.protected.tolist() == [False, True, True, False, False, True, False]
    fixed = split_words([Segment(segment.text, compressible=False)], "sentences", "text")
    assert fixed.protected.all()


def test_fenced_code_words_are_protected() -> None:
    parsed = parse_prompt("Look:\n```\nx = 1\n```\nDone.")
    words = split_words(parsed.segments, "auto", "text")
    flags = dict(zip(texts_of(parsed.segments, words), words.protected.tolist(), strict=True))
    assert flags == {"Look:": False, "```": True, "x": True, "=": True, "1": True, "Done.": False}


def test_no_words_in_blank_segments() -> None:
    words = split_words([Segment(" \n\t ")], "auto", "text")
    assert len(words) == 0
    assert words.chunk.dtype == np.int64


@pytest.mark.parametrize(
    ("chunk_by", "kind", "text", "expected"),
    [
        ("auto", "documents", "One. Two.", "documents"),
        ("auto", "chat", "One. Two.", "paragraphs"),
        ("auto", "text", "One.\n\nTwo.", "paragraphs"),
        ("auto", "text", "One. Two.", "paragraphs"),
        ("sentences", "documents", "One.\n\nTwo.", "sentences"),
        ("paragraphs", "text", "One. Two.", "paragraphs"),
    ],
)
def test_auto_chunking(chunk_by: str, kind: str, text: str, expected: str) -> None:
    assert resolve_chunking(chunk_by, kind, text) == expected  # type: ignore[arg-type]


def test_a_heading_line_joins_the_sentence_after_it() -> None:
    text = (
        "Garden cities\nThe first one was planned in 1903. It grew.\n"
        "A long line of more than eight words without a stop\nnext"
    )
    words = split_words([Segment(text)], "sentences", "text")
    assert words.sentence.tolist() == [0] * 9 + [1, 1] + [2] * 11 + [3]


def test_initials_and_abbreviations_do_not_end_a_sentence() -> None:
    text = "Gold was found by James W. Marshall in c. 1848 at Mill No. 4. The rush began."
    words = split_words([Segment(text)], "sentences", "text")
    assert words.sentence.tolist() == [0] * 14 + [1] * 3


def test_a_name_in_brackets_or_quotes_is_capitalised() -> None:
    segments = [Segment('The deputy (Walter Brennan) said "Stop" and (left).')]
    words = split_words(segments, "sentences", "text")
    capital = dict(zip(texts_of(segments, words), words.capital.tolist(), strict=True))
    assert capital["(Walter"] and capital["Brennan)"] and capital['"Stop"']
    assert not capital["(left)."] and not capital["deputy"]


def test_connectors_are_flagged() -> None:
    segments = [Segment("Edward IV of England and Leonardo da Vinci")]
    words = split_words(segments, "sentences", "text")
    assert [w for w, c in zip(texts_of(segments, words), words.connector, strict=True) if c] == [
        "of",
        "and",
        "da",
    ]


def test_name_and_number_runs_stop_at_line_breaks_brackets_and_a_comma_between_kinds() -> None:
    text = "Physiology\nJean Fernel (1497-1558), a physician. On May 11, 1941, Nazi Germany left May 18, 2018"
    segments = [Segment(text)]
    words = split_words(segments, "sentences", "text")
    texts = texts_of(segments, words)
    assert [w for w, b in zip(texts, words.line_start, strict=True) if b] == ["Physiology", "Jean"]
    stops = [w for w, b in zip(texts, words.boundary, strict=True) if b]
    # "a" follows a comma after a number too; it is no name, so that stop changes nothing
    assert stops == ["(1497-1558),", "a", "Nazi"]
