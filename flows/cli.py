"""The `winnow` command line. Exit codes: 0 success, 1 bad input (or a failed run), 2 usage error."""

from __future__ import annotations

import os

# Nothing reaches a model hub or Prefect's telemetry at run time; set before Prefect or HF libraries load.
# Prefect's temporary server gets 120 s to start, not 20: its first start in a fresh PREFECT_HOME migrates
# its database, which overran 20 s on a busy 2-core machine ("Timed out while attempting to connect").
for _name, _value in (
    ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
    ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"),
    ("HF_HUB_OFFLINE", "1"),
    ("HF_DATASETS_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
):
    os.environ.setdefault(_name, _value)

from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402
from pydantic import ValidationError  # noqa: E402
from rich.table import Table  # noqa: E402

from filters.dedup import shingles  # noqa: E402
from flows.cli_options import (  # noqa: E402
    InputsArgument,
    ProgressOption,
    RunArguments,
    RunFolderOption,
    choices,
    out_console,
    show_progress,
    user_errors,
    with_run_options,
)
from flows.run_cli import clean_and_print, print_findings, print_run, run_clean, stats_table  # noqa: E402
from pipeline.errors import WinnowError  # noqa: E402
from pipeline.stats import RunStats  # noqa: E402

app = typer.Typer(
    name="winnow",
    help="Spend LLM compute only on the data that earns it: clean training corpora, compress prompts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
@with_run_options
def clean(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Input files or folders: JSON Lines (.jsonl, .gz, .zst), Parquet (a file or a folder of "
            "shards), CSV/TSV, or a Hugging Face save_to_disk folder; or fsspec URLs of objects, prefixes "
            "or globs (s3://bucket/crawl/, gs://..., credentials from the environment).",
            show_default=False,
        ),
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Run folder to write: kept/, removed/, quarantine/, stats.json, report.md (a path, or a "
            "URL such as s3://bucket/runs/nightly).",
            show_default=False,
        ),
    ],
    recipe: Annotated[
        Path | None,
        typer.Option(help="TOML recipe choosing the stages and their parameters (default: preset dedup)."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="A recipe that ships with winnow (`winnow recipe --list`): dedup, web."),
    ] = None,
    *,
    run: RunArguments,
) -> None:
    """Clean a corpus: every document ends up kept, removed (with stage and reason) or quarantined."""
    if recipe and preset:
        raise typer.BadParameter("give --recipe or --preset, not both", param_hint="--preset")
    with user_errors():
        from flows.recipe import choose_recipe

        loaded = choose_recipe(recipe, preset)
        clean_and_print(
            inputs,
            out,
            loaded,
            run,
        )


Unit = choices("Unit", shingles.Unit)


@app.command()
@with_run_options
def dedup(
    inputs: InputsArgument,
    out: RunFolderOption,
    threshold: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Jaccard similarity of duplicates.")
    ] = 0.8,
    num_perm: Annotated[int, typer.Option(min=8, max=1024, help="MinHash permutations.")] = 128,
    ngram: Annotated[int, typer.Option(min=1, max=64, help="Tokens per shingle.")] = 5,
    unit: Annotated[Unit, typer.Option(help="Shingle tokens: words or characters.")] = Unit.word,
    keep: Annotated[
        str,
        typer.Option(
            help="Which document of a cluster stays: first, longest, or a column name (its highest value)."
        ),
    ] = "first",
    against: Annotated[
        str | None,
        typer.Option(
            help="Index folder (or URL) of earlier runs: documents that duplicate anything indexed are "
            "removed."
        ),
    ] = None,
    update_index: Annotated[
        bool, typer.Option("--update-index", help="Add this run's kept documents to the --against index.")
    ] = False,
    *,
    run: RunArguments,
) -> None:
    """Remove near duplicates: MinHash LSH, candidates verified by exact Jaccard, clusters by scipy."""
    if update_index and against is None:
        raise typer.BadParameter("--update-index needs --against INDEX_DIR", param_hint="--update-index")
    with user_errors():
        from flows.recipe import Recipe, parse_recipe

        recipe: Recipe = parse_recipe(
            {
                "stages": [
                    {
                        "type": "minhash_dedup",
                        "threshold": threshold,
                        "num_perm": num_perm,
                        "ngram": ngram,
                        "unit": unit.value,
                        "keep": keep,
                        "index": str(against) if against else None,
                        "update_index": update_index,
                    }
                ]
            },
            origin="winnow dedup",
        )
        clean_and_print(
            inputs,
            out,
            recipe,
            run,
        )


