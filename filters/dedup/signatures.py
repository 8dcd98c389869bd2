"""MinHash signatures and LSH band keys, as array operations.

Permutation k maps a shingle's 32-bit fold x to (a_k * x + b_k) mod 2^32 with a_k odd: a bijection of the
32-bit space, so each column of the signature is the minimum of the document's shingles under one random
permutation. The minima are taken by a loop compiled with numba, on every core, or for a small input in a
process that has not loaded numba yet, by numpy in cache-sized blocks (`compiled`; the same minima).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from filters.dedup.compiled import COMPILED_FROM_SHINGLES, use_compiled

EMPTY = np.uint32(0xFFFFFFFF)
THREADS = os.cpu_count() or 1
#: shingles per numpy block: 1,024 x 128 permutations x 4 bytes stays in a core's L2 cache
BLOCK = 1024


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) coefficients of `num_perm` permutations, from a seeded generator."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**32, num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    b = rng.integers(0, 2**32, num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def fold32(hashes: np.ndarray) -> np.ndarray:
    """64-bit shingle hashes folded to 32 bits."""
    return (hashes ^ (hashes >> np.uint64(32))).astype(np.uint32)


def signatures(
    doc_index: np.ndarray,
    hashes: np.ndarray,
    n_docs: int,
    num_perm: int = 128,
    seed: int = 1,
    *,
    compiled: bool | None = None,
) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures; a document without shingles gets all EMPTY;
    `compiled` as `use_compiled` decides."""
    a, b = permutations(num_perm, seed)
    out = np.full((n_docs, num_perm), EMPTY, dtype=np.uint32)
    if len(hashes) == 0:
        return out
    x = fold32(hashes)
    starts = np.flatnonzero(np.r_[True, doc_index[1:] != doc_index[:-1]])
    bounds = np.r_[starts, len(x)].astype(np.int64)
    docs = doc_index[starts].astype(np.int64)
    if not use_compiled(len(x), COMPILED_FROM_SHINGLES, compiled):
        _numpy_minima(x, bounds, docs, a, b, out)
        return out
    kernel = _kernel()
    # the compiled loop releases the GIL: one contiguous run of documents per core
    workers = max(1, min(THREADS, len(docs) // 64))
    cuts = np.linspace(0, len(docs), workers + 1).astype(np.int64)

    def run(w: int) -> None:
        kernel(x, bounds, docs, a, b, out, cuts[w], cuts[w + 1])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(workers)))
    return out


def _numpy_minima(
    x: np.ndarray, bounds: np.ndarray, docs: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray
) -> None:
    """The signature rows by numpy, BLOCK shingles at a time: their (shingles, permutations) values computed
    in place in uint32 (so mod 2^32), reduced per document, and folded into the documents' rows (a document
    may span blocks)."""
    buffer = np.empty((BLOCK, len(a)), dtype=np.uint32)
    for start in range(0, len(x), BLOCK):
        end = min(start + BLOCK, len(x))
        block = buffer[: end - start]
        np.multiply(x[start:end, None], a, out=block)
        np.add(block, b, out=block)
        first = int(np.searchsorted(bounds, start, side="right")) - 1  # the document holding `start`
        last = int(np.searchsorted(bounds, end, side="left"))  # past the last document before `end`
        cuts = np.r_[start, bounds[first + 1 : last]] - start
        rows = docs[first:last]
        out[rows] = np.minimum(out[rows], np.minimum.reduceat(block, cuts, axis=0))


@lru_cache(maxsize=1)
def _kernel() -> Callable[..., None]:
    """The signature loop compiled by numba (imported here: only MinHash pays its import and compile).

    For each document and permutation: the minimum over its shingles of (a * x + b) mod 2^32, in one
    pass over the shingles with the row of minima in cache (numpy's shingles x permutations blocks
    reduced with `minimum.reduceat` took five times as long on 50,000 Reuters-sized documents).
    """
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def minhash_rows(x, bounds, docs, a, b, out, first, last):
        for d in range(first, last):
            row = out[docs[d]]
            for i in range(bounds[d], bounds[d + 1]):
                v = x[i]
                for k in range(a.shape[0]):
                    h = np.uint32(v * a[k] + b[k])
                    if h < row[k]:
                        row[k] = h

    return minhash_rows


