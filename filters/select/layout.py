"""Layout statistics: the form of a document that a sentence embedding and word n-grams do not see.

An embedding carries meaning and word n-grams carry wording, but both drop the lines, the punctuation and
the length that separate a prose passage from a list, a table of links or a page of boilerplate (fastText,
which the DCLM recipe trains on raw text, sees the line breaks as tokens). `layout_statistics` gives each
document ten numbers, the statistics web-quality rules threshold (FineWeb's terminal-punctuation, short and
duplicated lines, Gopher's bullet lines) plus length and character classes, all language-neutral: they
count characters and lines, never words, so a Chinese or Arabic document gets the same kind of numbers as
an English one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from filters.quality.fineweb import TERMINAL_PUNCTUATION

#: the statistics, in column order
LAYOUT_STATISTICS = (
    "log_characters",  # ln(1 + characters)
    "log_line_characters",  # ln(1 + mean characters of a non-blank line)
    "terminal_lines",  # share of non-blank lines ending in a full stop, question or exclamation mark
    "short_lines",  # share of non-blank lines of at most SHORT_LINE characters
    "duplicate_line_characters",  # characters of lines repeating an earlier line, over all characters
    "list_lines",  # share of non-blank lines starting with a bullet, a list number, a pipe or a heading mark
    "digits",  # share of characters that are decimal digits
    "uppercase",  # share of letters that are uppercase (0 in scripts without case)
    "punctuation",  # share of non-space characters that are punctuation or symbols
    "whitespace",  # share of characters that are whitespace
)
#: FineWeb's `short_line_length`
SHORT_LINE = 30
_TERMINAL = "[" + "".join(re.escape(mark) for mark in TERMINAL_PUNCTUATION) + "]"
_LIST_MARKER = r"^(?:[-*+•·▪◦‣–—>|#]|\d{1,3}[.)])"

_ROW = "__layout_row"
_LINE = "__layout_line"


def _share(count: pl.Expr, total: pl.Expr) -> pl.Expr:
    """`count / total` as float64, 0 where `total` is 0."""
    return pl.when(total > 0).then(count.cast(pl.Float64) / total.cast(pl.Float64)).otherwise(0.0)


def layout_statistics(texts: pl.Series | Sequence[str | None]) -> np.ndarray:
    """`(documents, len(LAYOUT_STATISTICS))` float64: each document's layout statistics (all 0 for an empty
    or null text). Lines are split on newlines and stripped; blank lines are not counted."""
    series = texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
    frame = pl.DataFrame({"text": series.cast(pl.String).fill_null("")}).with_row_index(_ROW)
    line = pl.col(_LINE)
    lines = (
        frame.select(_ROW, pl.col("text").str.split("\n").alias(_LINE))
        .explode(_LINE)
        .with_columns(line.str.strip_chars())
        .filter(line != "")
    )
    n = pl.len()
    per_document = lines.group_by(_ROW).agg(
        line.str.len_chars().mean().alias("mean_line"),
        (line.str.contains(f"{_TERMINAL}$").sum() / n).alias("terminal_lines"),
        ((line.str.len_chars() <= SHORT_LINE).sum() / n).alias("short_lines"),
        line.filter(line.is_first_distinct().not_()).str.len_chars().sum().alias("duplicate_characters"),
        (line.str.contains(_LIST_MARKER).sum() / n).alias("list_lines"),
    )
    text = pl.col("text")
    characters = text.str.len_chars()
    spaces = text.str.count_matches(r"\s")
    letters = text.str.count_matches(r"\p{L}")
    statistics = frame.join(per_document, on=_ROW, how="left", maintain_order="left").select(
        characters.cast(pl.Float64).log1p().alias("log_characters"),
        pl.col("mean_line").fill_null(0.0).log1p().alias("log_line_characters"),
        pl.col("terminal_lines").fill_null(0.0),
        pl.col("short_lines").fill_null(0.0),
        _share(pl.col("duplicate_characters").fill_null(0), characters).alias("duplicate_line_characters"),
        pl.col("list_lines").fill_null(0.0),
        _share(text.str.count_matches(r"\p{Nd}"), characters).alias("digits"),
        _share(text.str.count_matches(r"\p{Lu}"), letters).alias("uppercase"),
        _share(text.str.count_matches(r"[\p{P}\p{S}]"), characters - spaces).alias("punctuation"),
        _share(spaces, characters).alias("whitespace"),
    )
    return statistics.select(LAYOUT_STATISTICS).to_numpy().astype(np.float64, copy=False)


#: a standardized statistic is clipped to this many standard deviations: one unusual page (a 300-line list)
#: cannot outweigh everything else the classifier sees
CLIP = 3.0


@dataclass(frozen=True)
class LayoutScaling:
    """Standardization of layout statistics, fitted on the pool: `transform` gives each statistic's z-score,
    clipped to +-`CLIP`, over sqrt(statistics), so a document's layout block weighs about as much as a unit
    embedding. Kept as a `(2, statistics)` array (means, then scales) to share between processes."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, statistics: np.ndarray) -> LayoutScaling:
        """Means and standard deviations of `layout_statistics` rows (a constant statistic gets scale 1)."""
        statistics = np.asarray(statistics, dtype=np.float64)
        if statistics.ndim != 2 or len(statistics) == 0:
            raise ValueError("fit the layout scaling on at least one row of statistics")
        spread = statistics.std(axis=0)
        return cls(statistics.mean(axis=0), np.where(spread > 0, spread, 1.0))

    def transform(self, statistics: np.ndarray) -> np.ndarray:
        """The classifier's layout block of `layout_statistics` rows."""
        statistics = np.asarray(statistics, dtype=np.float64)
        if statistics.ndim != 2 or statistics.shape[1] != len(self.mean):
            raise ValueError(f"layout rows have shape {statistics.shape}, not (n, {len(self.mean)})")
        z = np.clip((statistics - self.mean) / self.scale, -CLIP, CLIP)
        return z / np.sqrt(len(self.mean))

    def to_array(self) -> np.ndarray:
        return np.stack([self.mean, self.scale])

    @classmethod
    def from_array(cls, array: np.ndarray) -> LayoutScaling:
        return cls(np.asarray(array[0], dtype=np.float64), np.asarray(array[1], dtype=np.float64))
