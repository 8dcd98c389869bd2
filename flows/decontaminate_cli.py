"""`winnow decontaminate`: remove (or redact) documents that share a word n-gram with a benchmark."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from flows.cli_options import InputsArgument, RunArguments, RunFolderOption, user_errors, with_run_options
from flows.run_cli import clean_and_print


class Mode(StrEnum):
    remove = "remove"
    redact = "redact"


@with_run_options
def decontaminate(
    inputs: InputsArgument,
    out: RunFolderOption,
    benchmarks: Annotated[
        list[Path],
        typer.Option(
            "--benchmarks",
            "--benchmark",
            help="Benchmark file or folder (JSON Lines, Parquet, CSV, a Hugging Face dataset folder); "
            "repeat for several.",
            show_default=False,
        ),
    ],
    benchmark_field: Annotated[
        list[str] | None,
        typer.Option(help="Field of a benchmark item to match (repeat: question, answer, choices)."),
    ] = None,
    ngram: Annotated[int, typer.Option(min=1, help="Words in a shared n-gram.")] = 13,
    min_ngram: Annotated[
        int,
        typer.Option(
            min=1,
            help="An item of at least this many words but fewer than --ngram is matched whole; shorter "
            "items are not checked (the run counts them). --min-ngram 13: only 13-word n-grams.",
        ),
    ] = 8,
    mode: Annotated[
        Mode, typer.Option(help="remove: drop the document; redact: cut the shared words, keep the rest.")
    ] = Mode.remove,
    *,
    run: RunArguments,
) -> None:
    """Remove documents that contain benchmark items (reason contaminated_BENCHMARK, with item and n-gram)."""
    from flows.recipe import parse_recipe

    with user_errors():
        fields = benchmark_field or ["text"]
        stage = {
            "type": "decontaminate",
            "benchmarks": [{"path": str(path), "fields": fields} for path in benchmarks],
            "ngram": ngram,
            "min_ngram": min_ngram,
            "mode": mode.value,
        }
        recipe = parse_recipe({"stages": [stage]}, origin="winnow decontaminate")
        clean_and_print(inputs, out, recipe, run)
