"""Small-LM perplexity: natural text scores low, scrambled text high; batching and truncation; the stage."""

from __future__ import annotations

import pickle
import random
import string

import numpy as np
import polars as pl
import pytest
import torch
from pydantic import ValidationError

import filters.quality.perplexity as ppl
from filters.quality.perplexity import (
    REASON_ABOVE,
    REASON_BELOW,
    PerplexityConfig,
    PerplexityFilter,
    mean_nll,
    perplexity,
    score_perplexity,
)
from pipeline.batch import ORDER, REASON
from pipeline.models import load_causal_lm

NATURAL = [
    "The children walked to school together every morning, talking about the games they would play at lunch.",
    "After the rain stopped, we opened the windows and the whole house smelled of wet grass and fresh bread.",
    "She saved a little money each month until she could finally buy the bicycle she had wanted for years.",
    "The museum will be closed on Monday for repairs, but it opens again on Tuesday at nine in the morning.",
]
SPAM = "buy cheap shoes now " * 40


def shuffled(text: str, seed: int) -> str:
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


def random_chars(length: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_lowercase + "      ") for _ in range(length))


@pytest.fixture(scope="module", autouse=True)
def model() -> None:
    """Load (or convert, on a fresh machine) the packaged model once for the module."""
    load_causal_lm()


def test_natural_text_is_less_surprising_than_shuffled_words_or_random_characters() -> None:
    shuffles = [shuffled(text, seed) for seed, text in enumerate(NATURAL)]
    noise = [random_chars(60, seed) for seed in range(len(NATURAL))]
    scores = perplexity(NATURAL + shuffles + noise)
    natural, scrambled, random_text = np.split(scores, 3)
    assert (natural < scrambled).all() and (natural < random_text).all()
    assert natural.max() < 60 and scrambled.min() > 2 * natural.max()


def test_perplexity_is_exp_of_mean_nll() -> None:
    np.testing.assert_allclose(perplexity(NATURAL[:2]), np.exp(mean_nll(NATURAL[:2])))


def test_batches_give_the_unbatched_scores_in_input_order() -> None:
    texts = [NATURAL[0], "Short one here.", NATURAL[1] + " " + NATURAL[2], "x", NATURAL[3]]
    alone = mean_nll(texts, batch_size=1, dtype="float32")
    batched = mean_nll(texts, batch_size=4, dtype="float32")
    np.testing.assert_allclose(batched, alone, rtol=1e-5, equal_nan=True)
    reversed_ = mean_nll(texts[::-1], batch_size=3, dtype="float32")[::-1]
    np.testing.assert_allclose(reversed_, alone, rtol=1e-5, equal_nan=True)
    bf16 = mean_nll(texts, batch_size=4, dtype="bfloat16")  # a few percent above float32
    eps = torch.finfo(torch.bfloat16).eps
    # bfloat16 weights and activations change the model itself: each token's NLL moves by about
    # sqrt(layers) eps (rounding accumulated as a random walk through the 30 layers), and a short text
    # averages few tokens: allow three such deviations, 3 sqrt(layers) eps = 0.128 (measured: up to 8.7 eps,
    # 6.8%, on the 4-token text)
    np.testing.assert_allclose(bf16, alone, rtol=3 * 30**0.5 * eps, equal_nan=True)
    # the same bfloat16 model, only the padding differs: within a rounding step or two (measured 0.5 eps)
    unbatched = mean_nll(texts, batch_size=1, dtype="bfloat16")
    assert unbatched == pytest.approx(bf16, rel=2 * eps, nan_ok=True)


def test_the_head_only_path_matches_the_models_own_logits(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [NATURAL[0], "Short one here.", NATURAL[1]]
    fast = mean_nll(texts, batch_size=3, dtype="float32")
    monkeypatch.setattr(ppl, "PLAIN_HEAD", frozenset())  # as for an architecture with logit soft-capping
    full = mean_nll(texts, batch_size=3, dtype="float32")
    np.testing.assert_allclose(full, fast, rtol=1e-5)


def test_only_the_first_max_tokens_are_scored() -> None:
    head = NATURAL[0]
    tail = " " + random_chars(300, seed=7)
    short = mean_nll([head, head + tail], max_tokens=12, dtype="float32")
    assert short[0] == pytest.approx(short[1], rel=1e-6)  # the tail lies beyond the 12 tokens
    full = mean_nll([head, head + tail], max_tokens=512, dtype="float32")
    assert full[1] > full[0] + 1


def test_texts_under_two_tokens_get_no_score() -> None:
    scores = mean_nll(["", None, "Hello", NATURAL[0]])
    assert np.isnan(scores[:3]).all() and np.isfinite(scores[3])
    assert mean_nll([]).shape == (0,)


def test_max_tokens_must_fit_the_model() -> None:
    with pytest.raises(ValueError, match="context"):
        mean_nll(NATURAL[:1], max_tokens=100_000)


def test_score_perplexity_adds_a_float_column_with_nulls() -> None:
    frame = pl.DataFrame({"id": ["a", "b"], "text": [NATURAL[0], ""], "__order": [0, 1]})
    scored = score_perplexity(frame)
    assert scored.columns == ["id", "text", "__order", "perplexity"]
    assert scored.schema["perplexity"] == pl.Float64
    assert scored["perplexity"].null_count() == 1 and scored["perplexity"][0] > 1


def test_config_validation() -> None:
    assert PerplexityConfig().build().config.max_tokens == 512
    with pytest.raises(ValidationError):
        PerplexityConfig(min_perplexity=100, max_perplexity=50)
    with pytest.raises(ValidationError):
        PerplexityConfig(max_tokens=1)
    with pytest.raises(ValidationError):
        PerplexityConfig(max_perplexity=0.5)
    with pytest.raises(ValidationError):
        PerplexityConfig(threshold=10)
    with pytest.raises(ValidationError):
        PerplexityConfig(dtype="int8")
    assert PerplexityConfig().dtype == "auto"
    assert PerplexityConfig(dtype="float32").build().config.dtype == "float32"
    with pytest.raises(ValueError, match="dtype must be"):
        mean_nll(["some text"], dtype="float16")  # type: ignore[arg-type]


def test_stage_marks_documents_outside_the_bounds() -> None:
    texts = [*NATURAL, shuffled(NATURAL[0], 1), random_chars(100, 2), SPAM, "x"]
    batch = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts, ORDER: range(len(texts))})
    stage = PerplexityConfig(type="perplexity", max_perplexity=150, min_perplexity=3).build()
    stage = pickle.loads(pickle.dumps(stage))  # as sent to a Dask worker
    marked = stage.apply(batch)

    assert marked.height == batch.height and marked[ORDER].to_list() == list(range(len(texts)))
    assert set(stage.score_columns) == {"perplexity"} and marked.schema["perplexity"] == pl.Float64
    reasons = marked[REASON].to_list()
    assert reasons[:4] == [None] * 4  # natural sentences are kept
    assert reasons[4:7] == [REASON_ABOVE, REASON_ABOVE, REASON_BELOW]
    assert reasons[7] is None  # too short to judge: kept, counted
    assert stage.counters(marked) == {"unscored": 1}


def test_stage_without_bounds_only_scores() -> None:
    batch = pl.DataFrame({"id": ["a", "b"], "text": [NATURAL[0], random_chars(80, 3)]})
    marked = PerplexityFilter().apply(batch)
    assert marked[REASON].null_count() == 2
    assert marked["perplexity"][1] > marked["perplexity"][0]
