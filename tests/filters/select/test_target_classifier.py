import numpy as np
import pytest

from filters.select import target_classifier
from filters.select.budget import Budget
from filters.select.knn import target_select
from filters.select.sampled_kmeans import unit
from filters.select.target_classifier import (
    classifier_scores,
    classifier_select,
    fit_target_classifier,
    pool_sample_size,
)
from tests.filters.select.test_kcenter import blobs


def styled(n: int, style: int, rng: np.random.Generator, topics: np.ndarray) -> np.ndarray:
    """`n` documents on random topics (the bulk of each vector) written in `style` (a smaller component on
    dimension `style`): what separates them is the style, not the topic."""
    vectors = topics[rng.integers(len(topics), size=n)] + 0.1 * rng.normal(size=(n, topics.shape[1]))
    vectors[:, style] += 0.5
    return unit(vectors)


def test_target_like_rows_score_higher_and_the_fit_is_deterministic():
    vectors, labels = blobs([300, 100], seed=2)
    target, pool = vectors[labels == 1][:50], vectors[50:]
    weights = fit_target_classifier(target, pool, seed=0)
    assert weights.shape == (vectors.shape[1] + 1,) and weights.dtype == np.float64
    scores = classifier_scores(pool, weights)
    assert scores[labels[50:] == 1].min() > scores[labels[50:] == 0].max()
    assert np.array_equal(weights, fit_target_classifier(target, pool, seed=0))
    with pytest.raises(ValueError):
        fit_target_classifier(target[:0], pool)


def test_the_log_odds_follow_the_style_that_separates_the_target_not_the_shared_topics():
    rng = np.random.default_rng(0)
    topics = np.zeros((20, 32))
    topics[:, :30] = unit(rng.normal(size=(20, 30)))  # 20 topics, shared by both styles
    pool = np.concatenate([styled(800, 30, rng, topics), styled(200, 31, rng, topics)])
    target = styled(150, 31, rng, topics)
    chosen, scores = classifier_select(pool, target, Budget(docs=200), seed=0)
    share = (chosen >= 800).mean()
    assert share >= 0.95
    for method in ("knn", "centroid"):  # nearness to target documents also rewards their topics
        assert (target_select(pool, target, Budget(docs=200), method=method)[0] >= 800).mean() < share
    assert scores[chosen].tolist() == sorted(scores.tolist(), reverse=True)[:200]
    again, _ = classifier_select(pool, target, Budget(docs=200), seed=0)
    assert np.array_equal(chosen, again)


def test_pool_sample_size_is_five_per_target_document_and_at_least_ten_thousand(monkeypatch):
    assert pool_sample_size(3_000, 500) == 3_000  # a small pool: all of it
    assert pool_sample_size(1_000_000, 500) == 10_000
    assert pool_sample_size(1_000_000, 4_000) == 20_000
    monkeypatch.setattr(target_classifier, "MIN_POOL_SAMPLE", 10)
    assert pool_sample_size(100, 4) == 20
