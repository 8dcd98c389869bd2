"""Exact Jaccard similarity of candidate pairs over their shingle sets, as polars joins."""

from __future__ import annotations

import numpy as np
import polars as pl

#: candidate pairs verified at a time: the join holds about this many times a document's shingles
PAIRS_PER_CHUNK = 20_000


def jaccard(pairs: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame | None = None) -> pl.DataFrame:
    """`pairs` (`a`, `b`) with `similarity` = |A ∩ B| / |A ∪ B|, computed a chunk of pairs at a time.

    `left` holds the shingles (`doc`, `h`; repeats allowed) of the `a` documents, `right` those of `b`
    (default: the same). Each chunk joins only the rows of its own documents, gathered by
    offset from the tables sorted by document, so memory and time stay linear in the pairs.
    """
    right = left if right is None else right
    if pairs.is_empty():
        return pairs.with_columns(pl.lit(None, pl.Float64).alias("similarity"))
    if pairs.height <= PAIRS_PER_CHUNK:
        return _jaccard(pairs, left, right)
    left_rows = _ByDoc(left)
    right_rows = left_rows if right is left else _ByDoc(right)
    results = []
    for start in range(0, pairs.height, PAIRS_PER_CHUNK):
        chunk = pairs.slice(start, PAIRS_PER_CHUNK)
        results.append(_jaccard(chunk, left_rows.of(chunk["a"]), right_rows.of(chunk["b"])))
    return pl.concat(results)


class _ByDoc:
    """A (`doc`, `h`) table sorted by doc, with each document's row range."""

    def __init__(self, table: pl.DataFrame) -> None:
        self.table = table.sort("doc")
        docs = self.table["doc"].to_numpy()
        self.starts = (
            np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]]) if len(docs) else np.empty(0, np.int64)
        )
        self.ends = np.r_[self.starts[1:], len(docs)].astype(np.int64)
        self.keys = docs[self.starts]

    def of(self, wanted: pl.Series) -> pl.DataFrame:
        """The rows of the `wanted` documents."""
        wanted_docs = np.unique(wanted.to_numpy())
        position = np.searchsorted(self.keys, wanted_docs)
        found = position < len(self.keys)
        found[found] = self.keys[position[found]] == wanted_docs[found]
        starts, ends = self.starts[position[found]], self.ends[position[found]]
        lengths = ends - starts
        offsets = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        return self.table[offsets + np.arange(int(lengths.sum()))]


def _jaccard(pairs: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    same = right is left
    left = left.unique()  # shingle sets: a shingle repeated in a document counts once
    right = left if same else right.unique()
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
