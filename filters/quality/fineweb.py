"""FineWeb's quality rules, as datatrove 0.10.1's `FineWebQualityFilter` applies them.

Over the non-blank lines of `text` (split on "\\n", not stripped), the first failing check in this order
removes the document: no such line (`empty`); the share of lines ending in a terminal punctuation mark under
`line_punct_thr` (`line_punct_ratio`); the share of lines of at most `short_line_length` characters over
`short_line_thr` (`short_line_ratio`); the characters of lines that repeat an earlier line, over the
characters of the text without newlines, above `char_duplicates_ratio` (`char_dup_ratio`); newlines per word
(spaCy's English tokens) above `new_line_ratio` (`list_ratio`).
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field

from filters.quality.pytext import PY_WHITESPACE_CLASS, py_endswith, py_word_count
from filters.quality.words import word_count
from pipeline.batch import REASON, TEXT
from pipeline.stage import Filter, StageConfig

#: datatrove's `TERMINAL_PUNCTUATION` (`datatrove.utils.text`): full stops, question and exclamation marks
TERMINAL_PUNCTUATION: tuple[str, ...] = tuple(
    sorted(
        "᪩？⁈𑩂．꩞𑅃﹗𑂾\u1b7d፧𑅂꡶꘎⁉࠾᪨𑊩𑱂᱿𖩮᥅\U00011f43\U00011f44﹒𑈹𑈸።܂؞꛳\U00010f88𑗍𐩖𑙂\u061d꩟᠉\u1b7e𑗗᰼𑻸؟𑪜꧉"
        "𑗉𐽙𖫵𖬷܀꓿᜵𑗏𑁇𑗓𑥄៖𑥆𑗑𑗒꯫۔𐩗\U00010f86꡷\u2e54｡៕߹⸮.𑇅࠹𛲟꫰꤯𐽗᭞𑜼፨𑃁꣏𑇟𖬸𑪛𑜾࠷𝪈?𑃀𑗃！։꣎॥𑗖᭛᠃!"
        "၊𖺘⁇𑗌𑑋𖭄᭟𑅁𑙁⸼꩝𑗋。꧈꫱𑜽𐽖𑂿᙮។꛷\U00010f89៚᥄𑗕𑗎᪪᭚࠽𑇞𑗊𐽘\u2e53𑗔𖩯𑇍𑻷𐽕𑩃।𑗂𑇆𑁈။᱾𑱁꘏܁᜶‼𑈻‽᪫﹖𑑌"
        "𑈼\U00010f87𑗐៙᰻"
    )
)

REASONS = ("empty", "line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio")
#: statistics columns of `fineweb_quality`
STATS: dict[str, pl.DataType] = {
    "fineweb_line_punct_ratio": pl.Float64(),
    "fineweb_short_line_ratio": pl.Float64(),
    "fineweb_char_dup_ratio": pl.Float64(),
    "fineweb_list_ratio": pl.Float64(),
}

_ROW = "__fineweb_row"
_LINE = "__fineweb_line"


class FineWebQualityConfig(StageConfig):
    """Recipe table for `type = "fineweb_quality"`: datatrove 0.10.1's `FineWebQualityFilter` defaults.

    `stop_chars` defaults to datatrove's `TERMINAL_PUNCTUATION`. English only (spaCy-compatible words).
    """

    type: Literal["fineweb_quality"] = "fineweb_quality"
    line_punct_thr: float = Field(0.12, ge=0.0, le=1.0)
    line_punct_exclude_zero: bool = False
    stop_chars: tuple[str, ...] | None = None
    short_line_thr: float = Field(0.67, ge=0.0, le=1.0)
    short_line_length: int = Field(30, ge=0)
    char_duplicates_ratio: float = Field(0.01, ge=0.0)
    new_line_ratio: float = Field(0.3, ge=0.0)
    language: Literal["en"] = "en"
    #: keep the statistics columns with the kept documents
    keep_scores: bool = False


def fineweb_quality(
    frame: pl.DataFrame, config: FineWebQualityConfig | None = None, *, text: str = TEXT
) -> pl.DataFrame:
    """`frame` with the `STATS` columns (null where a document has no non-blank line) and `reason`.

    `fineweb_list_ratio` needs spaCy's words; unless `config.keep_scores`, they are counted only where
    newlines per whitespace-separated word (an upper bound of the ratio, which is then stored) exceed
    `new_line_ratio`.
    """
    config = config or FineWebQualityConfig()
    stop_chars = TERMINAL_PUNCTUATION if config.stop_chars is None else config.stop_chars
    line = pl.col(_LINE)
    lines = (
        frame.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias(_ROW), pl.col(text).str.split("\n").alias(_LINE)
        )
        .explode(_LINE)
        .filter(line.str.contains(f"[^{PY_WHITESPACE_CLASS}]"))
    )
    n = pl.len()
    per_doc = lines.group_by(_ROW).agg(
        (py_endswith(line, stop_chars).sum() / n).alias("fineweb_line_punct_ratio"),
        ((line.str.len_chars() <= config.short_line_length).sum() / n).alias("fineweb_short_line_ratio"),
        line.filter(line.is_first_distinct().not_()).str.len_chars().sum().alias("__fineweb_dup_chars"),
    )
    punct = pl.col("fineweb_line_punct_ratio")
    reason = (
        pl.when(punct.is_null())
        .then(pl.lit("empty"))
        .when((punct < config.line_punct_thr) & ~((punct == 0) & config.line_punct_exclude_zero))
        .then(pl.lit("line_punct_ratio"))
        .when(pl.col("fineweb_short_line_ratio") > config.short_line_thr)
        .then(pl.lit("short_line_ratio"))
        .when(pl.col("fineweb_char_dup_ratio") > config.char_duplicates_ratio)
        .then(pl.lit("char_dup_ratio"))
        .when(pl.col("fineweb_list_ratio") > config.new_line_ratio)
        .then(pl.lit("list_ratio"))
    )
    newlines = pl.col(text).str.count_matches("\n", literal=True)
    # spaCy never gives fewer words than whitespace-separated chunks: newlines per chunk bounds the ratio
    bound = newlines / py_word_count(pl.col(text))
    exact = pl.lit(config.keep_scores) | (bound > config.new_line_ratio)
    words = word_count(pl.when(punct.is_not_null() & exact).then(pl.col(text)))
    return (
        frame.drop(REASON, *STATS, strict=False)
        .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias(_ROW))
        .join(per_doc, on=_ROW, how="left", maintain_order="left")
        .with_columns(
            (pl.col("__fineweb_dup_chars") / (pl.col(text).str.len_chars() - newlines)).alias(
                "fineweb_char_dup_ratio"
            ),
            pl.when(punct.is_null())
            .then(None)
            .when(exact)
            .then(pl.when(words > 0).then(newlines / words))
            .otherwise(bound)
            .alias("fineweb_list_ratio"),
        )
        .with_columns(reason.alias(REASON))
        .drop(_ROW, "__fineweb_dup_chars")
    )


class FineWebQuality(Filter):
    """FineWeb's line-punctuation, short-line, duplicate-line and list-like rules."""

    Config = FineWebQualityConfig

    config: FineWebQualityConfig

    @property
    def score_columns(self) -> dict[str, pl.DataType]:  # type: ignore[override]
        return dict(STATS) if self.config.keep_scores else {}

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        marked = fineweb_quality(batch, self.config)
        return marked.drop([c for c in STATS if c not in self.score_columns])
