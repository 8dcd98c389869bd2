"""Semantic deduplication (SemDeDup, Abbas et al. 2023): k-means over embeddings, then near-identical
embeddings within each cluster.

Documents are clustered by k-means fitted on a seeded sample of them (`filters.select.sampled_kmeans`:
64 per cluster, the whole corpus below 64 x n_clusters documents), each going to its nearest centroid;
within a cluster, a pair with cosine similarity >= 1 - eps is a duplicate. Each cluster is visited best
first (keep policy: closest to the centroid, farthest from it, longest, or highest value of a column; then
input order): a document is removed when it is that similar to a document already kept, and points at the
most similar one, so `duplicate_of` is never a chain away (as in `filters.dedup.clusters`). Similarities
are computed block by block against the kept documents of one cluster at a time, so memory stays bounded
by the largest cluster's kept set.

The decision splits into parts by cluster (`pipeline.stage.part_of` the cluster id): a cluster lies whole
in one part, so each part task reads the embeddings of its own documents only and decides alone; the
centroids are fitted once per run and each document assigned once (files of the stage's state folder that
every part reads; with a run folder in object storage, every part fits and assigns them itself). The
result is the same for any split.

Library use: `semantic_duplicates(frame)` adds `duplicate_of`, `similarity` and `cluster`.
Pipeline use: the `SemanticDedup` corpus stage (`type = "semantic_dedup"`, reason `semantic_duplicate`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
import polars as pl
from pydantic import Field

from filters.select.facts import SAMPLE, sample_facts
from filters.select.sampled_kmeans import (
    CLUSTER,
    assignments,
    corpus_centers,
    fit_centers,
    nearest,
    sample_size,
    seeded_sample,
    unit,
)
from filters.select.summary_vectors import vector_column
from pipeline.batch import ID, ORDER, REASON, TEXT
from pipeline.embeddings import EncoderConfig
from pipeline.errors import InputError
from pipeline.stage import SplitCorpusStage, StageConfig, part_of
from pipeline.storage import AnyPath
from pipeline.summaries import summary_rows

REASON_SEMANTIC = "semantic_duplicate"
#: keep policies by name; any other `keep` value names a column whose highest value is kept
POLICIES = ("centroid", "farthest", "longest")
#: rows compared at once against the kept documents of a cluster
BLOCK = 256
EMBEDDING = "embedding"
PRIORITY = "priority"


class SemDedupConfig(StageConfig, EncoderConfig):
    """Parameters of semantic deduplication (recipe table `type = "semantic_dedup"`), with the encoder's
    (`EncoderConfig`)."""

    type: Literal["semantic_dedup"] = "semantic_dedup"
    eps: float = Field(
        0.05, gt=0.0, lt=1.0, description="documents with cosine similarity >= 1 - eps are duplicates"
    )
    n_clusters: int | None = Field(
        None, ge=1, description="k-means clusters (default: sqrt of the corpus size, at most 10,000)"
    )
    keep: str = Field(
        "centroid",
        min_length=1,
        description="centroid (closest to it), farthest, longest, or a column: its highest value",
    )
    seed: int = Field(0, ge=0)

    @property
    def threshold(self) -> float:
        """The cosine similarity that makes a duplicate."""
        return 1.0 - self.eps

    def clusters_for(self, n: int) -> int:
        """The number of k-means clusters for `n` documents (between 1 and n)."""
        wanted = self.n_clusters if self.n_clusters is not None else min(10_000, round(math.sqrt(n)))
        return max(1, min(wanted, n))


def kmeans(vectors: np.ndarray, n_clusters: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(labels, unit-length centroids): k-means fitted on a seeded sample of the rows (`sampled_kmeans`),
    every row labelled with its nearest centroid."""
    vectors = unit(vectors)
    rows = pl.LazyFrame({"row": np.arange(len(vectors), dtype=np.int64)})
    sample = seeded_sample(rows, "row", sample_size(len(vectors), n_clusters), seed).to_numpy()
    centers = (
        fit_centers(vectors[sample], n_clusters, seed) if len(vectors) else np.zeros((1, vectors.shape[1]))
    )
    return nearest(vectors, centers).astype(np.int64), unit(centers)


def keep_rank(
    vectors: np.ndarray, labels: np.ndarray, centroids: np.ndarray, keep: str, priority: np.ndarray | None
) -> np.ndarray:
    """Each document's rank within its cluster (lower is kept first) under the keep policy.

    `priority` (higher is better) stands for `longest` and column policies; nulls should be -inf.
    """
    if keep in ("centroid", "farthest"):
        to_centroid = np.einsum("ij,ij->i", vectors, centroids[labels]).astype(np.float64)
        return -to_centroid if keep == "centroid" else to_centroid
    assert priority is not None, "longest and column policies need a priority"
    return -np.asarray(priority, dtype=np.float64)


