"""Shingles: word or character n-grams of normalised text, hashed to 64 bits, vectorised.

Words are runs of `\\w` characters (the text split on `\\W+`), so punctuation never matters; digits are kept.
A document with fewer tokens than `ngram` has one shingle made of all its tokens.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

from filters.dedup.normalize import DEFAULT, Normalization, normalize_series
from filters.dedup.word_hashes import mix64, word_hashes

Unit = Literal["word", "char"]
TOKEN_SEED = 0x5EED_7011
_MIX = np.uint64(0x9E3779B97F4A7C15)


def tokens(texts: pl.Series, unit: Unit = "word", normalization: Normalization = DEFAULT) -> pl.Series:
    """A list of tokens per text: words (`\\w+`) or characters of the normalised text."""
    normalized = normalize_series(texts, normalization, layout=unit == "char")
    if unit == "word":
        return normalized.str.extract_all(r"\w+")
    return normalized.str.split("").list.eval(pl.element().filter(pl.element() != ""))


def shingle_hashes(
    texts: pl.Series, *, ngram: int = 5, unit: Unit = "word", normalization: Normalization = DEFAULT
) -> tuple[np.ndarray, np.ndarray]:
    """(document index, 64-bit shingle hash) for every shingle of every text, in document order.

    Texts without any token have no shingles. Repeated shingles of a document are not removed.
    """
    if unit == "word":  # hashed by a compiled scan of the bytes: no list of token strings
        lengths, words = word_hashes(normalize_series(texts, normalization, layout=False))
    else:
        lists = tokens(texts, unit, normalization)
        lengths = lists.list.len().fill_null(0).to_numpy()
        flat = lists.explode()
        words = flat.filter(flat.is_not_null()).hash(seed=TOKEN_SEED).to_numpy()
    docs = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    total = len(words)
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.uint64)
    starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
    counts = np.diff(np.r_[starts, total])
    acc = words.copy()
    short_docs, short_hashes = [], []
    first = counts == 1
    short_docs.append(docs[starts[first]])
    short_hashes.append(acc[starts[first]])
    with np.errstate(over="ignore"):
        for k in range(2, ngram + 1):
            span = total - k + 1
            if span <= 0:
                break
            acc[:span] = ((acc[:span] << np.uint64(7)) | (acc[:span] >> np.uint64(57))) * _MIX ^ words[
                k - 1 :
            ]
            exact = counts == k if k < ngram else None
            if exact is not None and exact.any():
                short_docs.append(docs[starts[exact]])
                short_hashes.append(acc[starts[exact]])
        span = max(total - ngram + 1, 0)
        full = np.zeros(total, bool)
        full[:span] = docs[:span] == docs[ngram - 1 :]
        hashes = mix64(acc[full])
        doc_index = docs[full]
        # documents shorter than `ngram` have one shingle each: merge them in (both parts are sorted by doc)
        short_doc = np.concatenate(short_docs)
        if len(short_doc):
            order = np.argsort(short_doc, kind="stable")
            short_doc = short_doc[order]
            short_hash = mix64(np.concatenate(short_hashes)[order])
            at = np.searchsorted(doc_index, short_doc)
            doc_index = np.insert(doc_index, at, short_doc)
            hashes = np.insert(hashes, at, short_hash)
    return doc_index, hashes


def shingle_strings(
    text: str, *, ngram: int = 5, unit: Unit = "word", normalization: Normalization = DEFAULT
) -> list[str]:
    """The shingles of one text as strings (tokens joined by a space), for tools that hash strings."""
    words = tokens(pl.Series([text]), unit, normalization)[0].to_list()
    if not words:
        return []
    if len(words) < ngram:
        return [" ".join(words)]
    return [" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1)]
