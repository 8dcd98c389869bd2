"""Rank context chunks by relevance to a question.

- `embedding`: cosine similarity of all-MiniLM-L6-v2 embeddings of question and chunk (fast: a 6-layer
  encoder, about a twentieth of the small LM's cost per token).
- `lm`: LongLLMLingua's coarse ranking: the small LM's mean log-likelihood of the question (followed by
  "We can get the answer to this question in the given documents.") after reading the chunk. It reads every
  chunk once more, so it costs about one extra forward pass over the context.
- `both`: the mean of the two rank positions (ties by embedding score).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pipeline.embeddings import embed
from pipeline.models import pad_id
from prompts.surprisal import row_surprisal

RankBy = Literal["embedding", "lm", "both"]
LM_RANKING_SUFFIX = " We can get the answer to this question in the given documents."


def embedding_relevance(
    chunks: Sequence[str], question: str, *, model: str | Path | None = None, device: str = "cpu"
) -> np.ndarray:
    """Cosine similarity of each chunk to the question."""
    vectors = embed([question, *chunks], model=model, device=device)
    return vectors[1:] @ vectors[0]


def lm_relevance(
    chunks: Sequence[str], question: str, lm: Any, tokenizer: Any, *, batch_size: int = 8
) -> np.ndarray:
    """Mean log-likelihood of the question's tokens given each chunk (higher = more relevant)."""
    import torch

    start = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    target = tokenizer("\n" + question + LM_RANKING_SUFFIX, add_special_tokens=False)["input_ids"]
    limit = getattr(lm.config, "max_position_embeddings", 2048) - len(target) - len(start)
    rows = [
        start + tokenizer(chunk, add_special_tokens=False)["input_ids"][-limit:] + target for chunk in chunks
    ]
    pad = pad_id(tokenizer)
    scores = np.zeros(len(rows))
    order = sorted(range(len(rows)), key=lambda r: -len(rows[r]))
    with torch.inference_mode():
        for batch_start in range(0, len(order), batch_size):
            batch = order[batch_start : batch_start + batch_size]
            for index, nll in zip(batch, row_surprisal(lm, [rows[i] for i in batch], pad), strict=True):
                scores[index] = -float(nll[-len(target) :].mean())
    return scores


def rank_order(scores: Sequence[np.ndarray]) -> np.ndarray:
    """Chunk indices, most relevant first, by the mean rank over `scores` (ties by the first score)."""
    ranks = [np.argsort(np.argsort(-np.asarray(s), kind="stable"), kind="stable") for s in scores]
    mean_rank = np.mean(ranks, axis=0)
    return np.lexsort((-np.asarray(scores[0]), mean_rank))
