"""Micro-batches: requests waiting for compression are planned and compressed together, one batch at a time.

One worker task takes the first waiting job, then whatever else arrives within `batch_wait` seconds (up
to `batch_size`), and runs the batch in a thread: each job's plan (counting tokens), then every request's
sentences embedded in one pass (`Compressor.run_many`), then each job's body rebuilt. So throughput grows
with load, and the event loop keeps serving streams meanwhile. The queue is bounded: `submit` raises
`QueueFull` when `queue_size` jobs wait, and the app answers 503 with `Retry-After`.

A job whose plan or compression fails gets an `Outcome` with status "fallback" and the error: its original
body is forwarded. A batch that fails as a whole is retried job by job, so one bad prompt never costs the
others their compression.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from prompts.compress import Compressor
from prompts.serve.plan import Plan

log = logging.getLogger("winnow.serve")

Status = Literal["compressed", "skipped", "fallback"]


class QueueFull(Exception):
    """The compression queue is full; `retry_after` estimates the seconds until it has room."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"compression queue full; retry after {retry_after} s")


@dataclass
class Outcome:
    """What happened to one request: the body to forward, the status, token counts, the reason or error."""

    body: dict[str, Any]
    status: Status
    original_tokens: int | None = None
    compressed_tokens: int | None = None
    seconds: float = 0.0
    reason: str | None = None
    error: str | None = None


@dataclass
class Job:
    body: dict[str, Any]
    planner: Callable[[], Plan]
    future: asyncio.Future[Outcome]
    queued: float


class MicroBatcher:
    """The compression queue and its one worker (start it with `start`, inside a running loop)."""

    def __init__(
        self,
        compressor: Compressor,
        *,
        queue_size: int,
        batch_size: int,
        batch_wait: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.compressor = compressor
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=queue_size)
        self.on_batch = on_batch
        self._task: asyncio.Task[None] | None = None
        self._seconds_per_job = 1.0  # running estimate, for Retry-After

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._work(), name="winnow-compression")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def waiting(self) -> int:
        return self.queue.qsize()

    async def submit(self, body: dict[str, Any], planner: Callable[[], Plan]) -> Outcome:
        """Queue one request's compression and wait for its outcome (`QueueFull` when no room)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait(Job(body, planner, future, time.perf_counter()))
        except asyncio.QueueFull:
            wait = self._seconds_per_job * self.queue.maxsize / self.batch_size
            raise QueueFull(max(1, math.ceil(wait))) from None
        return await future

    async def _work(self) -> None:
        while True:
            jobs = [await self.queue.get()]
            deadline = time.perf_counter() + self.batch_wait
            while len(jobs) < self.batch_size:
                left = deadline - time.perf_counter()
                try:
                    jobs.append(
                        self.queue.get_nowait()
                        if left <= 0
                        else await asyncio.wait_for(self.queue.get(), left)
                    )
                except (TimeoutError, asyncio.QueueEmpty):
                    break
            began = time.perf_counter()
            try:
                outcomes = await asyncio.to_thread(self.run_batch, jobs)
            except Exception as error:  # never leave a request waiting
                log.exception("compression batch failed")
                outcomes = [Outcome(job.body, "fallback", error=repr(error)) for job in jobs]
            took = time.perf_counter() - began
            self._seconds_per_job = 0.8 * self._seconds_per_job + 0.2 * took / len(jobs)
            if self.on_batch is not None:
                self.on_batch(len(jobs))
            done = time.perf_counter()
            for job, outcome in zip(jobs, outcomes, strict=True):
                outcome.seconds = done - job.queued
                if not job.future.done():
                    job.future.set_result(outcome)

    def run_batch(self, jobs: list[Job]) -> list[Outcome]:
        """Plan, compress (one embedding pass for the batch) and rebuild every job; in a worker thread."""
        plans: list[Plan | Outcome] = []
        for job in jobs:
            try:
                plans.append(job.planner())
            except Exception as error:
                plans.append(_failed(job, error))
        ready = [
            (job, plan)
            for job, plan in zip(jobs, plans, strict=True)
            if isinstance(plan, Plan) and plan.requests
        ]
        requests = [request for _, plan in ready for request in plan.requests]
        results = None
        if len(ready) > 1:
            try:
                results = iter(self.compressor.run_many(requests))
            except Exception:
                log.warning("a batch of %d compressions failed; retrying them one by one", len(ready))
        outcomes: dict[int, Outcome] = {}
        for job, plan in ready:
            try:
                got = (
                    [next(results) for _ in plan.requests]
                    if results is not None
                    else self.compressor.run_many(plan.requests)
                )
                assert plan.rebuild is not None
                outcomes[id(job)] = Outcome(
                    plan.rebuild(got), "compressed", plan.original_tokens, plan.compressed_tokens(got)
                )
            except Exception as error:
                outcomes[id(job)] = _failed(job, error)
        return [
            plan
            if isinstance(plan, Outcome)
            else outcomes.get(id(job))
            or Outcome(job.body, "skipped", plan.original_tokens, plan.original_tokens, reason=plan.reason)
            for job, plan in zip(jobs, plans, strict=True)
        ]


def _failed(job: Job, error: Exception) -> Outcome:
    log.warning("compression failed, forwarding the original: %s: %s", type(error).__name__, error)
    return Outcome(job.body, "fallback", error=f"{type(error).__name__}: {error}")
