"""Interoperability with datasketch MinHash: bit-identical signatures, computed in batch.

`datasketch_signatures` reproduces `datasketch.MinHash(num_perm, seed)` fed every shingle as UTF-8 bytes
(default SHA1 hash) for a whole batch of documents at once; `to_lean_minhash` / `from_minhash` convert
between winnow's (n_docs, num_perm) uint64 arrays and datasketch objects, e.g. to query a `MinHashLSH`.

datasketch 2.0 has three permutation schemes and defaults to "affine32" (earlier versions only had what
it now calls "legacy"). `scheme=None` means the default of the installed datasketch, so results equal
`MinHash(num_perm=..., seed=...)` as written; pass the scheme of an existing index explicitly.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Literal

import datasketch
import numpy as np

Scheme = Literal["affine32", "affine64", "legacy"]
SCHEMES: tuple[str, ...] = ("affine32", "affine64", "legacy")

_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH32 = np.uint64((1 << 32) - 1)
#: permuted values per chunk (rows x num_perm); bounds the temporaries to ~32 MiB each
_CHUNK_VALUES = 1 << 22
#: MurmurHash3 finalizer constants (shift1, mult1, shift2, mult2, shift3), as datasketch's `_fmix`
_FMIX = {
    32: (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16)),
    64: (
        np.uint64(33),
        np.uint64(0xFF51AFD7ED558CCD),
        np.uint64(33),
        np.uint64(0xC4CEB9FE1A85EC53),
        np.uint64(33),
    ),
}


@lru_cache(maxsize=1)
def default_scheme() -> str:
    """The scheme of `datasketch.MinHash()` in the installed datasketch ("legacy" before 2.0)."""
    return getattr(datasketch.MinHash(num_perm=1), "scheme", "legacy")


def _resolve(scheme: str | None) -> str:
    scheme = default_scheme() if scheme is None else scheme
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    return scheme


@lru_cache(maxsize=64)
def datasketch_permutations(num_perm: int, seed: int, scheme: str) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's (a, b) permutation parameters for (num_perm, seed, scheme); cached, read-only."""
    if num_perm < 1:
        raise ValueError(f"num_perm must be positive, got {num_perm}")
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        # interleaved scalar draws a0, b0, a1, b1, ... exactly as MinHash._init_permutations
        draw = gen.randint
        pairs = [
            (draw(1, _MERSENNE_PRIME, dtype=np.uint64), draw(0, _MERSENNE_PRIME, dtype=np.uint64))
            for _ in range(num_perm)
        ]
        a, b = np.array(pairs, dtype=np.uint64).T.copy()
    else:
        width = 32 if scheme == "affine32" else 64
        dtype = np.uint32 if width == 32 else np.uint64
        a = gen.randint(0, 1 << (width - 1), num_perm, dtype=dtype) * dtype(2) + dtype(1)
        b = gen.randint(0, 1 << width, num_perm, dtype=dtype)
    a.flags.writeable = False
    b.flags.writeable = False
    return a, b


def _fmix(hv: np.ndarray, width: int) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX[width]
    hv = hv ^ (hv >> s1)
    hv *= m1
    hv ^= hv >> s2
    hv *= m2
    hv ^= hv >> s3
    return hv


def _sha1_prefix(shingles: Sequence[str], nbytes: int) -> np.ndarray:
    """First `nbytes` of each shingle's SHA1, little-endian (datasketch's sha1_hash32 / sha1_hash64)."""
    sha1 = hashlib.sha1
    digests = b"".join([sha1(s.encode("utf-8")).digest() for s in shingles])
    raw = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 20)[:, :nbytes]
    return np.ascontiguousarray(raw).view("<u4" if nbytes == 4 else "<u8").ravel()


def _permuted(hv: np.ndarray, a: np.ndarray, b: np.ndarray, scheme: str) -> np.ndarray:
    """(len(hv), num_perm) permuted hash values, with datasketch's wrap-around arithmetic."""
    if scheme == "legacy":
        # (a * hv + b) wraps mod 2^64 in uint64 before `% prime`, exactly as datasketch's numpy code
        out = np.multiply(hv.astype(np.uint64)[:, None], a)
        out += b
        np.remainder(out, _MERSENNE_PRIME, out=out)
        np.bitwise_and(out, _MAX_HASH32, out=out)
        return out
    width = 32 if scheme == "affine32" else 64
    out = np.multiply(_fmix(hv, width)[:, None], a)
    out += b
    return out


