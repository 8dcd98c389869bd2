"""`clean_corpus`: the Prefect flow that cleans a corpus with a recipe's stages.

A thin wrapper over `pipeline.runner.run`: the Prefect engine makes one task per stage per shard, logs go
to Prefect's logger, the report becomes a markdown artifact and its tables (per stage, per reason,
duplicate clusters) table artifacts. Without `PREFECT_API_URL` the flow runs on Prefect's temporary local
server (nothing to start).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.engine import PrefectEngine
from flows.recipe import Recipe
from pipeline.readers.options import Format, OnError
from pipeline.report import markdown
from pipeline.report_html import REPORT
from pipeline.runner import run
from pipeline.stats import RunStats
from pipeline.storage import AnyPath, absolute, as_path, display
from pipeline.writers import OutputFormat


@flow(name="clean_corpus", flow_run_name="clean {out}", log_prints=False, validate_parameters=True)
def clean_corpus(
    inputs: list[str],
    out: str,
    recipe: Recipe | None = None,
    text_field: str | None = None,
    id_field: str | None = None,
    on_error: OnError | None = None,
    input_format: Format | None = None,
    output_format: OutputFormat | None = None,
    batch_size: int | None = None,
    partitions: int | None = None,
) -> RunStats:
    """Clean `inputs` into the run folder `out`; returns the run's stats (`already_complete` when it had
    finished before and nothing was done)."""
    recipe = recipe or Recipe()
    options = recipe.run_options(
        text_field=text_field,
        id_field=id_field,
        on_error=on_error,
        format=input_format,
        batch_size=batch_size,
        output_format=output_format,
        partitions=partitions,
    )
    result = run(
        inputs, as_path(out), recipe.build_stages(), options, engine=PrefectEngine(), recipe=recipe.identity()
    )
    logger = get_run_logger()
    if result.already_complete:
        logger.info(f"{out}: run is already complete; nothing to do")
    else:
        stats = result.stats
        logger.info(
            f"kept {stats.kept}, removed {stats.removed}, quarantined {stats.quarantined} "
            f"of {stats.input} documents"
        )
        assert result.tables is not None  # a run that did its work made them
        publish_artifacts(as_path(out), stats, result.tables)
    return result.stats


def publish_artifacts(root: AnyPath, stats: RunStats, tables: dict[str, list[dict[str, Any]]]) -> None:
    """The run's report in Prefect's UI: the markdown report, and its tables as table artifacts (per stage,
    per reason, duplicate clusters), under fixed keys so that each shows its history across runs. `tables`
    are the report task's (`RunResult.tables`: they read the ledger, so they are not made here)."""
    description = f"winnow clean run {root}"
    report = markdown(stats)
    if (root / REPORT).is_file():
        report += f"\nCharts and examples: `{display(absolute(root / REPORT))}`\n"
    create_markdown_artifact(report, key="winnow-clean", description=description)
    for name in ("stages", "reasons", "duplicates"):
        if tables[name]:
            create_table_artifact(tables[name], key=f"winnow-clean-{name}", description=description)
