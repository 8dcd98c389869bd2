"""Near-duplicate detection, winnow vs datasketch, rensa and datatrove: raw text in, duplicate clusters out.

Default run: Reuters-21578 (../shared/data, 19,043 documents), Jaccard threshold 0.8, 128 permutations, word
5-grams. Each method runs in its own fresh process (median of 3 runs) and is timed from
reading the gzipped JSON Lines to its list of removed documents, its Python-side shingling included:

- winnow: `filters.dedup.minhash.near_duplicates` on a polars frame (LSH candidates verified by exact
  Jaccard, first occurrence kept);
- datasketch: `MinHash(num_perm=128)` fed each document's shingles as UTF-8 bytes and
  `MinHashLSH(threshold=0.8)`; documents in input order: query, and if the index returns ids the
  document is removed as a duplicate of the earliest of them, else it is inserted;
- rensa: `RMinHash(num_perm=128, seed=42)` and `RMinHashLSH` (bands: the divisor of 128 that best fits 0.8),
  the same query-then-insert protocol;
- datatrove: its MinHash pipeline (signatures, buckets, clusters) through `LocalPipelineExecutor` on a
  `JsonlReader` of the same file; a removed document is a duplicate of its cluster's kept document.

The peers' shingles follow the ground truth (../shared/data/README.md): lowercased text split on `\\W+`, empty
pieces dropped, word 5-grams joined by single spaces, as a set (fewer than 5 words: one shingle of them all).
Scores, as that README defines them at t = 0.8: removal precision (share of removed documents whose pair
with `duplicate_of` has exact Jaccard >= t - 0.1) and pair recall (share of ground-truth pairs with
Jaccard >= t of which at least one document was removed). Peak memory is each process's VmHWM.

`--scale`: winnow's on-disk pipeline (`pipeline.runner.run` with the `MinHashDedup` stage, batches of 50,000)
on generated corpora of 100k, 300k and 1M documents (benchmarks/dedup_corpus.py: Reuters texts mutated to
be distinct, plus 7% planted near duplicates of known Jaccard): wall time, docs/s, peak RSS, removals and
recall of the planted pairs with Jaccard >= 0.8. Goals: 1M documents in under 5 minutes, under 8 GB.

    python benchmarks/dedup.py [--methods winnow,datasketch,rensa,datatrove] [--repeats 3]
    python benchmarks/dedup.py --scale [--sizes 100000,300000,1000000] [--corpus-dir DIR]

The peers come from the `bench` extra (`make bench` installs them in .venv-bench); a method whose package
is missing is reported as unavailable and skipped.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
REUTERS = DATA / "reuters21578.jsonl.gz"
PAIRS = DATA / "reuters21578_pairs.tsv.gz"
THRESHOLD = 0.8
NUM_PERM = 128
NGRAM = 5
RENSA_SEED = 42
METHODS = ("winnow", "datasketch", "rensa", "datatrove")
SCALE_SIZES = (100_000, 300_000, 1_000_000)
SCALE_GOAL_SECONDS = {1_000_000: 300.0}
SCALE_GOAL_RSS_GB = 8.0
NON_WORD = re.compile(r"\W+")

Removed = dict[str, str]  # removed id -> id of the document it duplicates


# ------------------------------------------------------------------ shared by the workers


def shingles(text: str) -> set[str]:
    """The ground-truth shingle set: word 5-grams of the lowercased text split on \\W+."""
    words = [word for word in NON_WORD.split(text.lower()) if word]
    if len(words) < NGRAM:
        return {" ".join(words)}
    return {" ".join(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)}


def read_reuters(path: Path = REUTERS):
    """The corpus as a polars frame of `id` (String) and `text`."""
    import polars as pl

    with gzip.open(path, "rb") as handle:
        return pl.read_ndjson(handle.read()).select(pl.col("id").cast(pl.String), "text")


def lsh_error(threshold: float, bands: int, rows: int) -> float:
    """Equal-weight false positive + false negative area of a (bands, rows) LSH (datasketch's optimum)."""
    import numpy as np

    def integral(lo: float, hi: float, f: Callable) -> float:
        s = np.linspace(lo, hi, 1001)
        y = f(s)
        return float(((y[1:] + y[:-1]) / 2 * np.diff(s)).sum())

    false_positive = integral(0.0, threshold, lambda s: 1 - (1 - s**rows) ** bands)
    false_negative = integral(threshold, 1.0, lambda s: (1 - s**rows) ** bands)
    return 0.5 * false_positive + 0.5 * false_negative


def divisor_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) with bands x rows == num_perm (rensa's constraint) and the least `lsh_error`."""
    options = [(bands, num_perm // bands) for bands in range(1, num_perm + 1) if num_perm % bands == 0]
    return min(options, key=lambda option: lsh_error(threshold, *option))


def datasketch_sketch(text: str):
    """The datasketch `MinHash` of a text: its ground-truth shingles as UTF-8 bytes."""
    from datasketch import MinHash

    minhash = MinHash(num_perm=NUM_PERM)
    minhash.update_batch([shingle.encode("utf-8") for shingle in shingles(text)])
    return minhash


def rensa_sketch(text: str):
    """The rensa `RMinHash` of a text: its ground-truth shingles."""
    from rensa import RMinHash

    minhash = RMinHash(num_perm=NUM_PERM, seed=RENSA_SEED)
    minhash.update(list(shingles(text)))
    return minhash


def query_then_insert(ids: list[str], texts: list[str], sketch: Callable, lsh) -> Removed:
    """Documents in order: removed as a duplicate of the earliest hit of the index, else inserted."""
    removed: Removed = {}
    for position, text in enumerate(texts):
        minhash = sketch(text)
        hits = lsh.query(minhash)
        if hits:
            removed[ids[position]] = ids[min(hits)]
        else:
            lsh.insert(position, minhash)
    return removed


# ------------------------------------------------------------------ one method each


# Each `prepare_*` imports its library and reads the corpus (not timed), then returns the timed job:
# raw texts in memory -> removed documents with what they duplicate.
Job = Callable[[], Removed]


def prepare_winnow() -> tuple[Job, str]:
    import polars as pl

    from filters.dedup.minhash import MinHashConfig, near_duplicates

    config = MinHashConfig(threshold=THRESHOLD, num_perm=NUM_PERM, ngram=NGRAM)
    frame = read_reuters()
    bands, rows = config.band_rows()

    def job() -> Removed:
        removed = near_duplicates(frame, config).filter(pl.col("duplicate_of").is_not_null())
        return dict(zip(removed["id"], removed["duplicate_of"], strict=True))

    return job, f"{bands} bands x {rows} rows"


def prepare_datasketch() -> tuple[Job, str]:
    from datasketch import MinHashLSH

    frame = read_reuters()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    ids, texts = frame["id"].to_list(), frame["text"].to_list()
    return (lambda: query_then_insert(ids, texts, datasketch_sketch, lsh)), f"{lsh.b} bands x {lsh.r} rows"


def prepare_rensa(bands: int | None = None) -> tuple[Job, str]:
    from rensa import RMinHashLSH

    frame = read_reuters()
    if bands is None:
        bands, rows = divisor_bands(THRESHOLD, NUM_PERM)  # rensa wants num_perm divisible by bands
    else:
        rows = NUM_PERM // bands
    lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=bands)
    ids, texts = frame["id"].to_list(), frame["text"].to_list()
    return (lambda: query_then_insert(ids, texts, rensa_sketch, lsh)), f"{bands} bands x {rows} rows"


def datatrove_config():
    """(datatrove's MinhashConfig at our threshold, a word tokenizer that needs no spaCy, bands, rows)."""
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.word_tokenizers import WordTokenizer

    class SplitTokenizer(WordTokenizer):
        """datatrove's English (and whitespace) tokenizers need spaCy, which the bench extra leaves out.
        Its text is already simplified (punctuation removed, whitespace normalised): a split is enough."""

        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(0, len(text))]

    from filters.dedup.signatures import band_parameters

    bands, rows = band_parameters(THRESHOLD, NUM_PERM)  # datasketch's equal-weight optimum
    # its default xxhash hash passes str to xxhash, which xxhash >= 4 (pinned by constraints.txt) refuses:
    # "TypeError: Strings must be encoded before hashing"; datatrove's SHA-1 option takes str
    config = MinhashConfig(
        n_grams=NGRAM,
        num_buckets=bands,
        hashes_per_bucket=rows,
        hash_config=HashConfig(precision=64, hash_fc="sha1"),
    )
    return config, SplitTokenizer(), bands, rows


def run_datatrove(corpus: Path, work: Path, final: list | None = None) -> None:
    """datatrove's MinHash stages over the JSON Lines file `corpus` (its reader reads it), state in `work`:
    signatures, buckets, clusters (`work/remove`), then `final` (steps after a reader) if given. workers=1:
    every task runs in this process, so its VmHWM is the pipeline's peak memory."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader

    config, tokenizer, bands, _ = datatrove_config()
    sigs, buckets, remove = (str(work / name) for name in ("sigs", "buckets", "remove"))
    stages = [
        (
            "signatures",
            [
                JsonlReader(str(corpus.parent), glob_pattern=corpus.name),
                MinhashDedupSignature(sigs, config, language=tokenizer),
            ],
            1,
        ),
        ("buckets", [MinhashDedupBuckets(sigs, buckets, config=config)], bands),
        ("clusters", [MinhashDedupCluster(buckets, remove, config=config, save_cluster_id=True)], 1),
    ]
    if final:
        stages.append(("final", [JsonlReader(str(corpus.parent), glob_pattern=corpus.name), *final], 1))
    for name, pipeline, tasks in stages:
        LocalPipelineExecutor(pipeline, tasks=tasks, workers=1, logging_dir=str(work / "logs" / name)).run()


def prepare_datatrove() -> tuple[Job, str]:
    import numpy as np

    _, _, bands, rows = datatrove_config()
    # its reader reads the JSONL inside the pipeline, so its reading is part of its time
    frame = read_reuters()
    ids = frame.filter(frame["text"].str.len_bytes() > 0)["id"].to_list()

    def job() -> Removed:
        with tempfile.TemporaryDirectory(prefix="winnow-datatrove-") as tmp:
            work = Path(tmp)
            run_datatrove(REUTERS, work)
            to_remove = set(np.fromfile(work / "remove" / "000000.remove", dtype="<u4").tolist())
            clusters = np.fromfile(work / "remove" / "000000.clusters", dtype="<u4").reshape(-1, 2)
        kept = {int(cluster): int(doc) for doc, cluster in clusters if int(doc) not in to_remove}
        removed = {
            ids[int(doc)]: ids[kept[int(cluster)]] for doc, cluster in clusters if int(doc) in to_remove
        }
        return removed

    return job, f"{bands} buckets x {rows} hashes ({bands * rows} of {NUM_PERM} permutations)"


PREPARE = {
    "winnow": prepare_winnow,
    "datasketch": prepare_datasketch,
    "rensa": prepare_rensa,
    "datatrove": prepare_datatrove,
}


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: ru_maxrss would carry the parent's across fork+exec)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def worker(method: str, result: Path, rensa_bands: int | None = None) -> None:
    """Run one method once, in this (fresh) process, and write its result as JSON."""
    job, params = prepare_rensa(rensa_bands) if method == "rensa" else PREPARE[method]()
    started = time.perf_counter()
    removed = job()
    seconds = time.perf_counter() - started
    result.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mib": peak_rss_mib(),
                "params": params,
                "removed": sorted(removed.items()),
            }
        )
    )


# ------------------------------------------------------------------ scoring and the default run


def ground_truth(path: Path = PAIRS) -> dict[frozenset[str], float]:
    with gzip.open(path, "rt", newline="") as handle:
        return {
            frozenset((row["id_a"], row["id_b"])): float(row["jaccard"])
            for row in csv.DictReader(handle, delimiter="\t")
        }


def score(
    removed: Removed, truth: dict[frozenset[str], float], threshold: float = THRESHOLD
) -> tuple[float, float]:
    """(removal precision, pair recall) as ../shared/data/README.md defines them."""
    justified = sum(truth.get(frozenset((doc, of)), 0.0) >= threshold - 0.1 for doc, of in removed.items())
    precision = justified / len(removed) if removed else 1.0
    targets = [pair for pair, jaccard in truth.items() if jaccard >= threshold]
    found = sum(any(doc in removed for doc in pair) for pair in targets)
    return precision, found / len(targets)


def spawn(args: list[str], result: Path) -> tuple[dict | None, str]:
    """Run this script with `args` in a fresh process; (its JSON result, or None and why not)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args, "--result", str(result)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode == 0 and result.exists():
        return json.loads(result.read_text()), ""
    lines = (done.stderr or done.stdout).strip().splitlines()
    missing = [line for line in lines if line.startswith(("ModuleNotFoundError", "ImportError"))]
    return None, (missing or lines or [f"exit status {done.returncode}"])[-1]


def default_run(methods: list[str], repeats: int, rensa_bands: int | None = None) -> None:
    truth = ground_truth()
    docs = read_reuters().height
    print(
        f"Reuters-21578: {docs:,} documents; threshold {THRESHOLD}, {NUM_PERM} permutations, "
        f"word {NGRAM}-grams; ground truth {sum(j >= THRESHOLD for j in truth.values())} pairs "
        f"with Jaccard >= {THRESHOLD}"
    )
    print(
        f"{'method':<11}{'docs/s':>10}{'median s':>10}{'precision':>11}{'recall':>8}{'removed':>9}"
        f"{'peak MiB':>10}  parameters"
    )
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="winnow-dedup-bench-") as tmp:
        for method in methods:
            runs, why = [], ""
            for attempt in range(repeats):
                extra = ["--rensa-bands", str(rensa_bands)] if rensa_bands else []
                result, why = spawn(["--worker", method, *extra], Path(tmp) / f"{method}-{attempt}.json")
                if result is None:
                    break
                runs.append(result)
            if not runs:
                print(f"{method:<11}unavailable: {why}")
                continue
            seconds = statistics.median(run["seconds"] for run in runs)
            removed = dict(runs[-1]["removed"])
            precision, recall = score(removed, truth)
            rates[method] = docs / seconds
            timing = f"{len(runs)} run" + ("s" if len(runs) > 1 else "")
            print(
                f"{method:<11}{rates[method]:>10,.0f}{seconds:>10.2f}{precision:>11.3f}{recall:>8.3f}"
                f"{len(removed):>9,}{max(run['peak_mib'] for run in runs):>10,.0f}  {runs[-1]['params']}"
                f" ({timing})"
            )
    if "winnow" in rates:
        for peer in (method for method in rates if method != "winnow"):
            print(f"winnow / {peer}: {rates['winnow'] / rates[peer]:.2f}x the docs/s")


