"""The stage contract: a stage marks the documents to remove, each with a reason.

Two kinds, as in datatrove (a filter returns keep-or-reason, statistics come for free):

- `Filter` decides batch by batch, so it runs on every shard independently.
- `CorpusStage` needs the whole corpus (deduplication): it `summarize`s each shard, `decide`s once over
  all summaries, and the runner applies the decisions to each shard.

Either way the result is the batch plus a `reason` column (null keeps the document), score columns that
stay with kept documents, and `detail_columns` (e.g. `duplicate_of`) that only removed documents carry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import polars as pl

from pipeline.batch import ORDER, REASON


class Stage(ABC):
    """A step of the cleaning pipeline."""

    #: stage type, as written in recipes and in the `stage` column of `removed/`
    kind: ClassVar[str]
    #: columns that explain a removal, with their types; dropped from kept documents
    detail_columns: ClassVar[dict[str, pl.DataType]] = {}
    #: columns this stage adds to every document (scores), with their types; kept with the documents
    score_columns: ClassVar[dict[str, pl.DataType]] = {}

    @property
    def name(self) -> str:
        """The stage's name in the ledger and the stats."""
        return self.kind

    def counters(self, marked: pl.DataFrame) -> dict[str, int]:
        """Totals worth reporting from one shard's result (e.g. e-mails redacted); summed into the stats."""
        return {}

    def commit(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Called once after the whole run succeeded (e.g. to publish an index update)."""

    def shared_folders(self) -> list[Path]:
        """Folders outside the run folder that this stage updates for later runs (a dedup index): a run
        holds their locks from start to commit, so two runs never update one at once."""
        return []


class Filter(Stage):
    """A stage that decides each document from its own batch."""

    @abstractmethod
    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        """Return `batch` with this stage's score columns and a `reason` column (null = keep)."""


class CorpusStage(Stage):
    """A stage that decides over the whole corpus: summarize each shard, decide once, apply per shard."""

    #: a folder of the run where `decide` may leave state for `commit` (set by the runner, inside the
    #: stage's decide folder: it survives a killed run and goes with the run's `_work/`)
    state_dir: Path | None = None

    @abstractmethod
    def summarize(self, batch: pl.DataFrame) -> pl.DataFrame:
        """Per-shard summary rows (small: hashes, signatures), carrying `ORDER` to point back at documents."""

    @abstractmethod
    def decide(self, summaries: pl.LazyFrame) -> pl.DataFrame:
        """The documents to remove: `ORDER`, `reason` and this stage's detail columns."""

    def apply_decisions(self, batch: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
        """Mark the documents of `batch` that `decide` chose to remove."""
        columns = [ORDER, REASON, *self.detail_columns]
        return batch.join(decisions.select(columns), on=ORDER, how="left", maintain_order="left")


class FunctionFilter(Filter):
    """Wrap a pure function `batch -> reason expression` as a filter stage."""

    def __init__(self, kind: str, reason: Callable[[pl.DataFrame], pl.Expr]) -> None:
        self._kind = kind
        self._reason = reason

    @property
    def name(self) -> str:
        return self._kind

    kind = "function"

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        return batch.with_columns(self._reason(batch).cast(pl.String).alias(REASON))
