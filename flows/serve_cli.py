"""`winnow serve`: run the OpenAI-compatible compressing proxy (`prompts.serve`) in front of an upstream.

Registered by `flows.cli`. The command turns its options into a `ServeConfig` (which checks them; a bad
one exits 1 naming the option) and runs the app with uvicorn. Importing this module loads neither torch nor
the app: they load when the command runs.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from flows.cli_options import choices, err_console, user_errors
from prompts.request import check_models
from prompts.result import CompressionError, RequestError
from prompts.serve.settings import CompressionSettings, QuestionFrom, ServeConfig
from prompts.serve.upstream import redact

QuestionSource = choices("QuestionSource", QuestionFrom)
#: seconds an idle client connection stays open (uvicorn's default, 5, is httpx's own idle expiry: a client
#: reusing a connection as the server closes it gets a reset; nginx keeps them 75 s)
KEEP_ALIVE_S = 75
#: how messages name the options
OPTION_NAMES = {
    "rate": "--rate",
    "target_tokens": "--target-tokens",
    "roles": "--roles",
    "min_tokens": "--min-tokens",
    "question_from": "--question",
    "upstream": "--upstream",
    "max_body_bytes": "--max-body-mb",
    "queue_size": "--queue-size",
    "batch_size": "--batch-size",
    "batch_wait": "--batch-wait-ms",
    "timeout": "--timeout",
    "model": "--model",
    "tokenizer": "--tokenizer",
}


def serve(
    upstream: Annotated[
        str,
        typer.Option(help="Base URL of the OpenAI-compatible server to forward to.", show_default=False),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    rate: Annotated[
        float | None,
        typer.Option(help="Keep this share of a conversation's tokens (default 0.5).", show_default=False),
    ] = None,
    target_tokens: Annotated[
        int | None,
        typer.Option(
            "--target-tokens", help="Token budget of a conversation's messages.", show_default=False
        ),
    ] = None,
    roles: Annotated[str, typer.Option(help="Comma-separated roles whose messages may be compressed.")] = (
        "user,tool"
    ),
    min_tokens: Annotated[int, typer.Option(help="Messages shorter than this are kept whole.")] = 500,
    question: Annotated[
        QuestionSource,  # type: ignore[valid-type]
        typer.Option(help="Rank the context for the last user message, or compress without a question."),
    ] = "last-user",  # type: ignore[assignment]
    max_body_mb: Annotated[float, typer.Option(help="Larger request bodies get 413.")] = 16.0,
    queue_size: Annotated[int, typer.Option(help="Requests waiting for compression before 503.")] = 64,
    batch_size: Annotated[int, typer.Option(help="Requests compressed together at most.")] = 8,
    batch_wait_ms: Annotated[
        float, typer.Option(help="How long a batch waits for more requests after its first.")
    ] = 5.0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the upstream's answer.")] = 600.0,
    upstream_api_key: Annotated[
        str | None,
        typer.Option(
            envvar="WINNOW_UPSTREAM_API_KEY",
            help="Sent as 'Authorization: Bearer KEY' when a client sends none (give it by environment).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Scorer LM folder (default: packaged SmolLM2).", show_default=False)
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(help="Tokenizer folder of the upstream's model, for budgets.", show_default=False),
    ] = None,
    keep_alive: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds an idle client connection stays open: longer than clients keep idle connections "
            "(httpx and the OpenAI SDK: 5 s), so none is closed as a client reuses it.",
        ),
    ] = KEEP_ALIVE_S,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "info",
) -> None:
    """Compress prompts on their way to an OpenAI-compatible server (vLLM, TGI, llama.cpp, a hosted API)."""
    with user_errors():
        try:
            check_models(model, tokenizer)
            settings = CompressionSettings(
                rate=0.5 if rate is None and target_tokens is None else rate,
                target_tokens=target_tokens,
                roles=tuple(role for role in roles.split(",") if role.strip()),
                min_tokens=min_tokens,
                question_from=str(question),  # type: ignore[arg-type]
            )
            config = ServeConfig(
                upstream,
                settings=settings,
                max_body_bytes=max(1, int(max_body_mb * 1024 * 1024)),
                queue_size=queue_size,
                batch_size=batch_size,
                batch_wait=batch_wait_ms / 1000,
                timeout=timeout,
                upstream_api_key=upstream_api_key,
                model=model,
                tokenizer=tokenizer,
            )
        except RequestError as error:
            raise CompressionError(f"{OPTION_NAMES.get(error.field, error.field)} {error.problem}") from None
    import uvicorn

    from prompts.serve.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    err_console.print(
        f"winnow serve: http://{host}:{port}/v1 -> {redact(config.upstream)}/v1", highlight=False
    )
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        timeout_keep_alive=keep_alive,
    )
