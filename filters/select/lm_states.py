"""A causal LM's middle-layer state as a document vector: what kind of text a document is.

MiniLM's sentence embedding is trained to place paraphrases together, so it keeps topic and meaning and
drops much of the register: an encyclopedia paragraph and a web page's "about" blurb on the same subject
land close. A language model has to predict the next token, so its residual stream tracks the kind of text
it is reading (encyclopedic prose, a shop page, a word problem, a wire story). `lm_states` is each
document's mean residual stream after the first half of the decoder layers of a causal LM (the packaged
SmolLM2-135M: 15 of 30), over its first `max_tokens` tokens after the tokenizer's BOS token (of the middle
and the last layer, the middle one separated the kinds of `benchmarks/select_target.py` better on its
tuning draw). Only those layers are loaded and run (`pipeline.models.load_lm_trunk`), so it costs about
half a perplexity pass; batches are sorted by length and padded on the right with an attention mask
(`pipeline.models.length_sorted_batches`, as the perplexity filter's).

The states share a large common direction (cosines between any two documents are near 1), so the target
classifier sees them centred on the pool sample's mean and scaled to unit length (`StateCentring`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from filters.select.sampled_kmeans import unit
from pipeline.models import Precision, length_sorted_batches, load_lm_trunk

#: tokens of each document the language model reads (after BOS)
MAX_TOKENS = 256


def lm_states(
    texts: Sequence[str | None],
    *,
    model: str | Path | None = None,
    layers: int | None = None,
    max_tokens: int = MAX_TOKENS,
    batch_size: int = 8,
    dtype: Precision = "auto",
    device: str = "cpu",
) -> np.ndarray:
    """Each text's mean residual stream after `layers` decoder layers (default: half the model's) over its
    first `max_tokens` tokens, as float32 rows; an empty or null text gets zeros."""
    import torch

    if max_tokens < 1 or batch_size < 1:
        raise ValueError("max_tokens and batch_size must be >= 1")
    trunk, tokenizer = load_lm_trunk(model, layers=layers, dtype=dtype, device=device)
    out = np.zeros((len(texts), trunk.config.hidden_size), dtype=np.float32)
    if len(texts) == 0:
        return out
    skip = 0 if tokenizer.bos_token_id is None else 1
    batches = length_sorted_batches(
        tokenizer, texts, max_tokens=max_tokens, batch_size=batch_size, min_tokens=1, device=trunk.device
    )
    with torch.inference_mode():
        for rows, input_ids, mask in batches:
            states = trunk(input_ids=input_ids, attention_mask=mask).last_hidden_state[:, skip:].float()
            real = mask[:, skip:].unsqueeze(-1).float()
            out[rows] = ((states * real).sum(dim=1) / real.sum(dim=1)).cpu().numpy()
    return out


@dataclass(frozen=True)
class StateCentring:
    """The pool's mean state, subtracted before scaling to unit length (`transform`); kept as a
    `(hidden,)` array to share between processes."""

    mean: np.ndarray

    @classmethod
    def fit(cls, states: np.ndarray) -> StateCentring:
        """The mean of `lm_states` rows (of the pool sample)."""
        states = np.asarray(states, dtype=np.float64)
        if states.ndim != 2 or len(states) == 0:
            raise ValueError("fit the centring on at least one row of states")
        return cls(states.mean(axis=0))

    def transform(self, states: np.ndarray) -> np.ndarray:
        """The classifier's state block: rows centred on the pool's mean, at unit length (float64)."""
        states = np.asarray(states, dtype=np.float64)
        if states.ndim != 2 or states.shape[1] != len(self.mean):
            raise ValueError(f"state rows have shape {states.shape}, not (n, {len(self.mean)})")
        return unit(states - self.mean).astype(np.float64)

    def to_array(self) -> np.ndarray:
        return self.mean

    @classmethod
    def from_array(cls, array: np.ndarray) -> StateCentring:
        return cls(np.asarray(array, dtype=np.float64))
