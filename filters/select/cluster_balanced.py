"""Cluster-balanced sampling: k-means over the embeddings, then an equal share from every cluster.

Documents are ranked within their cluster (at random, or by a quality column, best first) and taken
round-robin across clusters, so a cluster that runs out leaves its share to the others.
"""

from __future__ import annotations

import numpy as np

from filters.select.budget import Budget

DEFAULT_CLUSTERS = 32


def cluster_labels(vectors: np.ndarray, n_clusters: int = DEFAULT_CLUSTERS, *, seed: int = 0) -> np.ndarray:
    """MiniBatchKMeans cluster of each row (at most one cluster per row)."""
    from sklearn.cluster import MiniBatchKMeans

    n = len(vectors)
    k = max(1, min(n_clusters, n))
    model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=1024)
    return model.fit_predict(np.asarray(vectors, dtype=np.float32)).astype(np.int64)


def balanced_order(labels: np.ndarray, *, quality: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """All rows, round-robin over clusters: every cluster's best (or a random) row, then the second..."""
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    n = len(labels)
    noise = rng.random(n)
    # rank within cluster: by quality (desc, random tie-break) or at random
    keys = (noise,) if quality is None else (noise, -np.asarray(quality, dtype=np.float64))
    within = np.lexsort((*keys, labels))
    rank = np.empty(n, dtype=np.int64)
    starts = np.searchsorted(labels[within], labels[within], side="left")
    rank[within] = np.arange(n) - starts
    # clusters take turns in a random (seeded) order within every round
    turn = rng.permutation(int(labels.max(initial=-1)) + 1)[labels] if n else labels
    return np.lexsort((turn, rank))


def cluster_balanced_select(
    vectors: np.ndarray,
    budget: Budget,
    *,
    lengths: np.ndarray | None = None,
    quality: np.ndarray | None = None,
    n_clusters: int = DEFAULT_CLUSTERS,
    seed: int = 0,
) -> np.ndarray:
    """Row indices of an equal share per k-means cluster within `budget` (by quality within a cluster)."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    labels = cluster_labels(vectors, n_clusters, seed=seed)
    return budget.take(balanced_order(labels, quality=quality, seed=seed), lengths)
