"""Semantic dedup with k-means fitted on a sample vs on every embedding, on the first Reuters documents.

SemDeDup's clusters are fitted on a seeded sample of 64 documents per cluster (`sampled_kmeans`), so the
decision can run as parts. This prints, per eps, what k-means on all the embeddings removes (seed 0 and,
as the yardstick of k-means' own variance, seed 1) and what the sample-fitted k-means removes (64 and 16
per cluster): documents removed, how many both remove, the recall of the ground-truth pairs with Jaccard
>= 0.8 within these documents (one of the pair removed) and the share of removals whose `duplicate_of`
pair has Jaccard >= 0.5.

    python benchmarks/semdedup_sample.py [--docs 8192] [--cache DIR] [--eps 0.05 0.1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl

from filters.select import sampled_kmeans
from filters.select.semdedup import SemDedupConfig, find_semantic_duplicates

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def removals(vectors: np.ndarray, eps: float, seed: int, per_cluster: int) -> tuple[np.ndarray, float]:
    """(duplicate_of per row, seconds) with `per_cluster` sample documents per k-means cluster."""
    sampled_kmeans.SAMPLE_PER_CLUSTER = per_cluster
    start = time.perf_counter()
    duplicate_of, _, _ = find_semantic_duplicates(vectors, SemDedupConfig(eps=eps, seed=seed))
    return duplicate_of, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--docs", type=int, default=8192)
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder")
    parser.add_argument("--eps", type=float, nargs="+", default=[0.05, 0.1])
    args = parser.parse_args()

    frame = pl.read_ndjson(DATA / "reuters21578.jsonl.gz").head(args.docs)
    ids = frame["id"].cast(pl.String).to_numpy()
    start = time.perf_counter()
    vectors = SemDedupConfig(cache=args.cache).embed(frame["text"].to_list())
    print(f"embedded {len(ids)} documents in {time.perf_counter() - start:.1f} s")
    pairs = pl.read_csv(DATA / "reuters21578_pairs.tsv.gz", separator="\t").with_columns(
        pl.col("id_a", "id_b").cast(pl.String)
    )
    pairs = pairs.filter(pl.col("id_a").is_in(list(ids)) & pl.col("id_b").is_in(list(ids)))
    truth = pairs.filter(pl.col("jaccard") >= 0.8).select("id_a", "id_b").rows()
    lexical = {frozenset(pair) for pair in pairs.select("id_a", "id_b").rows()}
    print(f"ground-truth pairs within them: {len(truth)} with Jaccard >= 0.8, {len(lexical)} >= 0.5")

    everything = len(ids)  # a sample of every document: k-means on all the embeddings
    runs = [("all, seed 0", 0, everything), ("all, seed 1", 1, everything)]
    runs += [("sample 64/cluster", 0, 64), ("sample 16/cluster", 0, 16)]
    print(f"\n{'eps':>5} {'k-means on':<18}{'removed':>8}{'both':>7}{'recall':>8}{'J>=0.5':>8}{'s':>6}")
    for eps in args.eps:
        reference: set[str] | None = None
        for name, seed, per_cluster in runs:
            duplicate_of, seconds = removals(vectors, eps, seed, per_cluster)
            rows = np.flatnonzero(duplicate_of >= 0)
            removed = set(ids[rows])
            reference = removed if reference is None else reference
            recall = np.mean([a in removed or b in removed for a, b in truth]) if truth else float("nan")
            found = [frozenset((ids[i], ids[duplicate_of[i]])) in lexical for i in rows]
            share = np.mean(found) if found else float("nan")
            both = len(removed & reference)
            print(
                f"{eps:>5.2f} {name:<18}{len(removed):>8}{both:>7}{recall:>8.3f}{share:>8.3f}{seconds:>6.1f}"
            )


if __name__ == "__main__":
    main()
