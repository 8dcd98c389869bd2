"""Repeated-line removal: lines (or paragraphs) found in more than `min_documents` documents of the corpus
are cut from every document that has them (cookie banners, navigation, "All rights reserved").

As CCNet and dolma do at line and paragraph level, the corpus decides what is boilerplate, not a word list.
A document is split into segments (a line with its newline; or a paragraph with the blank lines after it),
each normalised and hashed to 64 bits. `summarize` keeps each document's distinct hashes; the decision
counts the documents of each hash in parts by key range (all rows of a hash meet in one part), and a
document left with fewer than `min_words_left` words is removed (`reason=line_dedup_too_short`). Every
other document keeps its text minus the repeated segments: the segments are cut out and the rest joined
as it was, so a page without repeated lines keeps its text byte for byte.

The repeated hashes go to the stage's state folder (the run's `_work/`), where each shard's
`apply_decisions` reads those of its own lines; a library call keeps them in memory.

With `index` (a folder or URL, `line_index.LineIndex`) a segment's documents in earlier runs count too, so
nightly runs over fresh crawls cut a banner that no single night repeats often enough; with
`update_index` this run's counts are added to the index after it succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import polars as pl
from pydantic import Field, model_validator

from filters.dedup.line_index import LineIndex
from filters.dedup.normalize import Normalization, normalize_series
from pipeline import run_folder, storage
from pipeline.batch import ORDER, REASON, TEXT
from pipeline.stage import PART, SplitCorpusStage, StageConfig, part_of_range
from pipeline.storage import AnyPath, PathOrUrl, as_path

REASON_TOO_SHORT = "line_dedup_too_short"
#: the score column: segments cut from each document
REPEATED = "repeated_lines"
KEY = "line_hash"
HASH_SEED = 0x11E_D0_0001
#: the summary's words of one segment (all its copies in the document) and of the whole document
LINE_WORDS = "line_words"
DOC_WORDS = "doc_words"
#: a decision part's column: whether the segment is repeated only with the index's earlier documents
VIA_INDEX = "via_index"
_ROW = "__row"
_SEGMENT = "__segment"
_WORD = r"\S+"
REPEATED_FILE = "repeated.parquet"

#: punctuation and symbols removed, so `Home |` and `Home` meet, and `|` or `---` normalise to nothing
LINE_NORMALIZATION = Normalization(unicode="NFKC", lowercase=True, punctuation=True, whitespace=True)


class LineDedupConfig(StageConfig):
    """Recipe table for `type = "line_dedup"`."""

    type: Literal["line_dedup"] = "line_dedup"
    unit: Literal["line", "paragraph"] = "line"
    min_documents: int = Field(10, ge=1)
    """A segment found in more than this many distinct documents is repeated. 10: navigation and banners
    repeat across thousands of pages of a crawl, while a quotation or a sentence shared by a few pages
    stays (CCNet and dolma cut a segment from its second copy on; lower it for small corpora)."""
    normalization: Normalization = LINE_NORMALIZATION
    digits: bool = False
    """Replace every digit with 0 before hashing (CCNet's rule). Off: it merges distinct dates, phone
    numbers and scores (`May 18, 2013` and `May 13, 2012`), and a line that differs only by a number is
    rarely site-wide boilerplate."""
    min_chars: int = Field(1, ge=1)
    """Segments shorter than this after normalisation are never counted or cut; blank lines and lines of
    punctuation or symbols only (`|`, `---`) normalise to nothing and always stay, keeping the layout."""
    min_words_left: int = Field(20, ge=1)
    """A document left with fewer words after its repeated segments are cut is removed: it was mostly
    boilerplate. Documents that lose nothing are never removed, however short."""
    index: PathOrUrl | None = None
    """Index folder (or fsspec URL) of earlier runs' segment counts: their documents count too."""
    update_index: bool = False
    """Add this run's segment counts to the index once the run has succeeded."""

    @model_validator(mode="after")
    def _index_given(self) -> LineDedupConfig:
        if self.update_index and self.index is None:
            raise ValueError("update_index needs an index folder")
        return self

    def index_params(self) -> dict:
        """What an index must share with this run: how segments are cut, normalised and counted."""
        return {
            "unit": self.unit,
            "normalization": self.normalization.model_dump(),
            "digits": self.digits,
            "min_chars": self.min_chars,
        }


def hash_check(config: LineDedupConfig) -> str:
    """A fingerprint of the segment hash: indexes built by another implementation are refused."""
    keys = segment_keys(
        pl.Series(["winnow line index check: All rights reserved 1987"]), config.normalization
    )
    return ",".join(str(key) for key in keys.to_list())


def segments(texts: pl.Series, unit: Literal["line", "paragraph"] = "line") -> pl.DataFrame:
    """Every text's segments in order, one row each: `__row` (its position in `texts`), `__segment` (the
    line with its newline, or the paragraph with its trailing blank lines); joined back they are the text."""
    lines = (
        pl.DataFrame({_SEGMENT: texts.str.split("\n", inclusive=True)})
        .with_row_index(_ROW)
        .explode(_SEGMENT)
        .drop_nulls(_SEGMENT)
    )
    if unit == "line":
        return lines
    text = pl.col(_SEGMENT).str.contains(r"\S")
    starts = text & ~text.shift(1).over(_ROW).fill_null(False)  # text after a blank line (or none)
    return (
        lines.with_columns(starts.cast(pl.UInt32).cum_sum().over(_ROW).alias("__paragraph"))
        .group_by(_ROW, "__paragraph", maintain_order=True)
        .agg(pl.col(_SEGMENT).str.join(""))
        .drop("__paragraph")
    )


def segment_keys(
    pieces: pl.Series, normalization: Normalization, *, digits: bool = False, min_chars: int = 1
) -> pl.Series:
    """The 64-bit hash of each normalised segment; null where it normalises to under `min_chars`."""
    normalized = normalize_series(pieces, normalization)
    if digits:
        normalized = normalized.str.replace_all(r"\d", "0")
    counted = normalized.str.len_chars() >= min_chars
    return pl.select(pl.when(counted).then(normalized.hash(seed=HASH_SEED)).alias(KEY)).to_series()


def keyed_segments(texts: pl.Series, config: LineDedupConfig) -> pl.DataFrame:
    """`segments` of `texts` with their `KEY` as `config` normalises them (null: never counted or cut)."""
    pieces = segments(texts, config.unit)
    keys = segment_keys(
        pieces[_SEGMENT], config.normalization, digits=config.digits, min_chars=config.min_chars
    )
    return pieces.with_columns(keys)


class LineDedup(SplitCorpusStage):
    """Cut segments repeated across more than `min_documents` documents (`repeated_lines` counts them);
    remove documents left with under `min_words_left` words (`reason=line_dedup_too_short`)."""

    Config = LineDedupConfig
    score_columns: ClassVar[dict[str, pl.DataType]] = {REPEATED: pl.UInt32()}

    config: LineDedupConfig
    #: the repeated keys of a library call (`state_dir` None), as `decide` found them
    _repeated: pl.DataFrame | None = None
    #: a library call's staging folder for the index update
    _staging: AnyPath | None = None

    def summarize(self, batch: pl.DataFrame) -> pl.DataFrame:
        """Per document, its distinct keys with the words of their copies, and the document's words."""
        words = pl.col(_SEGMENT).str.count_matches(_WORD).cast(pl.UInt32)
        keyed = keyed_segments(batch[TEXT], self.config).with_columns(
            words.alias(LINE_WORDS), words.sum().over(_ROW).alias(DOC_WORDS)
        )
        orders = batch.select(ORDER).with_row_index(_ROW)
        return (
            keyed.drop_nulls(KEY)
            .group_by(_ROW, KEY, maintain_order=True)
            .agg(pl.col(LINE_WORDS).sum(), pl.col(DOC_WORDS).first())
            .join(orders, on=_ROW, maintain_order="left")
            .select(ORDER, KEY, LINE_WORDS, DOC_WORDS)
        )

    def route(self, summary: pl.LazyFrame, parts: int) -> pl.LazyFrame:
        """Every summary row goes to the part of its key's range: all documents of a segment meet there."""
        return summary.with_columns(part_of_range(pl.col(KEY), parts).alias(PART))

    def decide_part(
        self,
        summaries: pl.LazyFrame,
        part: int,
        parts: int,
        routed: pl.LazyFrame | None = None,
        round: int = 0,
        files: Sequence[AnyPath] = (),
    ) -> pl.DataFrame:
        """The summary rows of the repeated keys in `part`'s key range (with the index: counting the
        documents of earlier runs, and staging this run's counts when it updates the index)."""
        mine = self.routed_rows(summaries, part, parts, routed)
        counts = mine.group_by(KEY).agg(pl.len().cast(pl.UInt32).alias("documents"))
        earlier = pl.lit(0, dtype=pl.UInt32).alias("earlier")
        index = self._index()
        if index is not None:
            if self.config.update_index:
                found = counts.collect(engine="streaming")
                index.stage(found.rename({KEY: "key"}), self._pending(index), part, parts)
                counts = found.lazy()
            stored = index.counts(part, parts).select(
                pl.col("key").alias(KEY), pl.col("documents").alias("earlier")
            )
            counts = counts.join(stored, on=KEY, how="left")
            earlier = pl.col("earlier").fill_null(0)
        limit = self.config.min_documents
        repeated = counts.with_columns(earlier).filter(pl.col("documents") + pl.col("earlier") > limit)
        via_index = (pl.col("documents") <= limit).alias(VIA_INDEX)
        return (
            mine.join(repeated.select(KEY, via_index), on=KEY)
            .select(ORDER, KEY, LINE_WORDS, DOC_WORDS, VIA_INDEX)
            .collect(engine="streaming")
        )

    def decide_parts(
        self, summaries: pl.LazyFrame, parts: pl.LazyFrame, files: Sequence[AnyPath] = ()
    ) -> pl.DataFrame:
        """Keep the repeated keys for `apply_decisions`; remove the documents they would leave too short."""
        found = parts.select(KEY, VIA_INDEX).unique().sort(KEY).collect(engine="streaming")
        keys = found.select(KEY)
        self._keep_repeated(keys)
        self.facts = {"repeated_segments": keys.height}
        index = self._index()
        if index is not None:
            self.facts |= {"index_runs": index.runs(), "repeated_with_index": int(found[VIA_INDEX].sum())}
        left = pl.col(DOC_WORDS).cast(pl.Int64) - pl.col(LINE_WORDS).cast(pl.Int64)
        return (
            parts.group_by(ORDER)
            .agg(pl.col(LINE_WORDS).sum(), pl.col(DOC_WORDS).first())
            .filter(left < self.config.min_words_left)
            .select(ORDER, pl.lit(REASON_TOO_SHORT).alias(REASON))
            .sort(ORDER)
            .collect(engine="streaming")
        )

    def _index(self) -> LineIndex | None:
        config = self.config
        return (
            None
            if config.index is None
            else LineIndex(config.index, config.index_params(), hash_check(config))
        )

    def _pending(self, index: LineIndex) -> AnyPath:
        """Where this run stages its index update: its own state folder (another run never touches it), or
        for a library call a new folder in the index's `_pending/`."""
        if self.state_dir is not None:
            return self.state_dir / "index-update"
        if self._staging is None:
            self._staging = index.pending()
        return self._staging

    def shared_folders(self) -> list[Path]:
        """The index, when this stage adds to it (runs that update one index take turns)."""
        config = self.config
        return [as_path(config.index)] if config.index is not None and config.update_index else []

    def commit(self) -> None:
        """After the run succeeded: add this run's segment counts to the index (with update_index)."""
        index = self._index()
        if index is not None and self.config.update_index:
            index.commit(self._pending(index))

    def _keep_repeated(self, keys: pl.DataFrame) -> None:
        if self.state_dir is None:
            self._repeated = keys
            return
        storage.make_dirs(self.state_dir)
        path = self.state_dir / REPEATED_FILE
        storage.write_parquet(keys, path)
        run_folder.sync([path])

    def _repeated_among(self, keys: pl.Series) -> pl.Series:
        """Those of `keys` that the decision found repeated."""
        wanted = keys.drop_nulls().unique().implode()
        if self.state_dir is None:
            repeated = self._repeated
            if repeated is None:
                raise RuntimeError("LineDedup.apply_decisions needs decide() first")
            return repeated[KEY].filter(repeated[KEY].is_in(wanted))
        scan = storage.scan_parquet(self.state_dir / REPEATED_FILE)
        return scan.filter(pl.col(KEY).is_in(wanted)).collect()[KEY]

    def apply_decisions(self, batch: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
        """Cut the repeated segments from the kept documents; mark the ones the decision removes (they keep
        their text as it was, for the ledger)."""
        keyed = keyed_segments(batch[TEXT], self.config)
        cut = pl.col(KEY).is_in(self._repeated_among(keyed[KEY]).implode()).fill_null(False)
        per_document = (
            keyed.with_columns(cut.alias("__cut"))
            .group_by(_ROW, maintain_order=True)
            .agg(
                pl.col(_SEGMENT).filter(~pl.col("__cut")).str.join("").alias("__text"),
                pl.col("__cut").sum().cast(pl.UInt32).alias(REPEATED),
                pl.col("__cut").last().alias("__last_cut"),
            )
        )
        marked = super().apply_decisions(batch, decisions)
        changed = (pl.col(REPEATED) > 0) & pl.col(REASON).is_null()
        # a cut last line that had no newline of its own took the one before it
        open_end = changed & pl.col("__last_cut") & ~pl.col(TEXT).str.ends_with("\n")
        return (
            marked.with_row_index(_ROW)
            .join(per_document, on=_ROW, how="left", maintain_order="left")
            .with_columns(
                pl.when(open_end)
                .then(pl.col("__text").str.strip_chars_end("\r\n"))
                .when(changed)
                .then(pl.col("__text"))
                .otherwise(pl.col(TEXT))
                .alias(TEXT),
                pl.col(REPEATED).fill_null(0),
            )
            .drop(_ROW, "__text", "__last_cut")
        )

    def counters(self, marked: pl.DataFrame) -> dict[str, int]:
        """Segments cut from the documents kept, and how many documents they changed."""
        kept = marked.filter(pl.col(REASON).is_null())[REPEATED]
        return {"lines_removed": int(kept.sum()), "documents_changed": int((kept > 0).sum())}


def remove_repeated_lines(frame: pl.DataFrame, config: LineDedupConfig | None = None) -> pl.DataFrame:
    """Library use: `frame` (a `text` column) with its repeated segments cut, a `repeated_lines` count and a
    `reason` (`line_dedup_too_short`, or null); the whole frame is the corpus (plus the config's index)."""
    stage = LineDedup(config or LineDedupConfig())
    numbered = ORDER not in frame.columns
    batch = frame.with_row_index(ORDER).with_columns(pl.col(ORDER).cast(pl.Int64)) if numbered else frame
    marked = stage.apply_decisions(batch, stage.decide(stage.summarize(batch).lazy()))
    stage.commit()  # with update_index: this frame's counts join the index at once
    return marked.drop(ORDER) if numbered else marked
