"""CSV / TSV reader: streamed with pyarrow, every column read as a string, rows numbered from 1."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv

from pipeline.errors import InputError
from pipeline.readers.options import ReadBatch, ReadOptions
from pipeline.readers.sources import Source
from pipeline.readers.validate import empty_file, table_batches
from pipeline.storage import AnyPath, is_remote

MIN_BLOCK = 1 << 16
MAX_BLOCK = 2**31 - 1


def _delimiter(path: AnyPath) -> str:
    name = path.name.lower()
    return "\t" if name.endswith((".tsv", ".tsv.gz")) else ","


def _input(path: AnyPath) -> object:
    """What pyarrow opens: a local path (compression by extension), or an object streamed through fsspec."""
    if not is_remote(path):
        return path
    compression = "gzip" if path.name.lower().endswith(".gz") else None
    return pa.input_stream(path.open("rb"), compression=compression)


def _open(path: AnyPath, block_size: int, names: list[str] | None) -> pa_csv.CSVStreamingReader:
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in names or []}, strings_can_be_null=False
    )
    return pa_csv.open_csv(
        _input(path),
        read_options=pa_csv.ReadOptions(block_size=block_size),
        parse_options=pa_csv.ParseOptions(delimiter=_delimiter(path)),
        convert_options=convert,
    )


def _frames(path: AnyPath, options: ReadOptions, block_size: int, names: list[str]) -> Iterator[pl.DataFrame]:
    """Frames of at most batch_size rows; a row larger than a block reopens with larger blocks."""
    done = 0
    while True:
        skip = done
        try:
            for batch in _open(path, block_size, names):
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                batch = batch.slice(skip)
                skip = 0
                for start in range(0, batch.num_rows, options.batch_size):
                    frame = pl.from_arrow(batch.slice(start, options.batch_size))
                    assert isinstance(frame, pl.DataFrame)
                    done += frame.height
                    yield frame
            return
        except pa.ArrowInvalid as exc:
            if "straddling" not in str(exc) or block_size >= MAX_BLOCK:
                raise
            block_size = min(block_size * 4, MAX_BLOCK)


def read_csv(source: Source, options: ReadOptions) -> Iterator[ReadBatch]:
    """Stream a CSV (or .tsv) file with a header row; batches of at most batch_size rows."""
    assert source.path is not None
    block_size = max(MIN_BLOCK, min(options.batch_bytes, MAX_BLOCK))
    try:
        names = list(_open(source.path, block_size, None).schema.names)
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            yield empty_file(source.label, options)
            return
        raise InputError(f"cannot read CSV file: {exc}", source=source.label) from exc
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read CSV file: {exc}", source=source.label) from exc
    try:
        frames = _frames(source.path, options, block_size, names)
        yield from table_batches(frames, source.label, options, "row", 1)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read CSV file: {exc}", source=source.label) from exc
