"""Decontamination throughput against the Gopher quality rules, on the same documents in one process.

The first 1,000 documents of C4 (../shared/data) repeated to `--docs` documents, in batches of 20,000 (the
runner's default), with GSM8K's test set (question and answer: 13-grams, one short answer matched whole)
as the benchmark, and NaturalQuestions-open's questions (median 9 words, so matched whole at 8-12 words:
documents are hashed at six n-gram sizes). It prints the index build times and, for `Decontaminate`
(remove and redact) and `GopherQuality`, the median documents per second of `--repeat` passes over every
batch.

    PYTHONPATH=. python benchmarks/decontaminate.py [--docs 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import polars as pl

from filters.dedup.decontaminate import Decontaminate
from filters.quality.gopher_quality import GopherQuality
from pipeline.batch import ID, TEXT
from pipeline.stage import Filter

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BATCH = 20_000


def documents(count: int) -> list[pl.DataFrame]:
    """The C4 sample repeated to `count` documents, as runner-sized batches."""
    pages = pl.read_ndjson(SHARED / "c4_sample1k.jsonl.gz").select(ID, TEXT)
    corpus = pl.concat([pages] * -(-count // pages.height)).head(count)
    return [corpus.slice(start, BATCH) for start in range(0, count, BATCH)]


def docs_per_second(stage: Filter, batches: list[pl.DataFrame], repeat: int) -> float:
    """Median over `repeat` passes of documents per second through `stage.apply`."""
    total = sum(batch.height for batch in batches)
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        for batch in batches:
            stage.apply(batch)
        rates.append(total / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    batches = documents(args.docs)
    benchmark = {"path": SHARED / "gsm8k_test.jsonl.gz", "fields": ["question", "answer"]}
    started = time.perf_counter()
    remove = Decontaminate(benchmarks=[benchmark])
    print(f"index: {len(remove.index().hashes):,} GSM8K n-grams in {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    questions = Decontaminate(
        benchmarks=[{"path": SHARED / "nq_open_oracle.jsonl.gz", "fields": ["question"]}]
    )
    built = questions.index()
    print(
        f"index: {len(built.hashes):,} NQ-open n-grams of {len(built.sizes)} sizes in "
        f"{time.perf_counter() - started:.2f} s"
    )
    stages: dict[str, Filter] = {
        "decontaminate (remove)": remove,
        "decontaminate (redact)": Decontaminate(benchmarks=[benchmark], mode="redact"),
        "decontaminate (NQ-open)": questions,
        "gopher_quality": GopherQuality(),
    }
    print(f"{args.docs:,} C4 documents, median of {args.repeat}")
    for name, stage in stages.items():
        print(f"{name:<24} {docs_per_second(stage, batches, args.repeat):>10,.0f} docs/s")


if __name__ == "__main__":
    main()
