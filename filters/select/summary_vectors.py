"""The embeddings of a corpus stage's summaries as one numpy array, for the methods that need them all.

Summaries hold each document's embedding as a fixed-size float32 array column (polars `Array`), never as
Python lists. `stacked_vectors` fills one (documents, dim) array in `ORDER` order from slices of the
summaries (`CHUNK` rows at a time, read by slice from their files), so memory holds the embeddings once
(float32: documents x dim x 4 bytes, 1.5 KB a document for MiniLM's 384 dimensions; or an array the
caller gives, such as a memory map), plus a chunk.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.batch import ORDER

#: summary rows read at once
CHUNK = 65_536


def vector_column(vectors: np.ndarray, name: str) -> pl.Series:
    """(n, dim) vectors as a float32 `Array` column."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return pl.Series(name, vectors, dtype=pl.Array(pl.Float32, vectors.shape[1]))


def vector_size(summaries: pl.LazyFrame, column: str) -> int:
    """The dimension of the summaries' `column` vectors (a fixed-size `Array` column)."""
    dtype = summaries.collect_schema()[column]
    if not isinstance(dtype, pl.Array):
        raise TypeError(f"summary column {column!r} is {dtype}, not a fixed-size Array")
    return dtype.size


def stacked_vectors(
    summaries: pl.LazyFrame, orders: pl.Series, column: str, out: np.ndarray | None = None
) -> np.ndarray:
    """The `column` vectors of `summaries` as one (len(orders), dim) array, row i for the i-th of `orders`
    (the summaries' sorted `ORDER` values): a new float32 array, or `out` filled (e.g. a memory
    map)."""
    size = vector_size(summaries, column)
    keys = orders.to_numpy()
    if out is None:
        out = np.empty((len(keys), size), dtype=np.float32)
    elif out.shape != (len(keys), size):
        raise ValueError(f"out has shape {out.shape}, not {(len(keys), size)}")
    for start in range(0, len(keys), CHUNK):
        rows = summaries.select(ORDER, column).slice(start, CHUNK).collect()
        at = np.minimum(np.searchsorted(keys, rows[ORDER].to_numpy()), max(len(keys) - 1, 0))
        if not np.array_equal(keys[at], rows[ORDER].to_numpy()):
            raise ValueError("the summaries hold documents that `orders` does not list")
        out[at] = rows[column].to_numpy()
    return out
