from __future__ import annotations

import random

import datasketch
import numpy as np
import pytest

from filters.dedup import datasketch_compat
from filters.dedup.datasketch_compat import (
    datasketch_permutations,
    datasketch_signatures,
    default_scheme,
    from_minhash,
    to_lean_minhash,
)

ALPHABET = "abcdefghijklmnopqrstuvwxyzäöüßéçøłжщ中文字日本語🙂 "


def reference(docs: list[list[str]], num_perm: int, seed: int, scheme: str | None = None) -> np.ndarray:
    """datasketch's own hash values, one `update` per shingle."""
    rows = []
    for doc in docs:
        m = datasketch.MinHash(num_perm=num_perm, seed=seed, **({} if scheme is None else {"scheme": scheme}))
        for shingle in doc:
            m.update(shingle.encode("utf-8"))
        rows.append(m.hashvalues)
    return np.array(rows, dtype=np.uint64).reshape(len(docs), num_perm)


def generated_docs(n: int = 200, rng_seed: int = 0) -> list[list[str]]:
    """Documents of 0, 1 and many shingles: unicode, repeated, and shared across documents."""
    rng = random.Random(rng_seed)
    pool = ["".join(rng.choices(ALPHABET, k=rng.randint(1, 12))) for _ in range(400)]
    docs: list[list[str]] = [[], [pool[0]], ["🙂"], [""], [pool[1]] * 5]
    while len(docs) < n:
        length = rng.choice([0, 1, 2, rng.randint(3, 40), rng.randint(40, 120)])
        doc = rng.choices(pool, k=length)
        if doc and rng.random() < 0.3:
            doc += doc[: rng.randint(1, len(doc))]  # repeated shingles
        docs.append(doc)
    return docs


def words_text(rng: random.Random, n_words: int = 150) -> list[str]:
    return ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(n_words)]


def shingles(words: list[str], k: int = 3) -> list[str]:
    return [" ".join(words[i : i + k]) for i in range(len(words) - k + 1)]


def datasketch_minhash(doc: list[str], num_perm: int, seed: int, scheme: str) -> datasketch.MinHash:
    m = datasketch.MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
    m.update_batch([s.encode("utf-8") for s in doc])
    return m


@pytest.mark.parametrize("num_perm", [64, 128, 256])
@pytest.mark.parametrize("seed", [1, 20240607])
def test_signatures_equal_datasketch_default_minhash(num_perm: int, seed: int) -> None:
    docs = generated_docs()
    got = datasketch_signatures(docs, num_perm=num_perm, seed=seed)
    assert got.dtype == np.uint64
    assert got.shape == (len(docs), num_perm)
    np.testing.assert_array_equal(got, reference(docs, num_perm, seed))
    assert (got[0] == (1 << 32) - 1).all()  # empty document: datasketch's initial state


@pytest.mark.parametrize("scheme", ["legacy", "affine32", "affine64"])
@pytest.mark.parametrize("seed", [1, 7])
def test_signatures_equal_datasketch_for_every_scheme(scheme: str, seed: int) -> None:
    docs = generated_docs(120, rng_seed=seed)
    for num_perm in (64, 128, 256):
        got = datasketch_signatures(docs, num_perm=num_perm, seed=seed, scheme=scheme)  # type: ignore[arg-type]
        np.testing.assert_array_equal(got, reference(docs, num_perm, seed, scheme))


@pytest.mark.parametrize("scheme", ["legacy", "affine32"])
def test_documents_spanning_chunks(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    docs = generated_docs(80, rng_seed=3)
    monkeypatch.setattr(datasketch_compat, "_CHUNK_VALUES", 64 * 7)  # 7 shingles per chunk
    got = datasketch_signatures(docs, num_perm=64, seed=5, scheme=scheme)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, reference(docs, 64, 5, scheme))


def test_empty_inputs() -> None:
    assert datasketch_signatures([], num_perm=32).shape == (0, 32)
    only_empty = datasketch_signatures([[], []], num_perm=16, scheme="affine64")
    assert (only_empty == np.iinfo(np.uint64).max).all()
    assert from_minhash([]).shape == (0, 0)


@pytest.mark.parametrize("scheme", ["legacy", "affine32", "affine64"])
def test_permutations_are_datasketchs_and_cached(scheme: str) -> None:
    a, b = datasketch_permutations(96, 3, scheme)
    expected = datasketch.MinHash(num_perm=96, seed=3, scheme=scheme).permutations
    np.testing.assert_array_equal(a, expected[0])
    np.testing.assert_array_equal(b, expected[1])
    assert datasketch_permutations(96, 3, scheme)[0] is a
    assert not a.flags.writeable


