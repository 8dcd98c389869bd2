"""Streaming JSON Lines reader (plain, gzip, zstd): pyarrow fast path, orjson line-by-line fallback.

Lines are found with numpy over each decompressed block (newline positions, a carriage return before a
newline, a BOM, blank lines), not a Python loop per line; a batch of lines goes to pyarrow as the spans of
bytes that hold it (pyarrow skips blank lines), and only a batch pyarrow cannot take is split into lines for
orjson.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.json as pa_json
import zstandard

from pipeline.batch import ID
from pipeline.errors import InputError
from pipeline.readers.options import ReadBatch, ReadOptions
from pipeline.readers.sources import Source
from pipeline.readers.validate import (
    TEXT_NULL,
    empty_docs,
    empty_file,
    finalize,
    json_type,
    quarantine_rows,
)
from pipeline.storage import AnyPath

READ_SIZE = 1 << 20
MIN_BLOCK = 1 << 20
BOM = b"\xef\xbb\xbf"


class Truncated(Exception):
    """A compressed stream ended early; `partial` holds the bytes after the last complete line."""

    def __init__(self, detail: str, partial: bytes = b"") -> None:
        super().__init__(detail)
        self.detail = detail
        self.partial = partial


class Corrupt(Exception):
    """A compressed stream could not be decoded."""


def _plain_blocks(fh: BinaryIO) -> Iterator[bytes]:
    while block := fh.read(READ_SIZE):
        yield block


def _gzip_blocks(fh: BinaryIO) -> Iterator[bytes]:
    stream = gzip.GzipFile(fileobj=fh, mode="rb")
    try:
        while block := stream.read1(READ_SIZE):
            yield block
    except EOFError as exc:
        raise Truncated(str(exc)) from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise Corrupt(str(exc)) from exc


def _zstd_blocks(fh: BinaryIO) -> Iterator[bytes]:
    """Decompress every frame of a zstd stream; raise Truncated if the last frame is incomplete."""
    dctx = zstandard.ZstdDecompressor()
    obj = dctx.decompressobj()
    in_frame = False
    try:
        while data := fh.read(READ_SIZE):
            while data:
                in_frame = True
                out = obj.decompress(data)
                if out:
                    yield out
                data = b""
                if obj.eof:
                    data, obj, in_frame = obj.unused_data, dctx.decompressobj(), False
    except zstandard.ZstdError as exc:
        raise Corrupt(str(exc)) from exc
    if in_frame:
        raise Truncated("zstd stream ended before the end of the frame")


def open_blocks(fh: BinaryIO, path: AnyPath) -> Iterator[bytes]:
    """Decompressed blocks of a file, by its extension."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return _gzip_blocks(fh)
    if name.endswith(".zst"):
        return _zstd_blocks(fh)
    return _plain_blocks(fh)


def _strings_for_timestamps(dtype: pa.DataType) -> pa.DataType:
    """`dtype` with every timestamp (pyarrow infers them from date-like strings) replaced by string."""
    if pa.types.is_timestamp(dtype):
        return pa.string()
    if pa.types.is_struct(dtype):
        return pa.struct([f.with_type(_strings_for_timestamps(f.type)) for f in dtype])
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return pa.list_(dtype.value_field.with_type(_strings_for_timestamps(dtype.value_type)))
    return dtype


def _arrow_read(data: bytes, schema: pa.Schema, block_size: int) -> pa.Table:
    return pa_json.read_json(
        pa.BufferReader(data),
        read_options=pa_json.ReadOptions(block_size=block_size),
        parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
    )


def valid_utf8(data: bytes) -> bool:
    """Whether `data` is valid UTF-8 (checked by Arrow without decoding; pyarrow.json does not check)."""
    offsets = pa.py_buffer(struct.pack("<qq", 0, len(data)))
    array = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def fast_parse(data: bytes, rows: int, longest: int, options: ReadOptions) -> pl.DataFrame | None:
    """Parse `rows` records (`data`: their lines, newline-terminated, blank lines between them allowed; the
    longest `longest` bytes) with pyarrow; None when they need the line-by-line fallback."""
    if not valid_utf8(data):
        return None
    block_size = max(MIN_BLOCK, longest + 2)
    try:
        table = _arrow_read(data, pa.schema([(options.text_field, pa.string())]), block_size)
        fixed = pa.schema([f.with_type(_strings_for_timestamps(f.type)) for f in table.schema])
        if not fixed.equals(table.schema):
            table = _arrow_read(data, fixed, block_size)
        if table.num_rows != rows or table.column(options.text_field).null_count:
            return None
        frame = pl.from_arrow(table)
    except (pa.ArrowException, UnicodeDecodeError, ValueError, TypeError):
        return None
    assert isinstance(frame, pl.DataFrame)
    return frame


def _id_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


Classified = tuple[dict | None, str | None, str | None]


