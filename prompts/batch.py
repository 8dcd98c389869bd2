"""Compressing a JSON Lines file of prompts: read and check every record, compress in chunks, write in order.

Each input line is `{"id": ..., "prompt": str | [documents] | [{"role", "content"}], "question": str}`
(`id` and `question` optional, other fields kept); each output line is the same record plus the fields of
`CompressionResult.to_dict()` (`text` holds the compressed prompt), in input order. Every line is checked
before anything runs, as JSON and as a `prompts.request.CompressionRequest` (the record's prompt and
question with the batch's options): a bad one stops the run with `FILE, line N, field 'x': ...` and nothing
is written. A record the compressor refuses (a `CompressionError` about its text: NUL bytes, a role no
message has, protected parts over the target) gets `"error": "<message>"` instead of the result fields.
The output is written to a temporary file and renamed into place.

`compress_jsonl` runs the chunks in this process, one after another (the scorer's threads use the cores);
`flows.compress_flow.compress_prompts` runs the same chunks as Prefect tasks (on Dask workers, say).
"""

from __future__ import annotations

import gzip
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from pipeline.engine import live_progress
from pipeline.errors import InputError
from pipeline.models import Precision
from prompts.request import CompressionRequest, RequestError, check_models
from prompts.result import CompressionError

STEP = "compress prompts"
#: records per task: small batches give the workers (and the progress bar) at least 32 tasks; at most this
CHUNK_SIZE = 16

#: one compression at a time per process: the scorer's threads already use the cores
_COMPRESSING = threading.Lock()

#: a record and its request, or why the compressor refuses its prompt
Entry = tuple[dict[str, Any], CompressionRequest | str]


def read_batch(path: str | Path, options: dict[str, Any]) -> list[Entry]:
    """Every record of a JSON Lines file (blank lines skipped) with its request (`options` and the record's
    prompt and question, which wins over `options["question"]`), checked: the first bad line raises. A bad
    option (`RequestError` of `rate`, `keep`, ...) is raised as it is."""
    source = str(path)
    if not Path(path).is_file():
        raise InputError("no such file" if not Path(path).exists() else "not a file", source=source)
    entries: list[Entry] = []
    seen_ids: dict[Any, int] = {}
    with _open(Path(path), "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise InputError(
                    f"not valid UTF-8 at byte {error.start} of the line", source=source, line=number
                ) from None
            record = _parse_record(text, source, number)
            entry = _request(record, options, source, number)
            if "id" in record:
                key = _id_key(record["id"], source, number)
                if key in seen_ids:
                    raise InputError(
                        f"duplicate id {record['id']!r} (first on line {seen_ids[key]})",
                        source=source,
                        line=number,
                        field="id",
                    )
                seen_ids[key] = number
            entries.append(entry)
    if not entries:
        raise InputError("no records (the file is empty)", source=source)
    return entries


def _parse_record(text: str, source: str, line: int) -> dict[str, Any]:
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise InputError(f"invalid JSON: {error}", source=source, line=line) from None
    if not isinstance(record, dict):
        raise InputError('a record is a JSON object {"id", "prompt", "question"}', source=source, line=line)
    if "prompt" not in record:
        raise InputError("missing", source=source, line=line, field="prompt")
    return record


def _request(record: dict[str, Any], options: dict[str, Any], source: str, line: int) -> Entry:
    """The record with its request; a bad prompt or question is an error of this line, naming the field
    (`prompt[1].content`)."""
    question = record.get("question")
    if question is None or (isinstance(question, str) and not question.strip()):
        question = options.get("question")
    try:
        return record, CompressionRequest(record["prompt"], **{**options, "question": question})
    except RequestError as error:
        if error.in_prompt or error.field == "question":
            raise InputError(error.problem, source=source, line=line, field=error.field) from None
        raise
    except CompressionError as error:
        return record, str(error)


def _id_key(value: Any, source: str, line: int) -> Any:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise InputError("must be a string or an integer", source=source, line=line, field="id")


