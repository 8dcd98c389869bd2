"""Selection to a budget as a corpus stage: `type = "select"` in a recipe, `winnow select` on the CLI.

Methods: `kcenter` and `clusters` (diversity over embeddings, optionally by a quality column), `embedding`
(a classifier on embeddings, hashed n-grams, layout statistics and a language model's middle-layer state,
target vs pool, optionally plus a quality column), `knn` and `centroid` (embedding similarity to a target
corpus) and `dsir` (hashed n-gram importance resampling towards a target corpus). `summarize` embeds
(hashes, measures the layout of, runs the LM over) each shard where it lies; the decision scores the
documents in parts (`Selection`), takes the budget from the top of their ranking and removes every other
document with `reason=not_selected` (`embedding` with `min_log_odds`: those under it with
`reason=unlike_target`). Embeddings are fixed-size float32 arrays, never Python lists.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, TypeAlias

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from filters.select.budget import Budget, selection_mask, token_counts
from filters.select.cluster_balanced import DEFAULT_CLUSTERS, balanced_order, cluster_labels
from filters.select.dsir import (
    DEFAULT_BUCKETS,
    bucket_totals,
    feature_matrix,
    gumbel_top_k_order,
    hashed_features,
    importance_ratio,
    ngram_buckets,
)
from filters.select.facts import SAMPLE, sample_facts, target_facts
from filters.select.kcenter import kcenter_select
from filters.select.knn import knn_similarity, target_centroid
from filters.select.layout import LayoutScaling, layout_statistics
from filters.select.lm_states import StateCentring, lm_states
from filters.select.sampled_kmeans import (
    CLUSTER,
    corpus_centers,
    nearest,
    seeded_sample,
    unit,
)
from filters.select.summary_vectors import stacked_vectors, vector_column, vector_size
from filters.select.target_classifier import (
    Features,
    classifier_features,
    classifier_scores,
    fit_target_classifier,
    likely_order,
    pool_sample_size,
)
from pipeline.batch import ORDER, REASON, TEXT
from pipeline.embeddings import EncoderConfig
from pipeline.errors import InputError
from pipeline.readers import ReadOptions, read_documents
from pipeline.readers.sources import detect_format
from pipeline.readers.validate import NO_TEXT, raise_first
from pipeline.run_state import local_folder, shared_array
from pipeline.stage import SplitCorpusStage, StageConfig
from pipeline.storage import AnyPath
from pipeline.summaries import summary_rows

if TYPE_CHECKING:
    from scipy import sparse

REASON_NOT_SELECTED = "not_selected"
#: embedding with `min_log_odds`: the classifier's log-odds are under it
REASON_UNLIKE_TARGET = "unlike_target"
Method = Literal["kcenter", "clusters", "dsir", "embedding", "knn", "centroid"]
TARGETED = ("dsir", "embedding", "knn", "centroid")
EMBEDDED = ("kcenter", "clusters", "embedding", "knn", "centroid")
#: methods that take a `quality_column`
QUALITY = ("kcenter", "clusters", "embedding")
#: the summaries' embedding column (float32 `Array`)
VECTOR = "vector"
#: the summaries' layout statistics (`layout.LAYOUT_STATISTICS`, float32 `Array`; embedding with `layout`)
LAYOUT = "layout"
#: the summaries' LM states (`lm_states.lm_states`, float32 `Array`; embedding with `lm`)
LM_STATE = "lm_state"
#: a part's score of each of its documents (dsir, embedding, knn, centroid)
SCORE = "score"
#: summary rows a part reads and scores at once (at multiples of it from the corpus's first row)
BLOCK = 4_096
#: what every part of a run shares (`Selection._shared`)
Shared: TypeAlias = "np.ndarray | Classifier | None"


class SelectConfig(StageConfig, EncoderConfig):
    """Recipe table for `type = "select"`: keep a budget of documents chosen by `method`, with the encoder's
    fields (`EncoderConfig`; its `dtype` and `device` also run the LM of `lm`)."""

    type: Literal["select"] = "select"
    method: Method
    budget_docs: int | None = Field(None, ge=1, description="keep at most this many documents")
    budget_tokens: int | None = Field(None, ge=1, description="keep at most this many whitespace words")
    target: Path | None = Field(
        None, description="target corpus (JSONL, Parquet, CSV, a Hugging Face dataset folder, text lines)"
    )
    target_field: str = Field(TEXT, min_length=1, description="text field of the target corpus")
    quality_column: str | None = Field(
        None, description="weigh kcenter / rank within clusters by it / embedding: add its z-score"
    )
    seed: int = Field(0, ge=0)
    n_clusters: int = Field(DEFAULT_CLUSTERS, ge=1, le=100_000)
    neighbours: int = Field(1, ge=1, le=1000, description="knn: mean cosine to this many target docs")
    buckets: int = Field(
        DEFAULT_BUCKETS, ge=16, le=10_000_000, description="dsir, embedding: hashed n-gram buckets"
    )
    ngrams: bool = Field(
        True, description="embedding: the classifier sees hashed word n-grams beside the embedding"
    )
    layout: bool = Field(
        True, description="embedding: the classifier sees layout statistics (length, lines, characters)"
    )
    lm: bool = Field(
        True,
        description="embedding: the classifier sees a causal LM's middle-layer state (SmolLM2: about 3x "
        "the time of the selection without it)",
    )
    self_training: bool = Field(
        True,
        description="embedding: fit the classifier again with the pool sample's rows it finds more like the "
        "target than the pool added to the target, until they stop changing (helps most when the target is "
        "small)",
    )
    lm_model: str | None = Field(
        None, description="embedding with lm: None or 'smollm2' (packaged SmolLM2-135M) or a local folder"
    )
    min_log_odds: float | None = Field(
        None,
        allow_inf_nan=False,
        description="embedding: keep only documents whose log-odds (target over pool) are at least this "
        "(0: more like the target than like the pool), the rest removed as unlike_target; the budget, if "
        "given, still caps them",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SelectConfig:
        if self.budget_docs is not None and self.budget_tokens is not None:
            raise ValueError("give budget_docs or budget_tokens, not both")
        if self.budget_docs is None and self.budget_tokens is None and self.min_log_odds is None:
            raise ValueError("give budget_docs or budget_tokens (or, with method embedding, min_log_odds)")
        if self.min_log_odds is not None and self.method != "embedding":
            raise ValueError("min_log_odds applies to method embedding only")
        if self.method in TARGETED and self.target is None:
            raise ValueError(f"method {self.method} needs a target corpus")
        if self.target is not None and not self.target.exists():
            raise ValueError(f"the target corpus {self.target} does not exist")
        if self.quality_column is not None and self.method not in QUALITY:
            raise ValueError("quality_column applies to kcenter, clusters and embedding only")
        return self

    def budget(self, documents: int) -> Budget:
        """The budget over a corpus of `documents`: all of them when only `min_log_odds` limits the choice."""
        if self.budget_docs is None and self.budget_tokens is None:
            return Budget(docs=documents)
        return Budget(docs=self.budget_docs, tokens=self.budget_tokens)


def read_target(path: Path, field: str = TEXT) -> pl.Series:
    """The texts of a target corpus: any input the readers take (JSON Lines, Parquet, CSV, a Hugging Face
    dataset folder) or, for a file of another extension, one text per non-blank line. Records without text
    are skipped; any other bad record (malformed JSON, a missing or non-text `field`) is an InputError naming
    file, line and field, and so is a corpus with no text at all."""
    if path.is_file() and detect_format(path) is None:
        try:
            lines = pl.Series(TEXT, path.read_text(encoding="utf-8").splitlines(), dtype=pl.String)
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"cannot read the target corpus: {error}", source=str(path)) from error
        texts = lines.filter(lines.str.strip_chars() != "")
    else:
        parts = [pl.Series(TEXT, [], dtype=pl.String)]
        for batch in read_documents([path], ReadOptions(text_field=field, on_error="quarantine")):
            # records without text are skipped (nothing to learn from); any other bad record is an error
            raise_first(batch.quarantined.filter(~pl.col("error").is_in(NO_TEXT)))
            parts.append(batch.docs[TEXT])
        texts = pl.concat(parts)
    if texts.is_empty():
        raise InputError("the target corpus has no documents with text", source=str(path), field=field)
    return texts


@functools.lru_cache(maxsize=4)
def _read_target_once(path: Path, field: str, stamp: tuple[int, int]) -> pl.Series:
    """`read_target`, cached by path, field and the file's modification time and size (`stamp`)."""
    return read_target(path, field)


