"""Reading sources in order, whatever their format."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl

from pipeline.readers.csv import read_csv
from pipeline.readers.hf import read_hf
from pipeline.readers.jsonl import read_jsonl
from pipeline.readers.options import ReadBatch, ReadOptions
from pipeline.readers.parquet import read_parquet
from pipeline.readers.sources import Source, resolve_sources
from pipeline.readers.validate import empty_file

READERS = {"jsonl": read_jsonl, "parquet": read_parquet, "csv": read_csv, "hf": read_hf}


def read_source(source: Source, options: ReadOptions) -> Iterator[ReadBatch]:
    """Batches of one source; a 0-byte file is an empty file whatever its format."""
    if source.path is not None and source.path.is_file() and source.path.stat().st_size == 0:
        yield empty_file(source.label, options)
        return
    yield from READERS[source.format](source, options)


def _read_all(sources: list[Source], options: ReadOptions) -> Iterator[ReadBatch]:
    for source in sources:
        yield from read_source(source, options)


def read_documents(inputs: Sequence[Any], options: ReadOptions | None = None) -> Iterator[ReadBatch]:
    """Resolve the inputs now (bad paths fail at once), then read every source in order, lazily."""
    options = options or ReadOptions()
    return _read_all(resolve_sources(inputs, options), options)


def read_all_documents(inputs: Sequence[Any], options: ReadOptions | None = None) -> pl.DataFrame | None:
    """Every document of `inputs` in one frame (for small corpora: a training set, a pool), or None if none.

    Bad records follow `options.on_error`; quarantined ones are dropped here, so callers that must see every
    record use `on_error="fail"`.
    """
    frames = [batch.docs for batch in read_documents(inputs, options) if batch.docs.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else None
