"""The words of many texts hashed to 64 bits in one compiled pass over their bytes (no token strings made).

A word is a run of `\\w` characters, as `str.extract_all(r"\\w+")` finds them. Every text is scanned as it
is: a word is a run of `[0-9A-Za-z_]` bytes. A text with a non-ASCII byte is then scanned again after polars'
Unicode regex has replaced every run of `\\W` by one space: a word is a run of non-space bytes. The words, and
so their hashes, are the regex's. Each word's hash is 64-bit FNV-1a over its UTF-8
bytes, from a seeded basis, finished by splitmix64's mixer. The scan is a loop compiled by numba (the
regex's list of strings took two thirds of MinHash's summarize); a small input, in a process that has not
loaded numba yet, takes the regex's words and hashes them with numpy instead (`compiled`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import polars as pl

from filters.dedup.compiled import COMPILED_FROM_BYTES, use_compiled

SEED = 0x5EED_7012
FNV_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
#: numpy hashes the words one byte position at a time: a longer word sends a small input to the compiled scan
LONGEST_NUMPY_WORD = 1_000


#: word bytes of a plain-ASCII text: [0-9A-Za-z_]
ASCII_WORD = np.zeros(256, dtype=np.bool_)
for _low, _high in ((48, 57), (65, 90), (97, 122), (95, 95)):
    ASCII_WORD[_low : _high + 1] = True
#: word bytes of a text whose non-word runs became single spaces: everything but the space
NOT_SPACE = np.ones(256, dtype=np.bool_)
NOT_SPACE[32] = False


def word_hashes(texts: pl.Series, *, compiled: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(words per text: int64, every word's hash in text order: uint64) of already normalised `texts`
    (a null text has no words); `compiled` as `use_compiled` decides (the results are the same)."""
    texts = texts.cast(pl.String).fill_null("")
    data, offsets = _buffers(texts)
    if not use_compiled(len(data), COMPILED_FROM_BYTES, compiled):
        words = texts.str.extract_all(r"\w+")
        flat = words.explode().drop_nulls()
        if compiled is False or (flat.str.len_bytes().max() or 0) <= LONGEST_NUMPY_WORD:
            return words.list.len().fill_null(0).to_numpy().astype(np.int64), hash_strings(flat)
        use_compiled(len(data), COMPILED_FROM_BYTES, compiled=True)  # a very long word: the compiled scan
    count, fill = _kernels()
    basis = np.uint64(FNV_BASIS ^ SEED)
    counts = np.zeros(len(texts), dtype=np.int64)
    wide = np.zeros(len(texts), dtype=np.bool_)
    count(data, offsets, ASCII_WORD, counts, wide)
    if wide.any():  # non-ASCII texts: runs of non-word characters become one space, words are the rest
        rows = np.flatnonzero(wide)
        spaced = texts.gather(rows).str.replace_all(r"\W+", " ")
        spaced_data, spaced_offsets = _buffers(spaced)
        spaced_counts = np.zeros(len(rows), dtype=np.int64)
        count(spaced_data, spaced_offsets, NOT_SPACE, spaced_counts, np.zeros(len(rows), dtype=np.bool_))
        counts[rows] = spaced_counts
    starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    hashes = np.empty(int(counts.sum()), dtype=np.uint64)
    fill(data, offsets, ASCII_WORD, starts, wide, hashes, basis)
    if wide.any():
        fill(
            spaced_data, spaced_offsets, NOT_SPACE, starts[rows], np.zeros(len(rows), np.bool_), hashes, basis
        )
    return counts, hashes


def hash_strings(strings: pl.Series) -> np.ndarray:
    """Each string's hash as `word_hashes` gives it for a word (uint64), by numpy: one step over the byte
    at position j of every string longer than j, the strings ordered longest first."""
    data, offsets = _buffers(strings.cast(pl.String).fill_null(""))
    lengths = np.diff(offsets)
    order = np.argsort(-lengths, kind="stable")
    at = offsets[:-1][order]
    longer = np.searchsorted(-lengths[order], -np.arange(lengths.max(initial=0)), side="left")
    h = np.full(len(lengths), FNV_BASIS ^ SEED, dtype=np.uint64)
    prime = np.uint64(FNV_PRIME)
    for j, n in enumerate(longer.tolist()):
        h[:n] = (h[:n] ^ data[at[:n] + j]) * prime
    out = np.empty_like(h)
    out[order] = mix64(h)
    return out


def mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (uint64): every input bit affects every output bit."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _buffers(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes (uint8) and the n + 1 offsets (int64) of a string Series without nulls."""
    array = texts.rechunk().to_arrow()
    if array.type != "large_string":
        array = array.cast("large_string")
    _, offsets, data = array.buffers()
    positions = np.frombuffer(offsets, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    return raw, positions


@lru_cache(maxsize=1)
def _kernels() -> tuple[Callable[..., None], Callable[..., None]]:
    """(count the words of each text, hash them) compiled by numba (imported here, as the signature loop);
    `table[byte]` says whether a byte belongs to a word."""
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def count(data, offsets, table, counts, wide):
        for row in range(len(counts)):
            words, inside, high = 0, False, False
            for i in range(offsets[row], offsets[row + 1]):
                b = data[i]
                word = table[b]
                if word and not inside:
                    words += 1
                inside = word
                high |= b >= 128
            counts[row] = words
            wide[row] = high

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def fill(data, offsets, table, starts, skip, out, basis):
        prime = np.uint64(FNV_PRIME)
        for row in range(len(starts)):
            if skip[row]:
                continue
            at, inside, h, end = starts[row], False, basis, offsets[row + 1]
            for i in range(offsets[row], end + 1):
                word = i < end and table[data[i]]
                if word:
                    if not inside:
                        h = basis
                    h = (h ^ np.uint64(data[i])) * prime
                elif inside:  # splitmix64's finaliser
                    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
                    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
                    out[at] = h ^ (h >> np.uint64(31))
                    at += 1
                inside = word

    return count, fill
