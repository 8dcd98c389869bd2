"""Answer attention: recorded from the surprisal pass, equal to the model's own attention weights, and
pointing at the answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from pipeline.models import causal_lm_path, pad_id
from prompts.attention import SMOLLM2_ANSWER_HEADS, answer_attention, default_heads
from prompts.surprisal import row_surprisal, surprisal
from tests.prompts.conftest import surprisal_tolerance

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
    """Against the eager implementation's `output_attentions` for the same heads, rows padded on the right.

    Both paths run in the scorer's resolved dtype (bfloat16 where native, else float32)."""
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
    # The two paths round differently (SDPA vs eager kernels, a padded batch vs one row, the probe's float32
    # softmax vs eager's cast back to the model dtype), and each layer's residual update adds about one unit
    # of the dtype's epsilon of rounding to every probability (each at most 1) as a random walk: sqrt(layers)
    # eps per head, and independent heads add in quadrature, so sqrt(heads * layers) eps = sqrt(90) = 9.5 eps
    # (0.074 in bfloat16, 1.1e-6 in float32). Measured: 3.4 eps in float32, 3.3 eps in bfloat16 (AVX512-BF16
    # CPU), 4.1 eps in bfloat16 (AVX2 CPU); a wrong head, layer or position is off by 24 eps or more.
    eps = torch.finfo(lm.dtype).eps
    atol = (len(heads) * lm.config.num_hidden_layers) ** 0.5 * eps
    for index, row in enumerate(rows):
        with torch.inference_mode():
            attentions = eager(torch.tensor([row]), output_attentions=True).attentions
        expected = sum(attentions[layer][0, head, -1].float() for layer, head in heads).numpy()
        got = probe.weights[index].float().numpy()
        np.testing.assert_allclose(got[: len(row)], expected, atol=atol)
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
    np.testing.assert_allclose(plain.surprisal, probed.surprisal, atol=surprisal_tolerance(lm, 0.05))


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
