"""Parquet reader: row groups streamed with pyarrow, rows numbered from 0."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import InputError
from pipeline.readers.options import ReadBatch, ReadOptions
from pipeline.readers.sources import Source
from pipeline.readers.validate import table_batches
from pipeline.storage import is_remote


def _frames(source: Source, options: ReadOptions) -> Iterator[pl.DataFrame]:
    assert source.path is not None
    remote = is_remote(source.path)  # an object is read through fsspec, row group by row group
    try:
        with source.path.open("rb") if remote else contextlib.nullcontext(source.path) as file:
            for batch in pq.ParquetFile(file).iter_batches(batch_size=options.batch_size):
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                yield frame
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read Parquet file: {exc}", source=source.label) from exc


def read_parquet(source: Source, options: ReadOptions) -> Iterator[ReadBatch]:
    """Stream a Parquet file in batches of at most batch_size rows."""
    return table_batches(_frames(source, options), source.label, options, "row", 0)
