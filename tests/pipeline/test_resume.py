"""Crash-safe resume: a run stopped at any point (an error, SIGKILL) finishes when the same command runs
again, without redoing finished work, and its outputs equal those of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import orjson
import polars as pl
import pytest

from filters.dedup.exact import ExactDedup
from pipeline import checkpoints, runner
from pipeline.batch import ORDER, REASON, TEXT
from pipeline.errors import RunFolderError
from pipeline.readers import ReadOptions
from pipeline.run_folder import RunFolder
from pipeline.runner import RunOptions, run
from pipeline.stage import Filter, StageConfig

# ---------------------------------------------------------------- a corpus

VOCABULARY = (
    "the cat and a dog of river stone light green house over under with from into water garden "
    "morning evening quiet bright small large north south window table paper letter"
)


def write_corpus(folder: Path, seed: int = 7) -> list[Path]:
    """Two JSON Lines sources: ordinary documents, e-mail addresses, repeated-line spam, exact and near
    copies across the sources, a reused id, a malformed line and a null text."""
    rng = random.Random(seed)
    vocab = VOCABULARY.split()

    def sentence() -> str:
        return " ".join(rng.choice(vocab) for _ in range(rng.randint(8, 14))).capitalize() + "."

    def document() -> str:
        return " ".join(sentence() for _ in range(rng.randint(4, 7)))

    a = [{"id": f"a{i}", "text": document()} for i in range(80)]
    b = [{"id": f"b{i}", "text": document()} for i in range(70)]
    for i in range(5):
        a[10 + i]["text"] += f" Write to person{i}@example.org for details."
    for i in range(4):
        a[20 + i]["text"] = "\n".join(["Buy now and save big today."] * 12)
    for i in range(6):
        b[i]["text"] = a[30 + i]["text"]
        words = a[40 + i]["text"].split()
        words[3] = "zebra"
        b[10 + i]["text"] = " ".join(words)
    b[20]["id"] = "a5"
    lines_a = [orjson.dumps(r).decode() for r in a]
    lines_a.insert(33, "{broken json")
    lines_b = [orjson.dumps(r).decode() for r in b]
    lines_b.insert(7, orjson.dumps({"id": "b-null", "text": None}).decode())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.jsonl").write_text("\n".join(lines_a) + "\n")
    (folder / "b.jsonl").write_text("\n".join(lines_b) + "\n")
    return [folder / "a.jsonl", folder / "b.jsonl"]


def read_parts(folder: Path) -> pl.DataFrame:
    files = sorted(folder.glob("part-*"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else pl.DataFrame()


def outputs(out: Path) -> dict[str, Any]:
    """What must not depend on a crash: kept documents, the ledger, quarantine and the counts."""
    return {
        "kept": read_parts(out / "kept"),
        "removed": read_parts(out / "removed").sort("id", "stage"),
        "quarantine": read_parts(out / "quarantine").sort("source", "line", "error"),
        "stats": counts(json.loads((out / "stats.json").read_text())),
    }


def counts(stats: dict[str, Any]) -> dict[str, Any]:
    """stats.json without timings, paths and resume bookkeeping."""
    timing = {"seconds", "docs_per_second", "started_at", "finished_at", "paths", "resume", "steps"}
    kept = {k: v for k, v in stats.items() if k not in timing}
    kept["stages"] = [{k: v for k, v in s.items() if k not in timing} for s in stats["stages"]]
    kept["read"] = {
        "sources": [{k: v for k, v in s.items() if k not in timing} for s in stats["read"]["sources"]],
        "quarantine_errors": stats["read"]["quarantine_errors"],
        "warnings": stats["read"]["warnings"],
    }
    return kept


def assert_same_outputs(out: Path, expected: dict[str, Any]) -> None:
    got = outputs(out)
    assert got["kept"].equals(expected["kept"]), "kept/ differs"
    assert got["removed"].equals(expected["removed"]), "removed/ differs"
    assert got["quarantine"].equals(expected["quarantine"]), "quarantine/ differs"
    assert got["stats"] == expected["stats"]


# ---------------------------------------------------------------- in-process: a stage that fails once


class SpamConfig(StageConfig):
    type: Literal["spam"] = "spam"


class Spam(Filter):
    """Removes repeated-line spam; records the shards it ran on and fails on one of them when told."""

    Config = SpamConfig
    seen: ClassVar[list[int]] = []
    fail_on: ClassVar[int | None] = None

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        first = batch[ORDER].min()
        if first == Spam.fail_on:
            raise RuntimeError("the machine went away")
        Spam.seen.append(first)
        spam = pl.col(TEXT).str.contains("Buy now")
        return batch.with_columns(pl.when(spam).then(pl.lit("spam")).alias(REASON))


class CountedDedup(ExactDedup):
    """ExactDedup that records its summaries and decisions."""

    calls: ClassVar[list[str]] = []

    def summarize(self, batch: pl.DataFrame) -> pl.DataFrame:
        CountedDedup.calls.append("summarize")
        return super().summarize(batch)

    def decide(self, summaries: pl.LazyFrame) -> pl.DataFrame:
        CountedDedup.calls.append("decide")
        return super().decide(summaries)


@pytest.fixture
def corpus(tmp_path: Path) -> list[Path]:
    return write_corpus(tmp_path / "data")


@pytest.fixture(autouse=True)
def _reset_recorders() -> Iterator[None]:
    yield
    Spam.seen.clear()
    Spam.fail_on = None
    CountedDedup.calls.clear()


OPTIONS = RunOptions(read=ReadOptions(batch_size=10))


@pytest.mark.parametrize("order", ["filter first", "dedup first"])
def test_a_failed_run_resumes_where_it_stopped(tmp_path: Path, corpus: list[Path], order: str) -> None:
    stages = [Spam(), CountedDedup()] if order == "filter first" else [CountedDedup(), Spam()]
    run(corpus, tmp_path / "whole", stages, OPTIONS)
    expected = outputs(tmp_path / "whole")
    shards = sorted(Spam.seen)
    n = len(shards)
    assert n > 10
    Spam.seen.clear()
    CountedDedup.calls.clear()

    out = tmp_path / "out"
    Spam.fail_on = shards[9]
    with pytest.raises(RuntimeError, match="went away"):
        run(corpus, out, stages, OPTIONS)
    assert sorted(Spam.seen) == shards[:9]
    dedup_calls_before = list(CountedDedup.calls)
    (out / "kept").mkdir(exist_ok=True)
    (out / "kept" / ".part-00000-000003.parquet.tmp").write_bytes(b"half a file")  # a write cut short

    with pytest.raises(RunFolderError, match="holds a run of other recipe"):
        run(corpus, out, [Spam()], OPTIONS)
    Spam.seen.clear()
    CountedDedup.calls.clear()
    Spam.fail_on = None
    result = run(corpus, out, stages, OPTIONS)

    assert sorted(Spam.seen) == shards[9:]  # only the shards that had not been done
    if order == "dedup first":  # the dedup stage finished before the crash: not run again at all
        assert dedup_calls_before == ["summarize"] * n + ["decide"] and CountedDedup.calls == []
    else:
        assert dedup_calls_before == [] and CountedDedup.calls == ["summarize"] * n + ["decide"]
    assert_same_outputs(out, expected)
    assert not list((out / "kept").glob(".*"))
    manifest = json.loads((out / "run.json").read_text())
    assert (manifest["status"], manifest["attempt"]) == ("complete", 2)
    assert result.stats.resume.attempt == 2
    reused = result.stats.resume.tasks_reused
    # read 2 + ids 1 + 9 spam shards, and with dedup first its summaries, decision and shards
    assert reused == (3 + 9 if order == "filter first" else 3 + 2 * n + 1 + 9)
    assert reused + result.stats.resume.tasks_run == 3 + n + 2 * n + 1


def test_duplicate_id_step_is_idempotent(tmp_path: Path, corpus: list[Path]) -> None:
    folder = RunFolder(tmp_path / "out")
    sources = runner.resolve_sources(corpus, ReadOptions(batch_size=10))
    reads = [
        runner.read_task(item, folder=folder, options=ReadOptions(batch_size=10))
        for item in enumerate(sources)
    ]
    shards = [info for result in reads for info in result.shards]

    def check() -> int:
        return runner.check_ids_task(
            "all", folder=folder, shards=shards, sources=sources, options=ReadOptions()
        )

    def files() -> dict[str, bytes]:
        paths = [*folder.quarantine.glob("*"), *(folder.work / "ingest").glob("*")]
        return {p.name: p.read_bytes() for p in paths}

    assert check() == 1
    done = files()
    assert check() == 1  # a second attempt (after a kill before its marker) changes nothing
    assert files() == done


def test_a_complete_run_killed_while_cleaning_up_is_complete(tmp_path: Path, corpus: list[Path]) -> None:
    out = tmp_path / "out"
    first = run(corpus, out, [ExactDedup()], RunOptions(read=ReadOptions(batch_size=10), keep_work=True))
    assert (out / "_work" / "done").is_dir()
    again = run(corpus, out, [ExactDedup()], OPTIONS)
    assert again.already_complete and again.stats.to_json() == first.stats.to_json()
    assert not (out / "_work").exists()


# ---------------------------------------------------------------- the CLI, killed with SIGKILL

RECIPE = """\
[read]
batch_size = 10

