import numpy as np
import pytest

from filters.select import target_classifier
from filters.select.budget import Budget
from filters.select.dsir import hashed_features
from filters.select.knn import target_select
from filters.select.sampled_kmeans import unit
from filters.select.target_classifier import (
    classifier_features,
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
    target = classifier_features(vectors[labels == 1][:50])
    pool = classifier_features(vectors[50:])
    weights = fit_target_classifier(target, pool, seed=0)
    assert weights.shape == (vectors.shape[1] + 1,) and weights.dtype == np.float64
    scores = classifier_scores(pool, weights)
    assert scores[labels[50:] == 1].min() > scores[labels[50:] == 0].max()
    assert np.array_equal(weights, fit_target_classifier(target, pool, seed=0))
    with pytest.raises(ValueError, match="at least one"):
        fit_target_classifier(target[:0], pool)
    with pytest.raises(ValueError, match="features"):
        classifier_scores(pool[:, :-1], weights)


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


def test_hashed_ngrams_find_a_target_that_differs_in_wording_the_embedding_does_not_carry():
    """Target-kind documents share boilerplate wording; their embeddings are drawn like everyone else's. The
    embedding alone ranks near random, the n-grams beside it find the target."""
    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(2_000)]

    def page(boilerplate: bool) -> str:
        words = " ".join(rng.choice(vocabulary, size=60))
        return words + (" posted by admin in uncategorized leave a comment" if boilerplate else "")

    pool_texts = [page(False) for _ in range(800)] + [page(True) for _ in range(200)]
    target_texts = [page(True) for _ in range(150)]
    pool, target = rng.normal(size=(1_000, 16)), rng.normal(size=(150, 16))
    budget = Budget(docs=200)
    alone, _ = classifier_select(pool, target, budget, seed=0)
    assert (alone >= 800).mean() < 0.5
    ngrams = {"pool_ngrams": hashed_features(pool_texts), "target_ngrams": hashed_features(target_texts)}
    both, scores = classifier_select(pool, target, budget, seed=0, **ngrams)
    assert (both >= 800).mean() >= 0.95
    assert len(scores) == 1_000
    with pytest.raises(ValueError, match="both"):
        classifier_select(pool, target, budget, pool_ngrams=ngrams["pool_ngrams"])
    with pytest.raises(ValueError, match="n-gram rows"):
        classifier_features(pool[:10], ngrams["pool_ngrams"])


def test_classifier_features_weigh_the_embedding_and_the_ngrams_alike():
    vectors = np.array([[3.0, 4.0], [0.0, 0.0]])
    counts = hashed_features(["the the cat sat", ""], buckets=64)
    features = classifier_features(vectors, counts).toarray()
    assert features.shape == (2, 2 + 64)
    norms = np.linalg.norm(features[0, :2]), np.linalg.norm(features[0, 2:])
    assert np.allclose(norms, 1.0, rtol=1e-6)
    assert not features[1].any()  # an empty text with a zero vector stays zero, not NaN