def cluster_duplicates(
    vectors: np.ndarray, labels: np.ndarray, rank: np.ndarray, threshold: float, block: int = BLOCK
) -> tuple[np.ndarray, np.ndarray]:
    """(duplicate_of, similarity) per row: the kept row it duplicates (-1 if kept) and their cosine.

    Rows are compared only within their cluster (`labels`), visited by `rank` then position.
    """
    n = len(vectors)
    duplicate_of = np.full(n, -1, dtype=np.int64)
    similarity = np.full(n, np.nan, dtype=np.float64)
    if n == 0:
        return duplicate_of, similarity
    order = np.lexsort((np.arange(n), rank, labels))
    starts = np.flatnonzero(np.diff(labels[order])) + 1
    for members in np.split(order, starts):
        _greedy(vectors, members, threshold, block, duplicate_of, similarity)
    return duplicate_of, np.minimum(similarity, 1.0)


def _greedy(
    vectors: np.ndarray,
    members: np.ndarray,
    threshold: float,
    block: int,
    duplicate_of: np.ndarray,
    similarity: np.ndarray,
) -> None:
    """Resolve one cluster whose `members` are in visiting order; writes removals in place."""
    kept = np.empty(0, dtype=np.int64)
    kept_vectors = np.empty((0, vectors.shape[1]), dtype=vectors.dtype)
    for start in range(0, len(members), block):
        rows = members[start : start + block]
        chunk = vectors[rows]
        alive = np.ones(len(rows), dtype=bool)
        if len(kept):
            to_kept = chunk @ kept_vectors.T
            best = to_kept.argmax(axis=1)
            top = to_kept[np.arange(len(rows)), best]
            hit = top >= threshold
            duplicate_of[rows[hit]] = kept[best[hit]]
            similarity[rows[hit]] = top[hit]
            alive[hit] = False
        inner = chunk @ chunk.T
        earlier = np.tril(inner >= threshold, k=-1) & alive[None, :]
        for i in np.flatnonzero(alive & earlier.any(axis=1)):  # only rows with an earlier duplicate
            partners = np.flatnonzero(earlier[i] & alive)  # rows before i are already final
            if len(partners):
                j = partners[inner[i, partners].argmax()]
                duplicate_of[rows[i]] = rows[j]
                similarity[rows[i]] = inner[i, j]
                alive[i] = False
        kept = np.concatenate([kept, rows[alive]])
        kept_vectors = np.concatenate([kept_vectors, chunk[alive]])


def priority_of(batch: pl.DataFrame, keep: str, text: str = TEXT) -> pl.Series:
    """Each document's `priority` (higher is kept first) for `longest` and column policies, else 0."""
    if keep in ("centroid", "farthest"):
        return pl.Series(PRIORITY, np.zeros(batch.height))
    if keep == "longest":
        return batch.select(pl.col(text).str.len_chars().cast(pl.Float64).alias(PRIORITY)).to_series()
    if keep not in batch.columns:
        raise InputError(
            f"keep column '{keep}' is not in the documents (columns: {', '.join(batch.columns)})", field=keep
        )
    value = pl.col(keep).cast(pl.Float64).fill_nan(None).fill_null(float("-inf"))
    return batch.select(value.alias(PRIORITY)).to_series()


