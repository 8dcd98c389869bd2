"""What the proxy compresses in a request, counted with the real packaged tokenizer."""

from __future__ import annotations

import json
import math

from prompts.compress import Compressor
from prompts.serve.plan import plan_request, quick_skip
from prompts.serve.settings import CompressionSettings
from tests.prompts.test_compress import LONG, MEDIUM, SENTENCES

QUESTION = "Who repairs the gates and garden tools?"


def test_only_long_messages_of_the_compressed_roles_are_compressed(compressor: Compressor) -> None:
    messages = [
        {"role": "system", "content": LONG},
        {"role": "assistant", "content": LONG},
        {"role": "tool", "content": LONG, "tool_call_id": "call-1"},
        {"role": "user", "content": MEDIUM},
        {"role": "user", "content": QUESTION},
    ]
    settings = CompressionSettings(min_tokens=300)
    plan = plan_request("chat", {"model": "m", "messages": messages}, settings, compressor.count)
    (request,) = plan.requests
    assert [segment.compressible for segment in request.parsed.segments] == [False, False, True, False, False]
    assert request.question == QUESTION
    results = [compressor.run(request)]
    body = plan.rebuild(results)  # type: ignore[misc]
    assert body["model"] == "m"
    assert body["messages"][2]["tool_call_id"] == "call-1"
    assert body["messages"][2]["content"] != LONG
    assert [m for i, m in enumerate(body["messages"]) if i != 2] == [
        m for i, m in enumerate(messages) if i != 2
    ]
    assert plan.original_tokens == sum(compressor.count(m["content"]) for m in messages)
    assert plan.compressed_tokens(results) == sum(compressor.count(m["content"]) for m in body["messages"])


def test_the_rate_is_the_conversations_unless_the_kept_messages_take_it(compressor: Compressor) -> None:
    settings = CompressionSettings(rate=0.5, min_tokens=300)
    short = [{"role": "system", "content": SENTENCES[0]}, {"role": "user", "content": LONG}]
    (request,) = plan_request("chat", {"messages": short}, settings, compressor.count).requests
    total = sum(compressor.count(m["content"]) for m in short)
    assert request.target_tokens == math.floor(0.5 * total)
    # a long system prompt kept whole: the compressed message gets the rate of its own tokens
    heavy = [{"role": "system", "content": LONG}, {"role": "user", "content": LONG}]
    settings = CompressionSettings(rate=0.4, min_tokens=300)
    (request,) = plan_request("chat", {"messages": heavy}, settings, compressor.count).requests
    assert request.target_tokens == compressor.count(LONG) + math.floor(0.4 * compressor.count(LONG))


def test_a_long_last_user_message_gives_its_last_paragraph_as_the_question(compressor: Compressor) -> None:
    messages = [{"role": "user", "content": f"{LONG}\n\n{QUESTION}"}]
    settings = CompressionSettings(rate=0.3, min_tokens=300)
    plan = plan_request("chat", {"messages": messages}, settings, compressor.count)
    (request,) = plan.requests
    assert request.question == QUESTION
    body = plan.rebuild([compressor.run(request)])  # type: ignore[misc]
    assert body["messages"][0]["content"].endswith(QUESTION)
    assert "blacksmith" in body["messages"][0]["content"]
    explicit = settings.override({"question": "What does the baker make?"})
    (request,) = plan_request("chat", {"messages": messages}, explicit, compressor.count).requests
    assert request.question == "What does the baker make?"
    assert (
        plan_request(
            "chat", {"messages": messages}, settings.override({"question_from": "none"}), compressor.count
        )
        .requests[0]
        .question
        is None
    )


def test_nothing_is_planned_when_nothing_is_worth_it(compressor: Compressor) -> None:
    count = compressor.count
    settings = CompressionSettings(min_tokens=300)
    cases = [
        ({"messages": [{"role": "user", "content": MEDIUM}]}, "reaches 300 tokens"),
        ({"messages": [{"role": "system", "content": LONG}]}, "reaches 300 tokens"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": LONG}]}]}, "reaches 300"),
        ({"messages": [{"role": "tool", "content": json.dumps({"rows": SENTENCES})}]}, "reaches 300"),
    ]
    assert plan_request("chat", {"messages": "hello"}, settings, count).reason == "no messages"
    for body, reason in cases:
        assert reason in (plan_request("chat", body, settings, count).reason or "")
    # without counting: a message of fewer bytes than min_tokens has fewer tokens
    assert quick_skip("chat", cases[0][0], settings) is None  # ~190 tokens but ~900 bytes: count it
    for body, reason in cases[1:]:
        assert reason in (quick_skip("chat", body, settings) or "")
    skip = settings.override({"skip": True})
    assert (
        plan_request("chat", {"messages": [{"role": "user", "content": LONG}]}, skip, count).reason
        == "skip asked"
    )
    over = plan_request(
        "chat",
        {"messages": [{"role": "user", "content": LONG}]},
        settings.override({"target_tokens": 10_000}),
        count,
    )
    assert "not below" in (over.reason or "")
    kept = plan_request(
        "chat",
        {"messages": [{"role": "system", "content": LONG}, {"role": "user", "content": LONG}]},
        settings.override({"target_tokens": 50}),
        count,
    )
    assert "kept whole take" in (kept.reason or "")
    assert quick_skip("completions", {"prompt": [1, 2, 3]}, settings) is not None


def test_completions_compress_each_long_prompt_and_keep_its_last_paragraph(compressor: Compressor) -> None:
    prompt = f"{LONG}\n\nQuestion: {QUESTION}\nAnswer:"
    settings = CompressionSettings(rate=0.3, min_tokens=300)
    plan = plan_request("completions", {"prompt": [prompt, "Hi."]}, settings, compressor.count)
    (request,) = plan.requests
    assert request.target_tokens == math.floor(0.3 * compressor.count(prompt))
    results = [compressor.run(request)]
    body = plan.rebuild(results)  # type: ignore[misc]
    assert body["prompt"][1] == "Hi."
    assert body["prompt"][0].endswith(f"Question: {QUESTION}\nAnswer:")
    assert plan.compressed_tokens(results) == compressor.count(body["prompt"][0]) + compressor.count("Hi.")
    single = plan_request("completions", {"prompt": prompt}, settings, compressor.count)
    assert isinstance(single.rebuild([compressor.run(single.requests[0])])["prompt"], str)  # type: ignore[misc]
