"""`winnow select`: semantic dedup, diversity or target-aware selection to a budget, as a run folder."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli_options import (
    InputsArgument,
    Precision,
    RunArguments,
    RunFolderOption,
    user_errors,
    with_run_options,
)
from flows.run_cli import clean_and_print


class SelectMethod(StrEnum):
    semdedup = "semdedup"
    kcenter = "kcenter"
    clusters = "clusters"
    dsir = "dsir"
    embedding = "embedding"
    knn = "knn"
    centroid = "centroid"


@with_run_options
def select(
    inputs: InputsArgument,
    out: RunFolderOption,
    method: Annotated[
        SelectMethod,
        typer.Option(
            help="semdedup: remove semantic duplicates; kcenter / clusters: cover the embedding space; "
            "dsir / embedding / knn / centroid: resemble --target."
        ),
    ],
    budget: Annotated[
        int | None, typer.Option(min=1, help="Documents to keep (embedding: optional with --min-log-odds).")
    ] = None,
    budget_tokens: Annotated[int | None, typer.Option(min=1, help="Whitespace words to keep.")] = None,
    target: Annotated[
        Path | None,
        typer.Option(
            help="Target corpus for dsir, embedding, knn, centroid (JSONL, Parquet, CSV, a Hugging Face "
            "dataset folder, or text lines: one document a line)."
        ),
    ] = None,
    target_field: Annotated[
        str, typer.Option(help="Field of --target holding the text (records without text are skipped).")
    ] = "text",
    eps: Annotated[float, typer.Option(help="semdedup: duplicates at cosine >= 1 - eps.")] = 0.05,
    keep: Annotated[
        str,
        typer.Option(help="semdedup: which duplicate stays: centroid, farthest, longest, or a column name."),
    ] = "centroid",
    quality_column: Annotated[
        str | None,
        typer.Option(help="kcenter / clusters: weigh documents by this column; embedding: add its z-score."),
    ] = None,
    ngrams: Annotated[
        bool, typer.Option(help="embedding: the classifier also sees hashed word n-grams (wording, format).")
    ] = True,
    layout: Annotated[
        bool,
        typer.Option(help="embedding: the classifier also sees layout statistics (length, lines, etc.)."),
    ] = True,
    lm: Annotated[
        bool,
        typer.Option(
            help="embedding: the classifier also sees SmolLM2's middle-layer state (the register; about "
            "3x the time of --no-lm)."
        ),
    ] = True,
    self_training: Annotated[
        bool,
        typer.Option(
            help="embedding: fit the classifier again with the pool documents it finds more like the target "
            "than the pool added to the target, until they stop changing (helps most with a small target)."
        ),
    ] = True,
    min_log_odds: Annotated[
        float | None,
        typer.Option(
            help="embedding: keep only documents whose log-odds (target over pool) are at least this; 0 "
            "keeps those more like the target than like the pool. The budget, if given, still caps them."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of k-means, sampling and Gumbel noise.")] = 0,
    dtype: Annotated[
        Precision,
        typer.Option(
            help="Precision of the encoder (and LM): auto = bfloat16 where the CPU/GPU has it natively; pin "
            "it when machines with and without it must score alike."
        ),
    ] = Precision.auto,
    cache: Annotated[
        Path | None, typer.Option(help="Embedding cache folder: a re-run embeds only new documents.")
    ] = None,
    *,
    run: RunArguments,
) -> None:
    """Select documents: those not chosen go to removed/ (not_selected, unlike_target, semantic_duplicate)."""
    from flows.recipe import parse_recipe

    with user_errors():
        stage: dict[str, Any]
        if method is SelectMethod.semdedup:
            if budget or budget_tokens or target or min_log_odds is not None:
                raise typer.BadParameter(
                    "semdedup takes no budget, target or minimum log-odds", param_hint="--method"
                )
            stage = {"type": "semantic_dedup", "eps": eps, "keep": keep, "seed": seed, "dtype": dtype.value}
        else:
            stage = {
                "type": "select",
                "method": method.value,
                "budget_docs": budget,
                "budget_tokens": budget_tokens,
                "target": str(target) if target else None,
                "target_field": target_field,
                "quality_column": quality_column,
                "ngrams": ngrams,
                "layout": layout,
                "lm": lm,
                "self_training": self_training,
                "min_log_odds": min_log_odds,
                "seed": seed,
                "dtype": dtype.value,
            }
        if cache:
            stage["cache"] = str(cache)
        recipe = parse_recipe({"stages": [stage]}, origin="winnow select")
        clean_and_print(
            inputs,
            out,
            recipe,
            run,
        )
