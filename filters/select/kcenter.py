"""k-center greedy (farthest-first traversal) over unit vectors: a diverse subset that covers the space.

Each step picks the document farthest (cosine distance) from every center chosen so far, optionally with
its distance multiplied by a quality weight; running minimum distances keep it O(n * k) dot products.
It is global by nature (each pick depends on every earlier one), so it runs in one process; the vectors
may be a memory map, read a chunk at a time (or float16: half the memory, but 10x slower on CPU, where
converting each chunk back to float32 costs ten times the dot products).
"""

from __future__ import annotations

import numpy as np

from filters.select.budget import Budget

#: rows whose distances are computed at once
CHUNK = 65_536


def kcenter_order(
    vectors: np.ndarray,
    k: int,
    *,
    weights: np.ndarray | None = None,
    seed: int = 0,
    lengths: np.ndarray | None = None,
    max_tokens: int | None = None,
) -> np.ndarray:
    """The first `k` centers of farthest-first traversal (row indices, in the order chosen).

    The first center is drawn at random (`seed`); with `weights` (>= 0), a document's distance to the
    chosen centers is multiplied by its weight, so better documents win among equally far ones. With
    `lengths` and `max_tokens`, it stops at the first center whose tokens overflow `max_tokens`.
    """
    n = len(vectors)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    scale = np.ones(n, dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
    if (scale < 0).any() or not np.isfinite(scale).all():
        raise ValueError("quality weights must be finite and >= 0")
    order = np.empty(k, dtype=np.int64)
    order[0] = np.random.default_rng(seed).integers(n)
    nearest = np.full(n, np.inf, dtype=np.float32)
    tokens = 0
    for step in range(k):
        if step:
            # -1 marks chosen centers, so they are never chosen again even when every distance is 0
            order[step] = int(np.argmax(np.where(nearest < 0, -1.0, nearest * scale)))
        center = order[step]
        if max_tokens is not None and lengths is not None:
            tokens += int(lengths[center])
            if tokens > max_tokens:
                return order[: step + 1]
        np.minimum(nearest, _distances(vectors, center), out=nearest)
        nearest[center] = -1.0
    return order


def _distances(vectors: np.ndarray, center: int) -> np.ndarray:
    """Cosine distance of every row to row `center`, computed in float32 `CHUNK` rows at a time (rows of
    any float dtype: a float16 memory map is never copied whole)."""
    point = np.asarray(vectors[center], dtype=np.float32)
    out = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), CHUNK):
        out[start : start + CHUNK] = (
            1.0 - np.asarray(vectors[start : start + CHUNK], dtype=np.float32) @ point
        )
    return out


def kcenter_select(
    vectors: np.ndarray,
    budget: Budget,
    *,
    lengths: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Row indices chosen by k-center greedy within `budget` (`lengths`: token counts, for a token budget)."""
    k = budget.max_docs(len(vectors), lengths)
    order = kcenter_order(vectors, k, weights=weights, seed=seed, lengths=lengths, max_tokens=budget.tokens)
    return budget.take(order, lengths)
