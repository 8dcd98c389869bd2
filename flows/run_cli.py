"""Running the `clean_corpus` flow for a command of the CLI, and printing what it did: the end shared by
`winnow clean`, `dedup`, `quality score` and `select`."""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.table import Table

from flows.cli_options import RunArguments, out_console, show_progress
from pipeline.report import checked_sentences, summary_rows, target_sentence
from pipeline.stats import RunStats

#: tasks run at once in this process without Prefect: as Prefect's default thread pool
TASK_THREADS = min(32, (os.cpu_count() or 1) + 4)


def clean_and_print(inputs: list[str], out: str | Path, recipe: Any, run: RunArguments) -> None:
    """What every cleaning command ends with: run `clean_corpus` with the CLI's options, print the result."""
    options = {name: value for name, value in asdict(run).items() if name != "progress"}
    stats = run_clean(inputs, out, recipe=recipe, progress=show_progress(run.progress), **options)
    print_run(out, stats)


def run_clean(
    inputs: list[str],
    out: str | Path,
    *,
    recipe: Any = None,
    progress: bool = False,
    dask_address: str | None = None,
    workers: int | None = None,
    memory_limit: str | None = None,
    prefect: bool | None = None,
    **options: Any,
) -> RunStats:
    """Validate everything that can be checked up front, then run the recipe: in this process, or as the
    `clean_corpus` flow (`orchestration.wants_prefect`)."""
    from flows.orchestration import wants_prefect, worker_memory_limit
    from flows.recipe import Recipe
    from pipeline.lock import ensure_free
    from pipeline.readers import resolve_sources
    from pipeline.storage import clean_url

    # credentials written into URLs stay in this process: the flow's parameters (stored by Prefect) and
    # everything the run writes name the URLs without them
    inputs = [clean_url(str(i)) for i in inputs]
    out = clean_url(str(out))
    loaded = recipe or Recipe()
    run_options = loaded.run_options(
        format=options.get("input_format"), **{k: v for k, v in options.items() if k != "input_format"}
    )
    resolve_sources(inputs, run_options.read)  # a missing path fails here, before any Prefect start
    ensure_free(out)  # a folder another run is writing to is refused before Prefect starts
    worker_memory_limit(memory_limit, dask_address, workers)  # so are Dask options that do not fit
    from flows.progress import RichProgress
    from pipeline.engine import showing_progress

    display = RichProgress() if progress else contextlib.nullcontext()
    if not wants_prefect(prefect, dask_address=dask_address, workers=workers):
        from pipeline.engine import LocalEngine
        from pipeline.runner import run
        from pipeline.storage import as_path

        stages = loaded.build_stages()
        with display as bars, showing_progress(bars):
            engine = LocalEngine(workers=TASK_THREADS, progress=bars)
            result = run(inputs, as_path(out), stages, run_options, engine=engine, recipe=loaded.identity())
        return result.stats

    from flows.engine import hide_user_error_tracebacks, task_runner

    runner = task_runner(dask_address, workers, memory_limit)  # bad options fail before Prefect too

    from flows.clean import clean_corpus

    hide_user_error_tracebacks()
    flow = clean_corpus.with_options(task_runner=runner) if runner else clean_corpus
    with display as bars, showing_progress(bars):
        return flow(inputs=[str(i) for i in inputs], out=str(out), recipe=loaded, **options)


def print_run(out: str | Path, stats: RunStats) -> None:
    """The end of a run: counts and where the outputs are."""
    if stats.already_complete:
        out_console.print(f"{out}: run is complete (nothing to do). `winnow stats {out}` shows its counts.")
        return
    resume = stats.resume
    if resume is not None and resume.attempt > 1:
        out_console.print(
            f"resumed (attempt {resume.attempt}): {resume.tasks_reused} finished tasks not run again, "
            f"{resume.tasks_run} run"
        )
    out_console.print(stats_table(stats))
    print_findings(stats)
    out_console.print(f"kept corpus: {stats.paths['kept']}")
    out_console.print(f"ledger:      {stats.paths['removed']}  (removed)")
    out_console.print(f"             {stats.paths['quarantine']}  (quarantined)")
    from pipeline.storage import absolute, as_path, display

    root = absolute(as_path(out))
    out_console.print(f"report:      {display(root / 'report.md')}  and  {display(root / 'stats.json')}")


def print_findings(stats: RunStats) -> None:
    """What the stages counted and found beside their removals: counters, how many documents score like a
    selection's target, how many benchmark items a decontamination checked."""
    for stage in stats.stages:
        if stage.counters:
            counted = ", ".join(f"{name}: {value}" for name, value in stage.counters.items())
            out_console.print(f"{stage.name} counted {counted}", highlight=False)
    for stage in stats.stages:
        likeness = stage.facts.get("target")
        if likeness:
            out_console.print(f"{stage.name}: {target_sentence(likeness)}", highlight=False)
        for line in checked_sentences(stage.facts.get("decontamination")):
            out_console.print(f"{stage.name}: {line}", highlight=False)


def stats_table(stats: RunStats) -> Table:
    """The per-step table of a run."""
    table = Table(
        title=f"{stats.input} in: {stats.kept} kept, {stats.removed} removed, "
        f"{stats.quarantined} quarantined ({stats.seconds:.1f} s)"
    )
    for column, justify in (
        ("step", "left"),
        ("in", "right"),
        ("kept", "right"),
        ("removed (by reason)", "left"),
        ("seconds", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in summary_rows(stats):
        table.add_row(*row)
    return table
