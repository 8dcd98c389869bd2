"""`compress_prompts`: the Prefect flow that compresses a JSON Lines file of prompts, one task per chunk.

The records, their checks, the chunks and the output are `prompts.batch.compress_jsonl`'s (which `winnow
compress --batch` runs in its own process unless Prefect is asked for); here each chunk is a task on the
flow's task runner (one thread by default; `flows.engine.task_runner` for Dask). Each task builds a
`prompts.compress.Compressor` (cheap: its models load once per worker process).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline.models import Precision
from prompts.batch import ChunkRunner, Entry, compress_jsonl, compress_records


@task(name="compress", task_run_name="compress [{label}]", cache_policy=NO_CACHE, persist_result=False)
def compress_chunk(
    label: str,
    entries: list[Entry],
    model: str | None,
    tokenizer: str | None,
    dtype: Precision = "auto",
) -> list[dict[str, Any]]:
    """The Prefect task of one chunk of records (pickled by value to Dask workers: it only calls)."""
    return compress_records(entries, model, tokenizer, dtype)


def as_tasks(model: str | None, tokenizer: str | None, dtype: Precision) -> ChunkRunner:
    """Submit every chunk as a `compress_chunk` task; yield each as it completes."""

    def run(chunks: Sequence[list[Entry]]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        futures, first = [], 1
        for chunk in chunks:
            label = f"{first}-{first + len(chunk) - 1}"  # records counted from 1
            futures.append(compress_chunk.submit(label, chunk, model, tokenizer, dtype))
            first += len(chunk)
        index = {future.task_run_id: i for i, future in enumerate(futures)}
        for future in as_completed(futures):
            yield index[future.task_run_id], future.result()

    return run


@flow(
    name="compress_prompts",
    flow_run_name="compress {input}",
    task_runner=ThreadPoolTaskRunner(max_workers=1),
    log_prints=False,
    validate_parameters=True,
)
def compress_prompts(
    input: str | Path,
    out: str | Path,
    rate: float | None = None,
    target_tokens: int | None = None,
    question: str | None = None,
    keep: list[str] | None = None,
    keep_numbers: bool = True,
    keep_newlines: bool = False,
    chunk_by: Literal["auto", "documents", "paragraphs", "sentences"] = "auto",
    reorder: bool = False,
    whole_chunks: bool | None = None,
    roles: list[str] | None = None,
    model: str | None = None,
    tokenizer: str | None = None,
    chunk_size: int | None = None,
    dtype: Precision = "auto",
) -> dict[str, Any]:
    """Compress every prompt of `input` (JSON Lines) into `out`: `prompts.batch.compress_jsonl` with its
    chunks as tasks; returns its counts. `question` is the default for records without one; `dtype` is the
    scorer's precision ("auto": bfloat16 where native, else float32)."""
    options = {
        "rate": rate,
        "target_tokens": target_tokens,
        "question": question,
        "keep": list(keep or ()),
        "keep_numbers": keep_numbers,
        "keep_newlines": keep_newlines,
        "chunk_by": chunk_by,
        "reorder": reorder,
        "whole_chunks": whole_chunks,
        "roles": roles,
    }
    summary = compress_jsonl(
        input,
        out,
        options,
        model=model,
        tokenizer=tokenizer,
        dtype=dtype,
        chunk_size=chunk_size,
        runner=as_tasks(model, tokenizer, dtype),
    )
    get_run_logger().info(
        f"compressed {summary['compressed']} of {summary['records']} records ({summary['failed']} failed): "
        f"{summary['original_tokens']} -> {summary['compressed_tokens']} tokens"
    )
    return summary
