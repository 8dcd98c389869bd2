"""Where tasks run. The runner describes the work as steps of independent tasks; an engine runs them.

`LocalEngine` runs tasks in this process (optionally on threads). The Prefect engine in `flows/` turns
each task into a Prefect task run (and, with prefect-dask, a Dask task); the runner does not change.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger("winnow")


class Progress(Protocol):
    """Progress display for the steps of a run (the CLI shows rich progress bars)."""

    def start(self, step: str, total: int) -> None: ...

    def advance(self, step: str, amount: int = 1) -> None: ...

    def finish(self, step: str) -> None: ...


class Engine(Protocol):
    """Runs one step: a task per item, results in item order."""

    def map(self, step: str, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...

    def log(self, message: str) -> None: ...


_live: Progress | None = None


@contextlib.contextmanager
def showing_progress(progress: Progress | None) -> Iterator[None]:
    """Show steps and `report`s of runs in this process on `progress` (the CLI's rich bars) in this block.

    Tasks on other machines (Dask workers) report nothing; their steps still advance as tasks finish.
    """
    global _live
    previous, _live = _live, progress
    try:
        yield
    finally:
        _live = previous


def live_progress() -> Progress:
    """The display attached in this process, or one that shows nothing."""
    return _live if _live is not None else NoProgress()


def report(step: str, amount: int) -> None:
    """Progress from inside a task (e.g. documents read so far), shown when a display is attached here."""
    if _live is not None:
        _live.advance(step, amount)


def report_done(step: str) -> None:
    """Close a `report` counter."""
    if _live is not None:
        _live.finish(step)


class NoProgress:
    """Progress that shows nothing."""

    def start(self, step: str, total: int) -> None:
        pass

    def advance(self, step: str, amount: int = 1) -> None:
        pass

    def finish(self, step: str) -> None:
        pass


class LocalEngine:
    """Run tasks in this process, on `workers` threads (1: one after the other)."""

    def __init__(self, workers: int = 1, progress: Progress | None = None) -> None:
        self.workers = workers
        self.progress = progress or NoProgress()

    def map(self, step: str, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        self.progress.start(step, len(items))
        try:
            if self.workers <= 1 or len(items) <= 1:
                results = []
                for item in items:
                    results.append(fn(item))
                    self.progress.advance(step)
                return results
            with ThreadPoolExecutor(self.workers) as pool:
                futures = [pool.submit(fn, item) for item in items]
                results = []
                for future in futures:
                    results.append(future.result())
                    self.progress.advance(step)
                return results
        finally:
            self.progress.finish(step)

    def log(self, message: str) -> None:
        logger.info(message)
