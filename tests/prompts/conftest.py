"""Shared compressors for the prompt tests: the real packaged SmolLM2 scorer, loaded once per session."""

from __future__ import annotations

import pytest

from prompts.compress import Compressor


@pytest.fixture(scope="session")
def compressor() -> Compressor:
    """The default compressor (packaged SmolLM2, its own tokenizer, MiniLM ranking), models loaded once."""
    return Compressor()


@pytest.fixture(scope="session")
def scorer(compressor: Compressor) -> tuple[object, object]:
    """`(model, tokenizer)` of the packaged SmolLM2, as the compressor loads it."""
    return compressor.scorer()


def surprisal_tolerance(lm: object, floor: float) -> float:
    """How far two ways of computing the same surprisal may differ: at least `floor` (the float32 bound of
    the test), and one ulp of the model dtype at the logits' scale (up to 32): each path rounds the logits
    to the dtype, so 32 eps = 0.25 nats in bfloat16 (measured 0.14-0.16 on an AVX512-BF16 Xeon), nothing
    in float32."""
    import torch

    return max(floor, 32 * torch.finfo(lm.dtype).eps)  # type: ignore[attr-defined]
