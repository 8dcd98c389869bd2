"""Gopher quality rules (Rae et al. 2021, table A1) as datatrove 0.10.1's `GopherQualityFilter` applies them.

Library use: `gopher_quality(frame)` adds the `gopher_*` statistics and `reason` (datatrove's reason string of
the first failing rule, in datatrove's order; null keeps the document).
Pipeline use: the `GopherQuality` filter stage (`type = "gopher_quality"`).

Words are datatrove's English words (spaCy's tokenizer, `filters.quality.words`); "non-symbol" words have at
least one character outside datatrove's `PUNCTUATION_SET`.
"""

from __future__ import annotations

import re
from typing import Literal

import polars as pl
from pydantic import Field

from filters.quality.words import words
from pipeline.batch import REASON, TEXT
from pipeline.stage import Filter, StageConfig

#: datatrove's `STOP_WORDS`
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
#: datatrove's `PUNCTUATION_SET` (ASCII and Unicode punctuation, control characters, terminal punctuation)
_PUNCTUATION = (
    r"\u{0}-\u{8}\u{B}-\u{1F}\u{21}-\u{2F}\u{3A}-\u{40}\u{5B}-\u{60}\u{7B}-\u{9F}\u{AB}\u{B4}\u{BB}"
    r"\u{589}\u{61D}-\u{61F}\u{6D4}\u{700}-\u{702}\u{7F9}\u{837}\u{839}\u{83D}-\u{83E}\u{964}-\u{965}"
    r"\u{104A}-\u{104B}\u{1362}\u{1367}-\u{1368}\u{166E}\u{1735}-\u{1736}\u{17D4}-\u{17D6}\u{17D9}-"
    r"\u{17DA}\u{1803}\u{1809}\u{1944}-\u{1945}\u{1AA8}-\u{1AAB}\u{1B5A}-\u{1B5B}\u{1B5E}-\u{1B5F}"
    r"\u{1B7D}-\u{1B7E}\u{1C3B}-\u{1C3C}\u{1C7E}-\u{1C7F}\u{2013}-\u{2014}\u{2019}\u{201C}-\u{201E}"
    r"\u{2026}\u{203C}-\u{203D}\u{2047}-\u{2049}\u{2236}\u{2501}\u{25BA}\u{2E2E}\u{2E3C}\u{2E53}-"
    r"\u{2E54}\u{3001}-\u{3002}\u{3008}-\u{300D}\u{3010}-\u{3011}\u{A4FF}\u{A60E}-\u{A60F}\u{A6F3}"
    r"\u{A6F7}\u{A876}-\u{A877}\u{A8CE}-\u{A8CF}\u{A92F}\u{A9C8}-\u{A9C9}\u{AA5D}-\u{AA5F}\u{AAF0}-"
    r"\u{AAF1}\u{ABEB}\u{FE52}\u{FE56}-\u{FE57}\u{FF01}\u{FF05}\u{FF08}-\u{FF09}\u{FF0C}\u{FF0E}"
    r"\u{FF11}\u{FF1A}-\u{FF1B}\u{FF1F}\u{FF5E}\u{FF61}\u{10A56}-\u{10A57}\u{10F55}-\u{10F59}"
    r"\u{10F86}-\u{10F89}\u{11047}-\u{11048}\u{110BE}-\u{110C1}\u{11141}-\u{11143}\u{111C5}-\u{111C6}"
    r"\u{111CD}\u{111DE}-\u{111DF}\u{11238}-\u{11239}\u{1123B}-\u{1123C}\u{112A9}\u{1144B}-\u{1144C}"
    r"\u{115C2}-\u{115C3}\u{115C9}-\u{115D7}\u{11641}-\u{11642}\u{1173C}-\u{1173E}\u{11944}\u{11946}"
    r"\u{11A42}-\u{11A43}\u{11A9B}-\u{11A9C}\u{11C41}-\u{11C42}\u{11EF7}-\u{11EF8}\u{11F43}-\u{11F44}"
    r"\u{16A6E}-\u{16A6F}\u{16AF5}\u{16B37}-\u{16B38}\u{16B44}\u{16E98}\u{1BC9F}\u{1DA88}"
)
#: the same, as characters
PUNCTUATION = frozenset(
    chr(code)
    for first, last in re.findall(r"\\u\{([0-9A-F]+)\}(?:-\\u\{([0-9A-F]+)\})?", _PUNCTUATION)
    for code in range(int(first, 16), int(last or first, 16) + 1)
)
_NON_SYMBOL = f"[^{_PUNCTUATION}]"
#: Python's `str.splitlines` boundaries
_LINE_BREAK = r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"
_SPACE = r"[\s\x1c-\x1f]"  # Python's str.isspace