class Selection(SplitCorpusStage):
    """Keep a budget of documents chosen by diversity or by similarity to a target; remove the rest.

    The decision splits into parts by position in the summaries: each part scores its own documents
    (DSIR's importance weights, the target classifier's log-odds, the knn / centroid similarity, or the
    nearest cluster centroid), reading
    `BLOCK` rows at a time; the joining task ranks every document by its score (a few numbers a document)
    and takes the budget. What the parts share is computed once per run (`pipeline.run_state`): the pool's
    n-gram totals and DSIR's per-bucket weights, the target's embeddings, the target classifier (fitted
    against a seeded sample of the pool, `target_classifier`, with the layout's scaling and the LM states'
    mean on that sample), the k-means centroids (fitted on a seeded
    sample, `sampled_kmeans`). K-center is global by nature and runs in the joining task, over
    the embeddings as one float32 array (a memory map in the stage's state folder during a run; float16
    would halve it, but converting it back for every pick made k-center 10x slower).
    """

    Config = SelectConfig
    detail_columns: ClassVar[dict[str, pl.DataType]] = {"selection_score": pl.Float64()}

    config: SelectConfig

    def summarize(self, batch: pl.DataFrame) -> pl.DataFrame:
        config = self.config
        if config.method in TARGETED:
            self._target()  # a bad target corpus stops the run at its first shard, not after the pool's
        columns = [pl.col(ORDER), pl.Series("tokens", token_counts(batch[TEXT]))]
        if config.quality_column is not None:
            if config.quality_column not in batch.columns:
                raise InputError(f"no quality column {config.quality_column!r} in the documents")
            columns.append(pl.col(config.quality_column).cast(pl.Float64).fill_null(0.0).alias("quality"))
        summary = batch.select(*columns).with_columns(self._text_columns(batch[TEXT]))
        if config.method == "dsir":
            return summary
        vectors = self.config.embed(batch[TEXT].fill_null("").to_list())
        return summary.with_columns(vector_column(vectors, VECTOR))

    def _text_columns(self, texts: pl.Series) -> list[pl.Series]:
        """The summary columns read from the texts besides the embedding, as configured: hashed n-gram
        `bucket` / `count` lists, `LAYOUT` statistics, `LM_STATE`s."""
        config = self.config
        columns = []
        if self._hashes():  # hashed a block at a time: the n-grams of a block, not of the shard
            blocks = [texts.slice(start, BLOCK) for start in range(0, max(len(texts), 1), BLOCK)]
            grams = pl.concat([_hashed_ngrams(block, config.buckets) for block in blocks])
            columns += [grams["bucket"], grams["count"]]
        if self._layout():
            columns.append(vector_column(layout_statistics(texts), LAYOUT))
        if self._lm():
            states = lm_states(
                texts.to_list(), model=config.lm_model, dtype=config.dtype, device=config.device
            )
            columns.append(vector_column(states, LM_STATE))
        return columns

    def _hashes(self) -> bool:
        """Whether the summaries hold hashed n-grams (dsir; embedding unless `ngrams` is off)."""
        return self.config.method == "dsir" or (self.config.method == "embedding" and self.config.ngrams)

    def _layout(self) -> bool:
        """Whether the summaries hold layout statistics (embedding unless `layout` is off)."""
        return self.config.method == "embedding" and self.config.layout

    def _lm(self) -> bool:
        """Whether the summaries hold LM states (embedding unless `lm` is off)."""
        return self.config.method == "embedding" and self.config.lm

    def _inputs(self) -> list[str]:
        """The summary columns a part scores its documents from (none for k-center)."""
        columns = [] if self.config.method in ("kcenter", "dsir") else [VECTOR]
        columns += ["bucket", "count"] if self._hashes() else []
        columns += [LAYOUT] if self._layout() else []
        columns += [LM_STATE] if self._lm() else []
        return columns

    def decide_part(
        self,
        summaries: pl.LazyFrame,
        part: int,
        parts: int,
        routed: pl.LazyFrame | None = None,
        round: int = 0,
        files: Sequence[AnyPath] = (),
    ) -> pl.DataFrame:
        """`ORDER`, `tokens` (and `quality`) of the documents of part `part` (a slice of the summary rows by
        position), with their `SCORE` (dsir, embedding, knn, centroid) or `CLUSTER` (clusters)."""
        documents = summaries.select(pl.len()).collect().item()
        start, stop = part * documents // parts, (part + 1) * documents // parts
        kept_columns = [c for c in (ORDER, "tokens", "quality") if c in summaries.collect_schema().names()]
        inputs = self._inputs()
        shared = self._shared(summaries) if documents else None
        found = []
        # scored in blocks at fixed positions of the corpus: a document's score is the same bits in any split
        first, last = start // BLOCK * BLOCK, min(documents, -(-stop // BLOCK) * BLOCK)
        for block in range(first, last, BLOCK):
            rows = summaries.select(*kept_columns, *inputs).slice(block, BLOCK).collect()
            if inputs:
                rows = rows.with_columns(self._part_scores(rows, shared))
            mine = max(start, block), min(stop, block + BLOCK)
            found.append(rows.drop(inputs).slice(mine[0] - block, max(0, mine[1] - mine[0])))
        schema = {**summaries.select(kept_columns).collect_schema(), **self._part_schema()}
        return pl.concat(found).select(*schema) if found else pl.DataFrame(schema=schema)

    def _part_schema(self) -> dict[str, pl.DataType]:
        method = self.config.method
        if method == "clusters":
            return {CLUSTER: pl.Int32()}
        return {} if method == "kcenter" else {SCORE: pl.Float64()}

    def _shared(self, summaries: pl.LazyFrame) -> Shared:
        """What every part needs, computed once per run: DSIR's per-bucket weights, the target classifier's
        weights, the target's embeddings (or their centroid) or the k-means centroids (None for k-center)."""
        method = self.config.method
        if method == "dsir":
            return self._dsir_ratio(summaries)
        if method == "clusters":
            return self._centers(summaries)
        if method == "embedding":
            return self._classifier(summaries)
        if method == "centroid":
            return target_centroid(self._target_vectors())  # once per part, not once per block
        return None if method == "kcenter" else self._target_vectors()

    def _part_scores(self, rows: pl.DataFrame, shared: Shared) -> pl.Series:
        """The `SCORE` (or `CLUSTER`) of a block of summary rows, given `_shared`."""
        config = self.config
        if config.method == "embedding":
            assert isinstance(shared, Classifier)
            scores = classifier_scores(shared.features(rows), shared.weights)
            return pl.Series(SCORE, scores, dtype=pl.Float64)
        assert isinstance(shared, np.ndarray)
        if config.method == "dsir":
            weights = _features(rows, config.buckets) @ shared
            return pl.Series(SCORE, np.asarray(weights).ravel(), dtype=pl.Float64)
        vectors = rows[VECTOR].to_numpy()
        if config.method == "clusters":
            return pl.Series(CLUSTER, nearest(unit(vectors), shared), dtype=pl.Int32)
        if config.method == "centroid":
            return pl.Series(SCORE, vectors @ shared, dtype=pl.Float64)  # `centroid_similarity`
        return pl.Series(SCORE, knn_similarity(vectors, shared, k=config.neighbours), dtype=pl.Float64)

    def decide_parts(
        self, summaries: pl.LazyFrame, parts: pl.LazyFrame, files: Sequence[AnyPath] = ()
    ) -> pl.DataFrame:
        """Every document ranked by its part's score (or by k-center over all embeddings), the budget
        taken from the top; the rest removed (`not_selected`; embedding with `min_log_odds`: those under it
        `unlike_target`)."""
        config = self.config
        rows = parts.sort(ORDER).collect()
        lengths = rows["tokens"].to_numpy()
        quality = rows["quality"].to_numpy() if "quality" in rows.columns else None
        budget = config.budget(rows.height)
        reasons = pl.lit(REASON_NOT_SELECTED)
        log_odds = None
        if config.method == "dsir":
            chosen = budget.take(gumbel_top_k_order(rows[SCORE].to_numpy(), seed=config.seed), lengths)
        elif config.method == "embedding":
            log_odds = rows[SCORE].to_numpy()
            rank = log_odds if quality is None else _zscore(log_odds) + _zscore(quality)
            order = likely_order(log_odds, config.min_log_odds, rank=rank)
            if config.min_log_odds is not None:  # the rows the minimum left out of the order
                unlike = ~selection_mask(rows.height, order)
                reasons = pl.when(pl.Series(unlike)).then(pl.lit(REASON_UNLIKE_TARGET)).otherwise(reasons)
            chosen = budget.take(order, lengths)
            rows = rows.with_columns(pl.Series(SCORE, rank))
        elif config.method in ("knn", "centroid"):
            chosen = budget.take(np.argsort(-rows[SCORE].to_numpy(), kind="stable"), lengths)
        elif config.method == "clusters":
            labels = rows[CLUSTER].to_numpy().astype(np.int64)
            chosen = budget.take(balanced_order(labels, quality=quality, seed=config.seed), lengths)
        else:
            vectors = self._all_vectors(summaries, rows[ORDER])
            chosen = kcenter_select(vectors, budget, lengths=lengths, weights=quality, seed=config.seed)
        keep = selection_mask(rows.height, chosen)
        if config.method in EMBEDDED:
            self.facts = self._facts(summaries, rows, keep, files)
        if log_odds is not None:
            self.facts = {**self.facts, "target": target_facts(log_odds, keep, config.min_log_odds)}
        score = rows[SCORE] if SCORE in rows.columns else pl.lit(None, dtype=pl.Float64)
        return rows.select(ORDER, reasons.alias(REASON), score.alias("selection_score")).filter(
            ~pl.Series(keep)
        )

    def _facts(
        self, summaries: pl.LazyFrame, rows: pl.DataFrame, keep: np.ndarray, files: Sequence[AnyPath]
    ) -> dict:
        """The report's embedding facts over a seeded sample of the documents (`facts.SAMPLE`)."""
        config = self.config
        fates = rows.select(ORDER, pl.Series("kept", keep), *([CLUSTER] if CLUSTER in rows.columns else []))
        sample = seeded_sample(fates.lazy(), ORDER, min(fates.height, SAMPLE), seed=0)
        fates = fates.filter(pl.col(ORDER).is_in(sample.implode()))
        vectors = summary_rows(summaries, sample, [VECTOR], files).sort(ORDER)
        if vectors.is_empty():
            return {}
        sample_vectors = unit(vectors[VECTOR].to_numpy())
        if CLUSTER in fates.columns:
            labels = fates[CLUSTER].to_numpy().astype(np.int64)
        else:
            labels = cluster_labels(sample_vectors, config.n_clusters, seed=config.seed)
        return sample_facts(sample_vectors, fates["kept"].to_numpy(), labels=labels, documents=rows.height)

    def _all_vectors(self, summaries: pl.LazyFrame, orders: pl.Series) -> np.ndarray:
        """Every document's embedding as one float32 array: a memory map in the state folder in a run, so its
        pages are the page cache's to evict, not the process's own memory."""
        shape = (len(orders), vector_size(summaries, VECTOR))
        folder = local_folder(self.state_dir)
        if folder is None:
            out = np.empty(shape, dtype=np.float32)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            out = np.lib.format.open_memmap(
                folder / "kcenter-vectors.npy", mode="w+", dtype=np.float32, shape=shape
            )
        return stacked_vectors(summaries, orders, VECTOR, out=out)

    def _centers(self, summaries: pl.LazyFrame) -> np.ndarray:
        """The k-means centroids, fitted once per run on a seeded sample (`sampled_kmeans`)."""
        config = self.config
        return corpus_centers(
            summaries,
            key=ORDER,
            column=VECTOR,
            n_clusters=config.n_clusters,
            seed=config.seed,
            folder=self.state_dir,
        )

    def _classifier(self, summaries: pl.LazyFrame) -> Classifier:
        """The target classifier (`fit_target_classifier`) with its layout scaling and LM-state centring,
        fitted once per run: the target's features (embeddings, hashed n-grams, layout, LM states) against
        those of a seeded sample of the pool (`pool_sample_size`), on which the layout is scaled and the
        states are centred."""
        config = self.config
        columns = self._inputs()

        @functools.cache
        def pool_sample() -> pl.DataFrame:
            documents = summaries.select(pl.len()).collect().item()
            size = pool_sample_size(documents, len(self._target_vectors()))
            keys = seeded_sample(summaries, ORDER, size, config.seed)
            rows = summaries.select(ORDER, *columns).filter(pl.col(ORDER).is_in(keys.implode()))
            return rows.sort(ORDER).collect(engine="streaming")

        scaling = centring = None
        if self._layout():
            fitted = shared_array(
                self.state_dir,
                "layout-scaling",
                lambda: LayoutScaling.fit(pool_sample()[LAYOUT].to_numpy()).to_array(),
            )
            scaling = LayoutScaling.from_array(fitted)
        if self._lm():
            fitted = shared_array(
                self.state_dir,
                "lm-state-mean",
                lambda: StateCentring.fit(pool_sample()[LM_STATE].to_numpy()).to_array(),
            )
            centring = StateCentring.from_array(fitted)
        features = ClassifierFeatures(config.buckets if self._hashes() else None, scaling, centring)

        def fit() -> np.ndarray:
            # the target's rows made as the summaries' are (statistics and states rounded to float32)
            target = self._target()
            rows = pl.DataFrame({VECTOR: self._target_vectors()}).with_columns(self._text_columns(target))
            return fit_target_classifier(
                features(rows), features(pool_sample()), seed=config.seed, self_training=config.self_training
            )

        return Classifier(features, shared_array(self.state_dir, "target-classifier", fit))

    def _target_vectors(self) -> np.ndarray:
        """The target corpus's embeddings, computed once per run."""
        return shared_array(
            self.state_dir, "target-embeddings", lambda: self.config.embed(self._target().to_list())
        )

    def _dsir_ratio(self, summaries: pl.LazyFrame) -> np.ndarray:
        """DSIR's per-bucket weights (`importance_ratio`), computed once per run: the pool's n-gram totals
        summed `BLOCK` summary rows at a time, the target's from its texts."""
        buckets = self.config.buckets

        def compute() -> np.ndarray:
            documents = summaries.select(pl.len()).collect().item()
            pool = np.zeros(buckets, dtype=np.float64)
            for start in range(0, documents, BLOCK):
                rows = summaries.select("bucket", "count").slice(start, BLOCK).collect()
                pool += bucket_totals(_features(rows, buckets))
            target = bucket_totals(hashed_features(self._target(), buckets=buckets))
            return importance_ratio(pool, target)

        return shared_array(self.state_dir, "dsir-weights", compute)

    def _target(self) -> pl.Series:
        """The target corpus's texts (`read_target`), read once per process while the file is unchanged."""
        target = self.config.target
        assert target is not None  # checked by the config
        stat = target.stat()
        return _read_target_once(target, self.config.target_field, (stat.st_mtime_ns, stat.st_size))