def classify(line: bytes, options: ReadOptions, id_col: str | None) -> Classified:
    """Parse one line: (record, None, None) when usable, else (None, field, error)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, None, f"invalid UTF-8 at byte {exc.start}"
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, None, f"malformed JSON: {exc}"
    if not isinstance(record, dict):
        return None, None, f"expected a JSON object, got {json_type(record)}"
    tf = options.text_field
    if tf not in record:
        return None, tf, f"missing field '{tf}'"
    value = record[tf]
    if value is None:
        return None, tf, TEXT_NULL
    if not isinstance(value, str):
        return None, tf, f"text must be a string, got {json_type(value)}"
    if id_col is not None:
        ident = record.get(id_col)
        if ident is None:
            if options.id_field is not None:
                return None, id_col, f"missing id field '{id_col}'"
        elif isinstance(ident, (list, dict)):
            return None, id_col, f"id must be a string or number, got {json_type(ident)}"
        else:
            record[id_col] = _id_string(ident)
    return record, None, None


def _json_strings(name: str, values: list[object]) -> pl.Series:
    return pl.Series(name, [None if v is None else orjson.dumps(v).decode() for v in values], pl.String)


def _column(name: str, values: list[object]) -> pl.Series:
    """A column from decoded JSON values; mixed JSON types are kept as JSON-encoded strings."""
    kinds = {json_type(v) for v in values if v is not None}
    if kinds == {"int", "float"}:
        values = [None if v is None else float(v) for v in values]  # type: ignore[arg-type]
    elif len(kinds) > 1:
        return _json_strings(name, values)
    try:
        return pl.Series(name, values, strict=True)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        return _json_strings(name, values)


def records_frame(records: list[dict], options: ReadOptions) -> pl.DataFrame:
    """A frame from decoded records: columns in order of first appearance."""
    if not records:
        return pl.DataFrame(schema={options.text_field: pl.String()})
    names = list(dict.fromkeys(key for record in records for key in record))
    return pl.DataFrame([_column(name, [r.get(name) for r in records]) for name in names])


def slow_parse(lines: list[bytes], numbers: list[int], label: str, options: ReadOptions) -> ReadBatch:
    """The fallback: parse and classify each line with orjson, then validate the good records."""
    id_col = options.id_field if options.id_field is not None else (ID if options.text_field != ID else None)
    records, good_lines, good_numbers = [], [], []
    bad_numbers, bad_fields, bad_errors, bad_raw = [], [], [], []
    for line, number in zip(lines, numbers, strict=True):
        record, field, error = classify(line, options, id_col)
        if record is not None:
            records.append(record)
            good_lines.append(line)
            good_numbers.append(number)
        else:
            bad_numbers.append(number)
            bad_fields.append(field)
            bad_errors.append(error)
            bad_raw.append(line.decode("utf-8", errors="backslashreplace"))
    earlier = quarantine_rows(
        label,
        "line",
        pl.Series(bad_numbers, dtype=pl.Int64),
        pl.Series(bad_fields, dtype=pl.String),
        pl.Series(bad_errors, dtype=pl.String),
        bad_raw,
    )
    frame = records_frame(records, options)
    positions = pl.Series(good_numbers, dtype=pl.Int64)
    return finalize(frame, positions, label, options, "line", good_lines, earlier)


#: bytes that make a line blank when it has nothing else (`bytes.isspace`)
BLANK = np.zeros(256, dtype=np.bool_)
BLANK[[9, 10, 11, 12, 13, 32]] = True


@dataclass
class Lines:
    """Non-blank lines of a batch: where they sit in the buffers they came from, and their line numbers."""

    buffers: list[bytes] = field(default_factory=list)
    starts: list[np.ndarray] = field(default_factory=list)
    ends: list[np.ndarray] = field(default_factory=list)
    numbers: list[np.ndarray] = field(default_factory=list)
    count: int = 0
    size: int = 0

    def add(self, buffer: bytes, starts: np.ndarray, ends: np.ndarray, numbers: np.ndarray) -> None:
        self.buffers.append(buffer)
        self.starts.append(starts)
        self.ends.append(ends)
        self.numbers.append(numbers)
        self.count += len(starts)
        self.size += int((ends - starts).sum()) + len(starts)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> bytes:
        for buffer, starts, ends in zip(self.buffers, self.starts, self.ends, strict=True):
            if index < len(starts):
                return buffer[starts[index] : ends[index]]
            index -= len(starts)
        raise IndexError(index)

    def lines(self) -> list[bytes]:
        """Every line, as bytes (for the line-by-line fallback)."""
        return [
            buffer[start:end]
            for buffer, starts, ends in zip(self.buffers, self.starts, self.ends, strict=True)
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True)
        ]

    def longest(self) -> int:
        return max(int((ends - starts).max()) for starts, ends in zip(self.starts, self.ends, strict=True))

    def data(self) -> bytes:
        """The bytes from each buffer's first line to its last (blank lines between them included)."""
        views = [memoryview(b) for b in self.buffers]
        return (
            b"\n".join([v[s[0] : e[-1]] for v, s, e in zip(views, self.starts, self.ends, strict=True)])
            + b"\n"
        )

    def parse(self, label: str, options: ReadOptions) -> ReadBatch:
        """The records of these lines: pyarrow over their spans, else line by line."""
        numbers = np.concatenate(self.numbers).tolist()
        frame = fast_parse(self.data(), self.count, self.longest(), options)
        if frame is None:
            return slow_parse(self.lines(), numbers, label, options)
        return finalize(frame, pl.Series(numbers, dtype=pl.Int64), label, options, "line", self)


