"""`winnow quality`: train a document quality classifier, and score a corpus with it into a run folder.

Mounted by `flows.cli` as `app.add_typer(quality_app, name="quality")`. Exit codes as for `winnow`:
0 success, 1 bad input (unreadable file, missing or bad labels, one class, too few documents), 2 usage.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from flows.cli_options import (
    InputFormat,
    InputsArgument,
    RunArguments,
    RunFolderOption,
    out_console,
    user_errors,
    with_run_options,
)
from flows.run_cli import clean_and_print

if TYPE_CHECKING:
    from flows.recipe import Recipe

quality_app = typer.Typer(
    help="Learn what good text looks like from your data, then score or filter a corpus with it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class HeadChoice(StrEnum):
    ngram = "ngram"
    embedding = "embedding"


@quality_app.command()
def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.", show_default=False)],
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Labelled documents (JSON Lines, Parquet, CSV, ...) with a 0/1 label column "
            "(1 = good, 0 = bad). Or leave out and give --reference and --raw.",
            show_default=False,
        ),
    ] = None,
    head: Annotated[
        HeadChoice,
        typer.Option(help="Features: hashed word n-grams, or all-MiniLM-L6-v2 sentence embeddings."),
    ] = HeadChoice.ngram,
    reference: Annotated[
        list[str] | None,
        typer.Option(
            "--reference",
            help="Good text (labelled 1), e.g. Wikipedia or books: the GPT-3 / DCLM recipe. Repeatable.",
            show_default=False,
        ),
    ] = None,
    raw: Annotated[
        list[str] | None,
        typer.Option(
            "--raw",
            help="A sample of the raw corpus (labelled 0), with --reference. Repeatable.",
            show_default=False,
        ),
    ] = None,
    balance: Annotated[
        bool,
        typer.Option("--balance/--no-balance", help="Sample --raw down to the size of --reference (seeded)."),
    ] = True,
    text_field: Annotated[str, typer.Option(help="Field holding the text.")] = "text",
    label_field: Annotated[str, typer.Option(help="Field holding the 0/1 label.")] = "label",
    input_format: Annotated[
        InputFormat, typer.Option("--input-format", help="Input format; auto: from the file extension.")
    ] = InputFormat.auto,
    folds: Annotated[int, typer.Option(min=2, max=100, help="Cross-validation folds (stratified).")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the folds, the sampling and the solver.")] = 0,
    c: Annotated[
        float | None,
        typer.Option(
            "--C",
            min=1e-6,
            help="Inverse regularisation of the logistic regression (default: 10 (ngram), 3 (embedding)).",
        ),
    ] = None,
) -> None:
    """Train a quality classifier: prints cross-validated ROC AUC per fold, saves the model file."""
    if inputs and (reference or raw):
        raise typer.BadParameter("give labelled INPUTS or --reference/--raw, not both", param_hint="INPUTS")
    if not inputs and not (reference and raw):
        raise typer.BadParameter(
            "give labelled INPUTS, or both --reference (good text) and --raw (corpus sample)",
            param_hint="INPUTS",
        )
    from filters.quality.classifier import QualityClassifier
    from filters.quality.training_data import check_trainable, read_labelled, read_reference

    with user_errors():
        if inputs:
            data = read_labelled(
                inputs, text_field=text_field, label_field=label_field, input_format=input_format.value
            )
        else:
            data = read_reference(
                reference or [],
                raw or [],
                text_field=text_field,
                input_format=input_format.value,
                balance=balance,
                seed=seed,
            )
        check_trainable(data.labels, folds)
        for note in data.notes:
            out_console.print(note)
        started = time.perf_counter()
        model = QualityClassifier(head.value, C=c, seed=seed)
        report = model.cross_validate(data.texts, data.labels, folds, refit=True)
        path = model.save(out)
        seconds = time.perf_counter() - started
    out_console.print(f"{folds}-fold cross-validation ({head.value} head, seed {seed}):")
    table = Table()
    table.add_column("fold", justify="right")
    table.add_column("documents", justify="right")
    table.add_column("ROC AUC", justify="right")
    for number, (auc, size) in enumerate(zip(report.auc, report.fold_sizes, strict=True), start=1):
        table.add_row(str(number), str(size), f"{auc:.3f}")
    table.add_row(
        "mean", str(report.documents), f"{report.mean_auc:.3f} ± {report.std_auc:.3f}", style="bold"
    )
    out_console.print(table)
    out_console.print(
        f"out-of-fold calibration: Brier {report.brier:.3f}, expected calibration error {report.ece:.3f}"
    )
    out_console.print(
        f"trained on {len(data.labels)} documents ({data.positive} good, {data.negative} bad) "
        f"in {seconds:.1f} s"
    )
    out_console.print(f"model: {path}")


@quality_app.command()
@with_run_options
def score(
    inputs: InputsArgument,
    model: Annotated[
        Path,
        typer.Option("--model", "-m", help="Model file from `winnow quality train`.", show_default=False),
    ],
    out: RunFolderOption,
    min_score: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Remove documents whose quality_score is below this (default: remove none, only score).",
        ),
    ] = None,
    *,
    run: RunArguments,
) -> None:
    """Score a corpus: a run folder whose kept/ documents carry quality_score (P(good), calibrated)."""
    with user_errors():
        clean_and_print(
            inputs,
            out,
            score_recipe(model, min_score),
            run,
        )


def score_recipe(model: Path, min_score: float | None) -> Recipe:
    """The one-stage recipe of `winnow quality score`; a bad model file is a RecipeError."""
    from pydantic import ValidationError

    from filters.quality.classifier_stage import QualityClassifierConfig
    from flows.recipe import Recipe
    from pipeline.errors import RecipeError

    try:
        config = QualityClassifierConfig(model=model, min_score=min_score)
    except ValidationError as error:
        problems = "; ".join(str(item["msg"]).removeprefix("Value error, ") for item in error.errors())
        raise RecipeError(problems) from None
    return Recipe(stages=[config])