def _chunks(flat: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(itertools.islice(flat, size)):
        yield chunk


def datasketch_signatures(
    shingles: Sequence[Sequence[str]], num_perm: int = 128, seed: int = 1, scheme: Scheme | None = None
) -> np.ndarray:
    """(n_docs, num_perm) uint64 hash values identical to `datasketch.MinHash(num_perm, seed, scheme=...)`
    after `update(s.encode("utf-8"))` for every shingle s of each document (an empty document: all max
    values, as datasketch's initial state). `scheme=None`: the installed datasketch's default."""
    scheme = _resolve(scheme)
    a, b = datasketch_permutations(num_perm, seed, scheme)
    width = 64 if scheme == "affine64" else 32
    out = np.full((len(shingles), num_perm), (1 << width) - 1, dtype=a.dtype)
    lengths = np.fromiter(map(len, shingles), dtype=np.int64, count=len(shingles))
    nonempty = np.flatnonzero(lengths)
    if nonempty.size == 0:
        return out.astype(np.uint64, copy=False)
    # start of each nonempty document in the flattened shingle stream (strictly increasing)
    starts = np.concatenate(([0], np.cumsum(lengths[nonempty])[:-1]))
    rows = max(1, _CHUNK_VALUES // num_perm)
    begin = 0
    for chunk in _chunks(itertools.chain.from_iterable(shingles), rows):
        end = begin + len(chunk)
        permuted = _permuted(_sha1_prefix(chunk, width // 8), a, b, scheme)
        # documents overlapping [begin, end): the one containing `begin`, through the last starting before end
        first = int(np.searchsorted(starts, begin, side="right")) - 1
        last = int(np.searchsorted(starts, end, side="left"))
        bounds = np.maximum(starts[first:last], begin) - begin
        docs = nonempty[first:last]
        out[docs] = np.minimum(out[docs], np.minimum.reduceat(permuted, bounds, axis=0))
        begin = end
    if begin != int(lengths.sum()):
        raise ValueError("a document's shingles changed length while being read")
    return out.astype(np.uint64, copy=False)


def to_lean_minhash(
    signatures: np.ndarray, seed: int = 1, scheme: Scheme | None = None
) -> list[datasketch.LeanMinHash]:
    """One `datasketch.LeanMinHash` per signature row (e.g. to query or fill a `MinHashLSH`)."""
    scheme = _resolve(scheme)
    signatures = np.asarray(signatures)
    if signatures.ndim != 2 or signatures.shape[1] < 1:
        raise ValueError(f"signatures must be a (n_docs, num_perm) array, got shape {signatures.shape}")
    if signatures.dtype.kind not in "iu":
        raise ValueError(f"signatures must be integers, got {signatures.dtype}")
    if signatures.size and int(signatures.min()) < 0:
        raise ValueError("signatures must not be negative")
    if scheme != "affine64" and signatures.size and int(signatures.max()) > int(_MAX_HASH32):
        raise ValueError(f"signatures exceed 32 bits, impossible for scheme {scheme!r}")
    if not hasattr(datasketch.LeanMinHash, "scheme"):  # datasketch < 2.0: legacy only, no `scheme` argument
        return [datasketch.LeanMinHash(seed=seed, hashvalues=row) for row in signatures]
    return [datasketch.LeanMinHash(seed=seed, hashvalues=row, scheme=scheme) for row in signatures]


def from_minhash(objects: Iterable[datasketch.MinHash | datasketch.LeanMinHash]) -> np.ndarray:
    """(n, num_perm) uint64 hash values of datasketch MinHash / LeanMinHash objects ((0, 0) for none).

    All must share num_perm, seed and scheme: ValueError naming the first mismatch otherwise."""
    rows: list[np.ndarray] = []
    reference: tuple[int, int, str] | None = None
    for i, obj in enumerate(objects):
        key = (len(obj.hashvalues), obj.seed, getattr(obj, "scheme", "legacy"))
        if reference is None:
            reference = key
        elif key != reference:
            fields = zip(("num_perm", "seed", "scheme"), key, reference, strict=True)
            field, mine, theirs = next((f, m, t) for f, m, t in fields if m != t)
            raise ValueError(f"object {i} has {field}={mine!r}, but object 0 has {field}={theirs!r}")
        rows.append(obj.hashvalues)
    if not rows:
        return np.empty((0, 0), dtype=np.uint64)
    return np.vstack(rows).astype(np.uint64, copy=False)
