"""The Prefect engine: every runner task becomes a Prefect task run (one per stage per shard)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from flows.orchestration import worker_memory_limit
from pipeline.engine import live_progress
from pipeline.errors import WinnowError

T = TypeVar("T")
R = TypeVar("R")


def _label(item: Any) -> str:
    if isinstance(item, tuple) and len(item) == 2 and hasattr(item[1], "label"):
        return str(item[1].label)
    return str(item)


class PrefectEngine:
    """Run each item of a step as a Prefect task, on the flow's task runner."""

    def map(self, step: str, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        by_label = {_label(item): item for item in items}
        if len(by_label) != len(items):
            by_label = {f"{i}:{_label(item)}": item for i, item in enumerate(items)}

        def run_item(shard: str) -> R:
            return fn(by_label[shard])

        prefect_task = task(
            run_item,
            name=step,
            task_run_name=f"{step} [{{shard}}]",
            cache_policy=NO_CACHE,
            persist_result=False,
        )
        progress = live_progress()
        progress.start(step, len(items))
        try:
            futures = prefect_task.map(list(by_label))
            for _ in as_completed(futures):
                progress.advance(step)
            return [future.result() for future in futures]
        finally:
            progress.finish(step)

    def log(self, message: str) -> None:
        get_run_logger().info(message)


def task_runner(
    dask_address: str | None = None, workers: int | None = None, memory_limit: str | None = None
) -> Any:
    """prefect-dask's DaskTaskRunner on an existing cluster (`dask_address`) or a local one of `workers`
    processes, each limited to `memory_limit` (Dask's: "3GiB", "500MB"); None keeps Prefect's default
    thread pool."""
    limit = worker_memory_limit(memory_limit, dask_address, workers)
    if not dask_address and not workers:
        return None
    from flows.dask_runner import BoundedDaskTaskRunner as DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    # the workers share the cores among their torch thread pools (set in their environment, not ours)
    threads = os.environ.get("WINNOW_TORCH_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
            "env": {"WINNOW_TORCH_THREADS": threads},
            **({"memory_limit": limit} if limit is not None else {}),
        }
    )


class _HideUserErrorTracebacks(logging.Filter):
    """Keep the message of a WinnowError (bad input, bad recipe) but not its traceback on the console."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], WinnowError):
            record.exc_info = None
            record.exc_text = None
        return True


def hide_user_error_tracebacks() -> None:
    """Install the filter on the console handlers of Prefect's loggers."""
    quiet = _HideUserErrorTracebacks()
    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, _HideUserErrorTracebacks) for f in handler.filters):
                handler.addFilter(quiet)
