"""Forwarding to the upstream inference server: which headers travel, and what a failure to reach it is.

Every header of the client's request is forwarded (`Authorization` included, untouched) except hop-by-hop
ones, `Host`, `Content-Length` (recomputed) and the proxy's own `x-winnow-*`; `Accept-Encoding` becomes
`identity`, so responses stream through as the upstream writes them. Responses come back with their
status and headers, less hop-by-hop ones and the length. No header value is ever logged. A request that
meets a pooled connection the upstream had closed (some servers close after an error without saying so)
is sent once more on a fresh connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

import httpx

from prompts.serve.settings import HEADER_PREFIX

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        "accept-encoding",
    }
)


#: what a kept-alive connection that the upstream closed meanwhile raises before any response arrives
STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class UpstreamError(Exception):
    """The upstream could not be reached (`status` 502) or did not answer in time (504)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        super().__init__(message)


def redact(url: str) -> str:
    """`url` without a user or password (for messages and logs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Upstream:
    """One pooled HTTP client to the upstream at `base` (`close` it at shutdown)."""

    def __init__(self, base: str, *, timeout: float, api_key: str | None = None) -> None:
        self.base = base
        self.shown = redact(base)
        self.api_key = api_key
        self.client = httpx.AsyncClient(
            base_url=base,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )

    async def close(self) -> None:
        await self.client.aclose()

    def request_headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The client's headers as forwarded upstream."""
        forwarded = [
            (name, value)
            for name, value in headers
            if name.lower() not in HOP_BY_HOP and not name.lower().startswith(HEADER_PREFIX)
        ]
        if self.api_key and not any(name.lower() == "authorization" for name, _ in forwarded):
            forwarded.append(("authorization", f"Bearer {self.api_key}"))
        forwarded.append(("accept-encoding", "identity"))
        return forwarded

    async def open(
        self, method: str, path: str, query: str, headers: list[tuple[str, str]], content: bytes
    ) -> httpx.Response:
        """Send a request; the response's body is still to be read (`aiter_raw`, `aread`) and closed."""
        request = self.client.build_request(
            method, path + (f"?{query}" if query else ""), headers=headers, content=content
        )
        for attempt in range(2):
            try:
                return await self.client.send(request, stream=True)
            except STALE_CONNECTION:
                if attempt == 0:  # a pooled connection the upstream had closed: once more on a new one
                    continue
                raise UpstreamError(
                    502, "upstream_error", f"the upstream {self.shown} dropped the connection"
                ) from None
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                raise UpstreamError(
                    502, "upstream_unreachable", f"the upstream {self.shown} cannot be reached: {error}"
                ) from None
            except httpx.TimeoutException:
                raise UpstreamError(
                    504, "upstream_timeout", f"the upstream {self.shown} did not answer in time"
                ) from None
            except httpx.TransportError as error:
                raise UpstreamError(
                    502, "upstream_error", f"the upstream {self.shown} failed: {error}"
                ) from None
        raise AssertionError("unreachable")


def response_headers(response: httpx.Response) -> dict[str, str]:
    """The upstream response's headers as passed back to the client."""
    return {name: value for name, value in response.headers.items() if name.lower() not in HOP_BY_HOP}