# ------------------------------------------------------------------ scaling run


def scale_worker(corpus: Path, out: Path, result: Path) -> None:
    """winnow's on-disk pipeline on `corpus`, timed in this (fresh) process."""
    import polars as pl

    from filters.dedup.minhash import MinHashConfig
    from pipeline.readers import ReadOptions
    from pipeline.runner import RunOptions, run

    started = time.perf_counter()
    run([corpus], out, [MinHashConfig().build()], RunOptions(read=ReadOptions(batch_size=50_000)))
    seconds = time.perf_counter() - started
    peak = peak_rss_mib()
    removed = pl.scan_parquet(out / "removed" / "*.parquet").select("id").collect()["id"].to_list()
    result.write_text(json.dumps({"seconds": seconds, "peak_mib": peak, "removed": removed}))


def planted_pairs(corpus: Path):
    import polars as pl

    schema = {"id": pl.String, "text": pl.String, "planted_of": pl.String, "planted_jaccard": pl.Float64}
    return (
        pl.scan_ndjson(corpus, schema=schema)
        .filter(pl.col("planted_of").is_not_null())
        .select("id", "planted_of", "planted_jaccard")
        .collect()
    )


def prefix(source: Path, target: Path, lines: int) -> None:
    """The first `lines` documents of `source` (every planted copy comes after its source)."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        for _ in range(lines):
            dst.write(src.readline())


def scale_run(sizes: list[int], corpus_dir: Path | None, seed: int) -> None:
    import polars as pl

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dedup_corpus import write_corpus

    with tempfile.TemporaryDirectory(prefix="winnow-dedup-scale-") as tmp:
        folder = corpus_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        largest = folder / f"corpus-{max(sizes)}-seed{seed}.jsonl"
        existing = sorted(
            (int(path.name.split("-")[1]), path) for path in folder.glob(f"corpus-*-seed{seed}.jsonl")
        )
        bigger = [path for docs, path in existing if docs >= max(sizes)]
        if bigger:
            largest = bigger[0]
            print(f"corpus: reusing {largest} (the first N documents of it for N documents)")
        else:
            info = write_corpus(largest, max(sizes), seed=seed)
            print(
                f"corpus: {info.docs:,} documents, {info.planted:,} planted near duplicates "
                f"({info.planted_at_least[THRESHOLD]:,} with Jaccard >= {THRESHOLD}), "
                f"{largest.stat().st_size / 2**20:,.0f} MiB, built in {info.seconds:.1f} s"
            )
        print(
            f"winnow on-disk pipeline, MinHashConfig() defaults, batches of 50,000; "
            f"goals: 1M documents in under {SCALE_GOAL_SECONDS[1_000_000] / 60:.0f} min, "
            f"peak RSS under {SCALE_GOAL_RSS_GB:.0f} GB"
        )
        print(
            f"{'docs':>10}{'seconds':>9}{'docs/s':>9}{'peak GB':>9}{'removed':>9}{'planted>=0.8':>14}"
            f"{'recall':>8}{'recall>=0.9':>12}{'unexplained':>13}  goals"
        )
        for size in sorted(sizes):
            corpus = folder / f"corpus-{size}-seed{seed}.jsonl"
            if not corpus.exists():
                prefix(largest, corpus, size)
            out = Path(tmp) / f"run-{size}"
            result, why = spawn(["--scale-worker", str(corpus), str(out)], Path(tmp) / f"scale-{size}.json")
            shutil.rmtree(out, ignore_errors=True)
            if result is None:
                print(f"{size:>10,}  failed: {why}")
                continue
            removed = set(result["removed"])
            planted = planted_pairs(corpus)
            high = planted.filter(pl.col("planted_jaccard") >= THRESHOLD)
            pairs = zip(high["id"], high["planted_of"], strict=True)
            found = [a in removed or b in removed for a, b in pairs]
            recall = sum(found) / max(high.height, 1)
            very = high["planted_jaccard"] >= 0.9
            recall_90 = sum(f for f, v in zip(found, very, strict=True) if v) / max(int(very.sum()), 1)
            involved = set(planted["id"].to_list()) | set(planted["planted_of"].to_list())
            unexplained = len(removed - involved)  # removed documents in no planted pair
            seconds, gb = result["seconds"], result["peak_mib"] * 2**20 / 1e9
            goals = [f"RSS {'ok' if gb < SCALE_GOAL_RSS_GB else 'OVER'}"]
            if size in SCALE_GOAL_SECONDS:
                goals.insert(0, f"time {'ok' if seconds < SCALE_GOAL_SECONDS[size] else 'OVER'}")
            print(
                f"{size:>10,}{seconds:>9.1f}{size / seconds:>9,.0f}{gb:>9.2f}{len(removed):>9,}"
                f"{high.height:>14,}{recall:>8.3f}{recall_90:>12.3f}{unexplained:>13,}  {', '.join(goals)}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="comma-separated, from: " + ", ".join(METHODS)
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per method (median time)")
    parser.add_argument(
        "--rensa-bands",
        type=int,
        help="rensa's LSH bands (a divisor of 128; default: the best fit to 0.8, 8 x 16)",
    )
    parser.add_argument("--scale", action="store_true", help="the scaling run of winnow's on-disk pipeline")
    parser.add_argument("--sizes", default=",".join(map(str, SCALE_SIZES)), help="corpus sizes for --scale")
    parser.add_argument("--corpus-dir", type=Path, help="keep (and reuse) the --scale corpora here")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed for --scale")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--scale-worker", nargs=2, type=Path, metavar=("CORPUS", "OUT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.result, args.rensa_bands)
    elif args.scale_worker:
        scale_worker(*args.scale_worker, args.result)
    elif args.scale:
        scale_run([int(size) for size in args.sizes.split(",")], args.corpus_dir, args.seed)
    else:
        methods = [method.strip() for method in args.methods.split(",") if method.strip()]
        unknown = sorted(set(methods) - set(METHODS))
        if unknown:
            parser.error(f"unknown methods: {', '.join(unknown)}")
        default_run(methods, args.repeats, args.rensa_bands)


if __name__ == "__main__":  # datatrove's executor starts processes: nothing may run on import
    main()
