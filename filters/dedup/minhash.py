"""Near-duplicate removal with MinHash LSH, verified by exact Jaccard, clustered with scipy.

Steps (each its own module): shingles (`shingles`), MinHash signatures and band keys (`signatures`),
candidate pairs from shared band keys (`lsh`), exact Jaccard of every candidate pair (`verify`), connected
components and the keep policy (`clusters`), and an optional index of earlier runs (`index`).

The decision splits into parts, in two rounds of tasks: band keys are partitioned by key
(`pipeline.stage.part_of`, written per part when each shard is summarized), so a bucket lies whole in one
part, and each part finds its candidate pairs (`part_pairs`); each pair then goes to the part of its first
document, which verifies it once (`verified_edges`); the edges of every part are resolved together
(`resolve_edges`). The result is the same for any split.

Library use: `near_duplicates(frame)` adds `duplicate_of`, `cluster_id` and `similarity`.
Pipeline use: the `MinHashDedup` corpus stage (`type = "minhash_dedup"` in a recipe, `winnow dedup`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import Field, model_validator

from filters.dedup.clusters import resolve
from filters.dedup.index import DedupIndex
from filters.dedup.lsh import candidate_pairs, index_pairs
from filters.dedup.normalize import DEFAULT, Normalization
from filters.dedup.shingles import Unit, shingle_hashes, tokens
from filters.dedup.signatures import band_keys, band_parameters, signatures
from filters.dedup.verify import jaccard
from pipeline import storage
from pipeline.batch import ID, ORDER, REASON, TEXT
from pipeline.errors import InputError
from pipeline.stage import PART, SplitCorpusStage, StageConfig, in_key_range, part_of, part_of_range
from pipeline.storage import AnyPath, PathOrUrl, as_path
from pipeline.summaries import summary_rows

REASON_NEAR = "near_duplicate"
DETAILS = ("duplicate_of", "cluster_id", "similarity")


class MinHashConfig(StageConfig):
    """Parameters of MinHash near-duplicate removal (recipe table `type = "minhash_dedup"`)."""

    type: Literal["minhash_dedup"] = "minhash_dedup"
    threshold: float = Field(0.8, gt=0.0, le=1.0, description="Jaccard similarity that makes a duplicate")
    num_perm: int = Field(128, ge=8, le=1024)
    ngram: int = Field(5, ge=1, le=64)
    unit: Unit = "word"
    normalization: Normalization = DEFAULT
    seed: int = Field(1, ge=0)
    scheme: Literal["winnow", "datasketch"] = Field(
        "winnow",
        description="signature values: winnow's (fast) or datasketch.MinHash's own (sha1), to query an "
        "existing datasketch MinHashLSH",
    )
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    # candidates are verified exactly, so a false positive costs only time: weigh false negatives more
    false_positive_weight: float = Field(0.05, ge=0.0, le=1.0)
    false_negative_weight: float = Field(0.95, ge=0.0, le=1.0)
    verify: bool = Field(
        True, description="check candidate pairs by exact Jaccard (else: signature estimate)"
    )
    keep: str = Field("first", min_length=1, description="first, longest, or a column: its highest value")
    index: PathOrUrl | None = Field(
        None, description="index folder (or fsspec URL) of earlier runs to deduplicate against"
    )
    update_index: bool = False

    @model_validator(mode="after")
    def _bands_and_rows(self) -> MinHashConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if self.update_index and self.index is None:
            raise ValueError("update_index needs an index folder")
        return self

    def band_rows(self) -> tuple[int, int]:
        """(bands, rows): as given, or datasketch's optimum for the threshold and weights."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return band_parameters(
            self.threshold, self.num_perm, self.false_positive_weight, self.false_negative_weight
        )

    def index_params(self) -> dict:
        """What an index must share with this run."""
        bands, rows = self.band_rows()
        return {
            "num_perm": self.num_perm,
            "seed": self.seed,
            "scheme": self.scheme,
            "bands": bands,
            "rows": rows,
            "ngram": self.ngram,
            "unit": self.unit,
            "normalization": self.normalization.model_dump(),
        }


