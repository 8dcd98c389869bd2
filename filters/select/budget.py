"""A selection budget: N documents or T tokens, and turning a priority order into a selection within it.

Tokens are whitespace-separated words by default, or a tokenizer's count (`token_counts(texts, tokenizer)`).
A selection takes documents in priority order while the budget holds (a prefix of the order), so every
method only has to rank documents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Budget:
    """At most `docs` documents, or at most `tokens` tokens in total (exactly one of them)."""

    docs: int | None = None
    tokens: int | None = None

    def __post_init__(self) -> None:
        if (self.docs is None) == (self.tokens is None):
            raise ValueError("give a budget of documents or of tokens (exactly one)")
        for value in (self.docs, self.tokens):
            if value is not None and value < 0:
                raise ValueError("a budget cannot be negative")

    def max_docs(self, n: int, lengths: np.ndarray | None = None) -> int:
        """An upper bound on how many of `n` documents the budget can hold (the shortest ones first)."""
        if self.docs is not None:
            return min(self.docs, n)
        fits = np.cumsum(np.sort(_lengths(lengths))) <= self.tokens
        return int(fits.sum())

    def take(self, order: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """The longest prefix of `order` (row indices, best first) within the budget."""
        order = np.asarray(order, dtype=np.int64)
        if self.docs is not None:
            return order[: self.docs]
        used = np.cumsum(_lengths(lengths)[order])
        return order[: int(np.searchsorted(used, self.tokens, side="right"))]


def _lengths(lengths: np.ndarray | None) -> np.ndarray:
    if lengths is None:
        raise ValueError("a token budget needs the documents' token counts")
    return np.asarray(lengths, dtype=np.int64)


def token_counts(
    texts: pl.Series | Sequence[str], tokenizer: Callable[[list[str]], Sequence[Sequence[int]]] | None = None
) -> np.ndarray:
    """Tokens per document: whitespace words, or the lengths of the id lists `tokenizer(texts)` returns
    (e.g. `lambda texts: hf_tokenizer(texts)["input_ids"]`)."""
    series = texts if isinstance(texts, pl.Series) else pl.Series("text", list(texts), dtype=pl.String)
    if tokenizer is None:
        counts = series.fill_null("").str.extract_all(r"\S+").list.len()
        return counts.to_numpy().astype(np.int64)
    return np.array([len(ids) for ids in tokenizer(series.fill_null("").to_list())], dtype=np.int64)


def selection_mask(n: int, selected: np.ndarray) -> np.ndarray:
    """A boolean column of `n` rows, true at `selected`."""
    mask = np.zeros(n, dtype=bool)
    mask[np.asarray(selected, dtype=np.int64)] = True
    return mask
