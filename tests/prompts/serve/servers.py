"""Real HTTP servers for the proxy's tests: the proxy itself, and a fast recording upstream.

`serving(app)` runs any ASGI app with uvicorn in a thread on a free port. The recording upstream is a
small OpenAI-shaped server that answers at once and keeps what it received (`GET /received`), so a test
can see exactly what the proxy forwarded; a request whose `model` is `status-NNN` gets status NNN with an
OpenAI error body, and `stream: true` streams the last message's first words back as server-sent events,
one word per event, 50 ms apart.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.prompts.serve.processes import free_port

STREAM_WORDS = 6


@contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a background thread; yields its base URL, stops it on exit."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def recording_upstream() -> Starlette:
    """The fast upstream: answers chat and completions at once and records every request it got."""
    received: list[dict[str, Any]] = []

    async def completion(request: Request) -> Response:
        raw = await request.body()
        body = json.loads(raw)
        received.append(
            {"path": request.url.path, "headers": dict(request.headers), "body": body, "raw": raw.decode()}
        )
        model = str(body.get("model", ""))
        if model.startswith("status-"):
            status = int(model.removeprefix("status-"))
            error = {
                "message": f"upstream says {status}",
                "type": "upstream_test",
                "param": None,
                "code": None,
            }
            return JSONResponse({"error": error}, status_code=status)
        chat = request.url.path.endswith("chat/completions")
        text = body["messages"][-1]["content"] if chat else str(body.get("prompt"))
        words = text.split()[:STREAM_WORDS]
        if body.get("stream"):
            return StreamingResponse(_events(words, chat), media_type="text/event-stream")
        choice = {"index": 0, "finish_reason": "stop"}
        if chat:
            choice["message"] = {"role": "assistant", "content": " ".join(words)}
        else:
            choice["text"] = " ".join(words)
        usage = {"prompt_tokens": len(text.split()), "completion_tokens": len(words), "total_tokens": 0}
        kind = "chat.completion" if chat else "text_completion"
        return JSONResponse(
            {
                "id": "cmpl-1",
                "object": kind,
                "created": 0,
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
        )

    async def models(request: Request) -> Response:
        return JSONResponse(
            {"object": "list", "data": [{"id": "echo", "object": "model", "owned_by": "test"}]}
        )

    async def embeddings(request: Request) -> Response:
        body = await request.json()
        received.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
        return JSONResponse(
            {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.0]}]}
        )

    async def seen(request: Request) -> Response:
        return JSONResponse(received)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completion, methods=["POST"]),
            Route("/v1/completions", completion, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/received", seen, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


async def _events(words: list[str], chat: bool) -> AsyncIterator[bytes]:
    for index, word in enumerate(words):
        piece = word if index == 0 else " " + word
        delta = {"delta": {"content": piece}} if chat else {"text": piece}
        chunk = {
            "id": "cmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "echo",
            "choices": [{"index": 0, **delta, "finish_reason": None}],
        }
        yield f"data: {json.dumps(chunk)}\n\n".encode()
        await asyncio.sleep(0.05)
    yield b"data: [DONE]\n\n"
