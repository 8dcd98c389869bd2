"""`winnow compress`: shorten a prompt (text or chat) to a rate or a token budget; `--batch` for JSON Lines.

Registered by `flows.cli` as `app.command("compress")(compress)`. Exit codes as for `winnow`: 0 success
(a target larger than the prompt returns it unchanged, with a note), 1 bad input (empty, binary, not UTF-8,
bad rate or target, bad regex, bad chat JSON, missing file, bad batch line), 2 usage.

Also the checks of prompts and options that `flows.compress_flow` shares (plain Python: importing this
module loads neither Prefect nor torch).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli_options import DaskAddressOption, ProgressOption, WorkersOption, err_console, user_errors
from pipeline.errors import WinnowError

STDIN = "-"
PACKAGED_MODEL = "smollm2"


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
    keep_newlines: Annotated[bool, typer.Option("--keep-newlines", help="Never drop a newline.")] = False,
    keep_numbers: Annotated[
        bool, typer.Option("--keep-numbers/--no-keep-numbers", help="Keep numbers before any other word.")
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
) -> None:
    """Compress a prompt to a rate or a token budget: question-aware, whole words, numbers kept."""
    _check_usage(file, batch, out, question, question_file, roles, prompt_format, workers, dask_address)
    role_names = split_roles(roles)
    options: dict[str, Any] = {
        "keep": list(keep or ()),
        "keep_numbers": keep_numbers,
        "keep_newlines": keep_newlines,
        "chunk_by": chunk_by.value,
        "reorder": reorder,
        "roles": role_names,
    }
    with user_errors():
        check_request(
            rate=rate, target_tokens=target_tokens, keep=options["keep"], model=model, tokenizer=tokenizer
        )
        if question_file is not None:
            question = decode_text(*read_source(str(question_file)))
        if question is not None and not question.strip():
            raise WinnowError("the question is empty")
        if batch is not None:
            _run_batch(
                batch,
                out,  # type: ignore[arg-type]
                budget={"rate": rate, "target_tokens": target_tokens},
                question=question,
                options=options,
                model=model,
                tokenizer=tokenizer,
                progress=progress,
                workers=workers,
                dask_address=dask_address,
                as_json=as_json,
            )
            return
        name, data = read_source(file or STDIN)
        text = decode_text(name, data)
        prompt: str | list[dict[str, Any]] = (
            parse_chat(text, name) if prompt_format is PromptFormat.chat else text
        )
        check_not_empty(prompt, name)

        from prompts.compress import default_compressor  # imported here: `winnow --help` stays light

        result = default_compressor(model, tokenizer).compress(
            prompt, rate=rate, target_tokens=target_tokens, question=question, **options
        )
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
    budget: dict[str, Any],
    question: str | None,
    options: dict[str, Any],
    model: str | None,
    tokenizer: str | None,
    progress: bool | None,
    workers: int | None,
    dask_address: str | None,
    as_json: bool,
) -> None:
    """Validate every line, then run the `compress_prompts` flow; print its counts (`--json`: on stdout)."""
    from flows.cli_options import show_progress
    from flows.compress_flow import compress_prompts, read_batch
    from flows.engine import hide_user_error_tracebacks, task_runner
    from flows.progress import RichProgress
    from pipeline.engine import showing_progress

    read_batch(batch)  # a bad line fails here, before Prefect starts
    hide_user_error_tracebacks()
    runner = task_runner(dask_address, workers)
    flow = compress_prompts.with_options(task_runner=runner) if runner else compress_prompts
    display = RichProgress() if show_progress(progress) else contextlib.nullcontext()
    with display as bars, showing_progress(bars):
        summary = flow(
            input=str(batch),
            out=str(out),
            question=question,
            model=model,
            tokenizer=tokenizer,
            **budget,
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


def check_request(
    *,
    rate: float | None,
    target_tokens: int | None,
    keep: Sequence[str] = (),
    model: str | None = None,
    tokenizer: str | None = None,
) -> None:
    """Options that fail before any model loads: the budget, the regexes, the model and tokenizer paths."""
    from prompts.result import CompressionError

    if (rate is None) == (target_tokens is None):
        raise CompressionError("give exactly one of --rate and --target-tokens")
    if rate is not None and not (math.isfinite(rate) and 0 < rate <= 1):
        raise CompressionError(f"--rate must be in (0, 1], got {rate}")
    if target_tokens is not None and target_tokens < 1:
        raise CompressionError(f"--target-tokens must be at least 1, got {target_tokens}")
    for pattern in keep:
        try:
            re.compile(pattern)
        except re.error as error:
            raise CompressionError(f"--keep {pattern!r}: bad regular expression: {error}") from None
    for option, path in (("--model", model), ("--tokenizer", tokenizer)):
        if path is not None and path != PACKAGED_MODEL and not Path(path).expanduser().exists():
            raise CompressionError(f"{option} {path}: no such folder")


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


def decode_text(name: str, data: bytes) -> str:
    """UTF-8 text of `data`; binary input (NUL bytes) and invalid UTF-8 are named by byte offset and line."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise WinnowError(f"{name}: binary input (NUL byte at byte offset {nul}); give UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise WinnowError(
            f"{name}: not valid UTF-8 at byte offset {error.start} (line {line}); give UTF-8 text"
        ) from None


class MessageProblem(ValueError):
    """A chat message that is not a {"role": str, "content": str} object: its index and field."""

    def __init__(self, index: int, field: str | None, problem: str) -> None:
        self.index, self.field, self.problem = index, field, problem
        super().__init__(problem)


def check_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """The messages of a chat, each an object with a non-empty string 'role' and a string 'content'."""
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise MessageProblem(index, None, f'must be a {{"role", "content"}} object, got {_kind(message)}')
        for field in ("role", "content"):
            if field not in message:
                raise MessageProblem(index, field, "missing")
            if not isinstance(message[field], str):
                raise MessageProblem(index, field, f"must be a string, got {_kind(message[field])}")
        if not message["role"].strip():
            raise MessageProblem(index, "role", "empty")
    return messages


def parse_chat(text: str, name: str) -> list[dict[str, Any]]:
    """A chat prompt: a JSON list of {"role", "content"} messages; a problem names the message and field."""
    try:
        messages = json.loads(text)
    except json.JSONDecodeError as error:
        if not text.strip():
            raise WinnowError(f"{name}: the prompt is empty") from None
        raise WinnowError(
            f"{name}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); --format chat "
            'reads a JSON list of {"role", "content"} messages'
        ) from None
    if not isinstance(messages, list):
        raise WinnowError(
            f'{name}: --format chat reads a JSON list of {{"role", "content"}} messages, '
            f"got {_kind(messages)}"
        )
    try:
        return check_messages(messages)
    except MessageProblem as problem:
        field = f", field '{problem.field}'" if problem.field else ""
        raise WinnowError(f"{name}: message index {problem.index}{field}: {problem.problem}") from None


def check_not_empty(prompt: str | list[dict[str, Any]], name: str) -> None:
    """Empty input: blank text, no messages, or messages whose contents are all blank."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise WinnowError(f"{name}: the prompt is empty")
    elif not any(message["content"].strip() for message in prompt):
        raise WinnowError(f"{name}: the prompt is empty (no message has any content)")


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"
