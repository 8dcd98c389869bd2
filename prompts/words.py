"""Words of a prompt, the unit compression keeps or drops, grouped into chunks and sentences.

Words come from `prompts.scripts.word_spans`: runs of non-space characters with their punctuation where
a script separates words by spaces, a segmenter's words where it does not (Chinese, Japanese, Thai); a
word is never cut in half. A sentence ends after a word ending in a sentence mark of its script (`.`, `!`,
`?`, `。`, `！`, `？`, `؟`, `۔`, `।`, `॥`, closing quotes and brackets allowed), unless that word is an
initial ("W.", "U.S.") or the next word starts with a lowercase letter or a digit ("c. 1500"); and at a line
break or blank line, where a short line that is one unfinished sentence is a heading and joins the
sentence after it. A paragraph ends at a blank line. Chunks are whole segments (documents, messages),
paragraphs or sentences, as asked. No rule here depends on a language's vocabulary.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from prompts.scripts import is_unspaced, word_spans
from prompts.segments import Segment

ChunkBy = Literal["auto", "documents", "paragraphs", "sentences"]

SENTENCE_END = re.compile(r"[.!?。！？؟۔।॥‼⁇⁈⁉][\"')\]»”’」』）】〕]*$")
#: an initial or a dotted abbreviation of single letters, in any script: "W.", "U.S.", "(J."
INITIAL = re.compile(r"^\W*(?:[^\W\d_]\.)+$")
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
    number: np.ndarray  # bool: holds a digit (of any script)
    key: np.ndarray  # str: the word lowercased without punctuation or symbols, to match a question's words
    unspaced: np.ndarray  # bool: of a script written without spaces (no space is added next to it)

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
    keys: list[str] = []
    unspaced: list[bool] = []
    chunk = sentence = -1
    for index, segment in enumerate(segments):
        text = segment.text
        spans = word_spans(text)
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
                ended = bool(SENTENCE_END.search(last)) and not _continues(last, text[start:end])
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
            word = text[start:end]
            columns["segment"].append(index)
            columns["start"].append(start)
            columns["end"].append(end)
            columns["chunk"].append(chunk)
            columns["sentence"].append(sentence)
            columns["protected"].append(not segment.compressible or _overlaps(guarded, start, end))
            numbers.append(bool(NUMBER.search(word)))
            keys.append(word_key(word))
            unspaced.append(is_unspaced(word))
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
        key=np.array(keys, dtype=str),
        unspaced=np.array(unspaced, dtype=bool),
    )


def word_key(word: str) -> str:
    """`word` lowercased, without punctuation, symbols or spaces (letters, marks and digits of any script)."""
    return "".join(ch for ch in word.lower() if unicodedata.category(ch)[0] in "LMN")


def _continues(word: str, following: str) -> bool:
    """Whether a sentence mark ending `word` is not a sentence end: an initial, or a next word that starts
    in lowercase or with a digit."""
    if INITIAL.match(word):
        return True
    first = next((ch for ch in following if ch.isalnum()), "")
    return first.isdigit() or first.islower()


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
