import numpy as np
import pytest
import torch

from filters.select.lm_states import StateCentring, lm_states
from pipeline.models import ModelError, load_causal_lm, load_lm_trunk

TEXTS = [
    "The Treaty of Westphalia ended the Thirty Years' War in 1648 and reshaped the map of central Europe.",
    "Buy now! Free shipping on all orders over $50.",
    "A baker sells 24 muffins a day. How many does she sell in a week?",
]
#: float32 sums over a few hundred tokens of residual streams whose largest entries are ~1e4
FLOAT32 = {"rtol": 1e-4, "atol": 1e-2}


def full_model_states(text: str, layers: int) -> np.ndarray:
    """The mean residual stream after `layers` layers of the whole causal LM (its `hidden_states`)."""
    model, tokenizer = load_causal_lm(dtype="float32")
    ids = [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]
    with torch.inference_mode():
        hidden = model.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
    return hidden[layers][0, 1:].mean(dim=0).numpy()


def test_states_are_the_full_models_middle_layer_averaged_over_the_tokens_after_bos():
    trunk, _ = load_lm_trunk(dtype="float32")
    assert len(trunk.layers) == 15  # half of SmolLM2-135M's 30
    states = lm_states(TEXTS, dtype="float32")
    assert states.dtype == np.float32 and states.shape == (3, trunk.config.hidden_size)
    for text, row in zip(TEXTS, states, strict=True):
        np.testing.assert_allclose(row, full_model_states(text, 15), **FLOAT32)
    np.testing.assert_allclose(
        lm_states(TEXTS[:1], layers=4, dtype="float32")[0], full_model_states(TEXTS[0], 4), **FLOAT32
    )


def test_batching_and_padding_leave_each_state_unchanged_and_rows_in_order():
    alone = np.stack([lm_states([text], dtype="float32")[0] for text in TEXTS])
    batched = lm_states([TEXTS[2], None, TEXTS[0], "", TEXTS[1]], batch_size=2, dtype="float32")
    np.testing.assert_allclose(batched[[2, 4, 0]], alone, **FLOAT32)
    assert not batched[[1, 3]].any()  # null and empty texts are zeros


def test_only_the_first_max_tokens_are_read():
    _, tokenizer = load_lm_trunk(dtype="float32")
    ids = tokenizer(TEXTS[0], add_special_tokens=False)["input_ids"]
    prefix = tokenizer.decode(ids[:8])
    assert tokenizer(prefix, add_special_tokens=False)["input_ids"] == ids[:8]
    np.testing.assert_allclose(
        lm_states(TEXTS[:1], max_tokens=8, dtype="float32"), lm_states([prefix], dtype="float32"), **FLOAT32
    )


def test_auto_precision_states_point_where_float32_ones_do():
    """bfloat16 where the CPU has it natively, else float32: centred, the states agree in direction."""
    texts = [text * 3 for text in TEXTS] + TEXTS
    exact = lm_states(texts, dtype="float32")
    centring = StateCentring.fit(exact)
    cosines = np.sum(centring.transform(exact) * centring.transform(lm_states(texts)), axis=1)
    assert cosines.min() >= 0.95


def test_bad_settings_are_clear_errors():
    with pytest.raises(ModelError, match="layers must be between 1 and the model's 30"):
        lm_states(TEXTS, layers=31)
    with pytest.raises(ValueError, match="max_tokens and batch_size"):
        lm_states(TEXTS, max_tokens=0)


def test_centring_subtracts_the_pool_mean_and_scales_to_unit_length():
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(50, 8)) + 100.0  # a large shared direction, as LM states have
    centring = StateCentring.fit(pool)
    np.testing.assert_allclose(centring.mean, pool.mean(axis=0))
    block = centring.transform(pool)
    assert block.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(block, axis=1), 1.0, rtol=1e-6)
    raw = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    assert (raw @ raw.T).min() > 0.99 and (block @ block.T).min() < 0  # centred, documents differ again
    again = StateCentring.from_array(centring.to_array())
    np.testing.assert_array_equal(again.transform(pool), block)
    with pytest.raises(ValueError, match="state rows have shape"):
        centring.transform(pool[:, :4])
    with pytest.raises(ValueError, match="at least one row"):
        StateCentring.fit(np.empty((0, 8)))
