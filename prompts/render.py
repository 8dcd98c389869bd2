"""Put kept words back together: original spacing inside kept runs, a space (or line breaks) across cuts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prompts.result import KeptSpan
from prompts.segments import Segment
from prompts.words import BLANK_LINE, Words


def gap_separator(gap: str, keep_newlines: bool, boundary: bool, unspaced: bool = False) -> str:
    """What stands for dropped text between two kept words: line breaks survive at chunk boundaries (and
    everywhere with `keep_newlines`), anything else becomes one space, or nothing next to a word of a
    script written without spaces."""
    if (boundary or keep_newlines) and "\n" in gap:
        return "\n\n" if BLANK_LINE.search(gap) else "\n"
    return "" if unspaced else " "


def render(
    segments: Sequence[Segment],
    words: Words,
    kept: np.ndarray,
    *,
    keep_newlines: bool,
    chunk_order: np.ndarray | None = None,
) -> list[str]:
    """The text of every segment with only the `kept` words (boolean mask over `words`).

    `chunk_order` (chunk ids, most relevant first) puts each segment's chunks in that order instead of the
    original one.
    """
    rank = None
    if chunk_order is not None and len(words):
        rank = np.empty(int(words.chunk.max()) + 1, dtype=np.int64)
        rank[chunk_order] = np.arange(len(chunk_order))
    texts = []
    for index, segment in enumerate(segments):
        rows = np.flatnonzero(kept & (words.segment == index))
        if rank is not None and len(rows):
            rows = rows[np.argsort(rank[words.chunk[rows]], kind="stable")]
        texts.append(_join(segment.text, words, rows, keep_newlines))
    return texts


def _join(text: str, words: Words, rows: np.ndarray, keep_newlines: bool) -> str:
    parts: list[str] = []
    previous = -1
    for row in rows.tolist():
        start, end = int(words.start[row]), int(words.end[row])
        if parts:
            unspaced = bool(words.unspaced[row] or words.unspaced[previous])
            if row == previous + 1 and words.segment[row] == words.segment[previous]:
                parts.append(text[int(words.end[previous]) : start])
            elif words.chunk[row] != words.chunk[previous]:
                first = int(np.searchsorted(words.chunk, words.chunk[row]))  # the chunk's first word
                same = first > 0 and words.segment[first - 1] == words.segment[first]
                lead = text[int(words.end[first - 1]) : int(words.start[first])] if same else ""
                parts.append(gap_separator(lead, keep_newlines, True, unspaced))
            else:
                gap = text[int(words.end[previous]) : start]
                parts.append(gap_separator(gap, keep_newlines, False, unspaced))
        parts.append(text[start:end])
        previous = row
    return "".join(parts)


def kept_spans(words: Words, kept: np.ndarray) -> list[KeptSpan]:
    """Runs of consecutive kept words as character spans of their segments."""
    spans: list[KeptSpan] = []
    rows = np.flatnonzero(kept)
    for row in rows.tolist():
        segment, start, end = int(words.segment[row]), int(words.start[row]), int(words.end[row])
        if spans and spans[-1].segment == segment and row > 0 and kept[row - 1]:
            spans[-1] = KeptSpan(segment, spans[-1].start, end)
        else:
            spans.append(KeptSpan(segment, start, end))
    return spans
