"""Small-LM perplexity: how surprising a document is to SmolLM2-135M (CCNet's idea, without a KenLM download).

`perplexity` is exp(mean negative log-likelihood per token) over a document's first `max_tokens` tokens,
scored after the tokenizer's BOS token (so the first real token counts too). High values flag garbled text,
code-page soup or foreign scripts; very low values flag repetitive spam and boilerplate. Documents with fewer
than two tokens get null (too short to judge; the stage keeps them).

Documents are sorted by length into batches (less padding), padded on the right with an attention mask,
and put back in input order. The language-model head runs only on real token positions, in chunks.
Cost: the model reads every token. `dtype="auto"` (the default) runs bfloat16 where the device has native
bfloat16 kernels (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX) and float32 elsewhere
(`pipeline.models.resolve_dtype`). bfloat16 is faster only where it is native (there, about 1.5-2x over
float32); on a CPU without it (AVX2 only) bfloat16 is emulated and float32 is about 6x faster (SmolLM2 over
700 tokens on an AVX2-only EPYC: 3.0 s in float32, 19.6 s in bfloat16). bfloat16 scores within a few percent
of float32 (rank correlation 0.999 on C4), so set thresholds with the dtype you run: "auto" may resolve
differently on another machine; name "bfloat16" or "float32" to pin it. On CPU, batches beyond 8 buy nothing.

Library use: `mean_nll(texts)`, `perplexity(texts)`, `score_perplexity(frame)`.
Pipeline use: the `PerplexityFilter` stage (`type = "perplexity"`), which removes documents outside
`[min_perplexity, max_perplexity]` (both optional; neither = score only).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from pipeline.batch import REASON, TEXT
from pipeline.models import Precision, length_sorted_batches, load_causal_lm
from pipeline.stage import Filter, StageConfig

COLUMN = "perplexity"
REASON_ABOVE = "perplexity_above_threshold"
REASON_BELOW = "perplexity_below_threshold"
#: documents with fewer tokens get a null score
MIN_TOKENS = 2
#: token positions per language-model-head chunk (bounds the logits' memory: chunk x vocabulary floats)
HEAD_CHUNK = 1024
#: architectures whose logits are exactly `output_embeddings(base_model(...).last_hidden_state)`;
#: others (logit soft-capping or scaling) take the slower full forward pass
PLAIN_HEAD = frozenset({"llama", "mistral", "qwen2", "qwen3", "gpt2", "gpt_neox", "olmo", "olmo2", "smollm3"})

PRECISIONS: tuple[str, ...] = get_args(Precision)


def mean_nll(
    texts: Sequence[str | None],
    *,
    model: str | Path | None = None,
    max_tokens: int = 512,
    batch_size: int = 8,
    dtype: Precision = "auto",
    device: str = "cpu",
) -> np.ndarray:
    """Mean negative log-likelihood per token (nats) of each text's first `max_tokens` tokens; NaN if < 2."""
    import torch

    if max_tokens < MIN_TOKENS or batch_size < 1:
        raise ValueError(f"max_tokens must be >= {MIN_TOKENS} and batch_size >= 1")
    if dtype not in PRECISIONS:
        raise ValueError(f"dtype must be 'auto', 'bfloat16' or 'float32', not {dtype!r}")
    result = np.full(len(texts), np.nan)
    if len(texts) == 0:
        return result
    lm, tokenizer = load_causal_lm(model, dtype=dtype, device=device)
    prefix = 0 if tokenizer.bos_token_id is None else 1
    limit = getattr(lm.config, "max_position_embeddings", None)
    if limit is not None and max_tokens + prefix > limit:
        raise ValueError(f"max_tokens={max_tokens} exceeds the model's context ({limit} positions)")
    score = _nll_from_hidden if lm.config.model_type in PLAIN_HEAD else _nll_from_logits
    batches = length_sorted_batches(
        tokenizer,
        texts,
        max_tokens=max_tokens,
        batch_size=batch_size,
        min_tokens=MIN_TOKENS,
        device=lm.device,
    )
    with torch.inference_mode():
        for rows, input_ids, mask in batches:
            result[rows] = score(lm, input_ids, mask)
    return result


def perplexity(texts: Sequence[str | None], **options: Any) -> np.ndarray:
    """exp(mean_nll(texts)): the per-token perplexity of each text; NaN for texts under 2 tokens."""
    return np.exp(mean_nll(texts, **options))


