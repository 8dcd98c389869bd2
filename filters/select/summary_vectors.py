"""The embeddings of a corpus stage's summaries as one numpy array, for the methods that need them all.

Summaries hold each document's embedding as a fixed-size float32 array column (polars `Array`), never as
Python lists. `stacked_vectors` fills one (documents, dim) float32 array in `ORDER` order from slices of
the summaries (`CHUNK` rows at a time, read by slice from the parquet files), so memory holds the
embeddings once, documents x dim x 4 bytes (1.5 KB a document for MiniLM's 384 dimensions), plus a chunk.
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


def stacked_vectors(summaries: pl.LazyFrame, orders: pl.Series, column: str) -> np.ndarray:
    """The `column` vectors of `summaries` as one (len(orders), dim) float32 array, row i for the i-th of
    `orders` (the summaries' sorted `ORDER` values)."""
    dtype = summaries.collect_schema()[column]
    if not isinstance(dtype, pl.Array):
        raise TypeError(f"summary column {column!r} is {dtype}, not a fixed-size Array")
    keys = orders.to_numpy()
    out = np.empty((len(keys), dtype.size), dtype=np.float32)
    for start in range(0, len(keys), CHUNK):
        rows = summaries.select(ORDER, column).slice(start, CHUNK).collect()
        at = np.minimum(np.searchsorted(keys, rows[ORDER].to_numpy()), max(len(keys) - 1, 0))
        if not np.array_equal(keys[at], rows[ORDER].to_numpy()):
            raise ValueError("the summaries hold documents that `orders` does not list")
        out[at] = rows[column].to_numpy()
    return out
