"""Answer attention: recorded from the surprisal pass, equal to the model's own attention weights, and
pointing at the answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from pipeline.models import causal_lm_path, pad_id
from prompts.attention import SMOLLM2_ANSWER_HEADS, answer_attention, default_heads
from prompts.compress import (
    CompressionError,
    Compressor,
    _answer_candidates,
    _salient_runs,
    answer_kind,
)
from prompts.segments import parse_prompt
from prompts.surprisal import row_surprisal, surprisal
from prompts.words import split_words

PASSAGE = (
    "Harbour records\nThe old harbour of Quenby was rebuilt after the storm of 1872. The new breakwater "
    "was designed by the engineer Tobias Wrenfield, who also built the town's first lighthouse. Fishing "
    "boats still land their catch at the north quay every morning."
)
QUESTION = "who designed the breakwater of the harbour of Quenby"


def test_the_probe_leaves_the_model_output_unchanged(scorer: tuple[Any, Any]) -> None:
    import torch

    lm, tokenizer = scorer
    rows = [tokenizer(text)["input_ids"] for text in (PASSAGE, PASSAGE[:80])]
    with torch.inference_mode():
        before = row_surprisal(lm, rows, pad_id(tokenizer))
        last = torch.tensor([len(row) - 1 for row in rows])
        with answer_attention(lm, SMOLLM2_ANSWER_HEADS, last) as probe:
            during = row_surprisal(lm, rows, pad_id(tokenizer))
        after = row_surprisal(lm, rows, pad_id(tokenizer))
    assert probe.weights is not None
    for a, b, c in zip(before, during, after, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-3)
        np.testing.assert_allclose(a, c, atol=1e-3)


def test_recorded_weights_are_the_models_attention_weights(scorer: tuple[Any, Any]) -> None:
    """Against the eager implementation's `output_attentions` for the same heads, rows padded on the right."""
    import torch
    from transformers import AutoModelForCausalLM

    lm, tokenizer = scorer
    heads = [(23, 0), (21, 5), (2, 3)]
    rows = [tokenizer(PASSAGE)["input_ids"], tokenizer(PASSAGE[:60])["input_ids"]]
    last = torch.tensor([len(row) - 1 for row in rows])
    with torch.inference_mode(), answer_attention(lm, heads, last) as probe:
        row_surprisal(lm, rows, pad_id(tokenizer))
    eager = AutoModelForCausalLM.from_pretrained(
        causal_lm_path(None), dtype=lm.dtype, attn_implementation="eager"
    ).eval()
    for index, row in enumerate(rows):
        with torch.inference_mode():
            attentions = eager(torch.tensor([row]), output_attentions=True).attentions
        expected = sum(attentions[layer][0, head, -1].float() for layer, head in heads).numpy()
        got = probe.weights[index].float().numpy()
        np.testing.assert_allclose(got[: len(row)], expected, atol=0.03)
        assert np.allclose(got[len(row) :], 0.0)  # nothing after the row's last token
        assert got.sum() == pytest.approx(len(heads), abs=1e-3)


def test_surprisal_pass_gives_attention_only_when_asked(scorer: tuple[Any, Any]) -> None:
    lm, tokenizer = scorer
    (plain,) = surprisal([PASSAGE], lm, tokenizer, prefix=f"Question: {QUESTION}")
    (probed,) = surprisal(
        [PASSAGE], lm, tokenizer, prefix=f"Question: {QUESTION}", heads=SMOLLM2_ANSWER_HEADS
    )
    assert not plain.attention.any()
    assert (probed.attention > 0).all() and probed.attention.sum() < len(SMOLLM2_ANSWER_HEADS)
    np.testing.assert_allclose(plain.surprisal, probed.surprisal, atol=0.05)


def test_answer_attention_peaks_on_the_answer(scorer: tuple[Any, Any]) -> None:
    lm, tokenizer = scorer
    (scores,) = surprisal(
        [PASSAGE], lm, tokenizer, prefix=f"Question: {QUESTION}", heads=SMOLLM2_ANSWER_HEADS
    )
    names = {"Quenby": 0.0, "Tobias": 0.0, "Wrenfield,": 0.0, "Fishing": 0.0, "Harbour": 0.0}
    for word in names:
        at = PASSAGE.index(word)
        inside = (scores.start < at + len(word)) & (scores.end > at)
        names[word] = float(scores.attention[inside].max())
    assert max(names, key=names.__getitem__) in ("Tobias", "Wrenfield,")


