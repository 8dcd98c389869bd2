"""Gopher repetition rules (Rae et al. 2021, table A1), as datatrove 0.10.1's `GopherRepetitionFilter`.

Library use: `gopher_repetition(frame)` adds the `gopher_*` statistics and `reason` (datatrove's reason string
of the first failing rule, in datatrove's order; null keeps the document).
Pipeline use: the `GopherRepetition` filter stage (`type = "gopher_repetition"`).

Definitions (datatrove's): paragraphs are the stripped text split on `\\n{2,}`, lines the text split on
`\\n+`; a duplicate is an element equal to an earlier one (its characters count once per repeat). Words are
datatrove's English words (`filters.quality.words`). The top n-gram share is the character length of the most
frequent n-gram (words joined by spaces; ties go to the first one seen) times its count; the duplicate n-gram
share scans the words left to right, counting an n-gram (words joined without spaces) already seen and then
jumping over it. Every share is over the number of characters of the text.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from filters.quality.words import words
from pipeline.batch import REASON, TEXT
from pipeline.stage import Filter, StageConfig

_SPACE = r"[\s\x1c-\x1f]"  # Python's str.isspace
_PARAGRAPH = r"[^\n]+(?:\n[^\n]+)*"  # the pieces of `re.split(r"\n{2,}", text)` once the text is stripped

NGramThresholds = tuple[tuple[int, float], ...]


class GopherRepetitionConfig(StageConfig):
    """Recipe table for `type = "gopher_repetition"`.

    The fields and defaults are datatrove 0.10.1's `GopherRepetitionFilter` parameters (Gopher's table A1; a
    null or 0 fraction disables its rule, as in datatrove). NeMo Curator uses 0.7 / 0.8 for repeated lines
    (`RepeatedLinesFilter`) instead of 0.3 / 0.2.
    """

    type: Literal["gopher_repetition"] = "gopher_repetition"
    dup_line_frac: float | None = Field(0.3, ge=0, le=1)
    dup_para_frac: float | None = Field(0.3, ge=0, le=1)
    dup_line_char_frac: float | None = Field(0.2, ge=0, le=1)
    dup_para_char_frac: float | None = Field(0.2, ge=0, le=1)
    #: (n, maximum share of characters in the most frequent n-gram)
    top_n_grams: NGramThresholds = ((2, 0.2), (3, 0.18), (4, 0.16))
    #: (n, maximum share of characters in repeated n-grams)
    dup_n_grams: NGramThresholds = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
    #: only English: words are split as spaCy's English tokenizer does
    language: Literal["en"] = "en"
    #: keep the `gopher_*` statistics as score columns
    keep_scores: bool = False

    def statistics(self) -> dict[str, pl.DataType]:
        """The statistics columns `gopher_repetition` adds, with their types."""
        names = ["gopher_dup_para_frac", "gopher_dup_para_char_frac", "gopher_dup_line_frac"]
        names += ["gopher_dup_line_char_frac"]
        names += [f"gopher_top_{n}_gram_frac" for n, _ in self.top_n_grams]
        names += [f"gopher_dup_{n}_gram_frac" for n, _ in self.dup_n_grams]
        return dict.fromkeys(names, pl.Float64())


def _duplicates(lists: pl.Series) -> pl.DataFrame:
    """datatrove's `find_duplicates` per list: `dups` (repeated elements), `dup_chars` (their characters)."""
    repeat = ~pl.element().is_first_distinct()
    return pl.DataFrame({"el": lists}).select(
        pl.col("el").list.eval(repeat).list.sum().fill_null(0).alias("dups"),
        pl.col("el")
        .list.eval(pl.element().str.len_chars().filter(repeat))
        .list.sum()
        .fill_null(0)
        .alias("dup_chars"),
    )


_MIX_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_B = np.uint64(0xBF58476D1CE4E5B9)


