"""The proxy as an ASGI app: compress, forward, stream back; never fail a request because of compression.

Routes: `POST /v1/chat/completions` and `POST /v1/completions` are compressed (see `prompts.serve.plan`)
then forwarded; `GET /health` is the proxy's own state (503 while the models load); `GET /metrics` is
Prometheus text; every other path (`/v1/models`, `/v1/embeddings`, ...) is forwarded as is.

A request's `winnow` object (removed before forwarding) or `x-winnow-*` headers override the server's
settings. Responses carry `x-winnow-status` (compressed, skipped or fallback), `x-winnow-original-tokens`
and `x-winnow-compressed-tokens` (when counted), and, in a non-streamed JSON body, the same in a `winnow`
field. Streams pass through chunk by chunk as the upstream writes them.

Errors the proxy makes itself are in the OpenAI format (`{"error": {"message", "type", "param",
"code"}}`): 400 malformed JSON or a bad `winnow` setting, 413 a body over `max_body_bytes`, 503 with
`Retry-After` when the compression queue is full, 502 upstream unreachable, 504 upstream timeout. The
upstream's own errors pass through with their status and body. A compression that fails forwards the
original request (logged, counted in `winnow_fallbacks_total`). Logs name routes, statuses and token
counts, never headers or bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from prompts.compress import Compressor
from prompts.result import RequestError
from prompts.serve.batcher import MicroBatcher, Outcome, QueueFull
from prompts.serve.metrics import Metrics
from prompts.serve.plan import plan_request, quick_skip
from prompts.serve.settings import ServeConfig, header_overrides
from prompts.serve.upstream import Upstream, UpstreamError, response_headers

log = logging.getLogger("winnow.serve")

WARM_UP = (
    "The proxy loads its models before the first request. This paragraph is compressed once at start-up "
    "so that the tokenizer, the sentence encoder and the small language model are all in memory. "
) * 4


class BodyTooLarge(Exception):
    pass


def openai_error(
    status: int,
    message: str,
    kind: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error response in the OpenAI API's shape."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def too_large(limit: int) -> JSONResponse:
    """The 413 for a body over `limit` bytes."""
    return openai_error(
        413, f"the request body is over {limit} bytes", "invalid_request_error", code="request_too_large"
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (`BodyTooLarge`) more than `limit` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(config: ServeConfig, compressor: Compressor | None = None) -> Starlette:
    """The proxy for `config`; `compressor` defaults to one with `config.model` and `config.tokenizer`."""
    compressor = compressor or Compressor(config.model, tokenizer=config.tokenizer)
    metrics = Metrics()
    upstream = Upstream(config.upstream, timeout=config.timeout, api_key=config.upstream_api_key)

    batcher = MicroBatcher(
        compressor,
        queue_size=config.queue_size,
        batch_size=config.batch_size,
        batch_wait=config.batch_wait,
        on_batch=metrics.batch_size.observe,
    )
    state = {"ready": False, "error": None}

    async def warm_up() -> None:
        try:
            await asyncio.to_thread(
                compressor.compress, WARM_UP, rate=0.5, question="What does the proxy load?"
            )
            state["ready"] = True
        except Exception as error:  # the proxy still forwards; every compression will fall back
            state["error"] = f"{type(error).__name__}: {error}"
            log.exception("the compressor failed to load; requests are forwarded uncompressed")
        batcher.start()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(warm_up())
        log.info("forwarding to %s", upstream.shown)
        try:
            yield
        finally:
            task.cancel()
            await batcher.stop()
            await upstream.close()

    async def compressed_route(request: Request, endpoint: str, route: str) -> Response:
        began = time.perf_counter()
        response = await _compressed(request, endpoint)
        metrics.requests.labels(route, str(response.status_code)).inc()
        log.info(
            "%s %s %d %s %s->%s tokens %.3f s",
            request.method,
            route,
            response.status_code,
            response.headers.get("x-winnow-status", "-"),
            response.headers.get("x-winnow-original-tokens", "-"),
            response.headers.get("x-winnow-compressed-tokens", "-"),
            time.perf_counter() - began,
        )
        return response

    async def _compressed(request: Request, endpoint: str) -> Response:
        try:
            raw = await read_body(request, config.max_body_bytes)
        except BodyTooLarge:
            return too_large(config.max_body_bytes)
        except ClientDisconnect:
            return Response(status_code=499)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            return openai_error(400, f"the request body is not valid JSON: {error}", "invalid_request_error")
        if not isinstance(body, dict):
            return openai_error(400, "the request body must be a JSON object", "invalid_request_error")
        overridden = "winnow" in body
        try:
            settings = config.settings.override(header_overrides(request.headers), where="header")
            if overridden:
                settings = settings.override(body.pop("winnow"))
        except RequestError as error:
            return openai_error(400, str(error), "invalid_request_error", param=error.field)
        reason = quick_skip(endpoint, body, settings)
        if reason is not None:  # nothing long enough: no queue, no counting
            outcome = Outcome(body, "skipped", reason=reason)
            metrics.compressions.labels("skipped").inc()
        else:
            try:
                outcome = await batcher.submit(
                    body, lambda: plan_request(endpoint, body, settings, compressor.count)
                )
            except QueueFull as full:
                metrics.rejected.inc()
                return openai_error(
                    503,
                    str(full),
                    "server_error",
                    code="queue_full",
                    headers={"Retry-After": str(full.retry_after)},
                )
            record(outcome, endpoint)
        unchanged = outcome.status != "compressed" and not overridden
        return await forward(request, raw if unchanged else orjson.dumps(outcome.body), outcome)

    def record(outcome: Outcome, endpoint: str) -> None:
        metrics.compressions.labels(outcome.status).inc()
        metrics.compression_seconds.observe(outcome.seconds)
        if outcome.status == "fallback":
            metrics.fallbacks.labels(endpoint).inc()
        if outcome.original_tokens is not None and outcome.compressed_tokens is not None:
            metrics.tokens_in.inc(outcome.original_tokens)
            metrics.tokens_out.inc(outcome.compressed_tokens)

    async def forward(request: Request, content: bytes, outcome: Outcome | None) -> Response:
        headers = upstream.request_headers(request.headers.items())
        began = time.perf_counter()
        try:
            response = await upstream.open(
                request.method, request.url.path, request.url.query, headers, content
            )
        except UpstreamError as error:
            return openai_error(error.status, str(error), "upstream_error", code=error.code)
        metrics.upstream_seconds.observe(time.perf_counter() - began)
        extra = winnow_headers(outcome)
        headers_back = {**response_headers(response), **extra}
        streaming = "text/event-stream" in response.headers.get("content-type", "")
        if streaming:

            async def events() -> AsyncIterator[bytes]:
                try:
                    async for chunk in response.aiter_raw():
                        yield chunk
                finally:  # also when the client goes away mid-stream
                    await response.aclose()

            return StreamingResponse(events(), status_code=response.status_code, headers=headers_back)
        try:
            data = await response.aread()
        finally:
            await response.aclose()
        if outcome is not None and response.is_success and "json" in response.headers.get("content-type", ""):
            with contextlib.suppress(orjson.JSONDecodeError):
                parsed = orjson.loads(data)
                if isinstance(parsed, dict):
                    parsed["winnow"] = winnow_field(outcome)
                    data = orjson.dumps(parsed)
        return Response(data, status_code=response.status_code, headers=headers_back)

    async def chat(request: Request) -> Response:
        return await compressed_route(request, "chat", "/v1/chat/completions")

    async def completions(request: Request) -> Response:
        return await compressed_route(request, "completions", "/v1/completions")

    async def passthrough(request: Request) -> Response:
        try:
            raw = await read_body(request, config.max_body_bytes)
        except BodyTooLarge:
            return too_large(config.max_body_bytes)
        response = await forward(request, raw, None)
        metrics.requests.labels("other", str(response.status_code)).inc()
        return response

    async def health(request: Request) -> Response:
        status = "ok" if state["ready"] else ("degraded" if state["error"] else "loading")
        body: dict[str, Any] = {"status": status, "waiting": batcher.waiting, "queue_size": config.queue_size}
        if state["error"]:
            body["error"] = state["error"]
        return JSONResponse(body, status_code=200 if status != "loading" else 503)

    async def prometheus(request: Request) -> Response:
        metrics.queue.set(batcher.waiting)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/{path:path}", passthrough, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.config = config
    app.state.metrics = metrics
    app.state.compressor = compressor
    return app


def winnow_headers(outcome: Outcome | None) -> dict[str, str]:
    if outcome is None:
        return {}
    headers = {"x-winnow-status": outcome.status}
    if outcome.original_tokens is not None:
        headers["x-winnow-original-tokens"] = str(outcome.original_tokens)
    if outcome.compressed_tokens is not None:
        headers["x-winnow-compressed-tokens"] = str(outcome.compressed_tokens)
    return headers


def winnow_field(outcome: Outcome) -> dict[str, Any]:
    field: dict[str, Any] = {
        "status": outcome.status,
        "original_tokens": outcome.original_tokens,
        "compressed_tokens": outcome.compressed_tokens,
        "seconds": round(outcome.seconds, 4),
    }
    if outcome.reason:
        field["reason"] = outcome.reason
    if outcome.error:
        field["error"] = outcome.error
    return field
