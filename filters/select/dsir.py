"""DSIR: data selection with importance resampling (Xie et al. 2023, arXiv:2302.03169).

Every document becomes hashed unigram + bigram counts (`buckets` features). Two smoothed bag-of-n-grams
(multinomial Naive Bayes) models, one fit on the target corpus and one on the raw pool, give each document
an importance log-weight `log p_target(doc) - log p_raw(doc)`; Gumbel top-k (add Gumbel noise to the
log-weights, keep the largest) samples documents without replacement in proportion to their weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from filters.select.budget import Budget

if TYPE_CHECKING:  # scipy is imported where a matrix is made: a run without selection never pays for it
    from scipy import sparse

DEFAULT_BUCKETS = 10_000
HASH_SEED = 0x0D51_2023


def ngram_buckets(texts: pl.Series | Sequence[str], *, buckets: int = DEFAULT_BUCKETS) -> pl.DataFrame:
    """Hashed unigram and bigram counts: rows (`doc`, `bucket`, `count`), `doc` the row index of `texts`.

    Words are lowercase runs of word characters; a bigram joins neighbouring words of one document.
    """
    series = texts if isinstance(texts, pl.Series) else pl.Series("text", list(texts), dtype=pl.String)
    words = (
        pl.DataFrame({"text": series.fill_null("").str.to_lowercase().str.extract_all(r"\w+")})
        .with_row_index("doc")
        .explode("text")
        .drop_nulls("text")
        .rename({"text": "word"})
    )
    following = pl.col("word").shift(-1).over("doc")
    grams = pl.concat(
        [
            words.select("doc", pl.col("word").alias("gram")),
            words.select("doc", (pl.col("word") + " " + following).alias("gram")).drop_nulls("gram"),
        ]
    )
    return (
        grams.select("doc", (pl.col("gram").hash(seed=HASH_SEED) % buckets).cast(pl.Int64).alias("bucket"))
        .group_by("doc", "bucket")
        .agg(pl.len().cast(pl.Float64).alias("count"))
        .sort("doc", "bucket")
    )


def feature_matrix(counts: pl.DataFrame, n_docs: int, buckets: int = DEFAULT_BUCKETS) -> sparse.csr_matrix:
    """The `(n_docs, buckets)` sparse count matrix of `ngram_buckets` rows."""
    from scipy import sparse

    return sparse.csr_matrix(
        (counts["count"].to_numpy(), (counts["doc"].to_numpy(), counts["bucket"].to_numpy())),
        shape=(n_docs, buckets),
    )


def hashed_features(texts: pl.Series | Sequence[str], *, buckets: int = DEFAULT_BUCKETS) -> sparse.csr_matrix:
    """Hashed unigram + bigram counts of `texts`, one sparse row per document."""
    return feature_matrix(ngram_buckets(texts, buckets=buckets), len(texts), buckets)


def bucket_totals(features: sparse.spmatrix) -> np.ndarray:
    """Each bucket's count summed over the rows of `features`."""
    return np.asarray(features.sum(axis=0), dtype=np.float64).ravel()


def log_distribution(totals: np.ndarray, *, smoothing: float = 1.0) -> np.ndarray:
    """Log-probabilities of each bucket under a multinomial fit to its `totals` (add-`smoothing`)."""
    totals = np.asarray(totals, dtype=np.float64) + smoothing
    return np.log(totals) - np.log(totals.sum())


def importance_ratio(
    pool_totals: np.ndarray, target_totals: np.ndarray, *, smoothing: float = 1.0
) -> np.ndarray:
    """Per bucket, `log p_target - log p_raw`: a document's log-weight is its counts times this vector, so
    the pool's documents can be weighed in any number of parts once the totals are known."""
    return log_distribution(target_totals, smoothing=smoothing) - log_distribution(
        pool_totals, smoothing=smoothing
    )


def importance_log_weights(
    pool: sparse.spmatrix, target: sparse.spmatrix, *, smoothing: float = 1.0
) -> np.ndarray:
    """`log p_target(doc) - log p_raw(doc)` for every pool row, the raw model fit on the pool itself."""
    ratio = importance_ratio(bucket_totals(pool), bucket_totals(target), smoothing=smoothing)
    return np.asarray(pool @ ratio).ravel()


def gumbel_top_k_order(log_weights: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """All rows in Gumbel top-k order: any prefix is a weighted sample without replacement."""
    noise = np.random.default_rng(seed).gumbel(size=len(log_weights))
    return np.argsort(-(np.asarray(log_weights, dtype=np.float64) + noise), kind="stable")


def dsir_select(
    pool: pl.Series | Sequence[str],
    target: pl.Series | Sequence[str],
    budget: Budget,
    *,
    lengths: np.ndarray | None = None,
    buckets: int = DEFAULT_BUCKETS,
    smoothing: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(chosen pool row indices, importance log-weight of every pool row) for texts like `target`."""
    weights = importance_log_weights(
        hashed_features(pool, buckets=buckets), hashed_features(target, buckets=buckets), smoothing=smoothing
    )
    return budget.take(gumbel_top_k_order(weights, seed=seed), lengths), weights
