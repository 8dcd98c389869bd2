"""The proxy over real HTTP: the real compressor, the official `openai` SDK as the client, and a fast
recording upstream (`servers.recording_upstream`) to see exactly what was forwarded."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import openai
import pytest

from prompts.compress import Compressor
from prompts.serve import CompressionSettings, ServeConfig, create_app
from tests.prompts.serve.servers import STREAM_WORDS, free_port, recording_upstream, serving
from tests.prompts.test_compress import SENTENCES

DOCUMENT = "\n\n".join(" ".join(SENTENCES[i : i + 4]) for i in range(0, len(SENTENCES), 4)) * 2  # ~900 tokens
QUESTION = "Where does the bus to the market town leave from?"
SECRET = "sk-test-do-not-log-7f3a9c"

Proxy = Callable[..., str]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serving(recording_upstream()) as url:
        yield url


@pytest.fixture(scope="module")
def start_proxy(compressor: Compressor, upstream: str) -> Iterator[Proxy]:
    """`start_proxy(upstream=..., **ServeConfig fields)`: a running proxy's base URL (models shared)."""
    with ExitStack() as stack:

        def start(to: str | None = None, **fields: Any) -> str:
            app = create_app(ServeConfig(to or upstream, **fields), compressor)
            url = stack.enter_context(serving(app))
            for _ in range(600):
                if httpx.get(f"{url}/health").status_code == 200:
                    return url
                time.sleep(0.1)
            raise RuntimeError("the proxy never became healthy")

        yield start


@pytest.fixture(scope="module")
def proxy(start_proxy: Proxy) -> str:
    return start_proxy(settings=CompressionSettings(rate=0.33))


def client(url: str, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=SECRET, max_retries=0, **options)


def last_forwarded(upstream: str) -> dict[str, Any]:
    return httpx.get(f"{upstream}/received").json()[-1]


def chat(document: str = DOCUMENT, question: str = QUESTION) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "Answer from the document."},
        {"role": "user", "content": f"{document}\n\n{question}"},
    ]


def test_a_long_chat_arrives_upstream_at_the_rate_with_the_question_intact(
    proxy: str, upstream: str, compressor: Compressor
) -> None:
    messages = chat()
    raw = client(proxy).chat.completions.with_raw_response.create(model="echo", messages=messages)
    completion = raw.parse()
    forwarded = last_forwarded(upstream)["body"]["messages"]
    original = sum(compressor.count(m["content"]) for m in messages)
    sent = sum(compressor.count(m["content"]) for m in forwarded)
    assert sent <= math.floor(0.33 * original)
    assert forwarded[0] == messages[0]
    assert forwarded[1]["content"].endswith(QUESTION)
    assert "post office" in forwarded[1]["content"]  # the answer's sentence ranks first for the question
    assert int(raw.headers["x-winnow-original-tokens"]) == original
    assert int(raw.headers["x-winnow-compressed-tokens"]) == sent
    assert raw.headers["x-winnow-status"] == "compressed"
    assert completion.model_extra["winnow"]["compressed_tokens"] == sent
    assert completion.choices[0].message.content == " ".join(forwarded[1]["content"].split()[:STREAM_WORDS])


def test_a_stream_passes_through_event_by_event(proxy: str, upstream: str) -> None:
    with client(proxy).chat.completions.with_streaming_response.create(
        model="echo", messages=chat(), stream=True
    ) as response:
        assert response.headers["x-winnow-status"] == "compressed"
        assert int(response.headers["x-winnow-compressed-tokens"]) < int(
            response.headers["x-winnow-original-tokens"]
        )
        pieces = [chunk.choices[0].delta.content for chunk in response.parse()]
    forwarded = last_forwarded(upstream)["body"]["messages"][1]["content"]
    assert len(pieces) == STREAM_WORDS
    assert "".join(pieces) == " ".join(forwarded.split()[:STREAM_WORDS])


def test_a_stream_is_not_buffered(proxy: str) -> None:
    """The first event arrives while the upstream is still writing the rest (50 ms apart)."""
    body = {"model": "echo", "messages": chat(), "stream": True}
    with httpx.stream("POST", f"{proxy}/v1/chat/completions", json=body, timeout=60) as response:
        arrivals = [time.monotonic() for _ in response.iter_raw()]
    assert len(arrivals) >= 3
    assert arrivals[-1] - arrivals[0] >= 0.1


