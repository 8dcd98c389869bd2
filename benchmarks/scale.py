"""Deduplication as the corpus grows: wall time, documents per second and the peak RSS of every process.

For each corpus size, a seeded Reuters-derived corpus (`dedup_corpus.py`: 7% planted near duplicates) is
cleaned with the `dedup` preset (exact, then MinHash near-duplicate removal) by `winnow clean`, each run
a fresh process tree:

- `one task, 1 worker`: a Dask cluster of one worker process running one task at a time
  (`--workers 1`), every corpus-wide decision in one task (`--partitions 1`);
- `split P, 1 worker`: the same worker, each decision in P parts (`--partitions P`);
- `N workers`: a local Dask cluster (`--workers N --memory-limit M`), P chosen from the corpus size.

A poller reads the kernel's peak RSS (VmHWM) of every process of the tree twice a second, so the Dask
workers count, not only the process that started them; the second each kind's peak was reached is printed
too (with `stats.json`'s step times, it tells which step set it).

"decide" is the wall time of the decision's steps (`stats.json` steps: the parts of every round plus the
joining task; the summaries, made shard by shard with the band keys routed to the parts, are not in it):
with one worker running one task at a time, its ratio to the one-task run is what splitting the decision
costs. "same" says whether the run removed the same documents, for the same reasons and with the same
`duplicate_of`, as the one-task run (kept follows). `--recipe` runs another recipe instead of the preset
(selection, say: then "same" compares the selection scores).

    python benchmarks/scale.py --docs 1000000 3000000 10000000 [--workers 2 --memory-limit 3GiB]
        [--split 10] [--one-task-up-to 1000000] [--runs one-task split workers] [--dir DIR]
        [--recipe RECIPE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_corpus import write_corpus

ROOT = Path(__file__).resolve().parents[1]
WINNOW = [str(Path(sys.executable).parent / "winnow")]


@dataclass
class Peaks:
    """The highest VmHWM seen for each process of a tree (GiB), by a short description of the process."""

    root: int
    by_process: dict[int, tuple[str, float]] = field(default_factory=dict)
    #: seconds from the start to each process's last new peak (with stats.json's steps: which step set it)
    reached: dict[int, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def poll(self) -> None:
        try:
            tree = [psutil.Process(self.root), *psutil.Process(self.root).children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for process in tree:
            try:
                peak = _vm_hwm(process.pid)
                name = _describe(process.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
                continue
            if peak is not None and peak >= self.by_process.get(process.pid, ("", 0.0))[1]:
                if peak > self.by_process.get(process.pid, ("", 0.0))[1]:
                    self.reached[process.pid] = time.perf_counter() - self.started
                self.by_process[process.pid] = (name, peak)

    def highest(self, kind: str) -> float:
        """The highest peak of the processes of one kind ("winnow", "dask worker", ...), GiB."""
        return max((peak for name, peak in self.by_process.values() if name == kind), default=0.0)

    def reached_at(self, kind: str) -> float:
        """Seconds from the start to when the highest peak of that kind was reached."""
        pid = max(
            (pid for pid, (name, _) in self.by_process.items() if name == kind),
            key=lambda pid: self.by_process[pid][1],
            default=None,
        )
        return self.reached.get(pid, 0.0) if pid is not None else 0.0


def _vm_hwm(pid: int) -> float | None:
    """The kernel's peak resident set of a process, GiB (Linux)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return None


def _describe(cmdline: list[str]) -> str:
    text = " ".join(cmdline)
    if "bin/winnow" in text:
        return "winnow"
    if "spawn_main" in text or "multiprocessing" in text:
        return "dask worker"
    return Path(cmdline[0]).name if cmdline else "?"


@dataclass
class Outcome:
    label: str
    docs: int
    seconds: float
    peaks: Peaks
    decide_seconds: float
    removed: dict[str, int]


