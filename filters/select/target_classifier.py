"""Target selection by a classifier: how much more a pool document looks like the target than like the pool.

A class-balanced logistic regression is fitted on the target corpus (label 1) against a seeded sample of
the pool (label 0), as the DCLM / fastText recipe does on n-grams. Its features are a document's unit-length
embedding followed, by default, by its l2-normalised hashed word unigram + bigram counts (DSIR's hashing,
`dsir.ngram_buckets`), its layout statistics (`layout`: length, lines, character classes, standardized
on the pool sample and clipped) and its language-model state (`lm_states`: SmolLM2's middle layer, centred
on the pool sample, unit length): the embedding carries topic and meaning, the n-grams wording and
vocabulary, the layout the form (prose or list, line lengths, punctuation) that both smooth away, the LM
state the register (an encyclopedia entry or a web page's blurb on the same subject). Its
log-odds (`decision_function`) estimate log p_target(x) / p_pool(x), a density ratio: documents are ranked
by what separates the target from the pool, not by closeness to single target documents (knn favours hub
documents close to everything). The fit is a `(features + 1,)` float64 vector (coefficients, then the
intercept), so the pool can be scored in any number of parts with the same bits.

Self-training (on by default): the pool holds documents of the target's kind, and a target-vs-pool fit
counts them against the target (positive-unlabelled learning). The classifier is fitted again with the pool
rows it already judges more like the target than like the pool (positive log-odds) added to the target,
until that set stops changing (at most `SELF_TRAINING_ROUNDS` refits), as iterative two-step PU learning
does. The set grows towards the pool's documents of the target's kind: with 20 Wikipedia passages as the
target among 1,000 C4 pages and 250 other passages, from 60 after the first fit to about 225, 96% of them
Wikipedia. It does not depend on the budget, so neither do the scores: a budget larger than the pool holds
of the target's kind (a user does not know that count) leaves the ranking as good as one fit's. It helps
most where the target is small (see the README's table); where the first fit is already near-perfect it
changes little.

A minimum log-odds (`min_log_odds`, `likely_order`) keeps only the documents the classifier finds at least
that much more like the target than like the pool: with 0, a budget larger than the pool holds of the
target's kind (or none) is not filled with documents it finds unlike the target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import numpy as np
from threadpoolctl import threadpool_limits

from filters.select.budget import Budget
from filters.select.layout import LayoutScaling
from filters.select.lm_states import StateCentring
from filters.select.sampled_kmeans import unit

if TYPE_CHECKING:  # scipy is imported where a matrix is made: a run without selection never pays for it
    from scipy import sparse

#: inverse regularisation strength of the logistic regression (of 0.1, 0.3, 1 and 3, the best on draw 0 of
#: `benchmarks/select_target.py`; the README reports other draws)
DEFAULT_C = 0.3
#: the pool sample holds at least this many documents (all of a smaller pool) ...
MIN_POOL_SAMPLE = 10_000
#: ... and at least this many per target document
POOL_PER_TARGET = 5
#: self-training refits at most this many times (it stops earlier when no pool row changes side)
SELF_TRAINING_ROUNDS = 10

Features: TypeAlias = "np.ndarray | sparse.csr_matrix"


def pool_sample_size(pool: int, target: int) -> int:
    """How many pool documents the classifier is fitted against: min(pool, max(5 x target, 10,000))."""
    return min(pool, max(POOL_PER_TARGET * target, MIN_POOL_SAMPLE))


def classifier_features(
    vectors: np.ndarray,
    ngrams: sparse.spmatrix | None = None,
    layout: np.ndarray | None = None,
    states: np.ndarray | None = None,
) -> Features:
    """The classifier's input rows: the unit-length embeddings (float64), followed, when `ngrams` (hashed
    n-gram counts, one row per document) is given, by those counts scaled to unit length, so the two parts
    weigh alike whatever the document's length, then, when given, by `layout` (`LayoutScaling.transform`
    rows) and by `states` (`StateCentring.transform` rows)."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    dense = unit(vectors).astype(np.float64)
    if ngrams is None and layout is None and states is None:
        return dense
    blocks = [sparse.csr_matrix(dense)]
    if ngrams is not None:
        if ngrams.shape[0] != len(dense):
            raise ValueError(f"{ngrams.shape[0]} n-gram rows for {len(dense)} embeddings")
        blocks.append(normalize(sparse.csr_matrix(ngrams)))
    for name, block in (("layout", layout), ("state", states)):
        if block is not None:
            if len(block) != len(dense):
                raise ValueError(f"{len(block)} {name} rows for {len(dense)} embeddings")
            blocks.append(sparse.csr_matrix(np.asarray(block, dtype=np.float64)))
    return sparse.hstack(blocks, format="csr")


def fit_target_classifier(
    target: Features,
    pool: Features,
    *,
    C: float = DEFAULT_C,
    seed: int = 0,
    self_training: bool = False,
) -> np.ndarray:
    """Coefficients and intercept (`(features + 1,)` float64) of a class-balanced logistic regression,
    `target` rows (label 1) against `pool` rows (label 0), both `classifier_features`; fitted on one thread,
    so the result is the same bits in every process. With `self_training`, fitted again with the pool rows
    of positive log-odds added to the target (they stay pool rows too), until those rows stop changing or
    `SELF_TRAINING_ROUNDS` refits."""
    if target.shape[0] == 0 or pool.shape[0] == 0:
        raise ValueError("the target corpus and the pool sample need at least one document each")
    if target.shape[1] != pool.shape[1]:
        raise ValueError(f"target rows have {target.shape[1]} features, pool rows {pool.shape[1]}")
    from scipy import sparse

    stack = sparse.vstack if sparse.issparse(target) or sparse.issparse(pool) else np.vstack
    weights = _fit(stack([target, pool]), target.shape[0], C, seed)
    added = np.empty(0, dtype=np.int64)
    for _ in range(SELF_TRAINING_ROUNDS if self_training else 0):
        likely = np.flatnonzero(classifier_scores(pool, weights) > 0)
        if np.array_equal(likely, added):
            break
        added = likely
        weights = _fit(stack([target, pool[added], pool]), target.shape[0] + len(added), C, seed)
    return weights


