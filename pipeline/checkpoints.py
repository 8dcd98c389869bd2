"""Checkpointed steps: a step's tasks run through an engine, each leaving a done marker once its outputs are
durable, so a rerun after a crash skips what finished (`pipeline.run_folder` keeps the markers)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pipeline import run_folder
from pipeline.engine import Engine

#: test hook: "N:FILE" pauses the run once its folder holds N done markers: it creates FILE and waits
#: (every task thread that finishes meanwhile too) until FILE is deleted; tests kill it there.
PAUSE_ENV = "WINNOW_TEST_PAUSE"


class Checkpoints:
    """Steps run through `engine`, skipping the tasks a previous attempt finished (their done markers)."""

    def __init__(self, engine: Engine, root: Path) -> None:
        self.engine = engine
        self.root = root
        self.reused = 0
        self.ran = 0
        #: per step: (tasks, seconds they took together, seconds from the step's start to its end)
        self.timings: dict[str, tuple[int, float, float]] = {}

    def map(
        self,
        step: str,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        decode: Callable[[Any], Any],
        key: Callable[[Any], str] = str,
        key_step: str | None = None,
    ) -> list[Any]:
        """`engine.map(step, fn, items)` for the items not done yet; results of the others from markers."""
        markers = self.root / (key_step or step)
        started = time.perf_counter()
        results: dict[str, Any] = {}
        pending = []
        seconds = 0.0
        for item in items:
            done = run_folder.read_checkpoint(markers / f"{key(item)}.json")
            if done is None:
                pending.append(item)
            else:
                results[key(item)] = decode(done["result"])
                seconds += done.get("seconds", 0.0)
        if results:
            self.engine.log(f"{step}: {len(results)} of {len(items)} tasks done before; not run again")
        if pending:
            task = partial(record_task, fn=fn, markers=markers, key=key)
            for item, (result, took) in zip(pending, self.engine.map(step, task, pending), strict=True):
                results[key(item)] = result
                seconds += took
        tasks, before, wall = self.timings.get(step, (0, 0.0, 0.0))
        self.timings[step] = (tasks + len(items), before + seconds, wall + time.perf_counter() - started)
        self.reused += len(items) - len(pending)
        self.ran += len(pending)
        return [results[key(item)] for item in items]

    def once(self, step: str, fn: Callable[[], None]) -> None:
        """Run `fn` in this process unless an earlier attempt did (a step of its own, recorded when done)."""
        marker = self.root / step / "all.json"
        if run_folder.read_checkpoint(marker) is None:
            fn()
            run_folder.write_json(marker, {"result": None, "at": run_folder.now()})
            pause_for_tests(self.root)


def record_task(
    item: Any, *, fn: Callable[[Any], Any], markers: Path, key: Callable[[Any], str]
) -> tuple[Any, float]:
    """Run a task, then record it done (its outputs are durable by then: every task syncs its files);
    returns its result and the seconds it took (as its marker records them)."""
    started = time.perf_counter()
    result = fn(item)
    seconds = round(time.perf_counter() - started, 3)
    value = asdict(result) if is_dataclass(result) and not isinstance(result, type) else result
    marker = {"result": value, "at": run_folder.now(), "seconds": seconds}
    run_folder.write_json(markers / f"{key(item)}.json", marker)
    pause_for_tests(markers.parent)
    return result, seconds


_pause_lock = threading.Lock()
_pause_started: set[str] = set()


def pause_for_tests(done: Path) -> None:
    """The `WINNOW_TEST_PAUSE` hook (tests only): wait at the N-th done marker while the flag file exists."""
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    count, _, flag = spec.partition(":")
    with _pause_lock:
        if flag in _pause_started:
            waiting = Path(flag).exists()
        elif sum(1 for _ in done.glob("*/*.json")) >= int(count):
            _pause_started.add(flag)
            Path(flag).touch()
            waiting = True
        else:
            waiting = False
    while waiting and Path(flag).exists():
        time.sleep(0.02)
