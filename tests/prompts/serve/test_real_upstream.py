"""The proxy in front of a real inference server: `transformers serve` with the packaged SmolLM2 on CPU,
the official `openai` SDK as the client. A 4k-token document at rate 0.33 arrives at a third of its tokens,
and the streamed answer comes back whole."""

from __future__ import annotations

import gzip
import json
import math
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from prompts.compress import Compressor
from prompts.serve import CompressionSettings, ServeConfig, create_app
from tests.conftest import shared_file
from tests.prompts.serve.processes import model_name, transformers_serve
from tests.prompts.serve.servers import serving

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with transformers_serve() as url:
        yield url


@pytest.fixture(scope="module")
def proxy(upstream: str, compressor: Compressor) -> Iterator[str]:
    app = create_app(ServeConfig(upstream, settings=CompressionSettings(rate=0.33)), compressor)
    with serving(app) as url:
        while httpx.get(f"{url}/health").status_code != 200:
            time.sleep(0.1)
        yield url


def document_chat(compressor: Compressor, tokens: int = 4000) -> list[dict[str, str]]:
    """NQ-open gold passages (shared data) filled to about `tokens`, then the first one's question."""
    with gzip.open(shared_file("nq_open_oracle.jsonl.gz"), "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for _, line in zip(range(200), lines, strict=False)]
    passages, used = [], 0
    for record in records:
        passage = record["ctxs"][0]["text"]
        used += compressor.count(passage) + 2
        if used > tokens:
            break
        passages.append(passage)
    question = f"Question: {records[0]['question']}?"
    content = "\n\n".join(passages) + f"\n\n{question}"
    messages = [{"role": "system", "content": "Answer in a few words."}, {"role": "user", "content": content}]
    return messages


def test_a_4k_document_arrives_at_a_third_and_the_stream_comes_back_whole(
    upstream: str, proxy: str, compressor: Compressor
) -> None:
    messages = document_chat(compressor)
    original = sum(compressor.count(message["content"]) for message in messages)
    assert original >= 3800
    options = {"model": model_name(), "messages": messages, "max_tokens": 24, "temperature": 0}
    direct = openai.OpenAI(base_url=f"{upstream}/v1", api_key="sk-local", max_retries=0)
    through = openai.OpenAI(base_url=f"{proxy}/v1", api_key="sk-local", max_retries=0)

    raw = through.chat.completions.with_raw_response.create(**options)
    answer = raw.parse()
    assert int(raw.headers["x-winnow-original-tokens"]) == original
    compressed = int(raw.headers["x-winnow-compressed-tokens"])
    assert compressed <= math.floor(0.33 * original)
    assert answer.model_extra["winnow"] == {**answer.model_extra["winnow"], "compressed_tokens": compressed}
    # what the upstream counted: the compressed contents plus the same chat markup as the original's
    full = direct.chat.completions.create(**options)
    assert full.usage is not None and answer.usage is not None
    assert abs((full.usage.prompt_tokens - answer.usage.prompt_tokens) - (original - compressed)) <= 8
    assert answer.usage.prompt_tokens <= 0.34 * full.usage.prompt_tokens

    with through.chat.completions.with_streaming_response.create(**options, stream=True) as streamed:
        assert streamed.headers["x-winnow-compressed-tokens"] == str(compressed)
        chunks = [chunk for chunk in streamed.parse() if chunk.choices]
    pieces = [chunk.choices[0].delta.content or "" for chunk in chunks]
    assert len([piece for piece in pieces if piece]) > 1  # it did stream, in several events
    assert "".join(pieces) == answer.choices[0].message.content  # greedy: the same answer, whole


def test_the_upstreams_own_errors_pass_through(proxy: str) -> None:
    through = openai.OpenAI(base_url=f"{proxy}/v1", api_key="sk-local", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        through.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == 400
