"""Word spans for every script: spaces where a script has them, a maintained segmenter where it has not.

A run of non-space characters is one word, punctuation included, unless it holds characters of a script
written without spaces between words; such a run goes to that script's segmenter:
- Japanese (the run holds kana): SudachiPy with its core dictionary (mode C, the longest units);
- Thai: PyThaiNLP's `newmm` (dictionary maximal matching over Thai character clusters);
- Chinese (Han without kana): jieba (`rjieba`, the Rust port).
Punctuation the segmenter returns alone joins the word before it ("大学。"), so a word ends where a sentence
ends. A boundary that would fall inside a grapheme cluster (a base letter and its combining marks, an emoji
sequence) is dropped: no character or grapheme is ever split, and every span is text of the input.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache
from typing import Any

import regex

#: Han, kana and Thai: the scripts handled by a segmenter
UNSPACED = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")
KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
THAI = re.compile(r"[\u0e00-\u0e7f]")
RUN = re.compile(r"\S+")
GRAPHEME = regex.compile(r"\X")
#: a run is segmented a sentence at a time (up to and with its final mark)
SENTENCE_PIECE = re.compile(r"[^。！？]*[。！？]+|[^。！？]+")


def word_spans(text: str) -> list[tuple[int, int]]:
    """`[start, end)` character spans of the words of `text`, in order, covering every non-space character."""
    spans: list[tuple[int, int]] = []
    for match in RUN.finditer(text):
        start, end = match.span()
        run = match.group()
        if UNSPACED.search(run) is None:
            spans.append((start, end))
            continue
        spans.extend((start + a, start + b) for a, b in _segment(run))
    return spans


def is_unspaced(word: str) -> bool:
    """Whether `word` holds a character of a script written without spaces (joined without one on output)."""
    return UNSPACED.search(word) is not None


def _segment(run: str) -> list[tuple[int, int]]:
    """Spans of the words of one space-free run of an unspaced script, punctuation joined to the word before
    it, never cutting a grapheme cluster."""
    segmenter = _japanese if KANA.search(run) else _thai if THAI.search(run) else _chinese
    pieces = []
    for part in SENTENCE_PIECE.finditer(run):  # bounded input per call (SudachiPy refuses over 49 kB)
        pieces.extend((part.start() + a, part.start() + b) for a, b in segmenter(part.group()))
    graphemes = {m.end() for m in GRAPHEME.finditer(run)}
    cuts = [0]
    for start, end in pieces[1:]:
        if start in graphemes and not _is_punctuation(run[start:end]):
            cuts.append(start)
    cuts.append(len(run))
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def _is_punctuation(piece: str) -> bool:
    return bool(piece) and all(unicodedata.category(ch)[0] in "PZ" for ch in piece)


def _contiguous(run: str, surfaces: list[str]) -> list[tuple[int, int]]:
    """Spans of `surfaces` laid end to end over `run` (one span for the whole run if they do not match it)."""
    if "".join(surfaces) != run:
        return [(0, len(run))]
    spans, position = [], 0
    for surface in surfaces:
        spans.append((position, position + len(surface)))
        position += len(surface)
    return spans


def _chinese(run: str) -> list[tuple[int, int]]:
    import rjieba

    return [(start, end) for _, start, end in rjieba.tokenize(run)]


def _japanese(run: str) -> list[tuple[int, int]]:
    from sudachipy import SplitMode

    return [(m.begin(), m.end()) for m in _sudachi().tokenize(run, SplitMode.C)]


def _thai(run: str) -> list[tuple[int, int]]:
    from pythainlp.tokenize import word_tokenize

    return _contiguous(run, word_tokenize(run, engine="newmm", keep_whitespace=True))


@lru_cache(maxsize=1)
def _sudachi() -> Any:
    from sudachipy import Dictionary

    return Dictionary(dict="core").tokenizer()
