"""Checks shared by every format: text and id validation, column naming, quarantine rows, fail mode."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import orjson
import polars as pl

from pipeline.batch import ID, LINE, ORDER, QUARANTINE_SCHEMA, SOURCE, TEXT, empty_quarantine
from pipeline.errors import InputError
from pipeline.readers.options import ReadBatch, ReadOptions

Position = Literal["line", "row"]
RESERVED = (TEXT, ID, SOURCE, LINE, ORDER)
INPUT_SUFFIX = "__input"
_STRING_LIKE = (pl.String, pl.Categorical, pl.Enum, pl.Null)
#: the errors of a record whose text field is there but holds no text
TEXT_NULL, TEXT_EMPTY, TEXT_BLANK = "text is null", "text is empty", "text is whitespace only"
NO_TEXT = (TEXT_NULL, TEXT_EMPTY, TEXT_BLANK)


def id_source(options: ReadOptions, columns: Sequence[str]) -> str | None:
    """The input column that ids come from: the explicit id field, else `id` when present."""
    if options.id_field is not None:
        return options.id_field
    if ID in columns and options.text_field != ID:
        return ID
    return None


def output_name(column: str) -> str:
    """The batch name of an input column that is neither the text nor the id field."""
    return f"{column}{INPUT_SUFFIX}" if column in RESERVED else column


def output_renames(options: ReadOptions, columns: Sequence[str]) -> dict[str, str]:
    """Renames that restore the input's column names for writing, for the columns present."""
    present = set(columns)
    renames: dict[str, str] = {}
    if options.text_field != TEXT and TEXT in present:
        renames[TEXT] = options.text_field
    if options.id_field is not None and options.id_field != ID and ID in present:
        renames[ID] = options.id_field
    for name in RESERVED:
        if f"{name}{INPUT_SUFFIX}" in present:
            renames[f"{name}{INPUT_SUFFIX}"] = name
    return renames


def json_type(value: object) -> str:
    """The name used in messages for a decoded JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, dict):
        return "object"
    return {int: "int", float: "float", str: "string", list: "list"}.get(type(value), type(value).__name__)


def empty_docs() -> pl.DataFrame:
    """A document frame with no rows."""
    return pl.DataFrame(schema={ID: pl.String(), TEXT: pl.String(), SOURCE: pl.String(), LINE: pl.Int64()})


def empty_file(label: str, options: ReadOptions) -> ReadBatch:
    """The answer to an empty input: an InputError, or a warning and no documents."""
    if options.on_error == "fail":
        raise InputError("file is empty", source=label)
    return ReadBatch(empty_docs(), empty_quarantine(), [f"{label}: file is empty"])


def column_problem(schema: pl.Schema, options: ReadOptions) -> str | None:
    """Why a table's text column cannot be read (missing, not a string), or None."""
    name = options.text_field
    if name not in schema:
        return f"no column '{name}' (columns: {', '.join(schema.names())})"
    if not isinstance(schema[name], _STRING_LIKE):
        return f"column '{name}' has type {schema[name]}, expected string"
    return None


def quarantine_rows(
    label: str, kind: Position, positions: pl.Series, fields: pl.Series, errors: pl.Series, raw: Sequence[str]
) -> pl.DataFrame:
    """Quarantine rows for bad records at `positions` (lines or rows)."""
    n = len(positions)
    nulls = pl.Series([None] * n, dtype=pl.Int64)
    return pl.DataFrame(
        {
            "source": pl.Series([label] * n, dtype=pl.String),
            "line": positions.cast(pl.Int64) if kind == "line" else nulls,
            "row": positions.cast(pl.Int64) if kind == "row" else nulls,
            "field": fields.cast(pl.String),
            "error": errors.cast(pl.String),
            "raw": pl.Series(list(raw), dtype=pl.String),
        },
        schema=QUARANTINE_SCHEMA,
    )


def rows_as_json(frame: pl.DataFrame) -> list[str]:
    """Each row of `frame` as a JSON object (the `raw` of a quarantined table row)."""
    return [orjson.dumps(row, default=str).decode() for row in frame.to_dicts()]


def raise_first(quarantined: pl.DataFrame) -> None:
    """In fail mode: raise the first bad record (by position) as an InputError."""
    if quarantined.height == 0:
        return
    first = quarantined.sort(pl.coalesce("line", "row")).row(0, named=True)
    raise InputError(
        first["error"], source=first["source"], line=first["line"], row=first["row"], field=first["field"]
    )


def _checks(frame: pl.DataFrame, options: ReadOptions) -> list[tuple[pl.Expr, str, str]]:
    """(bad-row condition, error, field) in the order they are tested."""
    tf = options.text_field
    text = pl.col(tf)
    checks = [
        (text.is_null(), TEXT_NULL, tf),
        (text.str.len_bytes() == 0, TEXT_EMPTY, tf),
        (text.str.strip_chars().str.len_bytes() == 0, TEXT_BLANK, tf),
    ]
    idc = id_source(options, frame.columns)
    if options.id_field is not None:
        missing = pl.col(idc).is_null() if idc in frame.columns else pl.lit(True)
        checks.append((missing, f"missing id field '{options.id_field}'", options.id_field))
    if idc is not None and idc in frame.columns:
        dtype = frame.schema[idc]
        if isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
            kind = "object" if isinstance(dtype, pl.Struct) else "list"
            checks.append((pl.col(idc).is_not_null(), f"id must be a string or number, got {kind}", idc))
    return checks