def _fit(features: Features, positives: int, C: float, seed: int) -> np.ndarray:
    """A class-balanced logistic regression's weights: the first `positives` rows against the rest."""
    from sklearn.linear_model import LogisticRegression

    labels = np.zeros(features.shape[0], dtype=np.int8)
    labels[:positives] = 1
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=1000, random_state=seed)
    with threadpool_limits(limits=1):
        model.fit(features, labels)
    return np.r_[model.coef_.ravel(), model.intercept_].astype(np.float64)


def classifier_scores(features: Features, weights: np.ndarray) -> np.ndarray:
    """The log-odds (target over pool) of each `classifier_features` row under `fit_target_classifier`'s
    `weights`."""
    if features.shape[1] != len(weights) - 1:
        raise ValueError(f"rows have {features.shape[1]} features, the classifier {len(weights) - 1}")
    return np.asarray(features @ weights[:-1]).ravel() + weights[-1]


def paired_features(
    pool: np.ndarray,
    target: np.ndarray,
    sample: np.ndarray,
    *,
    pool_ngrams: sparse.spmatrix | None = None,
    target_ngrams: sparse.spmatrix | None = None,
    pool_layout: np.ndarray | None = None,
    target_layout: np.ndarray | None = None,
    pool_states: np.ndarray | None = None,
    target_states: np.ndarray | None = None,
) -> tuple[Features, Features]:
    """The pool's and the target's `classifier_features` rows, the layout scaled and the LM states centred on
    the pool rows `sample`. `pool` / `target` are embeddings; each other block (`dsir.hashed_features`,
    `layout.layout_statistics`, `lm_states.lm_states`) is given for both or for neither."""
    if (pool_ngrams is None) != (target_ngrams is None):
        raise ValueError("give the n-grams of both the pool and the target, or of neither")
    if (pool_layout is None) != (target_layout is None):
        raise ValueError("give the layout statistics of both the pool and the target, or of neither")
    if (pool_states is None) != (target_states is None):
        raise ValueError("give the LM states of both the pool and the target, or of neither")
    pool_block = target_block = None
    if pool_layout is not None and target_layout is not None:
        scaling = LayoutScaling.fit(np.asarray(pool_layout)[sample])
        pool_block, target_block = scaling.transform(pool_layout), scaling.transform(target_layout)
    pool_lm = target_lm = None
    if pool_states is not None and target_states is not None:
        centring = StateCentring.fit(np.asarray(pool_states)[sample])
        pool_lm, target_lm = centring.transform(pool_states), centring.transform(target_states)
    return (
        classifier_features(pool, pool_ngrams, pool_block, pool_lm),
        classifier_features(target, target_ngrams, target_block, target_lm),
    )


def likely_order(
    scores: np.ndarray, min_log_odds: float | None = None, *, rank: np.ndarray | None = None
) -> np.ndarray:
    """Row indices best first by `rank` (default: the log-odds `scores`; ties by position); with
    `min_log_odds`, only rows whose log-odds are at least that (0: rows the classifier finds more like the
    target than like the pool)."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-(scores if rank is None else np.asarray(rank, dtype=np.float64)), kind="stable")
    return order if min_log_odds is None else order[scores[order] >= min_log_odds]


def classifier_select(
    pool: np.ndarray,
    target: np.ndarray,
    budget: Budget,
    *,
    pool_ngrams: sparse.spmatrix | None = None,
    target_ngrams: sparse.spmatrix | None = None,
    pool_layout: np.ndarray | None = None,
    target_layout: np.ndarray | None = None,
    pool_states: np.ndarray | None = None,
    target_states: np.ndarray | None = None,
    C: float = DEFAULT_C,
    seed: int = 0,
    lengths: np.ndarray | None = None,
    self_training: bool = True,
    min_log_odds: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(chosen pool row indices, highest log-odds first; log-odds of every pool row), the classifier fitted
    against a seeded sample of the pool (`pool_sample_size`). `pool` / `target` are embeddings; with
    `pool_ngrams` and `target_ngrams` (`dsir.hashed_features`) the n-grams join the features, with
    `pool_layout` and `target_layout` (`layout.layout_statistics`) the layout, scaled on the pool sample, with
    `pool_states` and `target_states` (`lm_states.lm_states`) the LM states, centred on the pool sample
    (`paired_features`); `self_training`: fitted again with the sample's rows of positive log-odds added to
    the target (`fit_target_classifier`); `min_log_odds`: only rows scoring at least that are chosen (fewer
    than the budget when fewer do; `likely_order`)."""
    size = pool_sample_size(len(pool), len(target))
    sample = np.sort(np.random.default_rng(seed).choice(len(pool), size=size, replace=False))
    features, target_features = paired_features(
        pool,
        target,
        sample,
        pool_ngrams=pool_ngrams,
        target_ngrams=target_ngrams,
        pool_layout=pool_layout,
        target_layout=target_layout,
        pool_states=pool_states,
        target_states=target_states,
    )
    weights = fit_target_classifier(
        target_features, features[sample], C=C, seed=seed, self_training=self_training
    )
    scores = classifier_scores(features, weights)
    return budget.take(likely_order(scores, min_log_odds), lengths), scores
