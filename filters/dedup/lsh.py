"""Candidate pairs from LSH bands: documents that share a band key, as a polars group-by."""

from __future__ import annotations

import polars as pl

#: buckets larger than this are linked as a star around their first member instead of all pairs
MAX_BUCKET_PAIRS = 64


def candidate_pairs(bands: pl.DataFrame, max_bucket: int = MAX_BUCKET_PAIRS) -> pl.DataFrame:
    """Unique pairs `a` < `b` (document orders) that share a key in some band.

    `bands` has `order`, `band`, `key`. A bucket of more than `max_bucket` documents (a boilerplate page
    copied thousands of times) gives edges from its first member to the others, not every pair.
    """
    buckets = (
        bands.group_by("band", "key")
        .agg(pl.col("order").sort().alias("members"))
        .filter(pl.col("members").list.len() > 1)
        .select("members")
    )
    small = buckets.filter(pl.col("members").list.len() <= max_bucket).with_row_index("bucket")
    large = buckets.filter(pl.col("members").list.len() > max_bucket)
    members = small.explode("members")
    pairs = (
        members.join(members, on="bucket", suffix="_b")
        .filter(pl.col("members") < pl.col("members_b"))
        .select(pl.col("members").alias("a"), pl.col("members_b").alias("b"))
    )
    stars = large.select(
        pl.col("members").list.first().alias("a"), pl.col("members").list.slice(1).alias("b")
    )
    pairs = pl.concat([pairs, stars.explode("b")])
    return pairs.unique().sort("a", "b")


def index_pairs(bands: pl.DataFrame, index_bands: pl.LazyFrame) -> pl.DataFrame:
    """Pairs (`a` a new document's order, `b` an index row) that share a band key with the index."""
    return (
        index_bands.join(bands.lazy(), on=["band", "key"])
        .select(pl.col("order").alias("a"), pl.col("row").alias("b"))
        .unique()
        .sort("a", "b")
        .collect()
    )
