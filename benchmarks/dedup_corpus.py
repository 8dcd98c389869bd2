"""A seeded near-duplicate corpus of up to 10,000,000 documents built from Reuters-21578, for scaling runs.

Every document is a Reuters text (../shared/data) in word form: lowercased, split on `\\W+` (the ground-truth
shingling of ../shared/data/README.md), words joined by single spaces. Two kinds of records:

- originals: a randomly drawn Reuters text with 15% of its words replaced by random corpus words (a unique
  seeded change); two originals drawn from the same Reuters text share only about 10% of their word 5-grams;
- planted near duplicates (7% of the documents by default): a copy of an earlier original in the same chunk
  of 100,000 documents, with words replaced at a rate chosen for a target word-5-gram Jaccard drawn
  uniformly from [0.5, 1.0] (a rate of 0 gives an exact copy). `planted_of` is the source's id and
  `planted_jaccard` the Jaccard actually achieved (exact, over the shingle sets; null for originals).

Records are JSON Lines with `id`, `text`, `planted_of`, `planted_jaccard`. Chunks depend only on the seed
and their index, so the first N documents of a larger corpus are themselves a valid corpus; every planted
copy comes after its source. All of it is vectorised (numpy, pyarrow, polars): 1M documents take about a
minute and write about 0.9 GB.

    python benchmarks/dedup_corpus.py OUT.jsonl [--docs 1000000] [--seed 0] [--planted-fraction 0.07]
"""

from __future__ import annotations

import argparse
import gzip
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
REUTERS = ROOT.parent / "shared" / "data" / "reuters21578.jsonl.gz"
MAX_DOCS = 10_000_000
CHUNK = 100_000
NGRAM = 5
MIN_WORDS = 50  # shorter Reuters texts are not used: two 15%-mutated copies of one could stay near duplicates
ORIGINAL_REPLACE = 0.15
JACCARD_RANGE = (0.5, 1.0)
WORD = re.compile(r"\w+")  # re.findall(\w+) == re.split(\W+) without the empty pieces
_PRIME = np.uint64(0x100000001B3)
_KEY_BITS = 40  # hash bits kept next to the pair index when comparing shingle sets


@dataclass(frozen=True)
class Base:
    """The Reuters texts as word ids: a flat token array with per-text offsets, and the vocabulary."""

    tokens: np.ndarray  # int32 word ids of every eligible text, concatenated
    starts: np.ndarray  # int64 start of each text in `tokens`
    lengths: np.ndarray  # int64 words per text
    vocab: pa.Array  # word id -> word


@dataclass(frozen=True)
class CorpusInfo:
    """What `write_corpus` wrote."""

    docs: int
    planted: int
    planted_at_least: dict[float, int]
    seconds: float


def load_base(path: Path = REUTERS) -> Base:
    """Tokenise Reuters once, exactly as the ground truth does (Python's `\\w`, lowercased)."""
    with gzip.open(path, "rb") as handle:
        texts = pl.read_ndjson(handle.read())["text"].to_list()
    docs = [WORD.findall(text.lower()) for text in texts]
    docs = [words for words in docs if len(words) >= MIN_WORDS]
    lengths = np.array([len(words) for words in docs], dtype=np.int64)
    words = np.array([word for doc in docs for word in doc], dtype=object)
    vocab, ids = np.unique(words, return_inverse=True)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return Base(ids.astype(np.int32), starts, lengths, pa.array(vocab.tolist(), pa.string()))


