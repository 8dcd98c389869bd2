"""Exact Jaccard similarity of candidate pairs over their shingle sets, as polars joins."""

from __future__ import annotations

import polars as pl


def shingle_sets(doc: pl.Series | list, hashes: pl.Series | list) -> pl.DataFrame:
    """Unique (`doc`, `h`) rows: each document's shingle set."""
    return pl.DataFrame({"doc": doc, "h": hashes}).unique()


#: candidate pairs verified at a time: the join holds about this many times a document's shingles
PAIRS_PER_CHUNK = 20_000


def jaccard(pairs: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame | None = None) -> pl.DataFrame:
    """`pairs` (`a`, `b`) with `similarity` = |A ∩ B| / |A ∪ B|, computed a chunk of pairs at a time.

    `left` holds the shingle sets (`doc`, `h`) of the `a` documents, `right` those of `b` (default: the same).
    """
    right = left if right is None else right
    if pairs.is_empty():
        return pairs.with_columns(pl.lit(None, pl.Float64).alias("similarity"))
    if pairs.height <= PAIRS_PER_CHUNK:
        return _jaccard(pairs, left, right)
    results = []
    for start in range(0, pairs.height, PAIRS_PER_CHUNK):
        chunk = pairs.slice(start, PAIRS_PER_CHUNK)
        # only the shingles of this chunk's documents enter its joins
        mine = left.filter(pl.col("doc").is_in(chunk["a"].unique().implode()))
        theirs = right.filter(pl.col("doc").is_in(chunk["b"].unique().implode()))
        results.append(_jaccard(chunk, mine, theirs))
    return pl.concat(results)


def _jaccard(pairs: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    sizes_left = left.group_by("doc").len("size_a").rename({"doc": "a"})
    sizes_right = right.group_by("doc").len("size_b").rename({"doc": "b"})
    shared = (
        pairs.join(left.rename({"doc": "a"}), on="a")
        .join(right.rename({"doc": "b"}), on=["b", "h"])
        .group_by("a", "b")
        .len("shared")
    )
    return (
        pairs.join(shared, on=["a", "b"], how="left")
        .join(sizes_left, on="a", how="left")
        .join(sizes_right, on="b", how="left")
        .select(
            "a",
            "b",
            (
                pl.col("shared").fill_null(0)
                / (pl.col("size_a") + pl.col("size_b") - pl.col("shared").fill_null(0))
            ).alias("similarity"),
        )
    )
