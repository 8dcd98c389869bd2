"""Words, sentences and chunks of a prompt: the units compression keeps or drops."""

from __future__ import annotations

import re

import numpy as np
import pytest
import regex

from prompts.scripts import word_spans
from prompts.segments import Segment, parse_prompt
from prompts.words import Words, resolve_chunking, split_words, word_key


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
    text = 'One two. Three "four!" Five\nsix seven? (Eight.) Nine 3.5 ten'
    words = split_words([Segment(text)], "sentences", "text")
    assert words.sentence.tolist() == [0, 0, 1, 1, 2, 3, 3, 4, 5, 5, 5]


def test_a_stop_before_a_lowercase_word_or_a_digit_does_not_end_a_sentence() -> None:
    text = "Built c. 1500 by the Dept. of works. It stands."
    words = split_words([Segment(text)], "sentences", "text")
    assert words.sentence.tolist() == [0] * 8 + [1, 1]
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "在1983年，他们建立了大学。我爱北京天安门！",
            ["在", "1983", "年，", "他们", "建立", "了", "大学。"],
        ),
        (
            "東京都に住んでいます。カタカナの言葉です",
            ["東京都", "に", "住ん", "で", "い", "ます。", "カタカナ"],
        ),
        ("ผมรักภาษาไทยมากครับ", ["ผม", "รัก", "ภาษาไทย", "มาก", "ครับ"]),
    ],
    ids=["chinese", "japanese", "thai"],
)
def test_unspaced_scripts_are_split_into_words_not_characters(text: str, expected: list[str]) -> None:
    segments = [Segment(text)]
    words = split_words(segments, "sentences", "text")
    found = texts_of(segments, words)
    assert found[: len(expected)] == expected
    assert "".join(found) == text  # every character in exactly one word, in order
    assert words.unspaced[[i for i, w in enumerate(found) if w != "1983"]].all()


def test_no_word_boundary_inside_a_grapheme_cluster() -> None:
    text = "นํ้าใจ 東京の👍🏽です e\u0301te\u0301"
    spans = word_spans(text)
    graphemes = {m.end() for m in regex.finditer(r"\X", text)} | {0}
    assert all(a in graphemes and b in graphemes for a, b in spans)
    assert "".join(text[a:b] for a, b in spans) == text.replace(" ", "")


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("他们建立了大学。学校很大！你知道吗？是的", 4),
        ("أين تقع المدينة؟ تقع في الشمال. وهي كبيرة", 3),
        ("यह एक वाक्य है। यह दूसरा है।", 2),
    ],
    ids=["chinese", "arabic", "hindi"],
)
def test_sentences_end_at_each_scripts_own_marks(text: str, sentences: int) -> None:
    words = split_words([Segment(text)], "sentences", "text")
    assert int(words.sentence.max()) + 1 == sentences


def test_word_keys_are_lowercase_letters_marks_and_digits_of_any_script() -> None:
    assert word_key('"Hello,"') == "hello"
    assert word_key("大学。") == "大学"
    assert word_key("(١٩٨٣)") == "١٩٨٣"
    assert word_key("นํ้า") == "นํ้า"  # Thai vowel and tone marks are kept
