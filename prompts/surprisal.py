"""Token surprisal under a small causal LM: how much each token of a text tells the model it did not expect.

All texts go through one batched forward pass. A text longer than the model's window is scored in
overlapping windows (each window re-reads the previous `context` tokens without scoring them), so nothing
is truncated. An optional `prefix` (the question) is read before every window: the surprisal is then
conditioned on it, as LongLLMLingua's question-aware token compression does. With `heads`, every window is
followed by the answer cue and the same pass also gives each token's answer attention (`prompts.attention`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.models import pad_id, pad_right
from prompts.attention import ANSWER_CUE, answer_attention

#: token positions per language-model-head chunk (bounds the logits' memory: chunk x vocabulary floats)
HEAD_CHUNK = 1024


@dataclass
class TokenScores:
    """Per token of one text: character offsets `[start, end)`, surprisal in nats and answer attention
    (zeros unless asked for)."""

    start: np.ndarray
    end: np.ndarray
    surprisal: np.ndarray
    attention: np.ndarray


def surprisal(
    texts: Sequence[str],
    lm: Any,
    tokenizer: Any,
    *,
    prefix: str | None = None,
    heads: Sequence[tuple[int, int]] | None = None,
    window: int = 1024,
    batch_size: int = 8,
) -> list[TokenScores]:
    """Surprisal of every token of every text (the first token after BOS and prefix included); with `heads`,
    also the attention of the answer cue after each window to every token, summed over those heads."""
    import torch

    encoded = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
    start_ids = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    prefix_ids = tokenizer(prefix + "\n", add_special_tokens=False)["input_ids"] if prefix else []
    tail = tokenizer(ANSWER_CUE, add_special_tokens=False)["input_ids"] if heads else []
    head = start_ids + prefix_ids
    if len(head) > window // 2:
        head = start_ids + prefix_ids[-(window // 2 - len(start_ids)) :]
    context = window // 4
    stride = window - len(head) - context - len(tail)
    rows: list[tuple[int, int, int, int, list[int]]] = []  # text, first scored token, count, offset, ids
    for index, ids in enumerate(encoded["input_ids"]):
        for first in range(0, len(ids), stride):
            left = max(0, first - context)
            piece = ids[left : first + stride]
            count = min(stride, len(ids) - first)
            rows.append((index, first, count, len(head) + first - left, head + piece + tail))
    values = [np.zeros(len(ids), dtype=np.float32) for ids in encoded["input_ids"]]
    attention = [np.zeros(len(ids), dtype=np.float32) for ids in encoded["input_ids"]]
    order = sorted(range(len(rows)), key=lambda r: -len(rows[r][4]))
    pad = pad_id(tokenizer)
    with torch.inference_mode():
        for batch_start in range(0, len(order), batch_size):
            batch = [rows[r] for r in order[batch_start : batch_start + batch_size]]
            last = torch.tensor([len(row[4]) - 1 for row in batch])
            probe = answer_attention(lm, heads, last) if heads else nullcontext(None)
            with probe as recorded:
                nll = row_surprisal(lm, [row[4] for row in batch], pad)
            weights = None if recorded is None else recorded.weights.float().cpu().numpy()
            for place, ((index, first, count, offset, _), row_nll) in enumerate(zip(batch, nll, strict=True)):
                # the token at position p is predicted at p - 1
                values[index][first : first + count] = row_nll[offset - 1 : offset - 1 + count]
                if weights is not None:
                    attention[index][first : first + count] = weights[place, offset : offset + count]
    scores = []
    for offsets, text_values, text_attention in zip(
        encoded["offset_mapping"], values, attention, strict=True
    ):
        spans = np.array(offsets, dtype=np.int64).reshape(-1, 2)
        scores.append(TokenScores(spans[:, 0], spans[:, 1], text_values, text_attention))
    return scores


def row_surprisal(lm: Any, rows: list[list[int]], pad: int) -> list[np.ndarray]:
    """Negative log-likelihood of token t+1 at each position t of each row (length len(row) - 1)."""
    import torch
    import torch.nn.functional as F

    input_ids, mask = pad_right(rows, pad, lm.device)
    hidden = lm.base_model(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state
    target_mask = mask[:, 1:]
    states = hidden[:, :-1][target_mask]
    targets = input_ids[:, 1:][target_mask]
    head = lm.get_output_embeddings()
    nll = (
        torch.cat(
            [
                F.cross_entropy(
                    head(states[i : i + HEAD_CHUNK]).float(), targets[i : i + HEAD_CHUNK], reduction="none"
                )
                for i in range(0, len(states), HEAD_CHUNK)
            ]
        )
        .cpu()
        .numpy()
    )
    lengths = target_mask.sum(dim=1).tolist()
    return list(np.split(nll, np.cumsum(lengths)[:-1]))
