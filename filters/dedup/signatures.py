"""MinHash signatures and LSH band keys, as array operations.

Permutation k maps a shingle's 32-bit fold x to (a_k * x + b_k) mod 2^32 with a_k odd: a bijection of the
32-bit space, so each column of the signature is the minimum of the document's shingles under one random
permutation. The minima are taken by a loop compiled with numba, on every core.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from datasketch.lsh import _optimal_param

EMPTY = np.uint32(0xFFFFFFFF)
THREADS = os.cpu_count() or 1


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
    doc_index: np.ndarray, hashes: np.ndarray, n_docs: int, num_perm: int = 128, seed: int = 1
) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures; a document without shingles gets all EMPTY."""
    a, b = permutations(num_perm, seed)
    out = np.full((n_docs, num_perm), EMPTY, dtype=np.uint32)
    if len(hashes) == 0:
        return out
    x = fold32(hashes)
    starts = np.flatnonzero(np.r_[True, doc_index[1:] != doc_index[:-1]])
    bounds = np.r_[starts, len(x)].astype(np.int64)
    docs = doc_index[starts].astype(np.int64)
    kernel = _kernel()
    # the compiled loop releases the GIL: one contiguous run of documents per core
    workers = max(1, min(THREADS, len(docs) // 64))
    cuts = np.linspace(0, len(docs), workers + 1).astype(np.int64)

    def run(w: int) -> None:
        kernel(x, bounds, docs, a, b, out, cuts[w], cuts[w + 1])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(workers)))
    return out


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


def band_parameters(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive and negative areas (datasketch's search)."""
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