def compress_records(
    entries: list[Entry],
    model: str | None,
    tokenizer: str | None,
    dtype: Precision = "auto",
) -> list[dict[str, Any]]:
    """Run each record's request (the chunk's sentences embedded together first); one the compressor
    refuses carries its `error` instead of the result."""
    from prompts.compress import Compressor

    compressor = Compressor(model, tokenizer=tokenizer, dtype=dtype)
    done: list[dict[str, Any]] = []
    with _COMPRESSING, compressor.batch([request for _, request in entries if not isinstance(request, str)]):
        for record, request in entries:
            if isinstance(request, str):
                done.append({**record, "error": request})
                continue
            try:
                result = compressor.run(request)
            except CompressionError as error:
                done.append({**record, "error": str(error)})
            else:
                done.append({**record, **result.to_dict()})
    return done


#: runs chunks of entries and yields (chunk index, its output rows) as each finishes, in any order
ChunkRunner = Callable[[Sequence[list[Entry]]], Iterator[tuple[int, list[dict[str, Any]]]]]


def in_process(model: str | None, tokenizer: str | None, dtype: Precision = "auto") -> ChunkRunner:
    """Run the chunks one after another in this process."""

    def run(chunks: Sequence[list[Entry]]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        for index, chunk in enumerate(chunks):
            yield index, compress_records(chunk, model, tokenizer, dtype)

    return run


def compress_jsonl(
    input: str | Path,
    out: str | Path,
    options: dict[str, Any],
    *,
    model: str | None = None,
    tokenizer: str | None = None,
    dtype: Precision = "auto",
    chunk_size: int | None = None,
    runner: ChunkRunner | None = None,
) -> dict[str, Any]:
    """Compress every prompt of `input` (JSON Lines) into `out`; returns the counts.

    `options` are the `CompressionRequest` fields (`rate`, `target_tokens`, `question`: the default for
    records without one, `keep`, ...); `chunk_size` is the records per chunk (default: up to 16, fewer for
    small files); `runner` runs the chunks (default `in_process`). Returns `records`, `compressed`,
    `failed` (always `records == compressed + failed`), `original_tokens` and `compressed_tokens` (of the
    compressed records), `ratio`, `seconds` and `out`.
    """
    started = time.perf_counter()
    check_models(model, tokenizer)
    if chunk_size is not None and chunk_size < 1:
        raise InputError(f"chunk_size must be at least 1, got {chunk_size}")
    entries = read_batch(input, options)
    chunk_size = chunk_size or max(1, min(CHUNK_SIZE, math.ceil(len(entries) / 32)))
    chunks = [entries[i : i + chunk_size] for i in range(0, len(entries), chunk_size)]
    done: dict[int, list[dict[str, Any]]] = {}
    progress = live_progress()
    progress.start(STEP, len(entries))
    try:
        for index, rows in (runner or in_process(model, tokenizer, dtype))(chunks):
            done[index] = rows
            progress.advance(STEP, len(chunks[index]))
    finally:
        progress.finish(STEP)
    results = [row for index in range(len(chunks)) for row in done[index]]
    write_jsonl(Path(out), results)
    compressed = [row for row in results if "error" not in row]
    original = sum(row["original_tokens"] for row in compressed)
    kept = sum(row["compressed_tokens"] for row in compressed)
    return {
        "records": len(results),
        "compressed": len(compressed),
        "failed": len(results) - len(compressed),
        "original_tokens": original,
        "compressed_tokens": kept,
        "ratio": kept / original if original else None,
        "seconds": time.perf_counter() - started,
        "out": str(out),
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write `rows` as JSON Lines (gzip for .gz) through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with _open(tmp, "wb", gzipped=path.suffix == ".gz") as sink:
            for row in rows:
                sink.write(orjson.dumps(row) + b"\n")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _open(path: Path, mode: Literal["rb", "wb"], gzipped: bool | None = None) -> IO[bytes]:
    if path.suffix == ".gz" if gzipped is None else gzipped:
        return gzip.open(path, mode)  # type: ignore[return-value]
    return path.open(mode)
