"""Near-duplicate removal as a user waits for it: each method a fresh process, from the command to its exit.

Every run is timed from spawning the process to its exit (interpreter start, imports, reading the JSON Lines
corpus, the work, writing the result), median of `--repeats`; its peak memory is the process's maximum
resident set (`os.wait4`, the process and the children it waited for):

- winnow: the `winnow dedup CORPUS --out DIR --threshold 0.8 --id-field id` command (in its own process;
  kept/ and removed/ as Parquet, stats.json and the reports);
- rensa: a plain rensa 0.5 script, as its README shows: polars reads the file, `RMinHash(num_perm=128)` per
  document over the ground-truth word 5-grams, `RMinHashLSH` (the divisor of 128 that best fits 0.8),
  query then insert in input order, kept documents and removed ids written as Parquet;
- datasketch: the same script with `MinHash` / `MinHashLSH` (slow: only at `--datasketch-max` or fewer
  documents);
- datatrove: its documented MinHash pipeline (`benchmarks/dedup.py`'s stages: signatures, buckets, clusters)
  and a last pass `JsonlReader -> MinhashDedupFilter -> JsonlWriter` writing kept and removed (its
  `exclusion_writer`) as JSON Lines, one worker (only at `--datatrove-max` or fewer documents).

Corpora: `benchmarks/dedup_corpus.py` (Reuters texts made distinct, 7% planted near duplicates of known
Jaccard); the first N documents of the largest for each size. Printed per size: seconds (median), docs/s,
the method's speed as a multiple of rensa's (rensa runs first), peak memory, removed documents and recall
of the planted pairs with Jaccard >= 0.8. The in-process comparison and precision on the Reuters ground
truth are `benchmarks/dedup.py`'s.

    python benchmarks/dedup_whole.py [--sizes 20000,200000,2000000]
        [--methods winnow,rensa,datasketch,datatrove] [--repeats 3] [--corpus-dir DIR]
        [--datasketch-max 200000] [--datatrove-max 200000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dedup import (  # noqa: E402
    NUM_PERM,
    THRESHOLD,
    datasketch_sketch,
    divisor_bands,
    planted_pairs,
    prefix,
    rensa_sketch,
    run_datatrove,
)

METHODS = ("winnow", "rensa", "datasketch", "datatrove")
SIZES = (20_000, 200_000, 2_000_000)


def peer_script(method: str, corpus: Path, out: Path) -> None:
    """What a user of `method` writes: read, sketch, query then insert, write kept and removed."""
    import polars as pl

    if method == "datatrove":
        from datatrove.pipeline.dedup.minhash import MinhashDedupFilter
        from datatrove.pipeline.writers import JsonlWriter

        def writer(name: str) -> JsonlWriter:
            return JsonlWriter(str(out / name), output_filename="${rank}.jsonl", compression=None)

        remove = str(out / "work" / "remove")
        run_datatrove(corpus, out / "work", [MinhashDedupFilter(remove, writer("removed")), writer("kept")])
        return

    frame = pl.read_ndjson(corpus, schema={"id": pl.String, "text": pl.String})
    if method == "rensa":
        from rensa import RMinHashLSH

        lsh = RMinHashLSH(
            threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=divisor_bands(THRESHOLD, NUM_PERM)[0]
        )
        sketch = rensa_sketch
    else:
        from datasketch import MinHashLSH

        lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
        sketch = datasketch_sketch
    ids, texts = frame["id"].to_list(), frame["text"].to_list()
    removed, of = [], []
    for position, text in enumerate(texts):
        minhash = sketch(text)
        hits = lsh.query(minhash)
        if hits:
            removed.append(position)
            of.append(ids[min(hits)])
        else:
            lsh.insert(position, minhash)
    out.mkdir(parents=True)
    gone = pl.Series("position", removed, dtype=pl.Int64)
    keep = ~pl.int_range(pl.len(), dtype=pl.Int64).is_in(gone.implode())
    frame.filter(keep).write_parquet(out / "kept.parquet")
    pl.DataFrame({"id": frame["id"].gather(gone), "duplicate_of": of}).write_parquet(out / "removed.parquet")


def command(method: str, corpus: Path, out: Path) -> list[str]:
    if method == "winnow":
        winnow = Path(sys.executable).parent / "winnow"
        return [str(winnow), "dedup", str(corpus), "--out", str(out), "--threshold", str(THRESHOLD),
                "--id-field", "id", "--no-progress"]  # fmt: skip
    return [sys.executable, str(Path(__file__).resolve()), "--peer", method, str(corpus), str(out)]


def timed(args: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak resident MiB, output) of `args` run to its exit."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # winnow: no Prefect
    started = time.perf_counter()
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=HERE.parent
    )
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{args[0]} exited {process.returncode}: {output[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, output


def removed_ids(method: str, out: Path) -> set[str]:
    import polars as pl

    if method == "datatrove":
        files = sorted((out / "removed").glob("*.jsonl"))
        return {i for f in files for i in pl.read_ndjson(f, schema={"id": pl.String})["id"].to_list()}
    source = out / "removed" / "*.parquet" if method == "winnow" else out / "removed.parquet"
    if method == "winnow" and not list((out / "removed").glob("*.parquet")):
        return set()
    return set(pl.scan_parquet(source).select("id").collect()["id"].to_list())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus-dir", type=Path, help="keep (and reuse) the corpora here")
    parser.add_argument("--datasketch-max", type=int, default=200_000)
    parser.add_argument("--datatrove-max", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        peer_script(args.peer[0], Path(args.peer[1]), Path(args.peer[2]))
        return
    import polars as pl
    from dedup_corpus import write_corpus

    sizes = sorted(int(size) for size in args.sizes.split(","))
    methods = sorted((m for m in args.methods.split(",") if m), key=lambda m: m != "rensa")  # rensa first
    with tempfile.TemporaryDirectory(prefix="winnow-dedup-whole-") as tmp:
        folder = args.corpus_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        largest = folder / f"corpus-{sizes[-1]}-seed{args.seed}.jsonl"
        if not largest.exists():
            write_corpus(largest, sizes[-1], seed=args.seed)
        print(f"{os.cpu_count()} cores; threshold {THRESHOLD}, {NUM_PERM} permutations, word 5-grams")
        print(f"{'docs':>10}  {'method':<11}{'median s':>9}{'docs/s':>9}{'x rensa':>8}{'peak MiB':>9}"
              f"{'removed':>9}{'recall>=0.8':>12}  runs")  # fmt: skip
        for size in sizes:
            corpus = folder / f"corpus-{size}-seed{args.seed}.jsonl"
            if not corpus.exists():
                prefix(largest, corpus, size)
            planted = planted_pairs(corpus).filter(pl.col("planted_jaccard") >= THRESHOLD)
            medians: dict[str, float] = {}
            for method in methods:
                if size > {"datasketch": args.datasketch_max, "datatrove": args.datatrove_max}.get(
                    method, size
                ):
                    continue
                runs, peaks = [], []
                for repeat in range(args.repeats):
                    out = Path(tmp) / f"{method}-{size}-{repeat}"
                    seconds, peak, _ = timed(command(method, corpus, out))
                    runs.append(seconds)
                    peaks.append(peak)
                    removed = removed_ids(method, out)
                    shutil.rmtree(out, ignore_errors=True)
                pairs = zip(planted["id"], planted["planted_of"], strict=True)
                recall = sum(a in removed or b in removed for a, b in pairs) / max(planted.height, 1)
                medians[method] = statistics.median(runs)
                ratio = medians.get("rensa", 0) / medians[method] if "rensa" in medians else float("nan")
                print(
                    f"{size:>10,}  {method:<11}{medians[method]:>9.2f}{size / medians[method]:>9,.0f}"
                    f"{ratio:>8.2f}{max(peaks):>9,.0f}{len(removed):>9,}{recall:>12.3f}  "
                    + " ".join(f"{r:.2f}" for r in runs),
                    flush=True,
                )


if __name__ == "__main__":
    main()
