"""The stage contract: a stage marks the documents to remove, each with a reason.

Two kinds, as in datatrove (a filter returns keep-or-reason, statistics come for free):

- `Filter` decides batch by batch, so it runs on every shard independently.
- `CorpusStage` needs the whole corpus (deduplication): it `summarize`s each shard, `decide`s once over
  all summaries, and the runner applies the decisions to each shard. A `SplitCorpusStage` can also decide
  in parts, one task each, whose memory follows the part.

Either way the result is the batch plus a `reason` column (null keeps the document), score columns that
stay with kept documents, and `detail_columns` (e.g. `duplicate_of`) that only removed documents carry.

As in scikit-learn, a stage is its parameters: one `StageConfig` (a recipe's `[[stages]]` table) that
the stage class names as its `Config`. The stage's `kind` is the config's `type`, and its repr, equality
and run identity come from the config, so a stage declares none of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, get_args

import polars as pl
from pydantic import BaseModel, ConfigDict

from pipeline.batch import ORDER, REASON
from pipeline.storage import AnyPath

#: the column of `SplitCorpusStage.route` naming each row's part
PART = "__part"


class StageConfig(BaseModel):
    """A stage's parameters, as one `[[stages]]` table of a recipe. A subclass declares
    `type: Literal["its_kind"] = "its_kind"` and its fields; the stage class that names it as its `Config`
    is what `build()` makes."""

    model_config = ConfigDict(extra="forbid")

    type: str
    #: the stage class built from this config (set when that class names it as its `Config`)
    stage_class: ClassVar[type[Stage] | None] = None

    @classmethod
    def kind(cls) -> str:
        """The `type` this config's recipe table names (the one value of its Literal)."""
        (kind,) = get_args(cls.model_fields["type"].annotation)
        return str(kind)

    def build(self) -> Stage:
        """The stage with these parameters."""
        if self.stage_class is None:
            raise TypeError(f"no stage class names {type(self).__name__} as its Config")
        return self.stage_class(self)


class Stage(ABC):
    """A step of the cleaning pipeline: `Stage(config)` or `Stage(**parameters)` (checked by its config)."""

    #: the parameters' type; every concrete stage names one
    Config: ClassVar[type[StageConfig]]
    #: stage type, as written in recipes and in the `stage` column of `removed/` (the config's `type`)
    kind: ClassVar[str]
    #: columns that explain a removal, with their types; dropped from kept documents
    detail_columns: ClassVar[dict[str, pl.DataType]] = {}
    #: columns this stage adds to every document (scores), with their types; kept with the documents
    score_columns: ClassVar[dict[str, pl.DataType]] = {}
    #: what the stage found worth reporting (JSON values): a corpus stage's `decide` sets it (cluster sizes,
    #: coverage), a filter what it knows once built (how many benchmark items it checks); the runner puts
    #: it in the stage's stats, the reports show it
    facts: dict[str, Any] = {}  # noqa: RUF012 - replaced, never mutated

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        config = cls.__dict__.get("Config")
        if config is not None:
            cls.kind = config.kind()
            config.stage_class = cls

    def __init__(self, config: StageConfig | None = None, /, **parameters: Any) -> None:
        if config is None:
            config = self.Config(**parameters)
        elif parameters or not isinstance(config, self.Config):
            raise TypeError(f"{type(self).__name__} takes a {self.Config.__name__} or keyword parameters")
        self.config = config

    def __repr__(self) -> str:  # the parameters that differ from the defaults, as scikit-learn shows them
        changed = self.config.model_dump(exclude_defaults=True, exclude={"type"})
        return f"{type(self).__name__}({', '.join(f'{key}={value!r}' for key, value in changed.items())})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.config == other.config  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.config.model_dump_json()))

    def identity(self) -> dict[str, Any]:
        """What defines this stage's results: its config, as its recipe table (JSON types)."""
        return self.config.model_dump(mode="json")

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