def find_semantic_duplicates(
    vectors: np.ndarray, config: SemDedupConfig, priority: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(duplicate_of, similarity, cluster) per row of `vectors` (-1 / NaN for kept rows), by cosine."""
    vectors = unit(vectors)
    labels, centroids = kmeans(vectors, config.clusters_for(len(vectors)), config.seed)
    rank = keep_rank(vectors, labels, centroids, config.keep, priority)
    duplicate_of, similarity = cluster_duplicates(vectors, labels, rank, config.threshold)
    return duplicate_of, similarity, labels


def semantic_duplicates(
    frame: pl.DataFrame,
    embeddings: np.ndarray | None = None,
    config: SemDedupConfig | None = None,
    *,
    text: str = TEXT,
    id: str = ID,
) -> pl.DataFrame:
    """`frame` plus `duplicate_of` (id of the kept duplicate, null if kept), `similarity` and `cluster`.

    `embeddings` (one row per document) are computed with the configured model if not given.
    """
    config = config or SemDedupConfig()
    if embeddings is None:
        embeddings = config.embed(frame[text].to_list())
    if len(embeddings) != frame.height:
        raise ValueError(f"{len(embeddings)} embeddings for {frame.height} documents")
    priority = priority_of(frame, config.keep, text).to_numpy()
    duplicate_of, similarity, labels = find_semantic_duplicates(embeddings, config, priority)
    kept_row = pl.Series(duplicate_of).replace(-1, None)
    return frame.with_columns(
        frame[id].cast(pl.String).gather(kept_row).alias("duplicate_of"),
        pl.Series("similarity", similarity, dtype=pl.Float64).fill_nan(None),
        pl.Series("cluster", labels, dtype=pl.Int64),
    )


class SemanticDedup(SplitCorpusStage):
    """Remove semantic duplicates (`reason=semantic_duplicate`) across the whole corpus, deciding in parts
    by cluster."""

    Config = SemDedupConfig
    detail_columns: ClassVar[dict[str, pl.DataType]] = {
        "duplicate_of": pl.String(),
        "similarity": pl.Float64(),
    }
    config: SemDedupConfig

    def summarize(self, batch: pl.DataFrame) -> pl.DataFrame:
        """`ORDER`, `id`, `priority` and the document's `embedding` (float32 array)."""
        priority = priority_of(batch, self.config.keep)
        vectors = self.config.embed(batch[TEXT].to_list())
        return pl.DataFrame(
            [
                batch[ORDER],
                batch[ID].cast(pl.String),
                priority,
                vector_column(vectors, EMBEDDING),
            ]
        )

    def decide_part(
        self,
        summaries: pl.LazyFrame,
        part: int,
        parts: int,
        routed: pl.LazyFrame | None = None,
        round: int = 0,
        files: Sequence[AnyPath] = (),
    ) -> pl.DataFrame:
        """Every document of the clusters in `part` (`cluster` % parts): `ORDER`, `cluster`, and for the
        removed ones `reason`, `duplicate_of` and `similarity` (null for the kept ones). Clusters are known
        only once the centroids are fitted, so nothing is routed at summarize time."""
        schema = {ORDER: pl.Int64(), CLUSTER: pl.Int32(), REASON: pl.String(), **self.detail_columns}
        documents = summaries.select(pl.len()).collect().item()
        if documents == 0:
            return pl.DataFrame(schema=schema)
        config = self.config
        folder = self.state_dir / "kmeans" if self.state_dir is not None else None
        where = {"key": ORDER, "column": EMBEDDING, "folder": folder}
        centers = corpus_centers(
            summaries, n_clusters=config.clusters_for(documents), seed=config.seed, **where
        )
        labels = assignments(summaries, centers, first=part / parts, **where)
        mine = labels.filter(part_of(pl.col(CLUSTER), parts) == part).collect(engine="streaming")
        rows = summary_rows(summaries, mine[ORDER], [ID, PRIORITY, EMBEDDING], files)
        data = rows.join(mine, on=ORDER).sort(ORDER)
        vectors, clusters = unit(data[EMBEDDING].to_numpy()), data[CLUSTER].to_numpy().astype(np.int64)
        rank = keep_rank(vectors, clusters, unit(centers), config.keep, data[PRIORITY].to_numpy())
        duplicate_of, similarity = cluster_duplicates(vectors, clusters, rank, config.threshold)
        found = pl.DataFrame(
            {
                ORDER: data[ORDER],
                CLUSTER: data[CLUSTER],
                "removed": duplicate_of >= 0,
                "duplicate_of": data[ID].gather(pl.Series(duplicate_of).replace(-1, None)),
                "similarity": pl.Series(similarity).fill_nan(None),
            }
        )
        reason = pl.when(pl.col("removed")).then(pl.lit(REASON_SEMANTIC)).alias(REASON)
        return found.select(ORDER, CLUSTER, reason, *self.detail_columns).cast(schema)

    def decide_parts(
        self, summaries: pl.LazyFrame, parts: pl.LazyFrame, files: Sequence[AnyPath] = ()
    ) -> pl.DataFrame:
        """The removals of every part; the facts from a seeded sample of the documents."""
        columns = [ORDER, REASON, *self.detail_columns]
        decisions = parts.filter(pl.col(REASON).is_not_null()).select(columns).sort(ORDER).collect()
        documents = parts.select(pl.len()).collect().item()
        sample = seeded_sample(parts, ORDER, min(documents, SAMPLE), seed=0).implode()
        fates = parts.filter(pl.col(ORDER).is_in(sample)).sort(ORDER).collect()
        vectors = summaries.filter(pl.col(ORDER).is_in(sample)).select(ORDER, EMBEDDING).sort(ORDER).collect()
        self.facts = sample_facts(
            unit(vectors[EMBEDDING].to_numpy()) if vectors.height else np.zeros((0, 1), np.float32),
            fates[REASON].is_null().to_numpy(),
            labels=fates[CLUSTER].to_numpy().astype(np.int64),
            documents=documents,
        )
        return decisions