STATISTICS: dict[str, pl.DataType] = {
    "gopher_words": pl.UInt32(),
    "gopher_non_symbol_words": pl.UInt32(),
    "gopher_mean_word_length": pl.Float64(),
    "gopher_hash_ratio": pl.Float64(),
    "gopher_ellipsis_ratio": pl.Float64(),
    "gopher_bullet_lines_ratio": pl.Float64(),
    "gopher_ellipsis_lines_ratio": pl.Float64(),
    "gopher_alpha_words_ratio": pl.Float64(),
    "gopher_stop_words": pl.UInt32(),
}


class GopherQualityConfig(StageConfig):
    """Recipe table for `type = "gopher_quality"`.

    The fields and defaults are datatrove 0.10.1's `GopherQualityFilter` parameters (a null or 0 threshold
    disables its rule, as in datatrove). Other pipelines differ: NeMo Curator's Gopher filters use the same
    rules with their own thresholds, dolma uses the median word length instead of the mean.
    `max_non_alpha_words_ratio` is, despite its name, the minimum share of words with a letter.
    """

    type: Literal["gopher_quality"] = "gopher_quality"
    min_doc_words: int | None = Field(50, ge=0)
    max_doc_words: int | None = Field(100_000, ge=0)
    min_avg_word_length: float | None = Field(3, ge=0)
    max_avg_word_length: float | None = Field(10, ge=0)
    max_symbol_word_ratio: float | None = Field(0.1, ge=0)
    max_bullet_lines_ratio: float | None = Field(0.9, ge=0, le=1)
    max_ellipsis_lines_ratio: float | None = Field(0.3, ge=0, le=1)
    max_non_alpha_words_ratio: float | None = Field(0.8, ge=0, le=1)
    min_stop_words: int | None = Field(2, ge=0)
    stop_words: list[str] | None = None
    #: only English: words are split as spaCy's English tokenizer does
    language: Literal["en"] = "en"
    #: keep the `gopher_*` statistics as score columns
    keep_scores: bool = False


def _ratio(count: pl.Expr, total: pl.Expr) -> pl.Expr:
    return count.cast(pl.Float64) / total.cast(pl.Float64)


