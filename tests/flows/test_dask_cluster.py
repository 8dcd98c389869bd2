"""`winnow clean --dask-address` on a real cluster: a `dask scheduler` and two `dask worker` processes, each
in a working directory of its own as on other machines. One worker is killed (SIGKILL) in the middle of
the run; the run still ends with the same kept and removed documents as an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import polars as pl
import pytest

from flows.recipe import Recipe
from pipeline import checkpoints
from pipeline.runner import run as run_corpus

STARTUP_SECONDS = 60


@dataclass
class Cluster:
    """A scheduler and its workers, each a process of its own; `address` is the scheduler's."""

    root: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    address: str = ""

    def dask(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        folder = self.root / name
        folder.mkdir()
        log = (folder / "log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            cwd=folder,
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def start(self, pause: str) -> None:
        """The scheduler, then a worker that pauses at `pause` (`WINNOW_TEST_PAUSE`) and one that does not."""
        scheduler_file = self.root / "scheduler.json"
        options = ["--scheduler-file", str(scheduler_file), "--port", "0", "--no-dashboard"]
        self.dask("scheduler", "scheduler", *options, "--host", "127.0.0.1")
        deadline = time.monotonic() + STARTUP_SECONDS
        while not scheduler_file.is_file():
            assert time.monotonic() < deadline, "the dask scheduler did not start"
            time.sleep(0.1)
        self.address = json.loads(scheduler_file.read_text())["address"]
        for number, env in enumerate((self.env | {checkpoints.PAUSE_ENV: pause}, self.env)):
            name = f"worker-{number}"
            options = ["--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name]
            folder = ["--local-directory", str(self.root / name)]
            self.workers.append(self.dask(name, "worker", self.address, *options, *folder, env=env))
        from distributed import Client

        with Client(self.address, timeout=STARTUP_SECONDS) as client:
            client.wait_for_workers(len(self.workers), timeout=STARTUP_SECONDS)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def cluster(tmp_path: Path, prefect_server: str) -> Iterator[Cluster]:
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "WINNOW_TORCH_THREADS": "1"}
    env.pop(checkpoints.PAUSE_ENV, None)
    cluster = Cluster(tmp_path / "cluster", env)
    cluster.root.mkdir()
    try:
        yield cluster
    finally:
        cluster.stop()


def corpus(path: Path) -> Path:
    """200 documents of random words, 20 of them exact or near copies of others."""
    rng = random.Random(7)
    words = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choice(words) for _ in range(80)) for _ in range(180)]
    texts += [t.upper() for t in texts[:10]] + [t.replace(t.split()[3], "x", 1) for t in texts[10:20]]
    lines = (orjson.dumps({"id": f"d{i}", "text": text}).decode() + "\n" for i, text in enumerate(texts))
    path.write_text("".join(lines))
    return path


def ledger(out: Path) -> tuple[list[str], pl.DataFrame]:
    kept = sorted(pl.read_parquet(out / "kept")["id"].to_list())
    removed = pl.read_parquet(out / "removed").select("id", "stage", "reason", "duplicate_of").sort("id")
    return kept, removed


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(
    tmp_path: Path, cluster: Cluster, prefect_server: str
) -> None:
    docs = corpus(tmp_path / "docs.jsonl")
    recipe = Recipe()  # the CLI's default recipe, run uninterrupted in this process
    run_corpus([docs], tmp_path / "alone", recipe.build_stages(), recipe.run_options(batch_size=10))

    flag = tmp_path / "paused"
    cluster.start(pause=f"12:{flag}")
    out = tmp_path / "cluster-run"
    winnow = Path(sys.executable).parent / "winnow"
    options = ["--batch-size", "10", "--out", str(out), "--dask-address", cluster.address]
    run = subprocess.Popen(
        [str(winnow), "clean", str(docs), *options],
        env=cluster.env | {"COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not flag.exists():  # worker 0 holds a finished task and waits: kill it there
            assert run.poll() is None, f"the run ended before worker 0 paused: {run.stdout.read()}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "worker 0 never paused"
            time.sleep(0.05)
        cluster.workers[0].send_signal(signal.SIGKILL)
        cluster.workers[0].wait(timeout=20)
        output, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, output
    assert cluster.workers[1].poll() is None, "the surviving worker must have finished the run"
    kept, removed = ledger(out)
    expected_kept, expected_removed = ledger(tmp_path / "alone")
    assert kept == expected_kept
    assert removed.equals(expected_removed)
    assert len(kept) + removed.height == 200
    assert removed.height > 0
