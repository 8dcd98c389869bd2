"""Selection to a budget on ../shared/data: target-aware share of C4, and diversity coverage.

Pool = the first 2,000 Reuters-21578 documents + the first 500 of the C4 sample; target = the last 300 C4
documents (held apart from the pool). For DSIR (hashed n-grams), knn (max cosine to a target document) and
centroid (cosine to the target mean), it prints the share of C4 among the `--budget` (500) selected
documents (a random choice gives 0.20) and the seconds each took (embedding time shown apart: it is shared
by knn and centroid). Then, on 2,000 of those documents (1,500 Reuters + 500 C4), the coverage (mean cosine
distance from every document to its nearest selected one; lower is better) and the radius (the largest
such distance, k-center's objective) of k-center greedy, cluster-balanced sampling and random subsets
(mean of 10 draws) at N = `--coverage-n` (200).

    PYTHONPATH=. python benchmarks/select_target.py [--budget 500] [--coverage-n 200] [--seed 0]
        [--cache DIR]   # keep the embeddings (.npy) between runs

Embedding 2,800 documents with all-MiniLM-L6-v2 takes minutes on a small CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

from filters.quality.embeddings import encode  # noqa: E402
from filters.select.budget import Budget  # noqa: E402
from filters.select.cluster_balanced import cluster_balanced_select  # noqa: E402
from filters.select.dsir import dsir_select  # noqa: E402
from filters.select.kcenter import kcenter_select  # noqa: E402
from filters.select.knn import target_select  # noqa: E402
from pipeline.coverage import coverage, radius  # noqa: E402

REUTERS, C4_POOL, C4_TARGET = 2000, 500, 300


def corpora() -> tuple[pl.Series, np.ndarray, pl.Series]:
    """(pool texts, is-C4 flag per pool document, target texts)."""
    reuters = pl.read_ndjson(DATA / "reuters21578.jsonl.gz").head(REUTERS)["text"]
    c4 = pl.read_ndjson(DATA / "c4_sample1k.jsonl.gz")["text"]
    pool = pl.concat([reuters, c4.head(C4_POOL)])
    is_c4 = np.arange(len(pool)) >= REUTERS
    return pool, is_c4, c4.tail(C4_TARGET)


def embeddings(name: str, texts: pl.Series, cache: Path | None) -> tuple[np.ndarray, float]:
    """Embeddings of `texts` (from `cache` when there) and the seconds spent embedding."""
    path = cache / f"{name}.npy" if cache is not None else None
    if path is not None and path.is_file():
        return np.load(path), 0.0
    start = time.perf_counter()
    vectors = encode(texts.to_list())
    seconds = time.perf_counter() - start
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--coverage-n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    pool, is_c4, target = corpora()
    budget = Budget(docs=args.budget)
    print(f"pool: {len(pool)} documents ({is_c4.mean():.0%} C4), target: {len(target)} C4 documents")
    print(f"budget: {args.budget} documents (random share of C4: {is_c4.mean():.2f})")

    start = time.perf_counter()
    chosen, _ = dsir_select(pool, target, budget, seed=args.seed)
    print(f"dsir      share of C4 {is_c4[chosen].mean():.3f}   {time.perf_counter() - start:6.2f} s")

    pool_vectors, pool_seconds = embeddings("pool", pool, args.cache)
    target_vectors, target_seconds = embeddings("target", target, args.cache)
    seconds = pool_seconds + target_seconds
    rate = f"{(len(pool) + len(target)) / seconds:.1f} docs/s" if seconds else "cached"
    print(f"embedding {len(pool) + len(target)} documents: {seconds:.1f} s ({rate})")
    for method in ("knn", "centroid"):
        start = time.perf_counter()
        chosen, _ = target_select(pool_vectors, target_vectors, budget, method=method)
        share, took = is_c4[chosen].mean(), time.perf_counter() - start
        print(f"{method:9s} share of C4 {share:.3f}   {took:6.2f} s (+ embedding)")

    rows = np.r_[0:1500, REUTERS : REUTERS + C4_POOL]  # 1,500 Reuters + 500 C4
    vectors = pool_vectors[rows]
    n = args.coverage_n
    print(f"coverage at N = {n} of {len(vectors)} documents (cosine distance to the nearest selected one)")
    print("method    mean    radius  seconds")
    start = time.perf_counter()
    picked = kcenter_select(vectors, Budget(docs=n), seed=args.seed)
    took = time.perf_counter() - start
    print(f"kcenter   {coverage(vectors, picked):.4f}  {radius(vectors, picked):.4f}  {took:6.2f}")
    start = time.perf_counter()
    picked = cluster_balanced_select(vectors, Budget(docs=n), seed=args.seed)
    took = time.perf_counter() - start
    print(f"clusters  {coverage(vectors, picked):.4f}  {radius(vectors, picked):.4f}  {took:6.2f}")
    rng = np.random.default_rng(args.seed)
    draws = [rng.choice(len(vectors), size=n, replace=False) for _ in range(10)]
    mean = np.mean([coverage(vectors, d) for d in draws])
    print(f"random    {mean:.4f}  {np.mean([radius(vectors, d) for d in draws]):.4f}  (mean of 10 draws)")


if __name__ == "__main__":
    main()