def score_perplexity(frame: pl.DataFrame, *, text: str = TEXT, **options: Any) -> pl.DataFrame:
    """`frame` with a Float64 `perplexity` column (null for texts under 2 tokens); options as `mean_nll`."""
    values = perplexity(frame[text].to_list(), **options)
    return frame.with_columns(pl.Series(COLUMN, values, dtype=pl.Float64, nan_to_null=True))


def _mean_per_row(nll: Any, target_mask: Any) -> np.ndarray:
    """Average the per-token `nll` (flat, row-major over `target_mask`) within each row."""
    import torch

    rows = torch.arange(target_mask.shape[0], device=nll.device).unsqueeze(1).expand_as(target_mask)
    sums = torch.zeros(target_mask.shape[0], dtype=torch.float64, device=nll.device)
    sums.index_add_(0, rows[target_mask], nll.double())
    return (sums / target_mask.sum(dim=1)).cpu().numpy()


def _nll_from_hidden(lm: Any, input_ids: Any, mask: Any) -> np.ndarray:
    """Run the body once, then the head only on positions that predict a real token, chunk by chunk."""
    import torch
    import torch.nn.functional as F

    hidden = lm.base_model(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state
    target_mask = mask[:, 1:]
    states = hidden[:, :-1][target_mask]
    targets = input_ids[:, 1:][target_mask]
    head = lm.get_output_embeddings()
    nll = torch.cat(
        [
            F.cross_entropy(
                head(states[i : i + HEAD_CHUNK]).float(), targets[i : i + HEAD_CHUNK], reduction="none"
            )
            for i in range(0, len(states), HEAD_CHUNK)
        ]
    )
    return _mean_per_row(nll, target_mask)


def _nll_from_logits(lm: Any, input_ids: Any, mask: Any) -> np.ndarray:
    """The model's own logits (any architecture), one row at a time through the loss."""
    import torch
    import torch.nn.functional as F

    logits = lm(input_ids=input_ids, attention_mask=mask.long()).logits[:, :-1]
    target_mask = mask[:, 1:]
    nll = torch.cat(
        [
            F.cross_entropy(
                logits[i][target_mask[i]].float(), input_ids[i, 1:][target_mask[i]], reduction="none"
            )
            for i in range(len(input_ids))
        ]
    )
    return _mean_per_row(nll, target_mask)


class PerplexityConfig(StageConfig):
    """Recipe table for `type = "perplexity"`."""

    type: Literal["perplexity"] = "perplexity"
    #: None or "smollm2": the packaged SmolLM2-135M; else a local Hugging Face causal LM folder
    model: str | None = None
    max_tokens: int = Field(512, ge=MIN_TOKENS, le=32768)
    batch_size: int = Field(8, ge=1, le=1024)
    #: remove documents above this perplexity (garbled, foreign, code-page soup); None: no upper bound
    max_perplexity: float | None = Field(None, gt=1)
    #: remove documents below this perplexity (repetitive spam); None: no lower bound
    min_perplexity: float | None = Field(None, ge=1)
    dtype: Precision = "auto"
    #: torch device for the model ("cpu", "cuda", "cuda:1", ...)
    device: str = "cpu"

    @model_validator(mode="after")
    def _bounds_ordered(self) -> PerplexityConfig:
        if (
            self.min_perplexity is not None
            and self.max_perplexity is not None
            and self.min_perplexity >= self.max_perplexity
        ):
            raise ValueError("min_perplexity must be below max_perplexity")
        return self


class PerplexityFilter(Filter):
    """Score each document's perplexity; remove those outside [min_perplexity, max_perplexity]."""

    Config = PerplexityConfig
    score_columns: ClassVar[dict[str, pl.DataType]] = {COLUMN: pl.Float64()}

    config: PerplexityConfig

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        config = self.config
        scored = score_perplexity(
            batch,
            model=config.model,
            max_tokens=config.max_tokens,
            batch_size=config.batch_size,
            dtype=config.dtype,
            device=config.device,
        )
        value = pl.col(COLUMN)
        reason = pl.lit(None, dtype=pl.String)
        if config.min_perplexity is not None:
            reason = pl.when(value < config.min_perplexity).then(pl.lit(REASON_BELOW)).otherwise(reason)
        if config.max_perplexity is not None:
            reason = pl.when(value > config.max_perplexity).then(pl.lit(REASON_ABOVE)).otherwise(reason)
        return scored.with_columns(reason.alias(REASON))

    def counters(self, marked: pl.DataFrame) -> dict[str, int]:
        """`unscored`: documents too short (under 2 tokens) to get a perplexity; the stage keeps them."""
        return {"unscored": marked[COLUMN].null_count()}
