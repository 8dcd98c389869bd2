"""K-means fitted once on a seeded sample of a corpus's embeddings, and every document's nearest centroid.

The sample is the `SAMPLE_PER_CLUSTER` x n_clusters documents whose key hashes lowest (seeded: the same
rows whatever the shards, the split or the workers), so the fit holds that many embeddings, not the
corpus: at most 64 x 10,000 x 384 float32 = 0.98 GB at the largest default `n_clusters`, and the whole
corpus below 64 x n_clusters documents (FAISS fits on 39 to 256 points per centroid). MiniBatchKMeans runs
on one thread, so the centroids are the same bits in every process (its parallel inertia sums, which decide
when it stops, depend on the thread count).

Every document then goes to its nearest centroid (squared Euclidean distance, as scikit-learn's `predict`),
streaming the summaries `CHUNK` rows at a time. In a run both are files of the stage's state folder:
the centroids, fitted under a lock by the first task that needs them, and one assignment file per chunk,
written by whichever task gets there first (each starts at a different chunk); every other task reads
them (`pipeline.run_state`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from pipeline.run_state import local_folder, publish_once, shared_array

#: documents in the k-means sample per cluster (all documents when the corpus has fewer)
SAMPLE_PER_CLUSTER = 64
#: summary rows assigned to their centroid at once (and per assignment file)
CHUNK = 65_536
CLUSTER = "cluster"
CENTERS = "centers"


def sample_size(documents: int, n_clusters: int) -> int:
    """How many documents the k-means sample holds."""
    return min(documents, SAMPLE_PER_CLUSTER * n_clusters)


def seeded_sample(frame: pl.LazyFrame, key: str, size: int, seed: int) -> pl.Series:
    """The `key` values of the `size` rows whose `key` hashes lowest under `seed` (ties: lowest key)."""
    hashed = frame.select(pl.col(key), pl.col(key).hash(seed).alias("_hash"))
    return hashed.bottom_k(size, by=["_hash", key]).collect(engine="streaming")[key].sort()


def unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32, copy=False)


def fit_centers(sample: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """(k, dim) float32 MiniBatchKMeans centers of `sample` (k = n_clusters, at most one per row), fitted
    on one thread; one center (the mean) for one cluster."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning

    sample = np.asarray(sample, dtype=np.float32)
    if n_clusters <= 1 or len(sample) <= 1:
        mean = sample.mean(axis=0, keepdims=True) if len(sample) else np.zeros((1, sample.shape[1]))
        return mean.astype(np.float32)
    model = MiniBatchKMeans(
        n_clusters=min(n_clusters, len(sample)), random_state=seed, n_init=3, batch_size=1024
    )
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct points than clusters
        model.fit(sample)
    return model.cluster_centers_.astype(np.float32)


def nearest(vectors: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Each row's nearest center (squared Euclidean distance; ties: the lowest center)."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int32)
    distance = np.einsum("ij,ij->i", centers, centers)[None, :] - 2.0 * (vectors @ centers.T)
    return distance.argmin(axis=1).astype(np.int32)


def sample_vectors(summaries: pl.LazyFrame, key: str, column: str, size: int, seed: int) -> np.ndarray:
    """The unit `column` vectors of the seeded sample of `size` rows, in `key` order."""
    keys = seeded_sample(summaries, key, size, seed)
    rows = summaries.select(key, column).filter(pl.col(key).is_in(keys.implode()))
    return unit(rows.sort(key).collect(engine="streaming")[column].to_numpy())


def corpus_centers(
    summaries: pl.LazyFrame,
    *,
    key: str,
    column: str,
    n_clusters: int,
    seed: int,
    folder: Path | None = None,
) -> np.ndarray:
    """The centers fitted on the seeded sample of `summaries` (`folder`: fitted once, kept there)."""
    documents = summaries.select(pl.len()).collect().item()

    def fit() -> np.ndarray:
        size = sample_size(documents, n_clusters)
        return fit_centers(sample_vectors(summaries, key, column, size, seed), n_clusters, seed)

    return shared_array(folder, CENTERS, fit)


def assignments(
    summaries: pl.LazyFrame,
    centers: np.ndarray,
    *,
    key: str,
    column: str,
    folder: Path | None = None,
    first: float = 0.0,
) -> pl.LazyFrame:
    """`key` and `cluster` (nearest center) of every summary row, chunk by chunk; with `folder`, each chunk
    is computed once and kept there, and this call starts at the chunk at fraction `first` of them."""
    documents = summaries.select(pl.len()).collect().item()
    chunks = max(1, -(-documents // CHUNK))

    def assign(chunk: int) -> pl.DataFrame:
        rows = summaries.select(key, column).slice(chunk * CHUNK, CHUNK).collect()
        labels = nearest(unit(rows[column].to_numpy()), centers) if rows.height else np.zeros(0, np.int32)
        return pl.DataFrame({key: rows[key], CLUSTER: pl.Series(labels, dtype=pl.Int32)})

    folder = local_folder(folder)
    if folder is None:
        return pl.concat([assign(chunk) for chunk in range(chunks)]).lazy()
    start = int(first * chunks) % chunks
    paths = []
    for chunk in [*range(start, chunks), *range(start)]:
        path = folder / "assignments" / f"chunk-{chunk:06d}.parquet"
        paths.append(publish_once(path, lambda tmp, chunk=chunk: assign(chunk).write_parquet(tmp)))
    return pl.scan_parquet(sorted(paths))
