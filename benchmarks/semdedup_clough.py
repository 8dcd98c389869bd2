"""Semantic deduplication on the Clough & Stevenson plagiarism corpus (../shared/data).

Embeds the 100 documents (5 Wikipedia source texts, 95 answers graded cut / light / heavy / non) with the
packaged all-MiniLM-L6-v2 and prints, per category, the cosine similarity of the answers to their task's
source text (mean, min, max), the ROC AUC of that similarity separating plagiarised answers (cut, light,
heavy) from independent ones (non), and what `semantic_duplicates` removes at a few eps values (sources
kept first).

    python benchmarks/semdedup_clough.py [--eps 0.05 0.1 0.15 0.2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from filters.select.semdedup import SemDedupConfig, semantic_duplicates

ROOT = Path(__file__).resolve().parents[1]
CLOUGH = ROOT.parent / "shared" / "data" / "clough_stevenson.jsonl.gz"
CATEGORIES = ("cut", "light", "heavy", "non")


def source_similarity(frame: pl.DataFrame, vectors: np.ndarray) -> pl.DataFrame:
    """The answers (every document but the sources) with `similarity` to their task's source text."""
    sources = {task: i for i, task in enumerate(frame["task"]) if frame["category"][i] == "orig"}
    rows = np.flatnonzero((frame["category"] != "orig").to_numpy())
    source_rows = np.array([sources[task] for task in frame["task"].gather(rows)])
    similarity = np.einsum("ij,ij->i", vectors[rows], vectors[source_rows])
    return frame[rows].with_columns(pl.Series("similarity", similarity.astype(np.float64)))


def plagiarism_auc(answers: pl.DataFrame) -> float:
    """ROC AUC of `similarity` separating cut/light/heavy answers from non answers."""
    return float(roc_auc_score(answers["category"] != "non", answers["similarity"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--eps", type=float, nargs="+", default=[0.05, 0.1, 0.15, 0.2])
    args = parser.parse_args()

    frame = pl.read_ndjson(CLOUGH).with_columns(
        (pl.col("category") == "orig").cast(pl.Int64).alias("is_source")
    )
    start = time.perf_counter()
    vectors = SemDedupConfig().embed(frame["text"].to_list())
    print(f"embedded {frame.height} documents in {time.perf_counter() - start:.1f} s")

    answers = source_similarity(frame, vectors)
    print("\ncosine similarity of the answers to their source text")
    print(f"{'category':<9}{'n':>4}{'mean':>8}{'min':>8}{'max':>8}")
    for category in CATEGORIES:
        sims = answers.filter(pl.col("category") == category)["similarity"]
        print(f"{category:<9}{sims.len():>4}{sims.mean():>8.3f}{sims.min():>8.3f}{sims.max():>8.3f}")
    print(f"ROC AUC cut/light/heavy vs non: {plagiarism_auc(answers):.3f}")
    for category in ("cut", "light", "heavy"):
        pair = answers.filter(pl.col("category").is_in([category, "non"]))
        print(f"ROC AUC {category} vs non: {plagiarism_auc(pair):.3f}")

    print("\nsemantic_duplicates (keep = sources first), documents removed per category")
    print(f"{'eps':>6}{'clusters':>10}" + "".join(f"{c:>7}" for c in CATEGORIES) + f"{'orig':>6}")
    for eps in args.eps:
        for n_clusters in (None, 1):
            config = SemDedupConfig(eps=eps, keep="is_source", n_clusters=n_clusters)
            marked = semantic_duplicates(frame, vectors, config)
            removed = marked.filter(pl.col("duplicate_of").is_not_null())
            counts = removed["category"].value_counts()
            count = dict(zip(counts["category"], counts["count"], strict=True))
            label = "sqrt(n)" if n_clusters is None else str(n_clusters)
            cells = "".join(f"{count.get(c, 0):>7}" for c in CATEGORIES)
            print(f"{eps:>6.2f}{label:>10}{cells}{count.get('orig', 0):>6}")


if __name__ == "__main__":
    main()
