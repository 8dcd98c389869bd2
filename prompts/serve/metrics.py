"""The proxy's Prometheus metrics (`GET /metrics`), in a registry of the app's own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """Requests by route and status, tokens in and out, compression outcomes and fallbacks, timings."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "winnow_requests", "Requests answered, by route and HTTP status.", ["route", "status"], registry=r
        )
        self.compressions = Counter(
            "winnow_compressions",
            "Compressible requests by outcome: compressed, skipped (nothing worth it, or asked) or fallback.",
            ["outcome"],
            registry=r,
        )
        self.fallbacks = Counter(
            "winnow_fallbacks",
            "Requests forwarded uncompressed because compression failed.",
            ["route"],
            registry=r,
        )
        self.tokens_in = Counter(
            "winnow_tokens_in", "Tokens of the message contents that reached the proxy.", registry=r
        )
        self.tokens_out = Counter(
            "winnow_tokens_out", "Tokens of those contents forwarded upstream.", registry=r
        )
        self.compression_seconds = Histogram(
            "winnow_compression_seconds",
            "Seconds a request spent in compression, queue wait included.",
            buckets=SECONDS,
            registry=r,
        )
        self.batch_size = Histogram(
            "winnow_batch_size",
            "Requests compressed together in one micro-batch.",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "winnow_upstream_seconds",
            "Seconds until the upstream's response headers arrived.",
            buckets=SECONDS,
            registry=r,
        )
        self.rejected = Counter(
            "winnow_queue_rejections", "Requests refused with 503 because the queue was full.", registry=r
        )
        self.queue = Gauge("winnow_queue_waiting", "Requests waiting for compression.", registry=r)
