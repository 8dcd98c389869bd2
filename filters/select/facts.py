"""What the embedding stages record for the run's report (`stats.json`, the stage's `facts`): the k-means
clusters of the corpus with the documents kept in each, and how well the kept documents cover the rest.

Computed where the stage decides, from the vectors it already holds (no embedding cache, no second pass);
over a seeded sample of `SAMPLE` documents when the corpus is larger."""

from __future__ import annotations

from typing import Any

import numpy as np

from filters.select.cluster_balanced import cluster_labels
from pipeline.coverage import nearest_distance, random_coverage

#: documents the facts are computed over (a seeded sample beyond it)
SAMPLE = 20_000
#: bins of the distance histogram
BINS = 30


def embedding_facts(
    vectors: np.ndarray,
    kept: np.ndarray,
    *,
    n_clusters: int,
    seed: int = 0,
    labels: np.ndarray | None = None,
) -> dict[str, Any]:
    """`{"embeddings": ...}`: cluster sizes (largest first) and the kept documents in each, the cosine
    distance from each document to its nearest kept one (histogram, mean = coverage, max = radius) and the
    same mean for a random selection of that size. `labels`: the stage's own clusters, when it made them
    (else k-means with its `n_clusters` and `seed`). Empty when nothing was kept."""
    n = len(vectors)
    kept = np.asarray(kept, dtype=bool)
    if n == 0 or not kept.any():
        return {}
    rows = np.arange(n)
    if n > SAMPLE:
        rows = np.sort(np.random.default_rng(0).choice(n, SAMPLE, replace=False))
    sample = np.asarray(vectors, dtype=np.float32)[rows]
    sample /= np.maximum(np.linalg.norm(sample, axis=1, keepdims=True), 1e-12)
    labels = cluster_labels(sample, n_clusters, seed=seed) if labels is None else np.asarray(labels)[rows]
    return sample_facts(sample, kept[rows], labels=labels, documents=n)


def sample_facts(
    sample: np.ndarray, chosen: np.ndarray, *, labels: np.ndarray, documents: int
) -> dict[str, Any]:
    """The facts of `embedding_facts` from a sample of the corpus's `documents`: its unit vectors, which of
    them were kept (`chosen`) and their cluster `labels` (the whole corpus when the sample is all of it)."""
    chosen = np.asarray(chosen, dtype=bool)
    if len(sample) == 0 or not chosen.any():
        return {}
    sizes = np.bincount(labels)
    in_cluster = np.bincount(labels[chosen], minlength=len(sizes))
    order = np.argsort(-sizes, kind="stable")[: int((sizes > 0).sum())]
    distances = nearest_distance(sample, np.flatnonzero(chosen))
    counts, edges = np.histogram(distances, bins=BINS)
    return {
        "embeddings": {
            "documents": documents,
            "sampled": len(sample) if documents > len(sample) else None,
            "kept": int(chosen.sum()),
            "cluster_sizes": sizes[order].tolist(),
            "kept_per_cluster": in_cluster[order].tolist(),
            "coverage": round(float(distances.mean()), 6),
            "radius": round(float(distances.max()), 6),
            "random_coverage": round(random_coverage(sample, int(chosen.sum()), seed=0), 6),
            "distance_counts": counts.tolist(),
            "distance_edges": [round(float(edge), 6) for edge in edges],
        }
    }