def _status(frame: pl.DataFrame, options: ReadOptions) -> pl.DataFrame:
    """Per row: the first failed check's `error` and `field` (null for a good row)."""
    checks = _checks(frame, options)
    error = pl.when(checks[0][0]).then(pl.lit(checks[0][1]))
    field = pl.when(checks[0][0]).then(pl.lit(checks[0][2]))
    for cond, message, name in checks[1:]:
        error = error.when(cond).then(pl.lit(message))
        field = field.when(cond).then(pl.lit(name))
    return frame.select(
        error.otherwise(pl.lit(None, pl.String)).alias("error"),
        field.otherwise(pl.lit(None, pl.String)).alias("field"),
    )


def _temp_name(columns: Sequence[str]) -> str:
    name = "__winnow_position"
    while name in columns:
        name += "_"
    return name


def build_docs(frame: pl.DataFrame, positions: pl.Series, label: str, options: ReadOptions) -> pl.DataFrame:
    """Good records to batch columns: id, text, other inputs (renamed if they clash), __source, __line."""
    pos = _temp_name(frame.columns)
    frame = frame.with_columns(pl.Series(pos, positions, dtype=pl.Int64))
    generated = pl.concat_str(pl.lit(f"{label}:"), pl.col(pos).cast(pl.String))
    idc = id_source(options, frame.columns)
    if idc is None or idc not in frame.columns:
        id_expr = generated
    elif options.id_field is not None:
        id_expr = pl.col(idc).cast(pl.String)
    else:
        id_expr = pl.coalesce(pl.col(idc).cast(pl.String), generated)
    consumed = {options.text_field, pos, *([idc] if idc else [])}
    others = [c for c in frame.columns if c not in consumed]
    return frame.select(
        id_expr.alias(ID),
        pl.col(options.text_field).cast(pl.String).alias(TEXT),
        *[pl.col(c).alias(output_name(c)) for c in others],
        pl.lit(label, pl.String).alias(SOURCE),
        pl.col(pos).alias(LINE),
    )


def finalize(
    frame: pl.DataFrame,
    positions: pl.Series,
    label: str,
    options: ReadOptions,
    kind: Position,
    raw_lines: Sequence[bytes] | None = None,
    earlier: pl.DataFrame | None = None,
) -> ReadBatch:
    """Validate parsed records and split them into documents and quarantine rows.

    `positions` gives each row's line or row number; `raw_lines` the raw JSON lines (else the raw
    record is the row as JSON); `earlier` holds quarantine rows already found while parsing.
    """
    tf = options.text_field
    if not isinstance(frame.schema.get(tf), pl.String):
        frame = frame.with_columns(pl.col(tf).cast(pl.String))
    status = _status(frame, options)
    bad = status["error"].is_not_null()
    quarantined = empty_quarantine()
    if bad.any():
        idx = bad.arg_true()
        if raw_lines is not None:
            raw = [raw_lines[i].decode("utf-8", errors="backslashreplace") for i in idx.to_list()]
        else:
            raw = rows_as_json(frame.filter(bad))
        bad_status = status.filter(bad)
        quarantined = quarantine_rows(
            label, kind, positions.filter(bad), bad_status["field"], bad_status["error"], raw
        )
    if earlier is not None and earlier.height:
        quarantined = pl.concat([earlier, quarantined]).sort(pl.coalesce("line", "row"))
    if options.on_error == "fail":
        raise_first(quarantined)
    docs = build_docs(frame.filter(~bad), positions.filter(~bad), label, options)
    return ReadBatch(docs, quarantined)


def reject_all(
    frame: pl.DataFrame, positions: pl.Series, label: str, options: ReadOptions, kind: Position, message: str
) -> ReadBatch:
    """A table that cannot give documents at all (no text column): raise, or quarantine every row."""
    if options.on_error == "fail":
        raise InputError(message, source=label, field=options.text_field)
    n = frame.height
    quarantined = quarantine_rows(
        label,
        kind,
        positions,
        pl.Series([options.text_field] * n, dtype=pl.String),
        pl.Series([message] * n, dtype=pl.String),
        rows_as_json(frame),
    )
    return ReadBatch(empty_docs(), quarantined)


def table_batches(
    frames: Iterable[pl.DataFrame], label: str, options: ReadOptions, kind: Position, start: int
) -> Iterator[ReadBatch]:
    """Batches from a stream of table frames (Parquet, CSV, datasets), numbering rows from `start`."""
    position = start
    for frame in frames:
        if frame.height == 0:
            continue
        positions = pl.int_range(position, position + frame.height, dtype=pl.Int64, eager=True)
        position += frame.height
        problem = column_problem(frame.schema, options)
        if problem is not None:
            yield reject_all(frame, positions, label, options, kind, problem)
        else:
            yield finalize(frame, positions, label, options, kind)
    if position == start:
        yield empty_file(label, options)