def test_clients_leaving_mid_stream_leave_the_proxy_working(proxy: str) -> None:
    body = {"model": "echo", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    for _ in range(20):
        with httpx.stream("POST", f"{proxy}/v1/chat/completions", json=body, timeout=60) as response:
            next(response.iter_raw())  # then hang up
    reply = client(proxy).chat.completions.create(model="echo", messages=chat())
    assert reply.choices[0].message.content


def test_short_requests_are_forwarded_untouched(proxy: str, upstream: str) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    raw = client(proxy).chat.completions.with_raw_response.create(
        model="echo", messages=messages, temperature=0.2, extra_body={"user": "u-1"}
    )
    forwarded = last_forwarded(upstream)["body"]
    assert forwarded == {"model": "echo", "messages": messages, "temperature": 0.2, "user": "u-1"}
    assert raw.headers["x-winnow-status"] == "skipped"
    as_sent = '{ "model" : "echo",\n  "messages": [{"role": "user", "content": "caf\\u00e9"}], "top_p": 1.0 }'
    httpx.post(f"{proxy}/v1/chat/completions", content=as_sent, headers={"content-type": "application/json"})
    assert last_forwarded(upstream)["raw"] == as_sent  # byte for byte


def test_a_request_overrides_the_settings_in_its_body_or_headers(
    proxy: str, upstream: str, compressor: Compressor
) -> None:
    messages = chat()
    original = sum(compressor.count(m["content"]) for m in messages)
    sdk = client(proxy)
    sdk.chat.completions.create(model="echo", messages=messages, extra_body={"winnow": {"skip": True}})
    assert last_forwarded(upstream)["body"] == {"model": "echo", "messages": messages}
    sdk.chat.completions.create(model="echo", messages=messages, extra_body={"winnow": {"rate": 0.2}})
    forwarded = last_forwarded(upstream)["body"]
    assert "winnow" not in forwarded
    assert sum(compressor.count(m["content"]) for m in forwarded["messages"]) <= math.floor(0.2 * original)
    sdk.chat.completions.create(
        model="echo", messages=messages, extra_headers={"x-winnow-target-tokens": "150"}
    )
    forwarded = last_forwarded(upstream)
    assert sum(compressor.count(m["content"]) for m in forwarded["body"]["messages"]) <= 150
    assert not any(name.startswith("x-winnow") for name in forwarded["headers"])


@pytest.mark.parametrize(
    ("override", "param"),
    [({"winnow": {"rate": 1.5}}, "winnow.rate"), ({"winnow": {"speed": 2}}, "winnow.speed")],
)
def test_a_bad_setting_is_a_400_naming_it(proxy: str, override: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).chat.completions.create(model="echo", messages=chat(), extra_body=override)
    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert param in caught.value.message


def test_authorization_reaches_the_upstream_and_no_log_shows_it(
    proxy: str, upstream: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client(proxy).chat.completions.create(model="echo", messages=chat())
    assert last_forwarded(upstream)["headers"]["authorization"] == f"Bearer {SECRET}"
    assert caplog.records  # the proxy did log the request
    assert not any(SECRET in record.getMessage() for record in caplog.records)
    assert any("/v1/chat/completions 200 compressed" in record.getMessage() for record in caplog.records)


def test_the_server_key_is_sent_only_when_the_client_has_none(start_proxy: Proxy, upstream: str) -> None:
    url = start_proxy(upstream_api_key="sk-server-side")
    httpx.post(f"{url}/v1/chat/completions", json={"model": "echo", "messages": chat()}, timeout=60)
    assert last_forwarded(upstream)["headers"]["authorization"] == "Bearer sk-server-side"
    client(url).chat.completions.create(model="echo", messages=chat())
    assert last_forwarded(upstream)["headers"]["authorization"] == f"Bearer {SECRET}"


def test_a_failed_compression_forwards_the_original(proxy: str, upstream: str) -> None:
    messages = chat(DOCUMENT + "\x00")  # the compressor refuses NUL bytes
    raw = client(proxy).chat.completions.with_raw_response.create(model="echo", messages=messages)
    assert raw.http_response.status_code == 200
    assert raw.headers["x-winnow-status"] == "fallback"
    assert last_forwarded(upstream)["body"]["messages"] == messages
    assert "NUL" in raw.parse().model_extra["winnow"]["error"]
    assert metric(proxy, 'winnow_fallbacks_total{route="chat"}') >= 1


def test_upstream_errors_pass_through(proxy: str) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client(proxy).chat.completions.create(model="status-429", messages=chat())
    assert caught.value.body == {
        "message": "upstream says 429",
        "type": "upstream_test",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.InternalServerError) as caught:
        client(proxy).chat.completions.create(
            model="status-500", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 500


def test_an_unreachable_upstream_is_a_502(start_proxy: Proxy) -> None:
    url = start_proxy(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(model="echo", messages=chat())
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_unreachable"


def test_malformed_json_is_a_400_in_the_openai_format(proxy: str) -> None:
    for content in (b'{"model": "echo", "messages": [', b"[1, 2]"):
        response = httpx.post(
            f"{proxy}/v1/chat/completions", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"]


def test_an_oversized_body_is_a_413(start_proxy: Proxy) -> None:
    url = start_proxy(max_body_bytes=2048)
    with pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(model="echo", messages=chat())
    assert caught.value.status_code == 413
    chunked = httpx.post(f"{url}/v1/chat/completions", content=iter([b"{" + b" " * 4096 + b"}"]))
    assert chunked.status_code == 413


def test_a_full_queue_answers_503_with_retry_after(start_proxy: Proxy) -> None:
    url = start_proxy(queue_size=1, batch_size=1)

    async def send(session: httpx.AsyncClient) -> httpx.Response:
        return await session.post(f"{url}/v1/chat/completions", json={"model": "echo", "messages": chat()})

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=120) as session:
            return await asyncio.gather(*(send(session) for _ in range(8)))

    responses = asyncio.run(burst())
    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) == {200, 503}
    full = next(response for response in responses if response.status_code == 503)
    assert int(full.headers["retry-after"]) >= 1
    assert full.json()["error"]["code"] == "queue_full"


def test_concurrent_requests_are_compressed_in_micro_batches(start_proxy: Proxy, upstream: str) -> None:
    url = start_proxy(batch_wait=0.05)

    async def send(session: httpx.AsyncClient, index: int) -> httpx.Response:
        messages = chat(DOCUMENT, f"Question {index}: {QUESTION}")
        return await session.post(f"{url}/v1/chat/completions", json={"model": "echo", "messages": messages})

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=300) as session:
            return await asyncio.gather(*(send(session, index) for index in range(6)))

    responses = asyncio.run(burst())
    assert all(r.status_code == 200 and r.headers["x-winnow-status"] == "compressed" for r in responses)
    batches, requests = metric(url, "winnow_batch_size_count"), metric(url, "winnow_batch_size_sum")
    assert requests >= 6 and batches < requests  # some batch held several requests
    forwarded = [r["body"]["messages"][1]["content"] for r in httpx.get(f"{upstream}/received").json()[-6:]]
    assert sorted(int(re.search(r"Question (\d+):", text).group(1)) for text in forwarded) == list(range(6))


def test_completions_compress_each_long_prompt(proxy: str, upstream: str, compressor: Compressor) -> None:
    prompt = f"{DOCUMENT}\n\n{QUESTION}\nAnswer:"
    client(proxy).completions.create(model="echo", prompt=[prompt, "Say hi."])
    forwarded = last_forwarded(upstream)["body"]["prompt"]
    assert forwarded[1] == "Say hi."
    assert compressor.count(forwarded[0]) <= math.floor(0.33 * compressor.count(prompt))
    assert forwarded[0].endswith(f"{QUESTION}\nAnswer:")


def test_other_routes_are_forwarded_as_they_are(proxy: str, upstream: str) -> None:
    assert [model.id for model in client(proxy).models.list()] == ["echo"]
    client(proxy).embeddings.create(model="echo", input=DOCUMENT)
    assert last_forwarded(upstream)["body"]["input"] == DOCUMENT


def test_health_and_metrics(proxy: str) -> None:
    assert httpx.get(f"{proxy}/health").json()["status"] == "ok"
    client(proxy).chat.completions.create(model="echo", messages=chat())
    text = httpx.get(f"{proxy}/metrics").text
    assert metric(proxy, 'winnow_requests_total{route="/v1/chat/completions",status="200"}') >= 1
    assert metric(proxy, "winnow_tokens_in_total") > metric(proxy, "winnow_tokens_out_total") > 0
    assert metric(proxy, 'winnow_compressions_total{outcome="compressed"}') >= 1
    assert "winnow_compression_seconds_bucket" in text


def metric(url: str, name: str) -> float:
    """The value of one sample of the proxy's `/metrics`."""
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} is not in /metrics")
