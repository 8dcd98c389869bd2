"""MinHash signatures: numpy's blocks and the compiled loop give the same minima, and which runs when."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from filters.dedup import compiled as compiled_module
from filters.dedup.compiled import use_compiled
from filters.dedup.shingles import shingle_hashes
from filters.dedup.signatures import BLOCK, EMPTY, permutations, signatures
from tests.conftest import shared_file


@pytest.mark.shared_data
def test_numpy_and_compiled_signatures_are_the_same_minima() -> None:
    texts = pl.read_ndjson(shared_file("c4_sample1k.jsonl.gz"))["text"].head(300)
    texts = pl.concat([texts, pl.Series(["", "one", " ".join(["long"] * (3 * BLOCK))])])  # empty, short, long
    doc, hashes = shingle_hashes(texts)
    by_numpy = signatures(doc, hashes, len(texts), num_perm=64, seed=3, compiled=False)
    by_numba = signatures(doc, hashes, len(texts), num_perm=64, seed=3, compiled=True)
    assert np.array_equal(by_numpy, by_numba)
    assert (by_numpy[-3] == EMPTY).all() and not (by_numpy[:-3] == EMPTY).all(axis=1).any()


def test_a_signature_is_the_minimum_of_its_shingles_under_each_permutation() -> None:
    """One document checked in plain Python integers, mod 2^32."""
    hashes = np.array([1, 2**40 + 7, 123_456_789_012], dtype=np.uint64)
    a, b = permutations(8, 5)
    folded = [(int(h) ^ (int(h) >> 32)) & 0xFFFFFFFF for h in hashes]
    expected = [min((int(a[k]) * x + int(b[k])) % 2**32 for x in folded) for k in range(8)]
    for compiled in (True, False):
        got = signatures(np.zeros(3, np.int64), hashes, 1, num_perm=8, seed=5, compiled=compiled)
        assert got[0].tolist() == expected


def test_small_inputs_run_on_numpy_until_the_compiled_loop_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled_module, "_loaded", False)
    assert not use_compiled(10, 100)
    assert use_compiled(10, 100, compiled=True)  # forced: now loaded
    assert use_compiled(10, 100)
    monkeypatch.setattr(compiled_module, "_loaded", False)
    assert use_compiled(100, 100) and use_compiled(1, 100)
    assert not use_compiled(10**9, 100, compiled=False)
