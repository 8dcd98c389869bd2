"""Token surprisal under the packaged SmolLM2: one finite score per token, windows that do not truncate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from prompts.surprisal import TokenScores, surprisal
from tests.prompts.conftest import surprisal_tolerance
from tests.prompts.test_compress import SENTENCES

TEXT = " ".join(SENTENCES[:18])  # about 330 tokens


@pytest.fixture(scope="module")
def one_pass(scorer: tuple[Any, Any]) -> TokenScores:
    """`TEXT` scored in a single window."""
    lm, tokenizer = scorer
    (scores,) = surprisal([TEXT], lm, tokenizer, window=2048)
    return scores


def test_one_finite_score_per_token_with_its_offsets(scorer: tuple[Any, Any], one_pass: TokenScores) -> None:
    _, tokenizer = scorer
    encoded = tokenizer(TEXT, add_special_tokens=False, return_offsets_mapping=True)
    scores = one_pass
    assert len(scores.surprisal) == len(encoded["input_ids"]) > 300
    assert np.isfinite(scores.surprisal).all()
    assert (scores.surprisal >= 0).all()
    assert [list(pair) for pair in zip(scores.start, scores.end, strict=True)] == [
        list(pair) for pair in encoded["offset_mapping"]
    ]


def test_scores_are_the_negative_log_likelihood_of_each_token(scorer: tuple[Any, Any]) -> None:
    import torch

    lm, tokenizer = scorer
    ids = tokenizer(SENTENCES[0], add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = lm(input_ids=torch.tensor([[tokenizer.bos_token_id, *ids]])).logits[0, :-1].float()
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor(ids), reduction="none").numpy()
    (scores,) = surprisal([SENTENCES[0]], lm, tokenizer)
    np.testing.assert_allclose(scores.surprisal, expected, atol=0.1)


def test_long_texts_are_scored_in_windows_close_to_one_pass(
    scorer: tuple[Any, Any], one_pass: TokenScores
) -> None:
    lm, tokenizer = scorer
    unwindowed = one_pass.surprisal
    window = 128
    (windowed,) = surprisal([TEXT], lm, tokenizer, window=window)
    assert len(windowed.surprisal) == len(unwindowed) > 2 * window  # every token scored, none truncated
    assert np.isfinite(windowed.surprisal).all()
    assert (windowed.surprisal > 0).sum() >= len(unwindowed) - 2
    atol = surprisal_tolerance(lm, 0.15)
    np.testing.assert_allclose(windowed.surprisal[:64], unwindowed[:64], atol=atol)  # inside the first window
    later = slice(window, None)  # tokens that only later windows see, with their shorter context
    difference = np.abs(windowed.surprisal[later] - unwindowed[later])
    assert np.median(difference) < 0.4
    assert np.corrcoef(windowed.surprisal[later], unwindowed[later])[0, 1] > 0.95


def test_batched_texts_score_as_they_do_alone(scorer: tuple[Any, Any]) -> None:
    lm, tokenizer = scorer
    longer = " ".join(SENTENCES[1:5])
    short, long, empty = surprisal([SENTENCES[0], longer, ""], lm, tokenizer)
    for text, batched in ((SENTENCES[0], short), (longer, long)):
        (alone,) = surprisal([text], lm, tokenizer)
        np.testing.assert_allclose(batched.surprisal, alone.surprisal, atol=0.25)
    assert len(empty.surprisal) == len(empty.start) == 0


def test_a_question_prefix_conditions_the_scores(scorer: tuple[Any, Any]) -> None:
    lm, tokenizer = scorer
    text = "Hikers often stop at the mill to eat lunch on the stone steps."
    (plain,) = surprisal([text], lm, tokenizer)
    (asked,) = surprisal([text], lm, tokenizer, prefix="Where do hikers stop to eat lunch near the mill?")
    assert len(asked.surprisal) == len(plain.surprisal)
    assert asked.surprisal.sum() < 0.9 * plain.surprisal.sum()
