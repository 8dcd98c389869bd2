"""What the embedding stages record for the run's report (`stats.json`, the stage's `facts`): the k-means
clusters of the corpus with the documents kept in each, how well the kept documents cover the rest, and, for
the target classifier, how many documents it finds more like the target than like the pool.

Computed where the stage decides, over a seeded sample of `SAMPLE` documents when the corpus is larger
(their embeddings read from the stage's summaries; no embedding cache, no second pass)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.coverage import nearest_distance, random_coverage

#: documents the facts are computed over (a seeded sample beyond it)
SAMPLE = 20_000
#: bins of the distance histogram
BINS = 30


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


def target_facts(log_odds: np.ndarray, kept: np.ndarray, min_log_odds: float | None) -> dict[str, Any]:
    """How many of the documents the target classifier finds more like the target than like the pool
    (log-odds > 0), in all and among the `kept` ones: an estimate of how many the corpus holds of the
    target's kind, and of how many kept ones are not of it when the budget is larger."""
    log_odds, kept = np.asarray(log_odds, dtype=np.float64), np.asarray(kept, dtype=bool)
    like = log_odds > 0
    return {
        "documents": len(log_odds),
        "like_target": int(like.sum()),
        "kept": int(kept.sum()),
        "kept_like_target": int((like & kept).sum()),
        "min_log_odds": min_log_odds,
    }