def line_spans(buffer: bytes, first_number: int, bom: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(start, end, line number) of the non-blank lines of `buffer` (whole lines, the last one ending with a
    newline or at the end of the file), and the number of lines, blank ones included: the end excludes the
    newline and a carriage return before it; a BOM at the buffer's start is skipped when `bom`."""
    raw = np.frombuffer(buffer, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    ends = newlines if len(newlines) and newlines[-1] == len(raw) - 1 else np.r_[newlines, len(raw)]
    starts = np.r_[0, ends[:-1] + 1]
    if bom and buffer.startswith(BOM):
        starts[0] = len(BOM)
    ends = ends - ((ends > starts) & (raw[np.maximum(ends - 1, 0)] == 13))
    numbers = np.arange(first_number, first_number + len(starts), dtype=np.int64)
    # blank: empty, or (rare) starting with whitespace and nothing else
    maybe = (ends == starts) | BLANK[raw[np.minimum(starts, len(raw) - 1)]]
    blank = np.zeros(len(starts), dtype=np.bool_)
    for i in np.flatnonzero(maybe).tolist():
        blank[i] = buffer[starts[i] : ends[i]].isspace() or ends[i] == starts[i]
    keep = ~blank
    return starts[keep], ends[keep], numbers[keep], len(numbers)


def _truncated(exc: Truncated, label: str, line: int, options: ReadOptions) -> ReadBatch:
    message = f"truncated compressed file: {exc.detail}"
    if options.on_error == "fail":
        raise InputError(message, source=label, line=line)
    raw = exc.partial.decode("utf-8", errors="backslashreplace")
    quarantined = quarantine_rows(
        label,
        "line",
        pl.Series([line], dtype=pl.Int64),
        pl.Series([None], dtype=pl.String),
        pl.Series([message], dtype=pl.String),
        [raw],
    )
    return ReadBatch(empty_docs(), quarantined)


def read_jsonl(source: Source, options: ReadOptions) -> Iterator[ReadBatch]:
    """Stream a JSON Lines file in batches of at most batch_size records and about batch_bytes bytes."""
    assert source.path is not None
    label = source.label
    batch = Lines()
    number = 0  # complete lines so far
    carry: list[bytes] = []  # the bytes after the last newline, joined when a newline comes (a long line
    # spanning many blocks is copied once, not once per block)
    seen = False

    def take(buffer: bytes) -> Iterator[ReadBatch]:
        """Add the whole lines of `buffer` to the batch, yielding each batch that fills up."""
        nonlocal batch, number, seen
        starts, ends, numbers, lines = line_spans(buffer, number + 1, bom=number == 0)
        number += lines
        seen |= len(starts) > 0
        sizes = np.cumsum(ends - starts + 1)
        taken = 0
        while taken < len(starts):
            before = int(sizes[taken - 1]) if taken else 0
            room = min(options.batch_size - batch.count, len(starts) - taken)
            fits = int(
                np.searchsorted(
                    sizes[taken : taken + room], before + options.batch_bytes - batch.size, "right"
                )
            )
            count = max(fits, 0 if batch.count else 1) if room > 0 else 0
            if count:
                part = slice(taken, taken + count)
                batch.add(buffer, starts[part], ends[part], numbers[part])
                taken += count
            if taken < len(starts):
                yield batch.parse(label, options)
                batch = Lines()

    with source.path.open("rb") as fh:  # a local file, or an object streamed through fsspec
        try:
            for block in open_blocks(fh, source.path):
                last = block.rfind(b"\n")
                if last < 0:
                    carry.append(block)
                    continue
                yield from take(b"".join([*carry, block[: last + 1]]))
                carry = [block[last + 1 :]]
        except Truncated as exc:
            if batch.count:
                yield batch.parse(label, options)
            yield _truncated(Truncated(exc.detail, b"".join(carry)), label, number + 1, options)
            return
        except Corrupt as exc:
            raise InputError(f"corrupt compressed file: {exc}", source=label, line=number + 1) from exc
    if tail := b"".join(carry):
        yield from take(tail)
    if batch.count:
        yield batch.parse(label, options)
    elif not seen:
        yield empty_file(label, options)
