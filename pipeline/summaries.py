"""Rows of a corpus stage's shard summaries picked by document order, without scanning every summary.

A part of a split decision needs the wide columns (shingles, embeddings) of a few documents spread over
every shard. A filtered scan decodes those columns for the whole corpus in every part; here each local
summary (uncompressed Arrow IPC) is memory-mapped, its order column searched, and only the wanted rows
are taken, so a part reads what it uses. Summaries at an object-storage URL, or without files (a
library call's frame), are filtered.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from pipeline import storage
from pipeline.batch import ORDER
from pipeline.storage import AnyPath


def summary_rows(
    summaries: pl.LazyFrame, orders: pl.Series, columns: Sequence[str], files: Sequence[AnyPath] = ()
) -> pl.DataFrame:
    """`ORDER` and `columns` of the rows of `summaries` whose `ORDER` is in `orders`, in file order: taken
    from `files` (the summaries' own files) when they are local, else by filtering `summaries`."""
    selected = [ORDER, *columns]
    if not files or any(storage.is_remote(path) for path in files):
        chosen = summaries.filter(pl.col(ORDER).is_in(orders.implode()))
        return chosen.select(selected).collect(engine="streaming")
    wanted = np.unique(orders.drop_nulls().cast(pl.Int64).to_numpy())
    found = []
    for path in files:
        with pa.memory_map(str(path)) as source:  # nothing is read until touched
            table = pl.from_arrow(pa.ipc.open_file(source).read_all().select(selected), rechunk=False)
            at = np.flatnonzero(np.isin(table[ORDER].to_numpy(), wanted))
            found.append(table[at].rechunk())  # a copy of just these rows
    return pl.concat(found)