def test_default_scheme_is_datasketchs() -> None:
    assert default_scheme() == getattr(datasketch.MinHash(), "scheme", "legacy")


@pytest.mark.parametrize("scheme", [None, "legacy", "affine64"])
def test_to_lean_minhash_matches_datasketch(scheme: str | None) -> None:
    docs = generated_docs(40, rng_seed=11)
    sig = datasketch_signatures(docs, num_perm=128, seed=9, scheme=scheme)  # type: ignore[arg-type]
    leans = to_lean_minhash(sig, seed=9, scheme=scheme)  # type: ignore[arg-type]
    resolved = scheme or default_scheme()
    assert len(leans) == len(docs)
    for doc, lean, row in zip(docs, leans, sig, strict=True):
        own = datasketch.MinHash(num_perm=128, seed=9, scheme=resolved)
        for shingle in doc:
            own.update(shingle.encode("utf-8"))
        assert isinstance(lean, datasketch.LeanMinHash)
        assert lean.seed == 9 and lean.scheme == resolved
        np.testing.assert_array_equal(lean.hashvalues, row)
        assert lean.hashvalues.dtype == own.hashvalues.dtype  # LSH band keys hash the raw bytes
        assert lean.jaccard(own) == 1.0
        assert lean == datasketch.LeanMinHash(own)


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
def test_lsh_index_built_by_datasketch_answers_winnow_queries(scheme: str) -> None:
    rng = random.Random(42)
    originals = [words_text(rng) for _ in range(25)]
    lsh = datasketch.MinHashLSH(threshold=0.8, num_perm=128)
    for i, words in enumerate(originals):
        lsh.insert(f"doc{i}", datasketch_minhash(shingles(words), 128, 1, scheme))

    near = []
    for words in originals:
        edited = list(words)
        edited[rng.randrange(len(edited))] = "edited"  # one word of 150 changed: Jaccard ~0.96
        near.append(shingles(edited))
    unrelated = [shingles(words_text(rng)) for _ in range(25)]
    leans = to_lean_minhash(
        datasketch_signatures(near + unrelated, num_perm=128, seed=1, scheme=scheme), seed=1, scheme=scheme
    )  # type: ignore[arg-type]

    for i, lean in enumerate(leans[: len(near)]):
        assert lsh.query(lean) == [f"doc{i}"]
    for lean in leans[len(near) :]:
        assert lsh.query(lean) == []


def test_from_minhash_round_trip() -> None:
    docs = generated_docs(30, rng_seed=5)
    sig = datasketch_signatures(docs, num_perm=64, seed=4)
    back = from_minhash(to_lean_minhash(sig, seed=4))
    assert back.dtype == np.uint64
    np.testing.assert_array_equal(back, sig)
    own = [datasketch_minhash(doc, 64, 4, default_scheme()) for doc in docs]
    np.testing.assert_array_equal(from_minhash(own), sig)
    np.testing.assert_array_equal(from_minhash(iter(own)), sig)  # any iterable, mixing MinHash and Lean
    mixed = [datasketch.LeanMinHash(m) if i % 2 else m for i, m in enumerate(own)]
    np.testing.assert_array_equal(from_minhash(mixed), sig)


def test_from_minhash_rejects_mixed_parameters() -> None:
    base = [datasketch.MinHash(num_perm=64, seed=1) for _ in range(3)]
    with pytest.raises(ValueError, match=r"object 2 has seed=2, but object 0 has seed=1"):
        from_minhash([*base[:2], datasketch.MinHash(num_perm=64, seed=2), datasketch.MinHash(num_perm=32)])
    with pytest.raises(ValueError, match=r"object 1 has num_perm=128, but object 0 has num_perm=64"):
        from_minhash([base[0], datasketch.MinHash(num_perm=128, seed=1)])
    with pytest.raises(ValueError, match=r"object 1 has scheme='legacy'"):
        from_minhash([base[0], datasketch.MinHash(num_perm=64, seed=1, scheme="legacy")])


def test_to_lean_minhash_validates() -> None:
    with pytest.raises(ValueError, match="shape"):
        to_lean_minhash(np.zeros(8, dtype=np.uint64))
    with pytest.raises(ValueError, match="32 bits"):
        to_lean_minhash(np.full((1, 8), 1 << 40, dtype=np.uint64), scheme="legacy")
    with pytest.raises(ValueError, match="scheme must be one of"):
        datasketch_signatures([["a"]], scheme="affine16")  # type: ignore[arg-type]