def _mix(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """A 64-bit hash of the pairs (`left`, `right`) (uint64 arrays; splitmix64's finaliser)."""
    mixed = (left * _MIX_A) ^ right
    mixed ^= mixed >> np.uint64(31)
    mixed *= _MIX_B
    mixed ^= mixed >> np.uint64(27)
    return mixed


def _duplicated(keys: np.ndarray) -> np.ndarray:
    """True where a key occurs more than once in `keys`."""
    return pl.Series(keys).is_duplicated().to_numpy()


class _Words:
    """The words of a batch, one row each in document order: `doc` (its document), `tid` (its hash),
    `offsets` (each document's first row, then the total) and `ends` (cumulative characters, from 0)."""

    def __init__(self, texts: pl.Series) -> None:
        lists = pl.select(words(pl.lit(texts))).to_series()
        counts = lists.list.len().to_numpy().astype(np.int64)
        tokens = lists.explode().drop_nulls()
        self.n_docs, self.size = len(texts), len(tokens)
        self.offsets = np.zeros(self.n_docs + 1, dtype=np.int64)
        np.cumsum(counts, out=self.offsets[1:])
        self.doc = np.repeat(np.arange(self.n_docs, dtype=np.int64), counts)
        self.tid = tokens.hash(0).to_numpy()
        self.ends = np.zeros(self.size + 1, dtype=np.int64)
        np.cumsum(tokens.str.len_chars().to_numpy(), out=self.ends[1:])

    def chars(self, starts: np.ndarray, n: int) -> np.ndarray:
        """Characters of the words of the n-grams at rows `starts` (without separators)."""
        return self.ends[starts + n] - self.ends[starts]


def _repeated_ngrams(tokens: _Words, sizes: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """For each n in 1..max(`sizes`) (from 2 unless 1 is in `sizes`): the rows where an n-gram starts that
    occurs again in its document, and the n-grams' keys (hashes of the document and the word sequence;
    equal keys = equal word sequences).

    An n-gram can only repeat where both its (n-1)-grams repeat, so after n = 2 only those rows are hashed.
    Words hold no spaces, so equal word sequences are equal strings however they are joined (datatrove joins
    them with " " for the top n-grams and "" for the duplicated ones: word sequences that only differ in
    where a string is cut are not told apart here)."""
    size, doc, tid = tokens.size, tokens.doc, tokens.tid
    repeated: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    starts, keys = np.arange(size), _mix(doc.astype(np.uint64), tid)
    for n in range(1, max(sizes, default=0) + 1):
        if n > 1:
            # the (n-1)-gram one word on must repeat too (then the n-gram ends in the same document)
            if n - 1 in repeated:
                is_repeat = np.zeros(size + 1, dtype=bool)
                is_repeat[starts] = True
                ok = is_repeat[starts + 1]
            else:
                ok = starts + 1 < size
            if n == 2:
                ok[ok] = doc[starts[ok] + 1] == doc[starts[ok]]
            starts, keys = starts[ok], _mix(keys[ok], tid[starts[ok] + n - 1])
        if n > 1 or 1 in sizes:
            dup = _duplicated(keys)
            starts, keys = starts[dup], keys[dup]
            repeated[n] = (starts, keys)
    return repeated


def _top_ngram_chars(tokens: _Words, starts: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """datatrove's `find_top_duplicate` per document: characters of the most frequent n-gram (words joined by
    spaces) times its count, or 0 without n-grams. `starts`/`keys` are the repeated n-grams."""
    counts = np.diff(tokens.offsets)
    top = np.zeros(tokens.n_docs, dtype=np.int64)
    # without repeats: the first n-gram, once (`Counter.most_common` keeps insertion order on ties)
    has = counts >= n
    top[has] = tokens.chars(tokens.offsets[:-1][has], n) + (n - 1)
    if len(starts):
        groups = (
            pl.DataFrame({"key": keys, "row": starts})
            .group_by("key")
            .agg(pl.len().cast(pl.Int64).alias("count"), pl.col("row").min().alias("first"))
        )
        count, first = groups["count"].to_numpy(), groups["first"].to_numpy()
        # the most frequent n-gram of each document, the first one seen on ties
        score = (count << 32) | (0xFFFFFFFF - first)
        best = (
            pl.DataFrame({"doc": tokens.doc[first], "score": score})
            .group_by("doc")
            .agg(pl.col("score").max())
        )
        score = best["score"].to_numpy()
        first = 0xFFFFFFFF - (score & 0xFFFFFFFF)
        top[best["doc"].to_numpy()] = (score >> 32) * (tokens.chars(first, n) + (n - 1))
    return top


def _dup_ngram_chars(
    tokens: _Words, repeated: dict[int, tuple[np.ndarray, np.ndarray]], sizes: list[int]
) -> dict[int, np.ndarray]:
    """datatrove's `find_all_duplicate` for each n: characters of the n-grams met again, scanning the words
    left to right and jumping over each repeat.

    Only n-grams that occur more than once in their document can be met again, so the scan moves from one
    such n-gram to the next; one scan runs all (document, n) lanes at once, one n-gram a step."""
    totals = {n: np.zeros(tokens.n_docs, dtype=np.int64) for n in sizes}
    sizes = [n for n in dict.fromkeys(sizes) if n in repeated and len(repeated[n][0])]
    if not sizes:
        return totals
    rows = np.concatenate([repeated[n][0] for n in sizes])
    size_of_row = np.repeat(np.array(sizes, dtype=np.int64), [len(repeated[n][0]) for n in sizes])
    chars = np.concatenate([tokens.chars(repeated[n][0], n) for n in sizes])
    lane_key = np.array(sizes, dtype=np.int64).searchsorted(size_of_row) * tokens.n_docs + tokens.doc[rows]
    new_lane = np.ones(len(rows), dtype=bool)
    new_lane[1:] = lane_key[1:] != lane_key[:-1]
    start = np.flatnonzero(new_lane)
    end = np.append(start[1:], len(rows))
    lane_of_row = np.cumsum(new_lane) - 1
    # (lane, row) as one increasing number, to find the next repeat at or after a jump
    place = lane_of_row * (tokens.size + max(sizes) + 1) + rows
    ids = np.concatenate([np.unique(repeated[n][1], return_inverse=True)[1].reshape(-1) for n in sizes])
    ids += np.repeat(
        np.cumsum([0] + [len(repeated[n][1]) for n in sizes[:-1]]), [len(repeated[n][1]) for n in sizes]
    )
    step = size_of_row[start]
    at = start.copy()
    seen = np.zeros(int(ids.max()) + 1, dtype=bool)
    total = np.zeros(len(start), dtype=np.int64)
    active = np.arange(len(start))
    while active.size:
        row = at[active]
        gram = ids[row]
        dup = seen[gram]
        seen[gram[~dup]] = True
        total[active[dup]] += chars[row[dup]]
        at[active[~dup]] += 1
        jumped = active[dup]
        at[jumped] = np.searchsorted(place, place[row[dup]] + step[jumped], side="left")
        active = active[at[active] < end[active]]
    docs = tokens.doc[rows[start]]
    for n in sizes:
        lane = step == n
        totals[n][docs[lane]] = total[lane]
    return totals


def repetition_statistics(texts: pl.Series, config: GopherRepetitionConfig | None = None) -> pl.DataFrame:
    """The `gopher_*` statistics of `texts`, one row per text (in order)."""
    config = config or GopherRepetitionConfig()
    texts = texts.fill_null("")
    n_chars = texts.str.len_chars().cast(pl.Float64)
    stripped = texts.str.replace_all(rf"^{_SPACE}+|{_SPACE}+$", "")
    paragraphs = stripped.str.extract_all(_PARAGRAPH)
    n_paragraphs = paragraphs.list.len().clip(1, None).cast(pl.Float64)  # `re.split` gives [""] for ""
    lines = texts.str.replace_all(r"\n+", "\n").str.split("\n")
    n_lines = lines.list.len().cast(pl.Float64)
    para, line = _duplicates(paragraphs), _duplicates(lines)
    columns = {
        "gopher_dup_para_frac": para["dups"] / n_paragraphs,
        "gopher_dup_para_char_frac": para["dup_chars"] / n_chars,
        "gopher_dup_line_frac": line["dups"] / n_lines,
        "gopher_dup_line_char_frac": line["dup_chars"] / n_chars,
    }
    top_sizes = [n for n, _ in config.top_n_grams]
    dup_sizes = [n for n, _ in config.dup_n_grams]
    tokens = _Words(texts)
    repeated = _repeated_ngrams(tokens, top_sizes + dup_sizes)
    for n in top_sizes:
        starts, keys = repeated.get(n, (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)))
        columns[f"gopher_top_{n}_gram_frac"] = pl.Series(_top_ngram_chars(tokens, starts, keys, n)) / n_chars
    for n, chars in _dup_ngram_chars(tokens, repeated, dup_sizes).items():
        columns[f"gopher_dup_{n}_gram_frac"] = pl.Series(chars) / n_chars
    return pl.DataFrame({name: values.cast(pl.Float64) for name, values in columns.items()})


def repetition_reason(config: GopherRepetitionConfig, *, text: str = TEXT) -> pl.Expr:
    """datatrove's reason for the first failing rule, over `text` and the statistics; null when all pass."""
    rules: list[tuple[float | None, str, str]] = [
        (config.dup_para_frac, "gopher_dup_para_frac", "dup_para_frac"),
        (config.dup_para_char_frac, "gopher_dup_para_char_frac", "dup_para_char_frac"),
        (config.dup_line_frac, "gopher_dup_line_frac", "dup_line_frac"),
        (config.dup_line_char_frac, "gopher_dup_line_char_frac", "dup_line_char_frac"),
    ]
    rules += [(frac, f"gopher_top_{n}_gram_frac", f"top_{n}_gram") for n, frac in config.top_n_grams]
    rules += [
        (frac, f"gopher_dup_{n}_gram_frac", f"duplicated_{n}_n_grams") for n, frac in config.dup_n_grams
    ]
    # the n-gram rules apply whatever their fraction (datatrove tests `if frac` only for lines and paragraphs)
    enabled = [bool(threshold) for threshold, _, _ in rules[:4]] + [True] * (len(rules) - 4)
    reason: pl.Expr = pl.lit(None, dtype=pl.String)
    for (threshold, column, name), on in reversed(list(zip(rules, enabled, strict=True))):
        if on:
            # NaN (no paragraph) compares false in Python but above every number in polars
            fails = (pl.col(column).fill_nan(None) > (threshold or 0)).fill_null(False)
            reason = pl.when(fails).then(pl.lit(name)).otherwise(reason)
    empty = pl.col(text).is_null() | (pl.col(text) == "")
    return pl.when(empty).then(pl.lit("empty")).otherwise(reason)


def gopher_repetition(
    frame: pl.DataFrame, config: GopherRepetitionConfig | None = None, *, text: str = TEXT
) -> pl.DataFrame:
    """`frame` with the `gopher_*` statistics and `reason` (datatrove's reason string, null = keep)."""
    config = config or GopherRepetitionConfig()
    statistics = repetition_statistics(frame[text], config)
    return frame.with_columns(statistics).with_columns(repetition_reason(config, text=text).alias(REASON))


class GopherRepetition(Filter):
    """Remove documents with repeated paragraphs, lines or n-grams (`reason` = datatrove's reason string)."""

    Config = GopherRepetitionConfig

    config: GopherRepetitionConfig

    @property
    def score_columns(self) -> dict[str, pl.DataType]:  # type: ignore[override]
        return self.config.statistics() if self.config.keep_scores else {}

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        marked = gopher_repetition(batch, self.config)
        return marked if self.config.keep_scores else marked.drop(list(self.config.statistics()))