#: datasketch's search (`band_parameters`) for the stage's weights (0.05, 0.95) and datasketch's (0.5, 0.5) at
#: common thresholds and permutations, so that a run with them does not import datasketch and scipy.integrate
#: (a third of a second); `tests/filters/dedup/test_minhash.py` checks every entry against the search
KNOWN_BANDS: dict[tuple[float, int, float, float], tuple[int, int]] = {
    (0.5, 64, 0.05, 0.95): (21, 3),
    (0.55, 64, 0.05, 0.95): (19, 3),
    (0.6, 64, 0.05, 0.95): (16, 4),
    (0.65, 64, 0.05, 0.95): (16, 4),
    (0.7, 64, 0.05, 0.95): (12, 5),
    (0.75, 64, 0.05, 0.95): (12, 5),
    (0.8, 64, 0.05, 0.95): (10, 6),
    (0.85, 64, 0.05, 0.95): (8, 8),
    (0.9, 64, 0.05, 0.95): (6, 10),
    (0.95, 64, 0.05, 0.95): (4, 16),
    (0.5, 128, 0.05, 0.95): (26, 3),
    (0.55, 128, 0.05, 0.95): (32, 4),
    (0.6, 128, 0.05, 0.95): (24, 4),
    (0.65, 128, 0.05, 0.95): (25, 5),
    (0.7, 128, 0.05, 0.95): (21, 6),
    (0.75, 128, 0.05, 0.95): (18, 7),
    (0.8, 128, 0.05, 0.95): (16, 8),
    (0.85, 128, 0.05, 0.95): (12, 10),
    (0.9, 128, 0.05, 0.95): (9, 14),
    (0.95, 128, 0.05, 0.95): (6, 21),
    (0.5, 256, 0.05, 0.95): (53, 4),
    (0.55, 256, 0.05, 0.95): (51, 5),
    (0.6, 256, 0.05, 0.95): (41, 5),
    (0.65, 256, 0.05, 0.95): (42, 6),
    (0.7, 256, 0.05, 0.95): (36, 7),
    (0.75, 256, 0.05, 0.95): (30, 8),
    (0.8, 256, 0.05, 0.95): (25, 10),
    (0.85, 256, 0.05, 0.95): (19, 13),
    (0.9, 256, 0.05, 0.95): (15, 17),
    (0.95, 256, 0.05, 0.95): (9, 28),
    (0.5, 64, 0.5, 0.5): (14, 4),
    (0.55, 64, 0.5, 0.5): (12, 5),
    (0.6, 64, 0.5, 0.5): (10, 6),
    (0.65, 64, 0.5, 0.5): (9, 7),
    (0.7, 64, 0.5, 0.5): (8, 8),
    (0.75, 64, 0.5, 0.5): (7, 9),
    (0.8, 64, 0.5, 0.5): (5, 11),
    (0.85, 64, 0.5, 0.5): (4, 15),
    (0.9, 64, 0.5, 0.5): (3, 21),
    (0.95, 64, 0.5, 0.5): (2, 32),
    (0.5, 128, 0.5, 0.5): (25, 5),
    (0.55, 128, 0.5, 0.5): (21, 6),
    (0.6, 128, 0.5, 0.5): (18, 7),
    (0.65, 128, 0.5, 0.5): (16, 8),
    (0.7, 128, 0.5, 0.5): (14, 9),
    (0.75, 128, 0.5, 0.5): (11, 11),
    (0.8, 128, 0.5, 0.5): (9, 13),
    (0.85, 128, 0.5, 0.5): (8, 16),
    (0.9, 128, 0.5, 0.5): (5, 25),
    (0.95, 128, 0.5, 0.5): (3, 42),
    (0.5, 256, 0.5, 0.5): (42, 6),
    (0.55, 256, 0.5, 0.5): (36, 7),
    (0.6, 256, 0.5, 0.5): (32, 8),
    (0.65, 256, 0.5, 0.5): (28, 9),
    (0.7, 256, 0.5, 0.5): (25, 10),
    (0.75, 256, 0.5, 0.5): (21, 12),
    (0.8, 256, 0.5, 0.5): (17, 15),
    (0.85, 256, 0.5, 0.5): (13, 19),
    (0.9, 256, 0.5, 0.5): (9, 28),
    (0.95, 256, 0.5, 0.5): (5, 51),
}


def band_parameters(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive and negative areas (datasketch's search)."""
    known = KNOWN_BANDS.get((threshold, num_perm, false_positive_weight, false_negative_weight))
    if known is not None:
        return known
    from datasketch.lsh import _optimal_param  # imports scipy.integrate

    bands, rows = _optimal_param(threshold, num_perm, false_positive_weight, false_negative_weight)
    return int(bands), int(rows)


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n_docs, bands) uint64: a hash of each band's `rows` signature values."""
    keys = np.empty((sigs.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            h = np.full(sigs.shape[0], np.uint64(0xCBF29CE484222325) ^ np.uint64(band))
            for column in sigs[:, band * rows : (band + 1) * rows].T:
                h = (h ^ column.astype(np.uint64)) * np.uint64(0x100000001B3)
            keys[:, band] = h ^ (h >> np.uint64(29))
    return keys
