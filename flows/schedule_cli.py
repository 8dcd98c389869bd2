"""`winnow schedule clean`: a Prefect deployment that cleans a crawl on a cron schedule, and serves it.

Mounted by `flows.cli` as `app.add_typer(schedule_app, name="schedule")`. Exit codes as for `winnow`:
0 success (serving ends with Ctrl-C), 1 bad input (bad cron, time zone, recipe or input), 2 usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli_options import (
    DaskAddressOption,
    IdFieldOption,
    MemoryLimitOption,
    OnErrorOption,
    TextFieldOption,
    WorkersOption,
    out_console,
    user_errors,
)

schedule_app = typer.Typer(
    help="Run cleaning on a schedule as a Prefect deployment (a Prefect server keeps the schedule).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@schedule_app.command()
def clean(
    cron: Annotated[
        str,
        typer.Option(help="When to run, as cron (e.g. '0 3 * * *': 03:00 every day).", show_default=False),
    ],
    inputs: Annotated[
        list[str],
        typer.Option(
            "--input",
            "-i",
            help="Input file or folder (repeat for several). '{date:%Y-%m-%d}' (any strftime format) in a "
            "path is the run's scheduled date.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Root folder: each run writes ROOT/<scheduled start, e.g. 2026-11-21T030000>.",
            show_default=False,
        ),
    ],
    recipe: Annotated[
        Path | None,
        typer.Option(help="TOML recipe (it needs one minhash_dedup stage; default: preset dedup)."),
    ] = None,
    preset: Annotated[str | None, typer.Option(help="A recipe that ships with winnow: dedup, web.")] = None,
    index: Annotated[
        Path | None,
        typer.Option(
            help="Dedup index every run is deduplicated against and adds its kept documents to "
            "(default: the recipe's minhash_dedup index, else ROOT/dedup-index)."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Deployment name (default: the name of the ROOT folder).")
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="Time zone of the cron schedule and of the run folder names (IANA name).")
    ] = "UTC",
    work_pool: Annotated[
        str | None,
        typer.Option(
            help="Register the deployment on this work pool and exit (its workers run it) instead of "
            "serving it from this process."
        ),
    ] = None,
    text_field: TextFieldOption = None,
    id_field: IdFieldOption = None,
    on_error: OnErrorOption = None,
    workers: WorkersOption = None,
    dask_address: DaskAddressOption = None,
    memory_limit: MemoryLimitOption = None,
) -> None:
    """Create a Prefect deployment that cleans INPUTs into a new dated run folder under ROOT on a cron
    schedule, each run deduplicated against everything kept before; then serve it until Ctrl-C."""
    if recipe and preset:
        raise typer.BadParameter("give --recipe or --preset, not both", param_hint="--preset")
    with user_errors():
        from flows.recipe import choose_recipe
        from flows.schedule import FLOW_NAME, deployment, register, require_server, serve

        loaded = choose_recipe(recipe, preset)
        read = {"text_field": text_field, "id_field": id_field, "on_error": on_error and on_error.value}
        loaded.read = loaded.read.model_copy(update={k: v for k, v in read.items() if v is not None})
        deployment_name = name or out.resolve().name or "winnow"
        created = deployment(
            deployment_name,
            cron=cron,
            inputs=inputs,
            root=out,
            recipe=loaded,
            index=index,
            timezone=timezone,
            workers=workers,
            dask_address=dask_address,
            memory_limit=memory_limit,
        )
        full_name = f"{FLOW_NAME}/{deployment_name}"
        server = require_server()
        if work_pool:
            register(created, work_pool)
            out_console.print(
                f"deployment '{full_name}' registered on work pool '{work_pool}'; its workers run it "
                f"(`prefect worker start --pool {work_pool}`); one run now: "
                f"`prefect deployment run '{full_name}'`",
                highlight=False,
            )
            return
        out_console.print(
            f"serving '{full_name}' ('{cron}', {timezone}) on {server}: runs write {out.resolve()}/<date>; "
            "Ctrl-C stops it and pauses the schedule",
            highlight=False,
        )
        serve(created)
