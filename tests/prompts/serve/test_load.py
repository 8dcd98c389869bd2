"""Load: 32 concurrent clients for 60 s against the proxy in front of a fast upstream; no request may fail.

Every eighth request holds a ~900-token document (compressed); the others are short chats (forwarded
untouched). Then the added latency: 10 s of short chats only, straight to the upstream and through the
proxy, the difference of their p50 and p95 (printed with `-s`).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from prompts.compress import Compressor
from prompts.serve import CompressionSettings, ServeConfig, create_app
from tests.prompts.serve.servers import recording_upstream, serving
from tests.prompts.serve.test_app import chat

CLIENTS = 32
SECONDS = 60.0
SHORT = [{"role": "user", "content": "Say hello in three words."}]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers(compressor: Compressor) -> Iterator[tuple[str, str]]:
    with serving(recording_upstream()) as upstream:
        app = create_app(ServeConfig(upstream, settings=CompressionSettings(rate=0.33)), compressor)
        with serving(app) as proxy:
            while httpx.get(f"{proxy}/health").status_code != 200:
                time.sleep(0.1)
            yield upstream, proxy


async def clients(base: str, seconds: float, long_every: int) -> tuple[list[float], list[float], list[str]]:
    """Run `CLIENTS` loops for `seconds`; `(short latencies, long latencies, errors)`."""
    short: list[float] = []
    long: list[float] = []
    errors: list[str] = []
    end = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CLIENTS)

    async def loop(session: httpx.AsyncClient, client: int) -> None:
        sent = client
        while time.monotonic() < end:
            is_long = long_every > 0 and sent % long_every == 0
            body = {"model": "echo", "messages": chat() if is_long else SHORT}
            began = time.monotonic()
            try:
                response = await session.post(f"{base}/v1/chat/completions", json=body)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:200]}")
            except httpx.HTTPError as error:
                errors.append(repr(error))
            (long if is_long else short).append(time.monotonic() - began)
            sent += 1

    async with httpx.AsyncClient(timeout=300, limits=limits) as session:
        await asyncio.gather(*(loop(session, client) for client in range(CLIENTS)))
    return short, long, errors


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[round(share * 100) - 1] if len(values) > 1 else values[0]


def test_32_clients_for_a_minute_get_every_answer(servers: tuple[str, str]) -> None:
    upstream, proxy = servers
    short, long, errors = asyncio.run(clients(proxy, SECONDS, long_every=8))
    assert errors == []
    assert len(long) >= CLIENTS  # every client had a document compressed at least once
    # the added latency: short requests only, straight to the upstream and through the proxy
    direct, _, direct_errors = asyncio.run(clients(upstream, 10.0, long_every=0))
    proxied, _, proxied_errors = asyncio.run(clients(proxy, 10.0, long_every=0))
    assert direct_errors == proxied_errors == []
    rows = {
        "mixed load, short chats": short,
        "mixed load, ~900-token documents": long,
        "short chats only, upstream alone": direct,
        "short chats only, through the proxy": proxied,
    }
    for name, values in rows.items():
        print(
            f"{name}: {len(values)} requests, p50 {statistics.median(values) * 1000:.1f} ms, "
            f"p95 {percentile(values, 0.95) * 1000:.1f} ms"
        )
    added_p50 = statistics.median(proxied) - statistics.median(direct)
    added_p95 = percentile(proxied, 0.95) - percentile(direct, 0.95)
    print(f"added latency of a short request: p50 {added_p50 * 1000:.1f} ms, p95 {added_p95 * 1000:.1f} ms")
