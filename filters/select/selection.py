"""Selection to a budget as a corpus stage: `type = "select"` in a recipe, `winnow select` on the CLI.

Methods: `kcenter` and `clusters` (diversity over embeddings, optionally by a quality column), `knn` and
`centroid` (embedding similarity to a target corpus) and `dsir` (hashed n-gram importance resampling
towards a target corpus). `summarize` embeds (or hashes) each shard where it lies; `decide` selects over
the whole corpus, in one task, and removes every other document with `reason=not_selected`. The
embedding methods hold the corpus's embeddings as one float32 array (`summary_vectors`: documents x dim x
4 bytes), never as Python lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import polars as pl
from pydantic import Field, model_validator
from scipy import sparse

from filters.select.budget import Budget, token_counts
from filters.select.cluster_balanced import DEFAULT_CLUSTERS, balanced_order, cluster_labels
from filters.select.dsir import (
    DEFAULT_BUCKETS,
    feature_matrix,
    gumbel_top_k_order,
    hashed_features,
    importance_log_weights,
    ngram_buckets,
)
from filters.select.facts import embedding_facts
from filters.select.kcenter import kcenter_select
from filters.select.knn import target_select
from filters.select.summary_vectors import stacked_vectors, vector_column
from pipeline.batch import ORDER, REASON, TEXT
from pipeline.embeddings import PACKAGED_ENCODER, embed
from pipeline.errors import InputError
from pipeline.stage import CorpusStage, StageConfig

REASON_NOT_SELECTED = "not_selected"
Method = Literal["kcenter", "clusters", "dsir", "knn", "centroid"]
TARGETED = ("dsir", "knn", "centroid")
EMBEDDED = ("kcenter", "clusters", "knn", "centroid")
#: the summaries' embedding column (float32 `Array`)
VECTOR = "vector"


class SelectConfig(StageConfig):
    """Recipe table for `type = "select"`: keep a budget of documents chosen by `method`."""

    type: Literal["select"] = "select"
    method: Method
    budget_docs: int | None = Field(None, ge=1, description="keep at most this many documents")
    budget_tokens: int | None = Field(None, ge=1, description="keep at most this many whitespace words")
    target: Path | None = Field(None, description="target corpus (JSON Lines, Parquet or text lines)")
    target_field: str = Field(TEXT, min_length=1, description="text field of the target corpus")
    quality_column: str | None = Field(None, description="weigh kcenter / rank within clusters by it")
    seed: int = Field(0, ge=0)
    model: str = Field(PACKAGED_ENCODER, description="sentence-transformers model (name or folder)")
    n_clusters: int = Field(DEFAULT_CLUSTERS, ge=1, le=100_000)
    neighbours: int = Field(1, ge=1, le=1000, description="knn: mean cosine to this many target docs")
    buckets: int = Field(DEFAULT_BUCKETS, ge=16, le=10_000_000, description="dsir: hashed n-gram buckets")
    batch_size: int = Field(64, ge=1, le=4096)
    cache: Path | None = Field(None, description="embedding cache folder (a re-run embeds only new texts)")

    @model_validator(mode="after")
    def _consistent(self) -> SelectConfig:
        if (self.budget_docs is None) == (self.budget_tokens is None):
            raise ValueError("give budget_docs or budget_tokens (exactly one)")
        if self.method in TARGETED and self.target is None:
            raise ValueError(f"method {self.method} needs a target corpus")
        if self.quality_column is not None and self.method not in ("kcenter", "clusters"):
            raise ValueError("quality_column applies to kcenter and clusters only")
        return self

    def budget(self) -> Budget:
        return Budget(docs=self.budget_docs, tokens=self.budget_tokens)


def read_target(path: Path, field: str = TEXT) -> pl.Series:
    """The texts of a target corpus: JSON Lines (.jsonl, .json, optionally .gz), Parquet, or text lines."""
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith((".jsonl", ".json", ".ndjson")):
            frame = pl.read_ndjson(path)
        elif name.endswith(".parquet"):
            frame = pl.read_parquet(path)
        else:
            lines = pl.Series(TEXT, path.read_text(encoding="utf-8").splitlines(), dtype=pl.String)
            return lines.filter(lines.str.strip_chars() != "")
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"cannot read the target corpus {path}: {error}") from error
    if field not in frame.columns:
        raise InputError(f"the target corpus {path} has no field {field!r} (fields: {frame.columns})")
    return frame[field].cast(pl.String).drop_nulls()


class Selection(CorpusStage):
    """Keep a budget of documents chosen by diversity or by similarity to a target; remove the rest."""

    Config = SelectConfig
    detail_columns: ClassVar[dict[str, pl.DataType]] = {"selection_score": pl.Float64()}

    config: SelectConfig

    def summarize(self, batch: pl.DataFrame) -> pl.DataFrame:
        config = self.config
        columns = [pl.col(ORDER), pl.Series("tokens", token_counts(batch[TEXT]))]
        if config.quality_column is not None:
            if config.quality_column not in batch.columns:
                raise InputError(f"no quality column {config.quality_column!r} in the documents")
            columns.append(pl.col(config.quality_column).cast(pl.Float64).fill_null(0.0).alias("quality"))
        summary = batch.select(*columns)
        if config.method == "dsir":
            grams = ngram_buckets(batch[TEXT], buckets=config.buckets).group_by("doc").agg("bucket", "count")
            rows = pl.DataFrame({"doc": np.arange(len(batch), dtype=np.uint32)})
            grams = rows.join(grams, on="doc", how="left", maintain_order="left")
            return summary.with_columns(grams["bucket"], grams["count"])
        vectors = self._embed(batch[TEXT].fill_null("").to_list())
        return summary.with_columns(vector_column(vectors, VECTOR))

    def decide(self, summaries: pl.LazyFrame) -> pl.DataFrame:
        config = self.config
        rows = summaries.select(pl.exclude(VECTOR)).sort(ORDER).collect()
        lengths = rows["tokens"].to_numpy()
        budget = config.budget()
        scores: np.ndarray | None = None
        vectors, labels = None, None
        if config.method == "dsir":
            pool = _features(rows, config.buckets)
            target = hashed_features(self._target(), buckets=config.buckets)
            scores = importance_log_weights(pool, target)
            chosen = budget.take(gumbel_top_k_order(scores, seed=config.seed), lengths)
        else:
            vectors = stacked_vectors(summaries, rows[ORDER], VECTOR)
            quality = rows["quality"].to_numpy() if "quality" in rows.columns else None
            if config.method == "kcenter":
                chosen = kcenter_select(vectors, budget, lengths=lengths, weights=quality, seed=config.seed)
            elif config.method == "clusters":
                labels = np.zeros(0, dtype=np.int64)  # the stage's clusters, recorded in its facts
                if len(rows):
                    labels = cluster_labels(vectors, config.n_clusters, seed=config.seed)
                chosen = budget.take(balanced_order(labels, quality=quality, seed=config.seed), lengths)
            else:
                target = self._embed(self._target().to_list())
                chosen, scores = target_select(
                    vectors, target, budget, method=config.method, k=config.neighbours, lengths=lengths
                )
        keep = np.zeros(len(rows), dtype=bool)
        keep[chosen] = True
        if vectors is not None:
            self.facts = embedding_facts(
                vectors, keep, n_clusters=config.n_clusters, seed=config.seed, labels=labels
            )
        score = pl.Series("selection_score", scores, dtype=pl.Float64) if scores is not None else None
        return rows.select(
            ORDER,
            pl.lit(REASON_NOT_SELECTED).alias(REASON),
            score if score is not None else pl.lit(None, dtype=pl.Float64).alias("selection_score"),
        ).filter(~pl.Series(keep))

    def _embed(self, texts: list[str]) -> np.ndarray:
        config = self.config
        return embed(texts, model=config.model, batch_size=config.batch_size, cache=config.cache)

    def _target(self) -> pl.Series:
        assert self.config.target is not None  # checked by the config
        texts = read_target(self.config.target, self.config.target_field)
        if texts.is_empty():
            raise InputError(f"the target corpus {self.config.target} has no documents")
        return texts


def _features(rows: pl.DataFrame, buckets: int) -> sparse.csr_matrix:
    """The hashed n-gram matrix of the summaries' `bucket` / `count` lists, one row per summary row."""
    counts = (
        rows.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("doc"), "bucket", "count")
        .explode("bucket", "count")
        .drop_nulls("bucket")
    )
    return feature_matrix(counts, len(rows), buckets)
