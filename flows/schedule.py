"""Scheduled cleaning: a Prefect deployment that cleans a daily crawl into a new dated run folder.

`scheduled_clean` is a thin flow around `clean_corpus` (run as its subflow): it names the run folder
ROOT/<scheduled start, e.g. 2026-11-21T030000> after the flow run's scheduled start time (a retry of the
same run reuses its folder) and runs the recipe with its `minhash_dedup` stage reading and updating one
index (default ROOT/dedup-index), so each run is deduplicated against everything kept before.
"""

from __future__ import annotations

import string
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow
from prefect.runtime import flow_run

from flows.clean import clean_corpus
from flows.engine import task_runner
from flows.recipe import Recipe
from pipeline.errors import RecipeError, WinnowError

FLOW_NAME = "scheduled_clean"
INDEX_FOLDER = "dedup-index"
STAMP = "%Y-%m-%dT%H%M%S"  # no colons: safe in paths and URLs


def with_index(recipe: Recipe, root: Path, index: Path | None = None) -> Recipe:
    """`recipe` with its one `minhash_dedup` stage reading and updating an index: `index`, else the
    stage's own `index`, else ROOT/dedup-index."""
    positions = [
        i for i, stage in enumerate(recipe.stages) if getattr(stage, "type", None) == "minhash_dedup"
    ]
    if len(positions) != 1:
        raise RecipeError(
            f"a scheduled clean needs exactly one minhash_dedup stage (this recipe has {len(positions)}): "
            "its index deduplicates each run against the runs before"
        )
    stage = recipe.stages[positions[0]]
    folder = Path(index or stage.index or root / INDEX_FOLDER).resolve()
    stages = list(recipe.stages)
    stages[positions[0]] = stage.model_copy(update={"index": folder, "update_index": True})
    return recipe.model_copy(update={"stages": stages})


def template_fields(path: str) -> set[str]:
    """The `{name...}` fields of an input path (only `date` is known)."""
    return {field for _, field, _, _ in string.Formatter().parse(path) if field is not None}


def expand_input(path: str, when: datetime) -> str:
    """An input path with `{date:%Y-%m-%d}` (any strftime format) filled in with the run's date."""
    unknown = template_fields(path) - {"date"}
    if unknown:
        raise WinnowError(
            f"{path}: unknown field {{{sorted(unknown)[0]}}} (only {{date:FORMAT}} is filled in)"
        )
    return path.format(date=when) if template_fields(path) else path


def run_time(timezone: str) -> datetime:
    """The scheduled start of the current flow run, in `timezone` (now, outside a flow run)."""
    return flow_run.get_scheduled_start_time().astimezone(ZoneInfo(timezone))


def run_folder(root: str | Path, when: datetime) -> Path:
    """The dated run folder of a run scheduled at `when`."""
    return Path(root) / when.strftime(STAMP)


def _flow_run_name() -> str:
    """ROOT-NAME/<scheduled start>: the run folder it writes."""
    parameters = flow_run.get_parameters()
    when = run_time(parameters.get("timezone") or "UTC")
    return f"{Path(parameters['root']).name}/{when.strftime(STAMP)}"


@flow(name=FLOW_NAME, flow_run_name=_flow_run_name, log_prints=False, validate_parameters=True)
def scheduled_clean(
    inputs: list[str],
    root: str,
    recipe: Recipe,
    timezone: str = "UTC",
    workers: int | None = None,
    dask_address: str | None = None,
    memory_limit: str | None = None,
) -> dict[str, Any]:
    """Clean `inputs` into ROOT/<scheduled start>; `{date:FORMAT}` in an input is that date."""
    when = run_time(timezone)
    runner = task_runner(dask_address, workers, memory_limit)
    subflow = clean_corpus.with_options(task_runner=runner) if runner else clean_corpus
    return subflow(
        inputs=[expand_input(path, when) for path in inputs], out=str(run_folder(root, when)), recipe=recipe
    )


def cron_schedule(cron: str, timezone: str) -> Any:
    """A validated cron schedule; a bad cron string or time zone is a WinnowError."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        return CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as error:
        raise WinnowError(
            "; ".join(item["msg"].removeprefix("Value error, ") for item in error.errors())
        ) from None


def check_inputs(inputs: list[str], recipe: Recipe) -> list[str]:
    """Absolute input paths; those without a `{date}` field must exist now, templates must expand."""
    from pipeline.readers import resolve_sources

    now = datetime.now()
    for path in inputs:
        expand_input(path, now)
    fixed = [path for path in inputs if not template_fields(path)]
    if fixed:
        resolve_sources(fixed, recipe.run_options().read)
    return [str(Path(path).absolute()) for path in inputs]


def deployment(
    name: str,
    *,
    cron: str,
    inputs: list[str],
    root: Path,
    recipe: Recipe,
    index: Path | None = None,
    timezone: str = "UTC",
    workers: int | None = None,
    dask_address: str | None = None,
    memory_limit: str | None = None,
) -> Any:
    """The deployment of `scheduled_clean` on `cron` (one run at a time: runs share the dedup index)."""
    from prefect.types.entrypoint import EntrypointType

    schedule = cron_schedule(cron, timezone)
    task_runner(dask_address, workers, memory_limit)  # bad cluster options fail now, not at 3 a.m.
    root = root.resolve()
    recipe = with_index(recipe, root, index)
    parameters = {
        "inputs": check_inputs(inputs, recipe),
        "root": str(root),
        "recipe": recipe.model_dump(mode="json"),
        "timezone": timezone,
        "workers": workers,
        "dask_address": dask_address,
        "memory_limit": memory_limit,
    }
    return scheduled_clean.to_deployment(
        name,
        schedules=[schedule],
        parameters=parameters,
        concurrency_limit=1,
        description=f"winnow: clean {', '.join(inputs)} into {root}/<date> on '{cron}' ({timezone})",
        tags=["winnow"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def require_server() -> str:
    """The API URL of the Prefect server that keeps the schedule; without one there is nothing to keep it."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise WinnowError(
            "a schedule needs a Prefect server that keeps running: start one with `prefect server start` "
            "and set PREFECT_API_URL=http://127.0.0.1:4200/api (or `prefect config set PREFECT_API_URL=...`)"
        )
    return url


def serve(deployment: Any) -> None:
    """Register `deployment` and run its scheduled runs from this process until it is stopped (Ctrl-C);
    stopping pauses the schedule."""
    from prefect import serve as prefect_serve

    prefect_serve(deployment)


def register(deployment: Any, work_pool: str) -> Any:
    """Register `deployment` on a work pool (its workers run the scheduled runs); returns its id."""
    from prefect.deployments.runner import DeploymentApplyError

    try:
        return deployment.apply(work_pool_name=work_pool)
    except DeploymentApplyError as error:
        hint = (
            f"; create it with `prefect work-pool create {work_pool} --type process`"
            if "not found" in str(error)
            else ""
        )
        raise WinnowError(f"{str(error).rstrip('.')}{hint}") from None
