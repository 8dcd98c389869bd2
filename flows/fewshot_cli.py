"""`winnow fewshot`: pick k demonstrations for a query from a pool of examples (similar, diverse, in budget).

Registered by `flows.cli` as `app.command("fewshot")(fewshot)`. Exit codes as for `winnow`: 0 success,
1 bad input (missing or empty pool, unknown field, k < 1, bad budget or template), 2 usage.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer

from flows.cli_options import InputFormat, err_console, user_errors


class FewShotFormat(StrEnum):
    json = "json"
    text = "text"


def fewshot(
    pool: Annotated[
        Path,
        typer.Argument(
            help="Examples to choose from: JSON Lines (or Parquet, CSV), one example per record.",
            show_default=False,
        ),
    ],
    query: Annotated[
        str | None, typer.Argument(help="The query (or give --query-file).", show_default=False)
    ] = None,
    query_file: Annotated[
        Path | None,
        typer.Option(
            "--query-file", help="Read the query from this text file ('-': stdin).", show_default=False
        ),
    ] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="How many demonstrations to pick.")] = 4,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            help="Token budget of all chosen demonstrations together; examples that would not fit are "
            "skipped. Counted with --tokenizer.",
            show_default=False,
        ),
    ] = None,
    lambda_: Annotated[
        float,
        typer.Option("--lambda", help="MMR trade-off: 1 = most similar only, lower = more diverse (0 to 1)."),
    ] = 0.7,
    fields: Annotated[
        str,
        typer.Option(
            "--fields",
            "--text-field",
            help="Comma-separated fields of an example, e.g. question,answer; the first is compared with "
            "the query unless --match-field says otherwise.",
        ),
    ] = "text",
    match_field: Annotated[
        str | None,
        typer.Option(
            help="Field compared with the query (default: the first of --fields).", show_default=False
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            help="How an example is written, e.g. 'Q: {question}\\nA: {answer}' (default: the fields' "
            "values, one per line).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        FewShotFormat,
        typer.Option("--format", help="json: one JSON object per demonstration; text: a prompt block."),
    ] = FewShotFormat.json,
    separator: Annotated[
        str, typer.Option(help="Between demonstrations in --format text (\\n is a newline).")
    ] = "\\n\\n",
    model: Annotated[
        str, typer.Option(help="Sentence-transformers model: all-MiniLM-L6-v2 (packaged) or a local folder.")
    ] = "all-MiniLM-L6-v2",
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="Count tokens with this local Hugging Face tokenizer folder, or 'words' (whitespace words) "
            "(default: the embedding model's tokenizer).",
            show_default=False,
        ),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Folder of cached embeddings: a re-run embeds only new examples.", show_default=False
        ),
    ] = None,
    input_format: Annotated[
        InputFormat, typer.Option("--input-format", help="Pool format; auto: from the file extension.")
    ] = InputFormat.auto,
) -> None:
    """Pick demonstrations for a query: similar to it, unlike each other (MMR), within a token budget."""
    if (query is None) == (query_file is None):
        raise typer.BadParameter("give the QUERY or --query-file (one of them)", param_hint="QUERY")
    from pipeline.batch import ID, LINE  # imported here: `winnow --help` stays free of polars
    from prompts.fewshot import FewShotError, FewShotSelector, read_pool

    with user_errors():
        text = query if query is not None else _read_query(query_file)  # type: ignore[arg-type]
        if not text.strip():
            raise FewShotError("the query is empty")
        if k < 1:
            raise FewShotError(f"-k must be at least 1, got {k}")
        names = [name.strip() for name in fields.split(",") if name.strip()]
        if not names:
            raise FewShotError("--fields names no field")
        if not pool.exists():
            raise FewShotError(f"{pool}: no such file or directory")
        examples = read_pool(pool, match_field=match_field or names[0], input_format=input_format.value)
        selector = FewShotSelector(
            examples,
            fields=names,
            match_field=match_field,
            template=template.replace("\\n", "\n") if template is not None else None,
            model=model,
            tokenizer=tokenizer,
            cache=cache,
        )
        chosen = selector.select(text, k=k, lambda_=lambda_, max_tokens=max_tokens)
    if output_format is FewShotFormat.text:
        sys.stdout.write(separator.replace("\\n", "\n").join(d.text for d in chosen) + "\n")
    else:
        for rank, demo in enumerate(chosen, start=1):
            record = {
                "rank": rank,
                "id": examples[demo.index, ID] if ID in examples.columns else None,
                "line": examples[demo.index, LINE] if LINE in examples.columns else None,
                "similarity": round(demo.similarity, 6),
                "mmr": round(demo.mmr, 6),
                "tokens": demo.tokens,
                "text": demo.text,
                "example": demo.example,
            }
            sys.stdout.write(orjson.dumps(record, default=str).decode() + "\n")
    sys.stdout.flush()
    budget = f" (budget {max_tokens})" if max_tokens is not None else ""
    err_console.print(
        f"{len(chosen)} of {len(selector)} examples chosen, {sum(d.tokens for d in chosen)} tokens{budget}",
        highlight=False,
        markup=False,
    )


def _read_query(path: Path) -> str:
    """The query text of a file, or of stdin for '-'."""
    from prompts.fewshot import FewShotError

    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise FewShotError(f"{path}: cannot read the query: {error.strerror or error}") from None