def test_default_heads_of_another_model_are_its_upper_middle_layers() -> None:
    config = SimpleNamespace(num_hidden_layers=20, num_attention_heads=4)
    assert default_heads(config, packaged=False) == tuple(
        (layer, head) for layer in (14, 15, 16) for head in range(4)
    )
    assert default_heads(config, packaged=True) == SMOLLM2_ANSWER_HEADS


def test_heads_outside_the_model_are_an_error() -> None:
    compressor = Compressor(answer_heads=[(23, 0), (30, 1)])
    with pytest.raises(
        CompressionError, match=r"answer_heads \[\(30, 1\)\] are outside .* 30 layers x 9 heads"
    ):
        compressor.compress(PASSAGE, rate=0.5, question=QUESTION)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("when did the red guards start and end", "number"),
        ("how many episodes are there in dragon ball z", "number"),
        ("what year did the first harbour open", "number"),
        ("who designed the breakwater", "name"),
        ("where does safe haven take place in the book", "name"),
        ("what allows chyme to enter the small intestine", "any"),
        ("who was president when the panama canal was built", "name"),
        ("yo la tengo theres a riot going on release date", "number"),
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question: str, kind: str) -> None:
    assert answer_kind(question) == kind


@pytest.mark.parametrize("rate", [0.5, 0.25])
def test_the_likely_answer_survives_a_low_rate(compressor: Compressor, rate: float) -> None:
    result = compressor.compress(PASSAGE, rate=rate, question=QUESTION)
    assert "Tobias Wrenfield" in result.text
    assert result.compressed_tokens <= result.target_tokens


def test_a_when_question_keeps_the_date_over_the_names(compressor: Compressor) -> None:
    result = compressor.compress(
        PASSAGE, target_tokens=8, question="when was the old harbour of Quenby rebuilt"
    )
    assert "1872" in result.text


def candidates(text: str, question: str) -> list[str]:
    """The answer candidates of `text` for `question`, one string per run."""
    parsed = parse_prompt(text, None)
    words = split_words(parsed.segments, "auto", parsed.kind)
    salient, _, unit = _salient_runs(words, np.zeros(len(words)), True, True)
    everywhere = np.ones(len(words), dtype=bool)
    chosen = _answer_candidates(question, words, unit, everywhere, salient < 2)
    runs: dict[int, list[str]] = {}
    for index in np.flatnonzero(chosen):
        runs.setdefault(int(unit[index]), []).append(text[words.start[index] : words.end[index]])
    return [" ".join(run) for run in runs.values()]


@pytest.mark.parametrize(
    ("text", "question", "expected"),
    [
        # a run that only repeats the question's words is not an answer
        (
            "Quenby Harbour Light\nThe light is named after Captain Tobias L. Wrenfield, a Quenby native.",
            "who is quenby harbour light named after",
            ["Captain Tobias L. Wrenfield,"],
        ),
        # spelled-out numbers answer a number question
        (
            "Quenby Regatta\nThe town of Quenby has hosted the Regatta on three occasions.",
            "how many times has quenby hosted the regatta",
            ["three"],
        ),
        # a name after a date and a comma is a run of its own
        (
            "Harbour records\nIn 1872, Tobias Wrenfield and Ada Quill rebuilt the pier.",
            "who rebuilt the pier",
            ["Tobias Wrenfield and Ada Quill"],
        ),
        # a name with its years in brackets is still a name (the brackets are a run of their own)
        (
            "Lighthouses of Quenby\nTobias Wrenfield (1821-1890), an engineer, built the first one.",
            "who built the first lighthouse of quenby",
            ["Tobias Wrenfield"],
        ),
    ],
)
def test_answer_candidates_are_new_names_or_numbers_of_the_kind_asked(
    text: str, question: str, expected: list[str]
) -> None:
    assert candidates(text, question) == expected


def test_likely_answers_are_kept_most_attended_first(compressor: Compressor) -> None:
    """With room for one run only, the one the scorer attends to most survives, not the most surprising."""
    text = (
        "Quenby Tides (1999 film)\nA sequel, Quenby Tides: Part Two, is scheduled to be released on "
        "September 6, 2029."
    )
    result = compressor.compress(
        text, target_tokens=12, question="when does the second quenby tides film come out"
    )
    assert "September 6, 2029" in result.text