class SplitCorpusStage(CorpusStage):
    """A corpus stage whose decision also runs as parts: each `decide_part` in a task of its own, whose
    memory follows the part, not the corpus, then `decide_parts` over their results. A part holds the
    documents (or keys) whose key falls in it (`part_of`); the result must not depend on the split.

    Rows move between parts through files of the run folder (a shuffle), never through one process:
    - a stage that knows each summary row's part from its shard alone (a hash key) says so in `route`; the
      runner writes every shard's rows into per-part files when it summarizes the shard, and a part reads
      its own rows (`routed`) instead of scanning every summary;
    - a decision of several `rounds` (MinHash: find candidate pairs by band key, then verify each pair
      once, in the part of its first document) returns, from every round but the last, rows with a
      `PART` column: each goes to that part of the next round as its `routed` rows.
    """

    #: rounds of part tasks before `decide_parts`
    rounds: ClassVar[int] = 1

    def route(self, summary: pl.LazyFrame, parts: int) -> pl.LazyFrame | None:
        """The rows of `summary` that the parts need, each with its part (0 .. parts-1) in a `PART`
        column; None (the default): every part reads all summaries."""
        return None

    def routed_rows(
        self, summaries: pl.LazyFrame, part: int, parts: int, routed: pl.LazyFrame | None
    ) -> pl.LazyFrame:
        """Part `part`'s rows of `route`: as the runner wrote them, or picked from `summaries` here."""
        if routed is not None:
            return routed
        rows = self.route(summaries, parts)
        if rows is None:
            raise TypeError(f"{type(self).__name__} does not route its summaries")
        return rows.filter(pl.col(PART) == part).drop(PART)

    @abstractmethod
    def decide_part(
        self,
        summaries: pl.LazyFrame,
        part: int,
        parts: int,
        routed: pl.LazyFrame | None = None,
        round: int = 0,
        files: Sequence[AnyPath] = (),
    ) -> pl.DataFrame:
        """What part `part` of `parts` of the decision finds on its own in round `round` (for MinHash,
        the candidate pairs among one partition of the band keys, then the verified ones among the pairs
        routed to it); `routed`: the rows sent to this part (by `route`, or by the round before);
        `files`: the summaries' files when the runner has them, so that a part can take a few documents'
        rows (`pipeline.summaries.summary_rows`) instead of scanning `summaries`."""

    @abstractmethod
    def decide_parts(
        self, summaries: pl.LazyFrame, parts: pl.LazyFrame, files: Sequence[AnyPath] = ()
    ) -> pl.DataFrame:
        """The decisions (as `decide`) from the results of every `decide_part` of the last round (`files`:
        as for `decide_part`)."""

    def decide(self, summaries: pl.LazyFrame) -> pl.DataFrame:
        """The decision as one part."""
        found = self.decide_part(summaries, 0, 1)
        for round in range(1, self.rounds):
            found = self.decide_part(summaries, 0, 1, found.drop(PART).lazy(), round)
        return self.decide_parts(summaries, found.lazy())


def part_of(key: pl.Expr, parts: int) -> pl.Expr:
    """The part (0 .. parts-1) of an integer hash key: rows with equal keys always share a part."""
    return (key % parts).cast(pl.Int64)


def key_range(part: int, parts: int) -> tuple[int, int | None]:
    """The unsigned 64-bit keys of part `part` of `parts` by range: `lo <= key < hi` (`hi` None: no upper
    bound, for the last part)."""
    step = -(-(2**64) // parts)
    return part * step, (part + 1) * step if part + 1 < parts else None


def part_of_range(key: pl.Expr, parts: int) -> pl.Expr:
    """The part (0 .. parts-1) of a uniform unsigned 64-bit hash key by range (`key_range`): rows with equal
    keys share a part, and a part's keys are one range, so a part reads only its range of files sorted
    by key (their row groups' statistics skip the rest)."""
    if parts == 1:
        return pl.lit(0, dtype=pl.Int64)
    return (key.cast(pl.UInt64) // key_range(1, parts)[0]).cast(pl.Int64)


def in_key_range(key: pl.Expr, part: int, parts: int) -> pl.Expr:
    """Whether `key` falls in part `part` of `parts` by range (`part_of_range`), as a filter that a
    Parquet scan can push down to its row groups."""
    lo, hi = key_range(part, parts)
    inside = key >= pl.lit(lo, dtype=pl.UInt64)
    return inside if hi is None else inside & (key < pl.lit(hi, dtype=pl.UInt64))


class FunctionFilter(Filter):
    """Wrap a pure function `batch -> reason expression` as a filter stage."""

    def __init__(self, kind: str, reason: Callable[[pl.DataFrame], pl.Expr]) -> None:  # no config
        self._kind = kind
        self._reason = reason

    def __repr__(self) -> str:
        return f"FunctionFilter({self._kind!r}, {self._reason!r})"

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def identity(self) -> dict[str, Any]:
        return {"type": self._kind, "repr": repr(self)}

    @property
    def name(self) -> str:
        return self._kind

    kind = "function"

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        return batch.with_columns(self._reason(batch).cast(pl.String).alias(REASON))
