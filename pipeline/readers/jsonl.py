"""Streaming JSON Lines reader (plain, gzip, zstd): pyarrow fast path, orjson line-by-line fallback."""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.json as pa_json
import zstandard

from pipeline.batch import ID
from pipeline.errors import InputError
from pipeline.readers.options import ReadBatch, ReadOptions
from pipeline.readers.sources import Source
from pipeline.readers.validate import empty_docs, empty_file, finalize, json_type, quarantine_rows
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


def iter_lines(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines without their newline; a final unterminated line too. Truncated carries the partial line."""
    pending: list[bytes] = []
    try:
        for block in blocks:
            first = block.find(b"\n")
            if first < 0:
                pending.append(block)
                continue
            pending.append(block[:first])
            yield b"".join(pending)
            last = block.rfind(b"\n")
            if last > first:
                yield from block[first + 1 : last].split(b"\n")
            pending = [block[last + 1 :]] if last + 1 < len(block) else []
    except Truncated as exc:
        raise Truncated(exc.detail, b"".join(pending)) from exc
    if tail := b"".join(pending):
        yield tail


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


def fast_parse(lines: list[bytes], options: ReadOptions) -> pl.DataFrame | None:
    """Parse a chunk with pyarrow; None when the chunk needs the line-by-line fallback."""
    data = b"\n".join(lines) + b"\n"
    if not valid_utf8(data):
        return None
    block_size = max(MIN_BLOCK, max(map(len, lines)) + 2)
    try:
        table = _arrow_read(data, pa.schema([(options.text_field, pa.string())]), block_size)
        fixed = pa.schema([f.with_type(_strings_for_timestamps(f.type)) for f in table.schema])
        if not fixed.equals(table.schema):
            table = _arrow_read(data, fixed, block_size)
        if table.num_rows != len(lines) or table.column(options.text_field).null_count:
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
        return None, tf, "text is null"
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


def parse_chunk(lines: list[bytes], numbers: list[int], label: str, options: ReadOptions) -> ReadBatch:
    """Records of a chunk of non-blank lines: fast path when it applies, else the fallback."""
    frame = fast_parse(lines, options)
    if frame is None:
        return slow_parse(lines, numbers, label, options)
    return finalize(frame, pl.Series(numbers, dtype=pl.Int64), label, options, "line", lines)


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
    lines: list[bytes] = []
    numbers: list[int] = []
    size = 0
    number = 0
    seen = False
    with source.path.open("rb") as fh:  # a local file, or an object streamed through fsspec
        try:
            for line in iter_lines(open_blocks(fh, source.path)):
                number += 1
                if line.endswith(b"\r"):
                    line = line[:-1]
                if number == 1 and line.startswith(BOM):
                    line = line[len(BOM) :]
                if not line or line.isspace():
                    continue
                seen = True
                if lines and (len(lines) >= options.batch_size or size + len(line) + 1 > options.batch_bytes):
                    yield parse_chunk(lines, numbers, label, options)
                    lines, numbers, size = [], [], 0
                lines.append(line)
                numbers.append(number)
                size += len(line) + 1
        except Truncated as exc:
            if lines:
                yield parse_chunk(lines, numbers, label, options)
            yield _truncated(exc, label, number + 1, options)
            return
        except Corrupt as exc:
            raise InputError(f"corrupt compressed file: {exc}", source=label, line=number + 1) from exc
    if lines:
        yield parse_chunk(lines, numbers, label, options)
    elif not seen:
        yield empty_file(label, options)