[[stages]]
type = "pii"

[[stages]]
type = "gopher_repetition"

[[stages]]
type = "exact_dedup"

[[stages]]
type = "minhash_dedup"
index = "{index}"
update_index = true
"""
SHARDS = 17
# read 2 + ids 1 + pii 17 + gopher_repetition 17 + exact (17 + 1 + 17) + minhash (17 + 1 + 17)
TASKS = 3 + 2 * SHARDS + 2 * (2 * SHARDS + 1)


class Clean:
    """`winnow clean` of the test corpus into `out`, with its own index, as a subprocess."""

    def __init__(self, root: Path, corpus: list[Path], server: str) -> None:
        self.out = root / "out"
        self.index = root / "index"
        self.recipe = root / "recipe.toml"
        self.recipe.write_text(RECIPE.format(index=self.index))
        self.args = ["clean", *map(str, corpus), "--out", str(self.out), "--recipe", str(self.recipe)]
        self.env = {**os.environ, "PREFECT_API_URL": server, "COLUMNS": "200", "WINNOW_TORCH_THREADS": "1"}
        self.env.pop(checkpoints.PAUSE_ENV, None)

    def start(self, pause_at: int | None = None) -> subprocess.Popen[str]:
        env = dict(self.env)
        if pause_at is not None:
            env[checkpoints.PAUSE_ENV] = f"{pause_at}:{self.flag}"
        command = Path(sys.executable).parent / "winnow"
        return subprocess.Popen(
            [str(command), *self.args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    @property
    def flag(self) -> Path:
        return self.out.parent / "paused"

    def wait_for_pause(self, process: subprocess.Popen[str], timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not self.flag.exists():
            if process.poll() is not None:
                raise AssertionError(f"run ended before its pause: {process.stdout.read()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "run never reached its pause"
            time.sleep(0.05)

    def finish(self, process: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str]:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output

    def run(self) -> tuple[int, str]:
        return self.finish(self.start())


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)


def markers(out: Path) -> dict[str, str]:
    """Done markers of an unfinished run: STEP/ITEM -> file."""
    done = RunFolder(out).checkpoints
    return {str(p.relative_to(done).with_suffix("")): p.name for p in done.glob("*/*.json")}


def written(out: Path) -> dict[str, tuple[int, int]]:
    """Inode and mtime of every output file: a file redone gets new ones."""
    paths = [p for name in ("kept", "removed", "quarantine") for p in (out / name).glob("part-*")]
    return {str(p.relative_to(out)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths}


def finished_files(out: Path, done: dict[str, str]) -> dict[str, tuple[int, int]]:
    """The output files of shards whose stage task had finished: none of them may be written again."""
    files = written(out)
    last = "03-minhash_dedup"
    keep = {}
    for name, stamp in files.items():
        folder, part = name.split("/")
        pieces = part.removeprefix("part-").removesuffix(".parquet").split("-")
        shard = "-".join(pieces[-2:])
        if folder == "removed":  # part-INDEX-STAGE-SHARD
            key = f"{pieces[0]}-{'-'.join(pieces[1:-2])}/{shard}"
        elif folder == "kept":
            key = f"{last}/{shard}"
        elif pieces[0] == "read":  # part-read-SHARD
            key = f"read/{pieces[1]}"
        else:  # part-ids-SHARD
            key = "ids/all"
        if key in done:
            keep[name] = stamp
    return keep


def index_contents(index: Path) -> tuple[int, list[str]]:
    meta = json.loads((index / "index.json").read_text())
    return meta["rows"], sorted(pl.read_parquet(index / "docs")["id"].to_list())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, prefect_server: str) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("uninterrupted")
    corpus = write_corpus(root / "data")
    clean = Clean(root, corpus, prefect_server)
    code, output = clean.run()
    assert code == 0, output
    stats = json.loads((clean.out / "stats.json").read_text())
    assert stats["resume"] == {"attempt": 1, "tasks_reused": 0, "tasks_run": TASKS}
    assert (stats["kept"], stats["removed"], stats["quarantined"]) == (135, 14, 3)
    return {"corpus": corpus, "outputs": outputs(clean.out), "index": index_contents(clean.index)}


def check_resumed(clean: Clean, uninterrupted: dict[str, Any], done: dict[str, str]) -> None:
    assert_same_outputs(clean.out, uninterrupted["outputs"])
    assert index_contents(clean.index) == uninterrupted["index"]  # committed once, with the same documents
    stats = json.loads((clean.out / "stats.json").read_text())
    shard_tasks = {k for k in done if not k.startswith("commit/")}
    assert stats["resume"]["tasks_reused"] == len(shard_tasks)
    assert stats["resume"]["tasks_run"] == TASKS - len(shard_tasks)
    assert not (clean.out / "_work").exists() and not (clean.out / ".winnow.lock").exists()


@pytest.mark.parametrize(
    "pause_at",
    [
        pytest.param(1, id="reading"),
        pytest.param(20, id="pii"),
        pytest.param(2 * SHARDS + 3 + SHARDS + 1 + SHARDS + 10, id="minhash-summaries"),
        pytest.param(TASKS - 5, id="last-stage"),
        pytest.param(TASKS + 1, id="index-committed"),
    ],
)
def test_killed_run_resumes_to_the_uninterrupted_result(
    tmp_path: Path, prefect_server: str, uninterrupted: dict[str, Any], pause_at: int
) -> None:
    clean = Clean(tmp_path, uninterrupted["corpus"], prefect_server)
    process = clean.start(pause_at=pause_at)
    clean.wait_for_pause(process)
    kill(process)
    done = markers(clean.out)
    assert len(done) >= min(pause_at, TASKS + 1)
    before = finished_files(clean.out, done)
    assert json.loads((clean.out / ".winnow.lock").read_text())["pid"] == process.pid  # the dead run's lock
    code, output = clean.run()
    assert code == 0, output
    check_resumed(clean, uninterrupted, done)
    after = written(clean.out)
    assert {name: after.get(name) for name in before} == before  # finished shards were not written again


def test_killed_at_random_moments_twice(
    tmp_path: Path, prefect_server: str, uninterrupted: dict[str, Any]
) -> None:
    rng = random.Random(11)
    clean = Clean(tmp_path, uninterrupted["corpus"], prefect_server)
    done: dict[str, str] = {}
    for _ in range(2):
        at = len(done) + rng.randint(5, 45)
        process = clean.start()
        deadline = time.monotonic() + 240
        while len(markers(clean.out)) < at and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))  # somewhere inside the next tasks' writes
        kill(process)
        assert process.returncode == -signal.SIGKILL, "the run ended before it was killed"
        done = markers(clean.out)
    code, output = clean.run()
    assert code == 0, output
    check_resumed(clean, uninterrupted, done)


def mtimes(folder: Path) -> dict[Path, int]:
    """Every file's mtime under `folder`; a file renamed or removed while listing (a marker's temporary
    file becoming the marker) is left out."""
    found = {}
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                found[path] = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return found


def settled_files(folder: Path, quiet: float = 1.0, timeout: float = 60) -> dict[Path, int]:
    """Every file's mtime under `folder`, once nothing has changed for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    snapshot = mtimes(folder)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = mtimes(folder)
        if now == snapshot:
            return now
        snapshot = now
    raise AssertionError(f"{folder} kept changing for {timeout} s while the run was paused")


def test_second_run_on_a_busy_folder_is_refused(
    tmp_path: Path, prefect_server: str, uninterrupted: dict[str, Any]
) -> None:
    clean = Clean(tmp_path, uninterrupted["corpus"], prefect_server)
    first = clean.start(pause_at=40)
    clean.wait_for_pause(first)
    before = settled_files(clean.out)  # tasks already running when the pause began finish, then park
    code, output = clean.run()
    assert code == 1
    message = " ".join(output.split())
    assert f"{clean.out}: another winnow run is writing to this folder" in message
    assert f"pid {first.pid} on {socket.gethostname()}, started 20" in message
    assert "Traceback" not in output
    assert mtimes(clean.out) == before  # untouched
    clean.flag.unlink()  # let the first run go on
    code, output = clean.finish(first)
    assert code == 0, output
    assert_same_outputs(clean.out, uninterrupted["outputs"])
    assert index_contents(clean.index) == uninterrupted["index"]