def _lines(text: pl.Expr) -> pl.Expr:
    """`str.splitlines()`: no trailing empty line, none at all for empty text."""
    marked = text.str.replace_all(_LINE_BREAK, "\n")
    body = pl.when(marked.str.ends_with("\n")).then(marked.str.slice(0, marked.str.len_chars() - 1))
    body = body.otherwise(marked)
    return pl.when(text == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(body.str.split("\n"))


def gopher_statistics(
    text: pl.Expr, tokens: pl.Expr, stop_words: list[str] | tuple[str, ...] = STOP_WORDS
) -> list[pl.Expr]:
    """The statistics the Gopher quality rules test, named as in `STATISTICS`; `tokens` = `words(text)`."""
    n_words = tokens.list.len()
    non_symbol = tokens.list.eval(pl.element().filter(pl.element().str.contains(_NON_SYMBOL)))
    lines = _lines(text)
    n_lines = lines.list.len()
    bullets = lines.list.eval(pl.element().str.contains(f"^{_SPACE}*[•-]")).list.sum()
    ellipsis_ends = lines.list.eval(pl.element().str.contains(rf"(?:\.\.\.|…){_SPACE}*$")).list.sum()
    alpha = tokens.list.eval(pl.element().str.contains(r"\p{L}")).list.sum()
    stops = pl.Series(list(dict.fromkeys(stop_words)), dtype=pl.String).implode()
    return [
        n_words.alias("gopher_words"),
        non_symbol.list.len().alias("gopher_non_symbol_words"),
        non_symbol.list.eval(pl.element().str.len_chars()).list.mean().alias("gopher_mean_word_length"),
        _ratio(text.str.count_matches("#", literal=True), n_words).alias("gopher_hash_ratio"),
        _ratio(
            text.str.count_matches("...", literal=True) + text.str.count_matches("…", literal=True), n_words
        ).alias("gopher_ellipsis_ratio"),
        _ratio(bullets, n_lines).alias("gopher_bullet_lines_ratio"),
        _ratio(ellipsis_ends, n_lines).alias("gopher_ellipsis_lines_ratio"),
        _ratio(alpha, n_words).alias("gopher_alpha_words_ratio"),
        tokens.list.eval(pl.element().filter(pl.element().is_in(stops)).n_unique())
        .list.first()
        .cast(pl.UInt32)
        .alias("gopher_stop_words"),
    ]


def _col(name: str) -> pl.Expr:
    """A statistic with NaN (no words, no lines) as null: NaN compares false in Python, true in polars."""
    return pl.col(name).cast(pl.Float64).fill_nan(None)


def gopher_reason(config: GopherQualityConfig) -> pl.Expr:
    """datatrove's reason for the first failing rule, over the `STATISTICS` columns; null when all pass."""
    c = config
    rules: list[tuple[object, pl.Expr, str]] = [
        (c.min_doc_words, _col("gopher_non_symbol_words") < (c.min_doc_words or 0), "gopher_short_doc"),
        (c.max_doc_words, _col("gopher_non_symbol_words") > (c.max_doc_words or 0), "gopher_long_doc"),
        (
            c.min_avg_word_length,
            _col("gopher_mean_word_length") < (c.min_avg_word_length or 0),
            "gopher_below_avg_threshold",
        ),
        (
            c.max_avg_word_length,
            _col("gopher_mean_word_length") > (c.max_avg_word_length or 0),
            "gopher_above_avg_threshold",
        ),
        (
            c.max_symbol_word_ratio,
            _col("gopher_hash_ratio") > (c.max_symbol_word_ratio or 0),
            "gopher_too_many_hashes",
        ),
        (
            c.max_symbol_word_ratio,
            _col("gopher_ellipsis_ratio") > (c.max_symbol_word_ratio or 0),
            "gopher_too_many_ellipsis",
        ),
        (
            c.max_bullet_lines_ratio,
            _col("gopher_bullet_lines_ratio") > (c.max_bullet_lines_ratio or 0),
            "gopher_too_many_bullets",
        ),
        (
            c.max_ellipsis_lines_ratio,
            _col("gopher_ellipsis_lines_ratio") > (c.max_ellipsis_lines_ratio or 0),
            "gopher_too_many_end_ellipsis",
        ),
        (
            c.max_non_alpha_words_ratio,
            _col("gopher_alpha_words_ratio") < (c.max_non_alpha_words_ratio or 0),
            "gopher_below_alpha_threshold",
        ),
        (c.min_stop_words, _col("gopher_stop_words") < (c.min_stop_words or 0), "gopher_enough_stop_words"),
    ]
    reason: pl.Expr = pl.lit(None, dtype=pl.String)
    for threshold, fails, name in reversed(rules):
        if threshold:
            reason = pl.when(fails.fill_null(False)).then(pl.lit(name)).otherwise(reason)
    return reason


def gopher_quality(
    frame: pl.DataFrame, config: GopherQualityConfig | None = None, *, text: str = TEXT
) -> pl.DataFrame:
    """`frame` with the `gopher_*` statistics and `reason` (datatrove's reason string, null = keep)."""
    config = config or GopherQualityConfig()
    stop_words = STOP_WORDS if config.stop_words is None else config.stop_words
    tokens = "__gopher_words"
    marked = frame.with_columns(words(pl.col(text)).alias(tokens))
    statistics = gopher_statistics(pl.col(text), pl.col(tokens), stop_words)
    marked = marked.with_columns(s.cast(STATISTICS[s.meta.output_name()]) for s in statistics).drop(tokens)
    return marked.with_columns(gopher_reason(config).alias(REASON))


class GopherQuality(Filter):
    """Remove documents that fail a Gopher quality rule (`reason` = datatrove's reason string)."""

    Config = GopherQualityConfig

    config: GopherQualityConfig

    @property
    def score_columns(self) -> dict[str, pl.DataType]:  # type: ignore[override]
        return dict(STATISTICS) if self.config.keep_scores else {}

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        marked = gopher_quality(batch, self.config)
        return marked if self.config.keep_scores else marked.drop(list(STATISTICS))
