"""`winnow serve`: an OpenAI-compatible proxy that compresses prompts before they reach an inference server.

`create_app(ServeConfig(upstream))` is the ASGI app (`prompts.serve.app`); `CompressionSettings` is what one
request's compression does (`prompts.serve.settings`); `prompts.serve.plan` decides what in a request is
compressed; `prompts.serve.batcher` compresses waiting requests in micro-batches.
"""

from prompts.serve.app import create_app
from prompts.serve.settings import CompressionSettings, ServeConfig

__all__ = ["CompressionSettings", "ServeConfig", "create_app"]