def clean(label: str, corpus: Path, out: Path, docs: int, options: list[str]) -> Outcome:
    """`winnow clean CORPUS --out OUT OPTIONS` in a fresh process tree, watched for memory."""
    command = [*WINNOW, "clean", str(corpus), "--out", str(out), "--id-field", "id"]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, *options], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peaks = Peaks(process.pid)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peaks.poll()
            stop.wait(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, errors = process.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"{label} failed ({process.returncode}):\n{errors.decode()[-3000:]}")
    stats = json.loads((out / "stats.json").read_text())
    decide = sum(step["seconds"] for name, step in stats["steps"].items() if ": decide" in name)
    removed = {reason: n for stage in stats["stages"] for reason, n in stage["reasons"].items()}
    return Outcome(label, docs, seconds, peaks, decide, removed)


def removals(out: Path) -> pl.DataFrame:
    """The removed documents of a run: id, stage, reason and duplicate_of or selection_score, by id."""
    ledger = pl.scan_parquet(out / "removed" / "*.parquet")
    names = ledger.collect_schema().names()
    columns = [c for c in ("id", "stage", "reason", "duplicate_of", "selection_score") if c in names]
    return ledger.select(columns).sort("id").collect()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GiB")
    parser.add_argument("--split", type=int, default=10, help="P of the in-process split run (0: none)")
    parser.add_argument(
        "--one-task-up-to", type=int, default=1_000_000, help="largest corpus for the one-process runs"
    )
    parser.add_argument(
        "--runs",
        nargs="+",
        choices=("one-task", "split", "workers"),
        default=["one-task", "split", "workers"],
    )
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument(
        "--recipe", type=Path, default=None, help="a recipe file instead of the dedup preset (e.g. selection)"
    )
    parser.add_argument("--dir", type=Path, default=None, help="where corpora and runs go (kept)")
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="winnow-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    batch = ["--batch-size", str(args.batch_size)]
    batch += ["--recipe", str(args.recipe.resolve())] if args.recipe else ["--preset", "dedup"]
    columns = ("wall s", "docs/s", "main GiB", "worker GiB", "decide s", "x one task", "same")
    print(f"{'docs':>11}  {'run':<22} " + " ".join(f"{name:>10}" for name in columns))
    for docs in args.docs:
        corpus = base / f"corpus-{docs}.jsonl"
        if not corpus.exists():
            info = write_corpus(corpus, docs)
            print(f"# corpus: {docs:,} documents, {info.planted:,} planted, built in {info.seconds:.0f} s")
        runs: list[tuple[str, list[str]]] = []
        if docs <= args.one_task_up_to and "one-task" in args.runs:
            runs.append(("one task, 1 worker", ["--workers", "1", "--partitions", "1"]))
        if docs <= args.one_task_up_to and "split" in args.runs and args.split:
            runs.append(
                (f"split {args.split}, 1 worker", ["--workers", "1", "--partitions", str(args.split)])
            )
        if "workers" in args.runs:
            workers = ["--workers", str(args.workers), "--memory-limit", args.memory_limit]
            runs.append((f"{args.workers} workers, {args.memory_limit}", workers))
        one_task = None
        reference: pl.DataFrame | None = None
        for label, options in runs:
            out = base / f"run-{docs}-{label.split(',')[0].replace(' ', '-')}"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            outcome = clean(label, corpus, out, docs, [*batch, *options])
            one_task = one_task or (outcome if label.startswith("one task") else None)
            ratio = f"{outcome.decide_seconds / one_task.decide_seconds:.2f}" if one_task else "-"
            same = "-"
            if one_task is not None:
                mine = removals(out)
                reference = mine if reference is None else reference
                same = "yes" if mine.equals(reference) else "NO"
            main, worker = outcome.peaks.highest("winnow"), outcome.peaks.highest("dask worker")
            others = {
                n: f"{g:.2f}"
                for n, g in outcome.peaks.by_process.values()
                if n not in ("winnow", "dask worker")
            }
            print(
                f"{docs:>11,}  {label:<22} {outcome.seconds:10.0f} {docs / outcome.seconds:10,.0f} "
                f"{main:10.2f} {worker:10.2f} {outcome.decide_seconds:10.1f} {ratio:>10} {same:>10}   "
                f"(removed {outcome.removed}; peaks reached at {outcome.peaks.reached_at('winnow'):.0f} s "
                f"(main) and {outcome.peaks.reached_at('dask worker'):.0f} s (worker); "
                f"other processes' peaks {others})",
                flush=True,
            )


if __name__ == "__main__":
    main()