def _gather(tokens: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of tokens[starts[i] : starts[i] + lengths[i]] for every i, without a Python loop."""
    offsets = np.cumsum(lengths) - lengths
    index = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - offsets, lengths)
    return tokens[index]


def _replace(tokens: np.ndarray, rate: np.ndarray, base: Base, rng: np.random.Generator) -> np.ndarray:
    """Replace each token with probability `rate` (one per token) by a corpus word (frequency-weighted)."""
    mask = rng.random(tokens.size) < rate
    tokens = tokens.copy()
    tokens[mask] = base.tokens[rng.integers(0, base.tokens.size, int(mask.sum()))]
    return tokens


def _shingle_keys(tokens: np.ndarray, lengths: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Unique (group << 40 | 40-bit shingle hash) keys: each document's word 5-gram set, tagged by group."""
    words = tokens.astype(np.uint64) + np.uint64(1)
    n = words.size
    h = np.zeros(max(n - NGRAM + 1, 0), dtype=np.uint64)
    for k in range(NGRAM):
        h = h * _PRIME + words[k : k + h.size]
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    starts = np.cumsum(lengths) - lengths
    position = np.arange(h.size) - np.repeat(starts, lengths)[: h.size]
    owner = np.repeat(np.arange(lengths.size), lengths)[: h.size]
    valid = position <= lengths[owner] - NGRAM  # every document has >= MIN_WORDS > NGRAM words
    keys = (group[owner[valid]].astype(np.uint64) << np.uint64(_KEY_BITS)) | (
        h[valid] >> np.uint64(64 - _KEY_BITS)
    )
    return np.unique(keys)


def _jaccard(a: np.ndarray, a_len: np.ndarray, b: np.ndarray, b_len: np.ndarray) -> np.ndarray:
    """Exact word-5-gram Jaccard of document pairs (a[i], b[i]), all pairs at once."""
    pairs = np.arange(a_len.size)
    keys_a, keys_b = _shingle_keys(a, a_len, pairs), _shingle_keys(b, b_len, pairs)
    shift = np.uint64(_KEY_BITS)
    size_a = np.bincount((keys_a >> shift).astype(np.int64), minlength=pairs.size)
    size_b = np.bincount((keys_b >> shift).astype(np.int64), minlength=pairs.size)
    common = np.intersect1d(keys_a, keys_b, assume_unique=True)
    both = np.bincount((common >> shift).astype(np.int64), minlength=pairs.size)
    return both / (size_a + size_b - both)


def make_chunk(base: Base, index: int, size: int, seed: int, planted_fraction: float) -> pl.DataFrame:
    """Documents index * CHUNK ... index * CHUNK + size - 1 of the corpus, in their final order."""
    rng = np.random.default_rng([seed, index])
    planted = round(size * planted_fraction)
    originals = size - planted

    picks = rng.integers(0, base.lengths.size, originals)
    orig_len = base.lengths[picks]
    orig_tokens = _gather(base.tokens, base.starts[picks], orig_len)
    orig_tokens = _replace(orig_tokens, np.full(orig_tokens.size, ORIGINAL_REPLACE), base, rng)
    orig_starts = np.cumsum(orig_len) - orig_len

    sources = rng.choice(originals, planted, replace=False)
    target = rng.uniform(*JACCARD_RANGE, planted)
    # shingles survive when none of their 5 words changed: s = (1 - q)^5, and J = s / (2 - s)
    rate = 1.0 - (2.0 * target / (1.0 + target)) ** (1.0 / NGRAM)
    copy_len = orig_len[sources]
    copy_src = _gather(orig_tokens, orig_starts[sources], copy_len)
    copy_tokens = _replace(copy_src, np.repeat(rate, copy_len), base, rng)
    achieved = _jaccard(copy_src, copy_len, copy_tokens, copy_len)

    # final positions: a random order in which each copy comes after its source
    position = rng.permutation(size)
    src_pos, copy_pos = position[sources], position[originals:]
    swap = copy_pos < src_pos
    position[sources[swap]], position[originals + np.flatnonzero(swap)] = copy_pos[swap], src_pos[swap]

    tokens = np.concatenate([orig_tokens, copy_tokens])
    lengths = np.concatenate([orig_len, copy_len])
    starts = np.cumsum(lengths) - lengths
    order = np.argsort(position)  # document (originals then copies) at each final position
    ordered_len = lengths[order]
    ordered = _gather(tokens, starts[order], ordered_len)
    offsets = pa.array(np.concatenate([[0], np.cumsum(ordered_len)]).astype(np.int32))
    words = pa.ListArray.from_arrays(offsets, base.vocab.take(pa.array(ordered)))
    text = pl.from_arrow(words).list.join(" ")

    first = index * CHUNK
    planted_of = np.full(size, -1, dtype=np.int64)
    planted_of[originals:] = position[sources] + first
    jaccard = np.full(size, np.nan)
    jaccard[originals:] = achieved
    return pl.DataFrame(
        {
            "id": _ids(position[order] + first),
            "text": text,
            "planted_of": _ids(planted_of[order]),
            "planted_jaccard": pl.Series(jaccard[order]).fill_nan(None).round(6),
        }
    )


def _ids(numbers: np.ndarray) -> pl.Series:
    """doc-0000042 style ids; negative numbers become null."""
    series = pl.Series(numbers)
    formatted = pl.format("doc-{}", series.cast(pl.String).str.zfill(7))
    return pl.select(pl.when(series >= 0).then(formatted)).to_series()


def write_corpus(
    path: Path, docs: int, *, seed: int = 0, planted_fraction: float = 0.07, base: Base | None = None
) -> CorpusInfo:
    """Write `docs` documents (at most 10,000,000) to `path` as JSON Lines."""
    if not 0 < docs <= MAX_DOCS:
        raise ValueError(f"docs must be in 1..{MAX_DOCS:,}, got {docs:,}")
    started = time.perf_counter()
    base = base or load_base()
    planted, at_least = 0, dict.fromkeys((0.5, 0.8, 0.9), 0)
    with open(path, "wb") as handle:
        for index in range((docs + CHUNK - 1) // CHUNK):
            chunk = make_chunk(base, index, min(CHUNK, docs - index * CHUNK), seed, planted_fraction)
            chunk.write_ndjson(handle)
            jaccard = chunk["planted_jaccard"].drop_nulls()
            planted += jaccard.len()
            for level in at_least:
                at_least[level] += int((jaccard >= level).sum())
    return CorpusInfo(docs, planted, at_least, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--planted-fraction", type=float, default=0.07)
    args = parser.parse_args()
    info = write_corpus(args.out, args.docs, seed=args.seed, planted_fraction=args.planted_fraction)
    levels = ", ".join(f">= {level}: {count:,}" for level, count in info.planted_at_least.items())
    print(
        f"{info.docs:,} documents, {info.planted:,} planted near duplicates ({levels}), "
        f"{args.out.stat().st_size / 2**20:,.0f} MiB in {info.seconds:.1f} s -> {args.out}"
    )


if __name__ == "__main__":
    main()
