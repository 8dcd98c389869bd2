"""Answer attention: where the scorer looks when it is about to answer the question.

The scorer reads `Question: ...`, the context, then `Answer:`; the attention of that last token to each
context token, summed over a few "answer heads", peaks on the words that answer the question. It comes out
of the same forward pass as the surprisal: a registered attention function (plain SDPA for every other
head and every other call) gathers the last row token's attention weights for the answer heads only.

Heads: for the packaged SmolLM2-135M, the 8 heads whose last-token attention ranks the gold answer highest
among a passage's words on NQ-open records 300-599 (`benchmarks/answer_heads.py` reproduces the choice;
the compression benchmark uses records 0-99). For any other model, every head of the layers at 70-85% of
its depth, where such heads sit in small Llama-style models; pass `answer_heads` to choose them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

#: (layer, query head) pairs for SmolLM2-135M, best first (see the module docstring)
SMOLLM2_ANSWER_HEADS: tuple[tuple[int, int], ...] = (
    (23, 0),
    (23, 4),
    (23, 1),
    (21, 5),
    (24, 5),
    (23, 7),
    (22, 2),
    (24, 7),
)
#: the appended cue whose last token's attention is read
ANSWER_CUE = "\nAnswer:"
PROBE = "winnow_answer_probe"

_switch = threading.Lock()


@dataclass
class _Probe:
    heads: dict[int, list[int]]  # layer -> query heads
    last: Any  # (rows,) position of each row's last token
    weights: Any = None  # (rows, keys) attention summed over the heads


_active: ContextVar[_Probe | None] = ContextVar("winnow_answer_probe", default=None)


def default_heads(config: Any, packaged: bool) -> tuple[tuple[int, int], ...]:
    """The packaged model's heads, else every head of the layers at 70-85% of the depth."""
    if packaged:
        return SMOLLM2_ANSWER_HEADS
    layers = int(config.num_hidden_layers)
    first, end = int(0.7 * layers), max(int(0.85 * layers), int(0.7 * layers) + 1)
    return tuple((layer, head) for layer in range(first, end) for head in range(config.num_attention_heads))


@contextmanager
def answer_attention(lm: Any, heads: Sequence[tuple[int, int]], last: Any) -> Iterator[_Probe]:
    """While inside, forward passes of `lm` record, per row, the attention of the token at `last[row]` to
    every position, summed over `heads`, in `probe.weights`."""
    _enable(lm)
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(int(layer), []).append(int(head))
    probe = _Probe(by_layer, last)
    token = _active.set(probe)
    try:
        yield probe
    finally:
        _active.reset(token)


def _enable(lm: Any) -> None:
    """Route `lm`'s attention through the probing SDPA (the same results as SDPA when no probe is active)."""
    if lm.config._attn_implementation == PROBE:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    with _switch:
        if lm.config._attn_implementation != PROBE:
            AttentionInterface.register(PROBE, _probing_sdpa)
            AttentionMaskInterface.register(PROBE, sdpa_mask)
            lm.set_attn_implementation(PROBE)


def _probing_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    probe = _active.get()
    if probe is not None and getattr(module, "layer_idx", None) in probe.heads:
        _record(probe, probe.heads[module.layer_idx], query, key, kwargs.get("scaling"))
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def _record(probe: _Probe, heads: list[int], query: Any, key: Any, scaling: float | None) -> None:
    """Add the softmax attention of each row's last token to the keys at or before it, for `heads`."""
    import torch

    rows, query_heads, length, dim = query.shape
    groups = query_heads // key.shape[1]
    head_index = torch.tensor(heads, device=query.device)
    last = probe.last.to(query.device)
    picked = query[torch.arange(rows, device=query.device)[:, None], head_index[None, :], last[:, None]]
    keys = key[:, head_index // groups]  # (rows, heads, length, dim)
    scores = torch.einsum("rhd,rhtd->rht", picked.float(), keys.float()) * (scaling or dim**-0.5)
    after = torch.arange(length, device=query.device)[None, None, :] > last[:, None, None]
    weights = torch.softmax(scores.masked_fill(after, float("-inf")), dim=-1).sum(dim=1)
    probe.weights = weights if probe.weights is None else probe.weights + weights
