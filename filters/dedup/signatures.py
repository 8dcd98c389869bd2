"""MinHash signatures and LSH band keys, as array operations.

Permutation k maps a shingle's 32-bit fold x to (a_k * x + b_k) mod 2^32 with a_k odd: a bijection of the
32-bit space, so each column of the signature is the minimum of the document's shingles under one random
permutation. Signatures are computed over chunks of whole documents (bounded memory) and reduced per
document with `np.minimum.reduceat`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from datasketch.lsh import _optimal_param

EMPTY = np.uint32(0xFFFFFFFF)
CHUNK = 8192  # shingles per block of the (shingles x permutations) product
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
    docs = doc_index[starts]
    # blocks of whole documents, about CHUNK shingles each
    cuts = np.unique(np.searchsorted(starts, np.arange(CHUNK, len(x), CHUNK), side="right") - 1)
    block_starts = np.unique(np.r_[0, cuts[cuts > 0]])
    block_bounds = np.r_[starts[block_starts], len(x)]
    doc_bounds = np.r_[block_starts, len(starts)]
    size = max(int(np.diff(block_bounds).max()), 1)

    def run(blocks: range) -> None:
        buffer = np.empty((size, num_perm), dtype=np.uint32)
        with np.errstate(over="ignore"):
            for i in blocks:
                lo, hi = block_bounds[i], block_bounds[i + 1]
                block = buffer[: hi - lo]
                np.multiply(x[lo:hi, None], a, out=block)
                np.add(block, b, out=block)
                first, last = doc_bounds[i], doc_bounds[i + 1]
                out[docs[first:last]] = np.minimum.reduceat(block, starts[first:last] - lo, axis=0)

    # numpy releases the GIL inside these loops: interleaved blocks on every core
    workers = min(THREADS, len(block_starts))
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, [range(w, len(block_starts), workers) for w in range(workers)]))
    return out


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
