"""Candidate pairs from LSH bands: documents that share a band key, as a polars group-by."""

from __future__ import annotations

import polars as pl

#: buckets up to this size give every pair; larger ones a star and a chain (linear in the bucket's size)
MAX_BUCKET_PAIRS = 8


def candidate_pairs(bands: pl.DataFrame, max_bucket: int = MAX_BUCKET_PAIRS) -> pl.DataFrame:
    """Unique pairs `a` < `b` (document orders) that share a key in some band.

    `bands` has `order`, `band`, `key`. A bucket of more than `max_bucket` documents (a page copied
    thousands of times, or 50 near copies of one wire story) gives edges from its first member to every
    other (star) and between neighbours in input order (chain), not all k(k-1)/2 pairs: every member is
    still verified against the document that will usually be kept, and memory stays linear.
    """
    shared = bands.filter(pl.struct("band", "key").is_duplicated())  # most keys are one document's
    buckets = (
        shared.group_by("band", "key")
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
    star = large.select(
        pl.col("members").list.first().alias("a"), pl.col("members").list.slice(1).alias("b")
    ).explode("b")
    chain = large.select(
        pl.col("members").list.slice(0, pl.col("members").list.len() - 1).alias("a"),
        pl.col("members").list.slice(1).alias("b"),
    ).explode("a", "b")
    return pl.concat([pairs, star, chain]).unique()


def index_pairs(bands: pl.DataFrame, index_bands: pl.LazyFrame) -> pl.DataFrame:
    """Pairs (`a` a new document's order, `b` an index row) that share a band key with the index."""
    return (
        index_bands.join(bands.lazy(), on=["band", "key"])
        .select(pl.col("order").alias("a"), pl.col("row").alias("b"))
        .unique()
        .collect()
    )
