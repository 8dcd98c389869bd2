"""Throughput of `winnow clean` with the default recipe (read, id check, exact dedup, MinHash near dedup,
write) at scale: the runner in one process vs the Prefect flow.

Builds a corpus of N documents from Reuters-21578 (../shared/data) with a seeded generator: each document
is a Reuters text with a few words replaced (unique), and 5% are exact or case/whitespace copies of earlier
ones. Prints documents per second and peak RSS for each engine, and the Prefect/local time ratio.

    python benchmarks/clean_throughput.py [--docs 1000000] [--batch-size 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
REUTERS = ROOT.parent / "shared" / "data" / "reuters21578.jsonl.gz"


def make_corpus(path: Path, docs: int, seed: int = 0) -> int:
    """Write `docs` JSON Lines documents; returns the number of planted duplicates."""
    rng = np.random.default_rng(seed)
    base = pl.read_ndjson(REUTERS).select("text")["text"]
    picks = rng.integers(0, base.len(), docs)
    frame = pl.DataFrame({"id": [f"doc-{i}" for i in range(docs)], "text": base.gather(picks)})
    # make every document unique: append a seeded reference number
    refs = pl.Series(rng.integers(0, 2**62, docs)).cast(pl.String)
    frame = frame.with_columns(pl.concat_str([pl.col("text"), pl.lit(" ref "), refs]))
    duplicates = int(docs * 0.05)
    targets = np.sort(rng.choice(np.arange(docs // 2, docs), duplicates, replace=False))
    sources = rng.integers(0, docs // 2, duplicates)
    texts = frame["text"].to_numpy().copy()
    texts[targets] = [f"  {t.upper()} " if i % 2 else t for i, t in enumerate(texts[sources])]
    frame = frame.with_columns(pl.Series("text", texts))
    frame.write_ndjson(path)
    return duplicates


def run_engine(engine: str, corpus: Path, out: Path, batch_size: int) -> tuple[float, float, dict]:
    """Run one engine in a fresh process; returns (seconds, peak RSS GiB, stats)."""
    code = f"""
import json, sys, time
from pathlib import Path
start = time.perf_counter()
if {engine!r} == "local":
    from flows.recipe import Recipe
    from pipeline.readers import ReadOptions
    from pipeline.runner import RunOptions, run
    stats = run([{str(corpus)!r}], Path({str(out)!r}), Recipe().build_stages(),
                RunOptions(read=ReadOptions(batch_size={batch_size}))).stats
else:
    from flows.clean import clean_corpus
    stats = clean_corpus(inputs=[{str(corpus)!r}], out={str(out)!r}, batch_size={batch_size})
# VmHWM belongs to this process image; ru_maxrss would carry the parent's peak across fork and exec
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
rss = int(hwm.split()[1]) / 2**20
print(json.dumps({{"seconds": time.perf_counter() - start, "rss": rss, "stats": stats.to_json()}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], result["rss"], result["stats"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="winnow-bench-") as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        started = time.perf_counter()
        planted = make_corpus(corpus, args.docs)
        size = corpus.stat().st_size / 2**20
        print(
            f"corpus: {args.docs:,} documents, {size:,.0f} MiB, {planted:,} planted exact duplicates "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        timings = {}
        for engine in ("local", "prefect"):
            seconds, rss, stats = run_engine(engine, corpus, Path(tmp) / f"out-{engine}", args.batch_size)
            timings[engine] = seconds
            removed = stats["stages"][0]["reasons"].get("exact_duplicate", 0)
            near = stats["stages"][1]["reasons"].get("near_duplicate", 0)
            print(
                f"{engine:>8}: {seconds:6.1f} s  {args.docs / seconds:9,.0f} docs/s  "
                f"peak RSS {rss:.2f} GiB  kept {stats['kept']:,}  "
                f"exact {removed:,} (planted {planted:,}), near {near:,}"
            )
        print(f"prefect / local time: {timings['prefect'] / timings['local']:.2f}")


if __name__ == "__main__":
    main()
