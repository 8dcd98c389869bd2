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
them. A file appears whole or not at all (written aside, then hard-linked into place), so concurrent or
killed tasks never leave a half-written one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.cluster import MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from pipeline import run_folder

#: documents in the k-means sample per cluster (all documents when the corpus has fewer)
SAMPLE_PER_CLUSTER = 64
#: summary rows assigned to their centroid at once (and per assignment file)
CHUNK = 65_536
CLUSTER = "cluster"
CENTERS = "centers.npy"


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


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (created if missing), waiting for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def publish_once(path: Path, write: Callable[[Path], object]) -> Path:
    """`path`, written by `write(temporary)` unless it exists: the first complete file wins, whole."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        run_folder.sync([tmp])
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: the last complete file wins
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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

    if folder is None:
        return fit()

    def write(tmp: Path) -> None:
        with tmp.open("wb") as file:
            np.save(file, fit())

    path = folder / CENTERS
    with locked(folder / f"{CENTERS}.lock"):  # the first task fits, the others wait and read
        publish_once(path, write)
    return np.load(path)


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

    if folder is None:
        return pl.concat([assign(chunk) for chunk in range(chunks)]).lazy()
    start = int(first * chunks) % chunks
    paths = []
    for chunk in [*range(start, chunks), *range(start)]:
        path = folder / "assignments" / f"chunk-{chunk:06d}.parquet"
        paths.append(publish_once(path, lambda tmp, chunk=chunk: assign(chunk).write_parquet(tmp)))
    return pl.scan_parquet(sorted(paths))
