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
