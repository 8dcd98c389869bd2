"""Coverage of a selection: mean cosine distance from every document to its nearest selected one.

Lower is better (0 when everything is selected). `random_coverage` gives the baseline of random subsets of
the same size, to report a method against. `radius` is the largest such distance, the quantity k-center
greedy minimises (within a factor of 2); it can be small while the mean is no better than random's.
"""

from __future__ import annotations

import numpy as np

CHUNK = 4096


def nearest_distance(vectors: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """Cosine distance from each row of `vectors` (unit length) to its nearest selected row."""
    vectors = np.asarray(vectors, dtype=np.float32)
    chosen = vectors[np.asarray(selected, dtype=np.int64)]
    if len(chosen) == 0:
        raise ValueError("coverage of an empty selection is undefined")
    out = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), CHUNK):
        block = vectors[start : start + CHUNK] @ chosen.T
        out[start : start + CHUNK] = 1.0 - block.max(axis=1)
    return np.clip(out, 0.0, 2.0)


def coverage(vectors: np.ndarray, selected: np.ndarray) -> float:
    """Mean cosine distance from every document to its nearest selected document."""
    return float(nearest_distance(vectors, selected).mean())


def radius(vectors: np.ndarray, selected: np.ndarray) -> float:
    """The largest cosine distance from a document to its nearest selected document."""
    return float(nearest_distance(vectors, selected).max())


def random_coverage(vectors: np.ndarray, size: int, *, seed: int = 0, repeats: int = 5) -> float:
    """Mean coverage of `repeats` random subsets of `size` documents (the baseline)."""
    rng = np.random.default_rng(seed)
    n = len(vectors)
    draws = [coverage(vectors, rng.choice(n, size=min(size, n), replace=False)) for _ in range(repeats)]
    return float(np.mean(draws))
