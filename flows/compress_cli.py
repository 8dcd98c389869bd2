"""`winnow compress`: shorten a prompt (text or chat) to a rate or a token budget; `--batch` for JSON Lines.

Registered by `flows.cli` as `app.command("compress")(compress)`. Exit codes as for `winnow`: 0 success
(a target larger than the prompt returns it unchanged, with a note), 1 bad input (empty, binary, not UTF-8,
bad rate or target, bad regex, bad chat JSON, missing file, bad batch line), 2 usage.

The command only reads the prompt, turns its options into a `prompts.request.CompressionRequest` (which
checks them; its errors are worded here with the options' names) and prints the result; importing this
module loads neither Prefect nor torch.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli_options import (
    DaskAddressOption,
    DTypeOption,
    Precision,
    ProgressOption,
    WorkersOption,
    err_console,
    user_errors,
)
from pipeline.errors import WinnowError
from prompts.request import (
    CompressionRequest,
    RequestError,
    check_models,
    check_question,
    decode_prompt,
    parse_chat,
)
from prompts.result import CompressionError

STDIN = "-"
#: how messages name the request's options
OPTION_NAMES = {
    "rate": "--rate",
    "target_tokens": "--target-tokens",
    "question": "--question",
    "keep": "--keep",
    "keep_numbers": "--keep-numbers",
    "keep_newlines": "--keep-newlines",
    "chunk_by": "--chunk-by",
    "reorder": "--reorder",
    "whole_chunks": "--whole-chunks",
    "roles": "--roles",
    "model": "--model",
    "tokenizer": "--tokenizer",
}


class PromptFormat(StrEnum):
    text = "text"
    chat = "chat"


class ChunkBy(StrEnum):
    auto = "auto"
    documents = "documents"
    paragraphs = "paragraphs"
    sentences = "sentences"


def compress(
    file: Annotated[
        str | None,
        typer.Argument(
            help="Prompt file, or '-' (the default) for stdin.", metavar="[FILE|-]", show_default=False
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(help="Keep this share of the tokens, in (0, 1].", show_default=False),
    ] = None,
    target_tokens: Annotated[
        int | None,
        typer.Option(
            "--target-tokens",
            help="Token budget of the compressed prompt, counted with --tokenizer (never exceeded).",
            show_default=False,
        ),
    ] = None,
    question: Annotated[
        str | None,
        typer.Option(help="Rank and compress the context for this question (not part of the output)."),
    ] = None,
    question_file: Annotated[
        Path | None,
        typer.Option("--question-file", help="Read the question from this file.", show_default=False),
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            help="Regular expression whose matches are never dropped (repeatable).", show_default=False
        ),
    ] = None,
    prompt_format: Annotated[
        PromptFormat,
        typer.Option("--format", help='text, or chat: a JSON list of {"role", "content"} messages.'),
    ] = PromptFormat.text,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="Local Hugging Face tokenizer folder of the target model, for the budget "
            "(default: the compressor's own).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Scoring causal LM: 'smollm2' (packaged) or a local Hugging Face model folder.",
            show_default=False,
        ),
    ] = None,
    dtype: DTypeOption = Precision.auto,
    roles: Annotated[
        list[str] | None,
        typer.Option(
            "--roles",
            help="Chat: compress only these roles (repeatable or comma-separated; default: all).",
            show_default=False,
        ),
    ] = None,
    chunk_by: Annotated[
        ChunkBy, typer.Option("--chunk-by", help="Units ranked against the question and dropped whole.")
    ] = ChunkBy.auto,
    reorder: Annotated[bool, typer.Option("--reorder", help="Put the most relevant chunks first.")] = False,
    whole_chunks: Annotated[
        bool | None,
        typer.Option(
            "--whole-chunks/--no-whole-chunks",
            help="Keep whole chunks first (few-shot demonstrations); default: for documents without a "
            "question.",
            show_default=False,
        ),
    ] = None,
    keep_newlines: Annotated[bool, typer.Option("--keep-newlines", help="Never drop a newline.")] = False,
    keep_numbers: Annotated[
        bool,
        typer.Option(
            "--keep-numbers/--no-keep-numbers",
            help="Numbers first: without a question before any sentence, with one in the sentence cut.",
        ),
    ] = True,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the whole result (token counts, kept spans) as JSON; --batch: the counts."
        ),
    ] = False,
    batch: Annotated[
        Path | None,
        typer.Option(
            help='JSON Lines of {"id", "prompt", "question"} records to compress (needs --out); a record\'s '
            "question wins over --question.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="--batch: JSON Lines file to write.", show_default=False),
    ] = None,
    progress: ProgressOption = None,
    workers: WorkersOption = None,
    dask_address: DaskAddressOption = None,
    prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--no-prefect",
            help="--batch: run as the compress_prompts Prefect flow (default: when PREFECT_API_URL is "
            "configured or --workers / --dask-address is given; else in this process).",
        ),
    ] = None,
) -> None:
    """Compress a prompt to a rate or a token budget: question-aware, whole words, numbers kept."""
    _check_usage(file, batch, out, question, question_file, roles, prompt_format, workers, dask_address)
    if batch is None and prefect:
        raise typer.BadParameter("--prefect goes with --batch", param_hint="--prefect")
    options: dict[str, Any] = {
        "rate": rate,
        "target_tokens": target_tokens,
        "keep": list(keep or ()),
        "keep_numbers": keep_numbers,
        "keep_newlines": keep_newlines,
        "chunk_by": chunk_by.value,
        "reorder": reorder,
        "whole_chunks": whole_chunks,
        "roles": split_roles(roles),
    }
    with user_errors():
        with as_options():
            check_models(model, tokenizer)
            if question_file is not None:
                name, data = read_source(str(question_file))
                question = decode_prompt(data, name)
            if question is not None:
                check_question(question)
        if batch is not None:
            _run_batch(
                batch,
                out,  # type: ignore[arg-type]
                question=question,
                options=options,
                model=model,
                tokenizer=tokenizer,
                dtype=dtype.value,
                progress=progress,
                workers=workers,
                dask_address=dask_address,
                prefect=prefect,
                as_json=as_json,
            )
            return
        name, data = read_source(file or STDIN)
        text = decode_prompt(data, name)
        with as_options(source=name):
            prompt = parse_chat(text, name) if prompt_format is PromptFormat.chat else text
            request = CompressionRequest(prompt, question=question, **options)

        from prompts.compress import Compressor  # imported here: `winnow --help` stays light

        result = Compressor(model, tokenizer=tokenizer, dtype=dtype.value).run(request)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    elif result.messages is not None:
        sys.stdout.write(json.dumps(result.messages, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(result.text if result.text.endswith("\n") else result.text + "\n")
    sys.stdout.flush()
    err_console.print(
        f"compressed {result.original_tokens:,} -> {result.compressed_tokens:,} tokens "
        f"({result.ratio:.2f}) in {result.seconds:.1f} s",
        highlight=False,
        markup=False,
    )
    if result.note:
        err_console.print(f"note: {result.note}", highlight=False, markup=False)


def _check_usage(
    file: str | None,
    batch: Path | None,
    out: Path | None,
    question: str | None,
    question_file: Path | None,
    roles: list[str] | None,
    prompt_format: PromptFormat,
    workers: int | None,
    dask_address: str | None,
) -> None:
    """Combinations of options that make no sense: usage errors (exit 2)."""
    if question is not None and question_file is not None:
        raise typer.BadParameter("give --question or --question-file, not both", param_hint="--question")
    if batch is None:
        if out is not None:
            raise typer.BadParameter("--out goes with --batch IN.jsonl", param_hint="--out")
        if workers is not None or dask_address is not None:
            raise typer.BadParameter("--workers and --dask-address go with --batch", param_hint="--workers")
        if roles and prompt_format is PromptFormat.text:
            raise typer.BadParameter("--roles goes with --format chat", param_hint="--roles")
        from_stdin = file in (None, STDIN)
        if from_stdin and str(question_file) == STDIN:
            raise typer.BadParameter("the prompt already comes from stdin", param_hint="--question-file")
        if from_stdin and sys.stdin.isatty():
            raise typer.BadParameter("give a FILE or pipe the prompt on stdin", param_hint="FILE")
        return
    if file is not None:
        raise typer.BadParameter("give a FILE or --batch IN.jsonl, not both", param_hint="--batch")
    if out is None:
        raise typer.BadParameter("--batch needs --out OUT.jsonl", param_hint="--out")
    if prompt_format is PromptFormat.chat:
        raise typer.BadParameter(
            "--batch reads each record's prompt as it is (a string or a chat list)", param_hint="--format"
        )


def _run_batch(
    batch: Path,
    out: Path,
    *,
    question: str | None,
    options: dict[str, Any],
    model: str | None,
    tokenizer: str | None,
    dtype: str,
    progress: bool | None,
    workers: int | None,
    dask_address: str | None,
    prefect: bool | None,
    as_json: bool,
) -> None:
    """Check every line, then compress them in this process or as the `compress_prompts` flow
    (`orchestration.wants_prefect`); print the counts (`--json`: on stdout)."""
    from flows.cli_options import show_progress
    from flows.orchestration import wants_prefect
    from flows.progress import RichProgress
    from pipeline.engine import showing_progress
    from prompts.batch import compress_jsonl, read_batch

    display = RichProgress() if show_progress(progress) else contextlib.nullcontext()
    if not wants_prefect(prefect, dask_address=dask_address, workers=workers):
        with display as bars, showing_progress(bars), as_options():  # every line is checked before any runs
            summary = compress_jsonl(
                batch, out, {**options, "question": question}, model=model, tokenizer=tokenizer, dtype=dtype
            )
    else:
        from flows.compress_flow import compress_prompts
        from flows.engine import hide_user_error_tracebacks, task_runner

        with as_options():
            read_batch(batch, {**options, "question": question})  # a bad line fails before Prefect starts
        hide_user_error_tracebacks()
        runner = task_runner(dask_address, workers)
        flow = compress_prompts.with_options(task_runner=runner) if runner else compress_prompts
        with display as bars, showing_progress(bars):
            summary = flow(
                input=str(batch),
                out=str(out),
                question=question,
                model=model,
                tokenizer=tokenizer,
                dtype=dtype,
                **options,
            )
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    failed = f", {summary['failed']:,} failed" if summary["failed"] else ""
    err_console.print(
        f"compressed {summary['compressed']:,} of {summary['records']:,} records{failed}: "
        f"{summary['original_tokens']:,} -> {summary['compressed_tokens']:,} tokens "
        f"({summary['ratio'] or 0:.2f}) in {summary['seconds']:.1f} s; wrote {out}",
        highlight=False,
        markup=False,
    )


def split_roles(roles: Sequence[str] | None) -> list[str] | None:
    """`--roles user --roles tool,system` -> ['user', 'tool', 'system']; None when none named."""
    names = [name.strip() for value in roles or () for name in value.split(",") if name.strip()]
    return names or None


def read_source(path: str) -> tuple[str, bytes]:
    """`(name for messages, bytes)` of a file, or of stdin for '-'."""
    if path == STDIN:
        return "<stdin>", sys.stdin.buffer.read()
    file = Path(path)
    if not file.exists():
        raise WinnowError(f"{path}: no such file")
    if file.is_dir():
        raise WinnowError(f"{path}: is a folder, not a file")
    try:
        return path, file.read_bytes()
    except OSError as error:
        raise WinnowError(f"{path}: cannot read: {error.strerror or error}") from None


@contextlib.contextmanager
def as_options(source: str | None = None) -> Iterator[None]:
    """A request's error worded with the command's option names (`--rate`), and the prompt's `source`."""
    try:
        yield
    except RequestError as error:
        raise CompressionError(error.worded(OPTION_NAMES, source=source)) from None
