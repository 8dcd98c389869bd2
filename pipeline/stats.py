"""A run's statistics, typed: what `stats.json` holds, and what the text report, the HTML report, the CLI
table and the Prefect artifacts read (one object, not a dict each of them indexes its own way)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import AccountingError

StepKind = Literal["filter", "corpus", "write"]


class _Stats(BaseModel):
    # a stats.json of another winnow version may carry fields this one does not know: read past them
    model_config = ConfigDict(extra="ignore")


class StageStats(_Stats):
    """What one stage did over the whole corpus."""

    name: str
    kind: StepKind
    input: int
    kept: int
    removed: int
    #: removals by reason, most frequent first (ties by name)
    reasons: dict[str, int]
    #: totals the stage counted (e-mails redacted, documents not scored), by name
    counters: dict[str, int] = Field(default_factory=dict)
    score_columns: list[str] = Field(default_factory=list)
    detail_columns: list[str] = Field(default_factory=list)
    seconds: float
    docs_per_second: float | None = None
    #: what the stage's decision recorded for the report (cluster sizes, coverage); absent when none
    facts: dict[str, Any] = Field(default_factory=dict)


class SourceStats(_Stats):
    """What one input source gave."""

    source: str
    documents: int
    quarantined: int
    seconds: float


class ReadStats(_Stats):
    """The read step: per source, quarantine errors by kind, warnings."""

    sources: list[SourceStats]
    quarantine_errors: dict[str, int]
    warnings: list[str]
    seconds: float


class ResumeStats(_Stats):
    """Which attempt finished the run and how many of its tasks an earlier attempt had done."""

    attempt: int
    tasks_reused: int
    tasks_run: int


class StepStats(_Stats):
    """One step of the run (read, a stage's summaries, a round of its decision's parts, ...): its tasks, the
    seconds they took together (summed over tasks, whatever ran them in parallel; with resume, as the
    attempt that ran each task measured it) and the step's own wall time (this attempt's)."""

    tasks: int
    task_seconds: float
    seconds: float


class RunStats(_Stats):
    """A finished run: totals counted from the files written, per-stage counts, timings (`stats.json`)."""

    input: int
    kept: int
    removed: int
    quarantined: int
    stages: list[StageStats]
    read: ReadStats
    output_format: str
    paths: dict[str, str]
    started_at: str
    finished_at: str
    seconds: float
    docs_per_second: float | None
    resume: ResumeStats | None = None
    steps: dict[str, StepStats] = {}
    #: set when a finished run was asked for again and nothing was done (not written to stats.json)
    already_complete: bool = Field(False, exclude=True)

    @classmethod
    def read_file(cls, path: Path) -> RunStats:
        """The stats a run folder's `stats.json` holds."""
        return cls.model_validate_json(path.read_bytes())

    def to_json(self) -> dict[str, Any]:
        """As `stats.json` stores it (a stage without facts has no `facts` key)."""
        data = self.model_dump(mode="json")
        for stage in data["stages"]:
            if not stage["facts"]:
                del stage["facts"]
        return data

    def check_accounting(self) -> None:
        """Every input document is kept, removed or quarantined, and the stages agree with the files."""
        total = self.kept + self.removed + self.quarantined
        if self.input != total:
            raise AccountingError(
                f"input {self.input} != kept {self.kept} + removed {self.removed} "
                f"+ quarantined {self.quarantined}"
            )
        if sum(stage.removed for stage in self.stages) != self.removed:
            raise AccountingError("removed/ does not match the stages' removal counts")


def by_count(counts: Counter[str]) -> dict[str, int]:
    """Most frequent first, ties by name: the same order on every run, whatever order shards finish in."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def stage_line(stats: StageStats) -> str:
    """A log line for a finished stage."""
    reasons = ", ".join(f"{k}: {v}" for k, v in stats.reasons.items()) or "none"
    counted = ", ".join(f"{k}: {v}" for k, v in stats.counters.items())
    counted = f"; counted {counted}" if counted else ""
    return f"{stats.name}: removed {stats.removed} of {stats.input} ({reasons}){counted} in {stats.seconds} s"
