"""Exact duplicate removal on normalised text: the first occurrence is kept.

Library use: `exact_duplicates(frame)` adds `duplicate_of` (null for first occurrences).
Pipeline use: the `ExactDedup` corpus stage, whose decisions span every shard of the run; they split into
parts by key (every copy of a text falls in one part), one task each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import polars as pl

from filters.dedup.normalize import DEFAULT, Normalization, normalize_series
from pipeline.batch import ID, ORDER, REASON, TEXT
from pipeline.stage import PART, SplitCorpusStage, StageConfig, part_of
from pipeline.storage import AnyPath

REASON_EXACT = "exact_duplicate"
#: two independent 64-bit hashes: a 128-bit key, so collisions are negligible at any corpus size
HASH_SEEDS = (0x5EED_0001, 0x5EED_0002)
KEYS = ("hash_a", "hash_b")


class ExactDedupConfig(StageConfig):
    """Recipe table for `type = "exact_dedup"`."""

    type: Literal["exact_dedup"] = "exact_dedup"
    normalization: Normalization = DEFAULT


def text_hashes(texts: pl.Series, normalization: Normalization = DEFAULT) -> list[pl.Series]:
    """The 128-bit key of each normalised text, as two u64 columns (the text is normalised once)."""
    normalized = normalize_series(texts, normalization)
    return [normalized.hash(seed=seed).alias(key) for seed, key in zip(HASH_SEEDS, KEYS, strict=True)]


def exact_duplicates(
    frame: pl.DataFrame, *, text: str = TEXT, id: str = ID, normalization: Normalization = DEFAULT
) -> pl.DataFrame:
    """`frame` with `duplicate_of`: the id of the first row with the same normalised text, null for firsts."""
    keyed = frame.with_columns(*text_hashes(frame[text], normalization))
    first = pl.col(id).first().over(KEYS)
    return keyed.with_columns(
        pl.when(pl.int_range(pl.len()).over(KEYS) > 0).then(first).alias("duplicate_of")
    ).drop(KEYS)


class ExactDedup(SplitCorpusStage):
    """Remove documents whose normalised text equals an earlier one's (`reason=exact_duplicate`)."""

    Config = ExactDedupConfig
    detail_columns: ClassVar[dict[str, pl.DataType]] = {"duplicate_of": pl.String()}

    config: ExactDedupConfig

    def summarize(self, batch: pl.DataFrame) -> pl.DataFrame:
        return batch.select(ORDER, ID, *text_hashes(batch[TEXT], self.config.normalization))

    def route(self, summary: pl.LazyFrame, parts: int) -> pl.LazyFrame:
        """Every summary row goes to the part of its text's hash: all copies of a text meet there."""
        return summary.with_columns(part_of(pl.col(KEYS[0]), parts).alias(PART))

    def decide_part(
        self,
        summaries: pl.LazyFrame,
        part: int,
        parts: int,
        routed: pl.LazyFrame | None = None,
        round: int = 0,
        files: Sequence[AnyPath] = (),
    ) -> pl.DataFrame:
        """The removals among the documents whose key falls in `part`."""
        mine = self.routed_rows(summaries, part, parts, routed)
        firsts = (
            mine.group_by(KEYS)
            .agg(pl.col(ORDER).min().alias("first"), pl.len().alias("copies"))
            .filter(pl.col("copies") > 1)
        )
        ids = mine.select(pl.col(ORDER).alias("first"), pl.col(ID).alias("duplicate_of"))
        return (
            mine.join(firsts, on=KEYS)
            .filter(pl.col(ORDER) != pl.col("first"))
            .join(ids, on="first")
            .select(ORDER, pl.lit(REASON_EXACT).alias(REASON), "duplicate_of")
            .collect(engine="streaming")
        )

    def decide_parts(
        self, summaries: pl.LazyFrame, parts: pl.LazyFrame, files: Sequence[AnyPath] = ()
    ) -> pl.DataFrame:
        return parts.sort(ORDER).collect()