@app.command("recipe")
def show_recipe(
    name: Annotated[str | None, typer.Argument(help="Preset to print as TOML.", show_default=False)] = None,
    list_presets: Annotated[bool, typer.Option("--list", help="List the presets.")] = False,
) -> None:
    """Print a preset recipe as TOML, to run as it is (`--preset`) or to edit into your own `--recipe`."""
    from flows.presets import PRESETS

    if list_presets or name is None:
        for preset_name, text in PRESETS.items():
            out_console.print(f"{preset_name}: {text.splitlines()[0].lstrip('# ')}", highlight=False)
        return
    with user_errors():
        from flows.recipe import preset_recipe

        preset_recipe(name)
        print(PRESETS[name], end="")


@app.command()
def stats(
    run: Annotated[
        str, typer.Argument(help="A run folder (or URL) written by `winnow clean`.", show_default=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print stats.json as it is.")] = False,
) -> None:
    """Print a finished run's counts: input, kept, removed by stage and reason, quarantined."""
    with user_errors():
        from pipeline.storage import as_path, display

        path = as_path(run) / "stats.json"
        if not path.is_file():
            raise WinnowError(f"{display(run)}: no stats.json; not a finished winnow run")
        try:
            data = RunStats.read_file(path)
        except ValidationError as error:
            raise WinnowError(f"{path}: unreadable ({error})") from None
    if as_json:
        out_console.print_json(path.read_text())
        return
    out_console.print(stats_table(data))
    print_findings(data)
    errors = data.read.quarantine_errors
    if errors:
        out_console.print("quarantined: " + ", ".join(f"{k}: {v}" for k, v in errors.items()))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo corpus and its run.")] = Path(
        "demo-output"
    ),
    docs: Annotated[int, typer.Option(min=10, help="Documents in the generated corpus.")] = 3000,
    seed: Annotated[int, typer.Option(help="Seed of the corpus generator.")] = 0,
    preset: Annotated[
        str, typer.Option(help="Recipe preset to clean it with (`winnow recipe --list`).")
    ] = "web",
    progress: ProgressOption = None,
) -> None:
    """Generate a corpus with planted duplicates and junk, then clean it with a preset (default: web)."""
    from flows.demo_corpus import write_demo_corpus
    from flows.recipe import preset_recipe

    with user_errors():
        recipe = preset_recipe(preset)
        corpus_path = out / f"corpus-{docs}-seed{seed}.jsonl.gz"
        if not corpus_path.exists():
            out.mkdir(parents=True, exist_ok=True)
            corpus = write_demo_corpus(corpus_path, n_docs=docs, seed=seed)
            planted = ", ".join(f"{kind}: {count}" for kind, count in corpus.counts.items())
            out_console.print(f"demo corpus: {corpus_path} ({corpus.n_records} records; {planted})")
        stats = run_clean([str(corpus_path)], out / "run", recipe=recipe, progress=show_progress(progress))
    print_run(out / "run", stats)
    out_console.print(planted_table(out / "run"))


def planted_table(run: Path) -> Table:
    """What became of each planted kind of demo document (the corpus's `kind` column)."""
    import polars as pl

    kept = pl.scan_parquet(run / "kept" / "*.parquet").select("kind", pl.lit("kept").alias("outcome"))
    frames = [kept]
    if any((run / "removed").glob("*.parquet")):
        removed = pl.scan_parquet(
            run / "removed" / "*.parquet", missing_columns="insert", extra_columns="ignore"
        )
        frames.append(removed.select("kind", pl.col("stage").alias("outcome")))
    counts = pl.concat(frames).group_by("kind", "outcome").len().collect()
    table = Table(title="planted kind -> kept, or the stage that removed it (bad records are quarantined)")
    stages = RunStats.read_file(run / "stats.json").stages
    present = set(counts["outcome"].to_list())
    outcomes = ["kept"] + [stage.name for stage in stages if stage.name in present]
    table.add_column("kind")
    for outcome in outcomes:
        table.add_column(outcome, justify="right")
    for kind in sorted(counts["kind"].unique().to_list()):
        row = counts.filter(pl.col("kind") == kind)
        cells = dict(zip(row["outcome"].to_list(), row["len"].to_list(), strict=True))
        table.add_row(kind, *[str(cells.get(outcome, 0)) for outcome in outcomes])
    return table


def _mount_subcommands() -> None:
    from flows.compress_cli import compress
    from flows.decontaminate_cli import decontaminate
    from flows.fewshot_cli import fewshot
    from flows.quality_cli import quality_app
    from flows.schedule_cli import schedule_app
    from flows.select_cli import select
    from flows.serve_cli import serve

    app.add_typer(quality_app, name="quality")
    app.command("select")(select)
    app.command("fewshot")(fewshot)
    app.command("compress")(compress)
    app.command("decontaminate")(decontaminate)
    app.command("serve")(serve)
    app.add_typer(schedule_app, name="schedule")


_mount_subcommands()


def main() -> None:
    """Entry point of the `winnow` script."""
    app()


if __name__ == "__main__":
    main()
