"""Load: 32 concurrent clients for 60 s against `winnow serve` in front of a fast upstream, each in a process
of its own; no request may fail.

Every eighth request holds a ~900-token document (compressed); the others are short chats (forwarded
untouched). Then the added latency: short chats only, straight to the upstream and through the proxy, with
32 clients for 10 s and with one for 5 s, the difference of their p50 and p95 (printed with `-s`).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.prompts.serve.processes import recording_upstream_process, winnow_serve
from tests.prompts.serve.test_app import chat

CLIENTS = 32
SECONDS = 60.0
SHORT = [{"role": "user", "content": "Say hello in three words."}]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    """The upstream and `winnow serve` in processes of their own (the clients run in this one)."""
    with (
        recording_upstream_process() as upstream,
        winnow_serve(upstream, "--rate", "0.33", "--log-level", "warning") as proxy,
    ):
        yield upstream, proxy


async def clients(
    base: str, seconds: float, long_every: int, count: int = CLIENTS
) -> tuple[list[float], list[float], list[str]]:
    """Run `count` client loops for `seconds`; `(short latencies, long latencies, errors)`."""
    short: list[float] = []
    long: list[float] = []
    errors: list[str] = []
    end = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=count)

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
        await asyncio.gather(*(loop(session, client) for client in range(count)))
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
    alone, _, _ = asyncio.run(clients(upstream, 5.0, long_every=0, count=1))
    one, _, _ = asyncio.run(clients(proxy, 5.0, long_every=0, count=1))
    assert direct_errors == proxied_errors == []
    rows = {
        "mixed load, short chats": short,
        "mixed load, ~900-token documents": long,
        "32 clients, short chats only, upstream alone": direct,
        "32 clients, short chats only, through the proxy": proxied,
        "1 client, short chats, upstream alone": alone,
        "1 client, short chats, through the proxy": one,
    }
    for name, values in rows.items():
        print(
            f"{name}: {len(values)} requests, p50 {statistics.median(values) * 1000:.1f} ms, "
            f"p95 {percentile(values, 0.95) * 1000:.1f} ms"
        )
    for name, through, straight in (("32 clients", proxied, direct), ("1 client", one, alone)):
        added_p50 = statistics.median(through) - statistics.median(straight)
        added_p95 = percentile(through, 0.95) - percentile(straight, 0.95)
        print(f"{name}: added latency p50 {added_p50 * 1000:.1f} ms, p95 {added_p95 * 1000:.1f} ms")
