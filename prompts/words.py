"""Words of a prompt, the unit compression keeps or drops, grouped into chunks and sentences.

A word is a run of non-space characters (punctuation stays with its word, so a word is never cut in half);
in Chinese, Japanese and Thai text each character (with the punctuation after it) is a word.
A sentence ends after a word ending in `.`, `!` or `?` (closing quotes and brackets allowed) or at a line
break or blank line; a short line that is one unfinished sentence is a heading and joins the sentence
after it. A paragraph ends at a blank line. Chunks are whole segments (documents, messages), paragraphs
or sentences, as asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from prompts.segments import Segment

ChunkBy = Literal["auto", "documents", "paragraphs", "sentences"]

#: scripts written without spaces between words: each character is a word
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f"
WORD = re.compile(rf"[{_UNSPACED}][^\s{_UNSPACED}]*|[^\s{_UNSPACED}]+")
SENTENCE_END = re.compile(r"[.!?][\"')\]»”’]*$")
#: words whose final period is not a sentence end: initials ("W."), common abbreviations ("c.", "No.")
ABBREVIATION = re.compile(
    r"^[(\[\"']*(?:[A-Z]|[A-Z]\.[A-Z]|c|ca|cf|vs|etc|e\.g|i\.e|approx|Mr|Mrs|Ms|Dr|Prof|St|Mt|Jr|Sr|No|Nos|Vol|"
    r"Fig|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|Rev|Hon|Inc|Ltd|Co|Corp|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|"
    r"Dec)\.$"
)
#: lowercase words inside names: "Edward IV of England", "Sleeping with the Past", "Leonardo da Vinci"
CONNECTORS = frozenset(
    {"of", "the", "de", "del", "della", "da", "di", "du", "des", "van", "von", "der", "den", "la", "le", "y"}
    | {"&", "with", "and", "for"}
)
#: the letters and digits of a lowercased word or question
KEY = re.compile(r"[a-z0-9]+")
#: leading punctuation skipped when looking for a word's first letter
OPENING = re.compile(r"[^\w]*")
BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
NUMBER = re.compile(r"\d")
#: a line of fewer words, without end punctuation, is a heading that joins the next sentence
HEADING_WORDS = 8


@dataclass
class Words:
    """Parallel arrays, one entry per word of all segments in order."""

    segment: np.ndarray  # int: index of the segment
    start: np.ndarray  # int: character offsets within the segment
    end: np.ndarray
    chunk: np.ndarray  # int: global chunk id (chunks of non-compressible segments included)
    sentence: np.ndarray  # int: global sentence id
    protected: np.ndarray  # bool: must be kept (verbatim spans, user patterns, non-compressible segments)
    number: np.ndarray  # bool: holds a digit
    capital: np.ndarray  # bool: starts with a capital letter (after any opening punctuation)
    connector: np.ndarray  # bool: a lowercase word that joins the parts of a name ("of", "de", "von")
    key: np.ndarray  # str: its letters and digits, lowercased ("Tinker," -> "tinker"), to match a question's
    line_start: np.ndarray  # bool: the first word of a line
    boundary: np.ndarray  # bool: opens a bracket, or follows a comma and differs from the word before in
    # holding a digit ("1941, Nazi"): a name or number run stops before it

    def __len__(self) -> int:
        return len(self.start)


def split_words(
    segments: Sequence[Segment], chunk_by: ChunkBy, kind: str, keep: Sequence[re.Pattern[str]] = ()
) -> Words:
    """Words of `segments` with their chunk and sentence ids, protected and number flags."""
    columns: dict[str, list] = {
        name: [] for name in ("segment", "start", "end", "chunk", "sentence", "protected")
    }
    numbers: list[bool] = []
    capitals: list[bool] = []
    connectors: list[bool] = []
    keys: list[str] = []
    line_starts: list[bool] = []
    boundaries: list[bool] = []
    chunk = sentence = -1
    for index, segment in enumerate(segments):
        text = segment.text
        spans = [match.span() for match in WORD.finditer(text)]
        if not spans:
            continue
        by = resolve_chunking(chunk_by, kind, text)
        guarded = _guarded(text, segment, keep)
        previous_end = 0
        chunk += 1
        sentence += 1
        line_words = 0
        sentence_at_line_start = True
        for position, (start, end) in enumerate(spans):
            gap = text[previous_end:start]
            if position > 0:
                last = text[spans[position - 1][0] : previous_end]
                ended = bool(SENTENCE_END.search(last)) and not ABBREVIATION.match(last)
                # a short line that is one unfinished sentence is a heading: it joins the sentence after it
                heading = line_words < HEADING_WORDS and sentence_at_line_start
                sentence_break = ended or ("\n" in gap and not heading) or bool(BLANK_LINE.search(gap))
                if "\n" in gap:
                    line_words = 0
                    sentence_at_line_start = True
                elif sentence_break:
                    sentence_at_line_start = False
                if sentence_break:
                    sentence += 1
                if (by == "paragraphs" and BLANK_LINE.search(gap)) or (by == "sentences" and sentence_break):
                    chunk += 1
            columns["segment"].append(index)
            columns["start"].append(start)
            columns["end"].append(end)
            columns["chunk"].append(chunk)
            columns["sentence"].append(sentence)
            columns["protected"].append(not segment.compressible or _overlaps(guarded, start, end))
            numbers.append(bool(NUMBER.search(text, start, end)))
            letter = OPENING.match(text, start, end).end()
            capitals.append(letter < end and text[letter].isupper())
            connectors.append(text[start:end] in CONNECTORS)
            keys.append("".join(KEY.findall(text[start:end].lower())))
            line_starts.append(position == 0 or "\n" in gap)
            boundaries.append(
                position > 0
                and (text[start] in "([" or (text[previous_end - 1] in ",;" and numbers[-2] != numbers[-1]))
            )
            previous_end = end
            line_words += 1
    return Words(
        segment=np.array(columns["segment"], dtype=np.int64),
        start=np.array(columns["start"], dtype=np.int64),
        end=np.array(columns["end"], dtype=np.int64),
        chunk=np.array(columns["chunk"], dtype=np.int64),
        sentence=np.array(columns["sentence"], dtype=np.int64),
        protected=np.array(columns["protected"], dtype=bool),
        number=np.array(numbers, dtype=bool),
        capital=np.array(capitals, dtype=bool),
        connector=np.array(connectors, dtype=bool),
        key=np.array(keys, dtype=str),
        line_start=np.array(line_starts, dtype=bool),
        boundary=np.array(boundaries, dtype=bool),
    )


def resolve_chunking(chunk_by: ChunkBy, kind: str, text: str) -> str:
    """`auto`: documents for a list of documents, else paragraphs (sentences are ranked inside a chunk)."""
    if chunk_by != "auto":
        return chunk_by
    if kind == "documents":
        return "documents"
    return "paragraphs"


def _guarded(text: str, segment: Segment, keep: Sequence[re.Pattern[str]]) -> list[tuple[int, int]]:
    spans = list(segment.protected)
    for pattern in keep:
        spans.extend(match.span() for match in pattern.finditer(text) if match.end() > match.start())
    return sorted(spans)


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(a < end and start < b for a, b in spans)