def hash_check(config: MinHashConfig) -> str:
    """A fingerprint of the shingle hash: indexes built by another implementation are refused."""
    _, hashes = shingle_hashes(
        pl.Series(["winnow index check: the quick brown fox 1987"]),
        ngram=config.ngram,
        unit=config.unit,
        normalization=config.normalization,
    )
    return ",".join(str(h) for h in hashes[:4])


def minhash_signatures(texts: pl.Series, config: MinHashConfig | None = None) -> np.ndarray:
    """(n, num_perm) uint32 MinHash signatures of `texts` (all 0xFFFFFFFF for a text without tokens).

    With `scheme="datasketch"` they equal `datasketch.MinHash(num_perm, seed)` updated with each of
    `shingle_strings(text)` as UTF-8, so `to_lean_minhash` objects can query a datasketch `MinHashLSH`.
    """
    config = config or MinHashConfig()
    doc_index, hashes = shingle_hashes(
        texts, ngram=config.ngram, unit=config.unit, normalization=config.normalization
    )
    return _signatures(texts, doc_index, hashes, config)


def _signatures(
    texts: pl.Series, doc_index: np.ndarray, hashes: np.ndarray, config: MinHashConfig
) -> np.ndarray:
    if config.scheme == "winnow":
        return signatures(doc_index, hashes, len(texts), config.num_perm, config.seed)
    n = config.ngram
    shingles = [
        [" ".join(words)]
        if len(words) < n
        else [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
        for words in tokens(texts, config.unit, config.normalization).to_list()
    ]
    shingles = [s if s != [""] else [] for s in shingles]
    from filters.dedup.datasketch_compat import datasketch_signatures  # datasketch imported only here

    return datasketch_signatures(shingles, config.num_perm, config.seed).astype(np.uint32)


def _ranks(batch: pl.DataFrame, keep: str, text: str) -> pl.Series:
    """Each document's `rank` (lower is kept first): input order, longest text, or highest column value."""
    if keep == "first":
        return pl.Series("rank", np.zeros(batch.height))
    if keep == "longest":
        return batch.select(-pl.col(text).str.len_chars().cast(pl.Float64).alias("rank")).to_series()
    if keep not in batch.columns:
        raise InputError(
            f"keep column '{keep}' is not in the documents (columns: {', '.join(batch.columns)})", field=keep
        )
    rank = (-pl.col(keep).cast(pl.Float64)).fill_null(float("inf")).fill_nan(float("inf"))
    return batch.select(rank.alias("rank")).to_series()


def _index_names(index: DedupIndex | None, removed: pl.DataFrame) -> pl.DataFrame:
    """`doc` -> `name` (id) of the index documents that `removed` points at (negative numbers)."""
    referenced = pl.concat([removed["duplicate_of"], removed["cluster"]]).unique()
    negative = referenced.filter(referenced < 0)
    if index is None or not len(negative):
        return pl.DataFrame(schema={"doc": pl.Int64, "name": pl.String})
    stored = index.docs(-negative - 1)
    return stored.select((-pl.col("row") - 1).alias("doc"), pl.col("id").alias("name"))


def _named(removed: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """Removals with ids: `doc`, `duplicate_of`, `cluster_id` (the cluster's kept document), `similarity`."""
    return (
        removed.join(names.rename({"doc": "duplicate_of", "name": "of"}), on="duplicate_of", how="left")
        .join(names.rename({"doc": "cluster", "name": "cluster_name"}), on="cluster", how="left")
        .select(
            "doc",
            pl.col("of").alias("duplicate_of"),
            pl.col("cluster_name").alias("cluster_id"),
            "similarity",
        )
    )


def part_pairs(
    keys: pl.DataFrame, index: DedupIndex | None = None, part: int = 0, parts: int = 1
) -> pl.DataFrame:
    """Candidate pairs (`a`, `b`) among the buckets of part `part` of `parts` of the band keys.

    `keys` are that part's band keys (`order`, `band`, `key`; `part_of_range` the key is `part`). With an
    `index`, pairs with its documents that share a key of this part are candidates too, with
    `b` = -(row + 1). The union of every part's pairs is the same for any `parts`: a bucket is never
    split; a pair may come from several parts (one band key each), so pairs are verified after they meet.
    """
    found = [candidate_pairs(keys)]
    index_bands = index.bands() if index is not None else None
    if index_bands is not None:
        mine = index_bands.filter(in_key_range(pl.col("key"), part, parts))  # its row groups only
        found.append(index_pairs(keys, mine).with_columns(-(pl.col("b") + 1)))
    return pl.concat([pairs.select(pl.col("a", "b").cast(pl.Int64)) for pairs in found]).unique()


def verified_edges(
    config: MinHashConfig,
    pairs: pl.DataFrame,
    shingles_of: Callable[[pl.Series], pl.DataFrame],
    estimate: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    index: DedupIndex | None = None,
) -> pl.DataFrame:
    """The `pairs` (from `part_pairs`, each once) whose similarity reaches the threshold: `a`, `b`,
    `similarity`. `shingles_of(orders)` gives the documents' shingles (`doc`, `h`); pairs with index
    documents (negative `b`) are verified against the index's stored shingles."""
    pairs = pairs.sort("a", "b")
    new, old = pairs.filter(pl.col("b") >= 0), pairs.filter(pl.col("b") < 0)
    if config.verify:
        scored = jaccard(new, shingles_of(pl.concat([new["a"], new["b"]]).unique()))
    else:
        assert estimate is not None
        scored = estimate(new)
    edges = [scored]
    if index is not None and not old.is_empty():
        old = old.with_columns(-pl.col("b") - 1)
        stored = index.docs(old["b"].unique())
        right = (
            stored.select(pl.col("row").alias("doc"), pl.col("shingles").alias("h")).explode("h").drop_nulls()
        )
        matched = jaccard(old, shingles_of(old["a"].unique()), right)
        edges.append(matched.with_columns(-(pl.col("b") + 1)))
    return (
        pl.concat(edges)
        .filter(pl.col("similarity") >= config.threshold)
        .select(pl.col("a").cast(pl.Int64), pl.col("b").cast(pl.Int64), pl.col("similarity").cast(pl.Float64))
    )


def resolve_edges(edges: pl.DataFrame, rank_of: Callable[[pl.Series], pl.DataFrame]) -> pl.DataFrame:
    """Removals (`doc`, `duplicate_of`, `similarity`, `cluster`) from the edges of every part.

    Edges found in several parts count once, and are taken in one order whatever the parts, so the result
    is the same for any split. `rank_of(orders)` gives `doc`, `rank`; index documents (negative) rank
    first and are always kept.
    """
    edges = edges.unique(["a", "b"]).sort("a", "b")
    if edges.is_empty():
        return resolve(edges, pl.DataFrame(schema={"doc": pl.Int64, "rank": pl.Float64}))
    docs = pl.concat([edges["a"], edges["b"]]).unique()
    pinned = docs.filter(docs < 0)
    return resolve(edges, rank_of(docs.filter(docs >= 0)), pinned if len(pinned) else None)


def near_duplicates(
    frame: pl.DataFrame, config: MinHashConfig | None = None, *, text: str = TEXT, id: str = ID
) -> pl.DataFrame:
    """`frame` plus `duplicate_of` (id of the kept near duplicate), `cluster_id` and `similarity`: the
    `MinHashDedup` stage's decision with `frame` as the one shard (with `update_index`, its kept documents
    are added to the index at once)."""
    stage = MinHashDedup(config or MinHashConfig())
    keep = stage.config.keep
    ranked_by = [pl.col(keep)] if keep in frame.columns and keep not in (text, id) else []
    batch = frame.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(ORDER),
        pl.col(id).cast(pl.String).alias(ID),
        pl.col(text).alias(TEXT),
        *ranked_by,
    )
    index = stage._index()
    if index is not None and stage.config.update_index:
        stage.state_dir = index.pending()  # this call's own staging folder
    decisions = stage.decide(stage.summarize(batch).lazy())
    stage.commit()
    rows = pl.DataFrame({ORDER: np.arange(frame.height, dtype=np.int64)})
    details = rows.join(decisions, on=ORDER, how="left", maintain_order="left").select(DETAILS)
    return pl.concat([frame, details], how="horizontal")


def _list_column(name: str, doc_index: np.ndarray, values: np.ndarray, n: int) -> pl.Series:
    """A list column of `values` grouped by `doc_index` (sorted) for documents 0..n-1."""
    offsets = np.r_[0, np.cumsum(np.bincount(doc_index, minlength=n))].astype(np.int64)
    # through polars: pa.array() on numpy imports pandas (0.3 s of a short run) to check its type
    array = pa.LargeListArray.from_arrays(pl.Series(offsets).to_arrow(), pl.Series(values).to_arrow())
    return pl.Series(name, array)


class _Summaries:
    """What the decision reads from the shard summaries: each a streaming query, or, given their `files`,
    a few documents' shingles taken from them (`summary_rows`)."""

    def __init__(self, summaries: pl.LazyFrame, files: Sequence[AnyPath] = ()) -> None:
        self.summaries = summaries
        self.files = files

    def shingles_of(self, docs: pl.Series) -> pl.DataFrame:
        # repeats within a document are dropped chunk by chunk during verification
        chosen = summary_rows(self.summaries, docs, ["shingles"], self.files)
        return chosen.explode("shingles").rename({ORDER: "doc", "shingles": "h"})

    def rank_of(self, docs: pl.Series) -> pl.DataFrame:
        chosen = self.summaries.filter(pl.col(ORDER).is_in(docs.implode()))
        return chosen.select(pl.col(ORDER).alias("doc"), "rank").collect(engine="streaming")

    def estimate(self, pairs: pl.DataFrame) -> pl.DataFrame:
        docs = pl.concat([pairs["a"], pairs["b"]]).unique()
        sigs = (
            self.summaries.filter(pl.col(ORDER).is_in(docs.implode()))
            .select(ORDER, "signature")
            .collect(engine="streaming")
        )
        sigs = sigs.sort(ORDER)
        orders, matrix = sigs[ORDER].to_numpy(), sigs["signature"].to_numpy()
        a = np.searchsorted(orders, pairs["a"].to_numpy())
        b = np.searchsorted(orders, pairs["b"].to_numpy())
        similarity = (matrix[a] == matrix[b]).mean(axis=1) if len(a) else np.empty(0)
        return pairs.with_columns(pl.Series("similarity", similarity))


class MinHashDedup(SplitCorpusStage):
    """Remove near duplicates (`reason=near_duplicate`) across the whole corpus and, optionally, an index."""

    Config = MinHashConfig
    detail_columns: ClassVar[dict[str, pl.DataType]] = {
        "duplicate_of": pl.String(),
        "cluster_id": pl.String(),
        "similarity": pl.Float64(),
    }

    config: MinHashConfig

    def summarize(self, batch: pl.DataFrame) -> pl.DataFrame:
        config = self.config
        n = batch.height
        doc_index, hashes = shingle_hashes(
            batch[TEXT], ngram=config.ngram, unit=config.unit, normalization=config.normalization
        )
        sigs = _signatures(batch[TEXT], doc_index, hashes, config)
        bands, rows = config.band_rows()
        columns = [
            batch[ORDER],
            batch[ID],
            _ranks(batch, config.keep, TEXT),
            pl.Series("usable", np.bincount(doc_index, minlength=n) > 0),
            pl.Series("keys", band_keys(sigs, bands, rows)),
            _list_column("shingles", doc_index, hashes, n),
        ]
        if not config.verify:
            columns.append(pl.Series("signature", sigs))
        return pl.DataFrame(columns)

    def route(self, summary: pl.LazyFrame, parts: int) -> pl.LazyFrame:
        """Band keys (`order`, `band`, `key`) of the usable documents, each to the part of its key."""
        return (
            summary.filter(pl.col("usable"))
            .select(
                pl.col(ORDER).alias("order"),
                pl.int_ranges(0, pl.col("keys").arr.len(), dtype=pl.Int16).alias("band"),
                pl.col("keys").arr.to_list().alias("key"),
            )
            .explode("band", "key")
            .with_columns(part_of_range(pl.col("key"), parts).alias(PART))
        )

    #: round 0: candidate pairs by band key; round 1: each pair verified once, in the part of its first doc
    rounds: ClassVar[int] = 2

    def decide_part(
        self,
        summaries: pl.LazyFrame,
        part: int,
        parts: int,
        routed: pl.LazyFrame | None = None,
        round: int = 0,
        files: Sequence[AnyPath] = (),
    ) -> pl.DataFrame:
        """Round 0: the candidate pairs of one part of the band keys (`part_pairs`), each sent to the part
        of its first document; round 1: the verified edges among the pairs sent here (`verified_edges`)."""
        if round == 0:
            keys = self.routed_rows(summaries, part, parts, routed).collect(engine="streaming")
            pairs = part_pairs(keys, self._index(), part, parts)
            return pairs.with_columns(part_of(pl.col("a"), parts).alias(PART))
        assert routed is not None
        read = _Summaries(summaries, files)
        pairs = routed.unique().collect()
        return verified_edges(self.config, pairs, read.shingles_of, read.estimate, self._index())

    def decide_parts(
        self, summaries: pl.LazyFrame, parts: pl.LazyFrame, files: Sequence[AnyPath] = ()
    ) -> pl.DataFrame:
        """Removals from the edges of every part: clusters, the keep policy, names; the index update."""
        config = self.config
        read = _Summaries(summaries, files)
        index = self._index()
        removed = resolve_edges(parts.collect(), read.rank_of)
        referenced = pl.concat([removed["duplicate_of"], removed["cluster"]]).unique()
        names = (
            summaries.filter(pl.col(ORDER).is_in(referenced.implode()))
            .select(pl.col(ORDER).alias("doc"), pl.col(ID).alias("name"))
            .collect()
        )
        names = pl.concat([names, _index_names(index, removed)])
        decisions = (
            _named(removed, names)
            .select(pl.col("doc").alias(ORDER), pl.lit(REASON_NEAR).alias(REASON), *DETAILS)
            .sort(ORDER)
        )
        if config.update_index and index is not None:
            index.stage(self._kept(summaries, decisions.select(ORDER), files), self._pending(index))
        return decisions

    def _kept(
        self, summaries: pl.LazyFrame, removed: pl.DataFrame, files: Sequence[AnyPath]
    ) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
        """For the index update: the kept documents (`order`, `id`, their sorted shingle set) and their
        band keys, one summary file at a time (all `summaries` at once when there are no files)."""
        for piece in [storage.scan_ipc([path]) for path in files] or [summaries]:
            kept = piece.join(removed.lazy(), on=ORDER, how="anti")
            docs = kept.select(
                pl.col(ORDER).alias("order"),
                pl.col(ID).alias("id"),
                pl.col("shingles").list.unique().list.sort(),
            )
            keys = self.route(kept, 1).drop(PART)
            yield docs.sort("order").collect(), keys.collect()

    def _index(self) -> DedupIndex | None:
        if self.config.index is None:
            return None
        return DedupIndex(self.config.index, self.config.index_params(), hash_check(self.config))

    def shared_folders(self) -> list[Path]:
        """The index, when this stage adds to it (runs that update one index take turns)."""
        config = self.config
        return [as_path(config.index)] if config.index is not None and config.update_index else []

    def _pending(self, index: DedupIndex) -> Path:
        """Where this run stages its index update: its own state folder (another run never touches it)."""
        return (
            self.state_dir / "index-update"
            if self.state_dir is not None
            else index.root / "_pending" / "stage"
        )

    def commit(self) -> None:
        """After the run succeeded: add this run's kept documents to the index (with update_index)."""
        index = self._index()
        if index is not None and self.config.update_index:
            index.commit(self._pending(index))
