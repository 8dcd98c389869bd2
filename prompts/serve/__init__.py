"""`winnow serve`: an OpenAI-compatible proxy that compresses prompts before they reach an inference server.

`create_app(ServeConfig(upstream))` is the ASGI app (`prompts.serve.app`); `CompressionSettings` is what one
request's compression does (`prompts.serve.settings`); `prompts.serve.plan` decides what in a request is
compressed; `prompts.serve.batcher` compresses waiting requests in micro-batches.
"""

from __future__ import annotations

from typing import Any

from prompts.serve.settings import CompressionSettings, ServeConfig

__all__ = ["CompressionSettings", "ServeConfig", "create_app"]


def __getattr__(name: str) -> Any:
    """`create_app` loads the app's stack (Starlette, the compressor) only when asked for."""
    if name == "create_app":
        from prompts.serve.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
