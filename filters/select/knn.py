"""Target-aware selection by embedding: pool documents most similar to a target corpus the user gives.

Two scores: `knn` (mean cosine to the `k` nearest target documents; `k=1`: the nearest one) and
`centroid` (cosine to the normalised mean of the target embeddings). Both expect unit-length rows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from filters.select.budget import Budget

CHUNK = 4096
Method = Literal["knn", "centroid"]


def knn_similarity(pool: np.ndarray, target: np.ndarray, *, k: int = 1) -> np.ndarray:
    """Mean cosine similarity of each pool row to its `k` most similar target rows."""
    pool = np.asarray(pool, dtype=np.float32)
    target = np.asarray(target, dtype=np.float32)
    if len(target) == 0:
        raise ValueError("the target corpus is empty")
    k = max(1, min(k, len(target)))
    out = np.empty(len(pool), dtype=np.float32)
    for start in range(0, len(pool), CHUNK):
        block = pool[start : start + CHUNK] @ target.T
        top = block.max(axis=1) if k == 1 else -np.partition(-block, k - 1, axis=1)[:, :k].mean(axis=1)
        out[start : start + CHUNK] = top
    return out


def centroid_similarity(pool: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Cosine similarity of each pool row to the (normalised) mean target embedding."""
    return np.asarray(pool, dtype=np.float32) @ target_centroid(target)


def target_centroid(target: np.ndarray) -> np.ndarray:
    """The normalised mean of the target embeddings (what `centroid_similarity` compares against)."""
    target = np.asarray(target, dtype=np.float32)
    if len(target) == 0:
        raise ValueError("the target corpus is empty")
    centroid = target.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    return centroid


def target_similarity(
    pool: np.ndarray, target: np.ndarray, *, method: Method = "knn", k: int = 1
) -> np.ndarray:
    """The similarity score of each pool row to the target corpus by `method`."""
    if method == "knn":
        return knn_similarity(pool, target, k=k)
    if method == "centroid":
        return centroid_similarity(pool, target)
    raise ValueError(f"unknown method {method!r}: knn or centroid")


def target_select(
    pool: np.ndarray,
    target: np.ndarray,
    budget: Budget,
    *,
    method: Method = "knn",
    k: int = 1,
    lengths: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(chosen pool row indices, most similar first; similarity score of every pool row)."""
    scores = target_similarity(pool, target, method=method, k=k)
    return budget.take(np.argsort(-scores, kind="stable"), lengths), scores
