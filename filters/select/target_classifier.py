"""Target selection by a classifier on embeddings: how much more a pool document looks like the target
than like the pool.

A class-balanced logistic regression is fitted on unit-length embeddings, the target corpus (label 1)
against a seeded sample of the pool (label 0), as the DCLM / fastText recipe does on n-grams. Its log-odds
(`decision_function`) estimate log p_target(x) / p_pool(x), a density ratio: documents are ranked by what
separates the target from the pool, not by closeness to single target documents (knn favours hub documents
close to everything). The fit is a `(dim + 1,)` float64 vector (coefficients, then the intercept), so the
pool can be scored in any number of parts with the same bits.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from filters.select.budget import Budget
from filters.select.sampled_kmeans import unit

#: inverse regularisation strength of the logistic regression (of 0.1, 1, 10 and 100, the best on draw 0 of
#: `benchmarks/select_target.py`; the README reports other draws)
DEFAULT_C = 0.1
#: the pool sample holds at least this many documents (all of a smaller pool) ...
MIN_POOL_SAMPLE = 10_000
#: ... and at least this many per target document
POOL_PER_TARGET = 5


def pool_sample_size(pool: int, target: int) -> int:
    """How many pool documents the classifier is fitted against: min(pool, max(5 x target, 10,000))."""
    return min(pool, max(POOL_PER_TARGET * target, MIN_POOL_SAMPLE))


def fit_target_classifier(
    target: np.ndarray, pool: np.ndarray, *, C: float = DEFAULT_C, seed: int = 0
) -> np.ndarray:
    """Coefficients and intercept (`(dim + 1,)` float64) of a class-balanced logistic regression, `target`
    rows (label 1) against `pool` rows (label 0), both scaled to unit length; fitted on one thread, so the
    result is the same bits in every process."""
    target, pool = unit(target), unit(pool)
    if len(target) == 0 or len(pool) == 0:
        raise ValueError("the target corpus and the pool sample need at least one document each")
    features = np.concatenate([target, pool])
    labels = np.r_[np.ones(len(target), dtype=np.int8), np.zeros(len(pool), dtype=np.int8)]
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=1000, random_state=seed)
    with threadpool_limits(limits=1):
        model.fit(features, labels)
    return np.r_[model.coef_.ravel(), model.intercept_].astype(np.float64)


def classifier_scores(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The log-odds (target over pool) of each row under `fit_target_classifier`'s `weights`."""
    return unit(vectors).astype(np.float64) @ weights[:-1] + weights[-1]


def classifier_select(
    pool: np.ndarray,
    target: np.ndarray,
    budget: Budget,
    *,
    C: float = DEFAULT_C,
    seed: int = 0,
    lengths: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(chosen pool row indices, highest log-odds first; log-odds of every pool row), the classifier fitted
    against a seeded sample of the pool (`pool_sample_size`)."""
    size = pool_sample_size(len(pool), len(target))
    sample = np.sort(np.random.default_rng(seed).choice(len(pool), size=size, replace=False))
    scores = classifier_scores(pool, fit_target_classifier(target, pool[sample], C=C, seed=seed))
    return budget.take(np.argsort(-scores, kind="stable"), lengths), scores