@dataclass(frozen=True)
class ClassifierFeatures:
    """How summary rows become the target classifier's features: `classifier_features` of their `VECTOR`,
    their `bucket` / `count` n-grams (with `buckets`; None: no n-grams), their `LAYOUT` (with `scaling`) and
    their `LM_STATE` (with `centring`)."""

    buckets: int | None
    scaling: LayoutScaling | None
    centring: StateCentring | None

    def __call__(self, rows: pl.DataFrame) -> Features:
        ngrams = None if self.buckets is None else _features(rows, self.buckets)
        layout = None if self.scaling is None else self.scaling.transform(rows[LAYOUT].to_numpy())
        states = None if self.centring is None else self.centring.transform(rows[LM_STATE].to_numpy())
        return classifier_features(rows[VECTOR].to_numpy(), ngrams, layout, states)


@dataclass(frozen=True)
class Classifier:
    """What the parts of an embedding selection share: how rows become features, and the fitted weights."""

    features: ClassifierFeatures
    weights: np.ndarray


def _zscore(values: np.ndarray) -> np.ndarray:
    """`values` centred and scaled to unit standard deviation (centred only when they are all equal)."""
    values = np.asarray(values, dtype=np.float64)
    spread = values.std()
    return (values - values.mean()) / (spread if spread > 0 else 1.0)


def _hashed_ngrams(texts: pl.Series, buckets: int) -> pl.DataFrame:
    """Each text's hashed n-gram `bucket` and `count` lists (empty ones for an empty text), in order."""
    grams = ngram_buckets(texts, buckets=buckets).group_by("doc").agg("bucket", "count")
    rows = pl.DataFrame({"doc": np.arange(len(texts), dtype=np.uint32)})
    return rows.join(grams, on="doc", how="left", maintain_order="left").drop("doc")


def _features(rows: pl.DataFrame, buckets: int) -> sparse.csr_matrix:
    """The hashed n-gram matrix of the summaries' `bucket` / `count` lists, one row per summary row."""
    counts = (
        rows.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("doc"), "bucket", "count")
        .explode("bucket", "count")
        .drop_nulls("bucket")
    )
    return feature_matrix(counts, len(rows), buckets)
