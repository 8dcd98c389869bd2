import numpy as np
import polars as pl
import pytest

from filters.select.budget import Budget, token_counts
from filters.select.dsir import dsir_select, gumbel_top_k_order, hashed_features, importance_log_weights
from tests.conftest import shared_file

COOKING = [
    "Stir the onions in butter until golden, then add the garlic and a pinch of salt.",
    "Bake the bread at two hundred degrees until the crust sounds hollow when tapped.",
    "Whisk the eggs with sugar, fold in the flour and pour the batter into the tin.",
    "Simmer the tomato sauce slowly and season it with basil, salt and black pepper.",
    "Roast the vegetables with olive oil and rosemary until the edges caramelise.",
    "Knead the dough for ten minutes, cover it and let it rise in a warm kitchen.",
]
FINANCE = [
    "The company said quarterly net profit rose to twelve million dollars on higher sales.",
    "Shares fell three percent after the bank cut its forecast for the fiscal year.",
    "The central bank left interest rates unchanged and said inflation remained low.",
    "Analysts expect the merger to close in the second quarter, pending regulatory approval.",
    "The firm reported a loss per share of ten cents, compared with a profit a year ago.",
    "Bond yields rose as traders priced in a stronger dollar and higher oil prices.",
]


def test_hashed_features_count_unigrams_and_bigrams_per_document():
    features = hashed_features(["a b a", "", "c"], buckets=1000)
    assert features.shape == (3, 1000)
    assert features.sum(axis=1).ravel().tolist() == [[5.0, 0.0, 1.0]]  # 3 unigrams + 2 bigrams
    assert features[0].max() == 2.0  # "a" twice
    # same n-gram, same bucket, whatever the document
    assert (hashed_features(["c"], buckets=1000) != features[2]).nnz == 0


def test_importance_weights_favour_documents_like_the_target():
    # a raw pool mostly off target, as in practice; the target shares no sentence with it
    pool = hashed_features(COOKING[:3] + FINANCE * 3)
    target = hashed_features(COOKING[3:])
    weights = importance_log_weights(pool, target)
    assert weights[:3].min() > weights[3:].max()


def test_dsir_selects_target_like_documents_and_is_seeded():
    pool = pl.Series(COOKING[:3] + FINANCE * 3)
    chosen, weights = dsir_select(pool, COOKING[3:], Budget(docs=3), seed=0)
    assert sorted(chosen.tolist()) == [0, 1, 2]
    assert weights.shape == (21,)
    assert dsir_select(pool, COOKING[3:], Budget(docs=5), seed=4)[0].tolist() == (
        dsir_select(pool, COOKING[3:], Budget(docs=5), seed=4)[0].tolist()
    )
    lengths = token_counts(pool)
    by_tokens, _ = dsir_select(pool, COOKING[3:], Budget(tokens=40), lengths=lengths)
    assert lengths[by_tokens].sum() <= 40
    assert set(by_tokens.tolist()) <= {0, 1, 2}


def test_gumbel_top_k_samples_in_proportion_to_weights():
    log_weights = np.log(np.array([1.0, 3.0]))
    firsts = [gumbel_top_k_order(log_weights, seed=s)[0] for s in range(2000)]
    assert np.mean(firsts) == pytest.approx(0.75, abs=0.03)


@pytest.mark.shared_data
def test_dsir_picks_c4_from_a_reuters_and_c4_pool():
    reuters = pl.read_ndjson(shared_file("reuters21578.jsonl.gz")).head(2000)["text"]
    c4 = pl.read_ndjson(shared_file("c4_sample1k.jsonl.gz"))["text"]
    pool = pl.concat([reuters, c4.head(500)])
    chosen, _ = dsir_select(pool, c4.tail(300), Budget(docs=500), seed=0)
    share = float((chosen >= 2000).mean())
    # measured 0.91 (seeds 0-2: 0.91, 0.912, 0.908); random would give 0.2
    assert share >= 0.8
