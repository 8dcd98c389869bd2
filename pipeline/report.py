"""Run reports: the per-stage table as rows (for the CLI) and as markdown (Prefect artifact, report.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.stats import RunStats


def summary_rows(stats: RunStats) -> list[tuple[str, str, str, str, str]]:
    """One row per step: name, documents in, kept, removed (by reason), seconds."""
    rows = [
        (
            "read",
            str(stats.input),
            str(stats.input - stats.quarantined),
            _reasons({"quarantined": stats.quarantined} if stats.quarantined else {}),
            f"{stats.read.seconds:.2f}",
        )
    ]
    for stage in stats.stages:
        rows.append(
            (stage.name, str(stage.input), str(stage.kept), _reasons(stage.reasons), f"{stage.seconds:.2f}")
        )
    return rows


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{reason}: {count}" for reason, count in reasons.items()) or "-"


def target_sentence(facts: dict[str, Any]) -> str:
    """A target selection's likeness facts (`filters.select.facts.target_facts`) as a sentence."""
    line = (
        f"{facts['like_target']:,} of {facts['documents']:,} documents score more like the target than like "
        f"the pool (log-odds > 0); {facts['kept_like_target']:,} of the {facts['kept']:,} kept do"
    )
    if facts["min_log_odds"] is None and facts["kept_like_target"] < facts["kept"]:
        line += " (a minimum log-odds of 0, --min-log-odds 0, keeps only those)"
    return line


def checked_sentences(facts: dict[str, Any] | None) -> list[str]:
    """A decontamination's coverage (a stage's `facts["decontamination"]`, from
    `filters.dedup.decontaminate.build_index`), a sentence per benchmark; none without it."""
    if not facts:
        return []
    n, shortest = facts["ngram"], min(facts["ngram"], facts["min_ngram"])
    lines = []
    for each in facts["benchmarks"]:
        checked = each["by_ngrams"] + each["whole"]
        how = f"{each['by_ngrams']:,} by their {n}-word n-grams"
        if shortest < n:
            how += f", {each['whole']:,} whole ({shortest}-{n - 1} words)"
        line = f"{each['name']}: {checked:,} of {each['items']:,} items checked ({how})"
        if each["unchecked"]:
            line += f"; {each['unchecked']:,} not checked (under {shortest} words, or numbers only)"
        lines.append(line)
    return lines


def markdown(stats: RunStats) -> str:
    """The run as a markdown report: totals, the per-stage table, quarantine errors and warnings."""
    lines = [
        "# winnow run",
        "",
        f"**{stats.input}** documents in: **{stats.kept}** kept, **{stats.removed}** removed, "
        f"**{stats.quarantined}** quarantined, in {stats.seconds:.1f} s.",
        "",
        "| step | in | kept | removed (by reason) | seconds |",
        "|---|---:|---:|---|---:|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in summary_rows(stats)]
    counted = [(stage.name, name, value) for stage in stats.stages for name, value in stage.counters.items()]
    if counted:
        lines += ["", "## Counters", "", "| step | counter | value |", "|---|---|---:|"]
        lines += [f"| {step} | {name} | {value} |" for step, name, value in counted]
    likeness = [(stage.name, stage.facts["target"]) for stage in stats.stages if stage.facts.get("target")]
    if likeness:
        lines += ["", "## Target selection", ""] + [f"- {name}: {target_sentence(f)}" for name, f in likeness]
    checked = [
        (stage.name, line)
        for stage in stats.stages
        for line in checked_sentences(stage.facts.get("decontamination"))
    ]
    if checked:
        lines += ["", "## Benchmarks checked", ""] + [f"- {name}: {line}" for name, line in checked]
    errors = stats.read.quarantine_errors
    if errors:
        lines += ["", "## Quarantined", "", "| error | records |", "|---|---:|"]
        lines += [f"| {error} | {count} |" for error, count in errors.items()]
    if stats.read.warnings:
        lines += ["", "## Warnings", ""] + [f"- {warning}" for warning in stats.read.warnings]
    lines += ["", "## Where", ""] + [f"- {name}: `{path}`" for name, path in stats.paths.items()]
    return "\n".join(lines) + "\n"


def write_report(root: Path, stats: RunStats) -> Path:
    """Write `report.md` into the run folder."""
    path = root / "report.md"
    path.write_text(markdown(stats))
    return path
