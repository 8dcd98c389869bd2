"""What to compress in one proxied request, and how to put the compressed text back into its body.

Chat (`/v1/chat/completions`): the messages of the compressed roles whose text content reaches
`min_tokens` are compressed; every other message is kept whole but counts in the budget, which is the
conversation's: with `rate`, at most `floor(rate * tokens of all text contents)` (or, when the messages
kept whole already take that, the kept ones plus `rate` of the compressed ones). The question is the last
user message; when that message is itself compressed (a document pasted above the question), its last
paragraph is the question and is kept verbatim. Messages whose content is not a string (content parts,
tool calls) pass untouched and are not counted; a content that is JSON (a tool's structured result) is
kept whole, as dropping words would break it.

Completions (`/v1/completions`): a string prompt (or each string of a list) reaching `min_tokens` is
compressed to `rate` of its tokens or `target_tokens`; its last paragraph (where the ask and "Answer:"
usually sit) is the question and is kept verbatim. Token-id prompts pass untouched.

Tokens are counted with the compressor's tokenizer over the contents, without role markup.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prompts.request import CompressionRequest
from prompts.result import CompressionResult
from prompts.serve.settings import CompressionSettings

Counter = Callable[[str], int]
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
#: a long message's last paragraph is taken as its question only if it is at most this long
QUESTION_TOKENS = 256


@dataclass
class Plan:
    """The compression requests of one proxied request and how to rebuild its body from their results.

    `reason` says why nothing is compressed (then `requests` is empty); `original_tokens` counts what the
    budget covers, `kept_tokens` the part of it that is forwarded without compression.
    """

    requests: list[CompressionRequest] = field(default_factory=list)
    rebuild: Callable[[Sequence[CompressionResult]], dict[str, Any]] | None = None
    original_tokens: int | None = None
    kept_tokens: int = 0
    reason: str | None = None

    def compressed_tokens(self, results: Sequence[CompressionResult]) -> int:
        return self.kept_tokens + sum(result.compressed_tokens for result in results)


def skipped(reason: str, original_tokens: int | None = None) -> Plan:
    return Plan(reason=reason, original_tokens=original_tokens)


def plan_request(endpoint: str, body: dict[str, Any], settings: CompressionSettings, count: Counter) -> Plan:
    """The plan for a `chat` or `completions` body."""
    if settings.skip:
        return skipped("skip asked")
    if endpoint == "chat":
        return plan_chat(body, settings, count)
    return plan_completion(body, settings, count)


def plan_chat(body: dict[str, Any], settings: CompressionSettings, count: Counter) -> Plan:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return skipped("no messages")
    texts = [
        index
        for index, message in enumerate(messages)
        if isinstance(message, dict)
        and isinstance(message.get("content"), str)
        and isinstance(message.get("role"), str)
        and message["role"].strip()
    ]
    candidates = [index for index in texts if _worth_counting(messages[index], settings)]
    if not candidates:
        return skipped(_no_long_message(settings))
    tokens = {index: count(messages[index]["content"]) for index in texts}
    total = sum(tokens.values())
    chosen = {index for index in candidates if tokens[index] >= settings.min_tokens}
    if not chosen:
        return skipped(_no_long_message(settings), total)
    kept = total - sum(tokens[index] for index in chosen)
    target = _chat_target(settings, total, kept, sum(tokens[index] for index in chosen))
    if target >= total:
        return skipped(f"the budget ({target} tokens) is not below the prompt's {total}", total)
    if target <= kept:
        return skipped(f"the messages kept whole take {kept} tokens, over the budget of {target}", total)
    question, keep = _chat_question(messages, texts, chosen, settings, count)
    prompt = [
        {"role": messages[index]["role"], "content": messages[index]["content"], "compress": index in chosen}
        for index in texts
    ]
    request = CompressionRequest(prompt, target_tokens=target, question=question, keep=keep)

    def rebuild(results: Sequence[CompressionResult]) -> dict[str, Any]:
        compressed = results[0].messages or []
        new = list(messages)
        for position, index in enumerate(texts):
            if index in chosen:
                new[index] = {**messages[index], "content": compressed[position]["content"]}
        return {**body, "messages": new}

    return Plan([request], rebuild, total)


def _chat_target(settings: CompressionSettings, total: int, kept: int, chosen: int) -> int:
    if settings.target_tokens is not None:
        return settings.target_tokens
    rate = settings.rate or 1.0
    target = math.floor(rate * total)
    return target if target > kept else kept + math.floor(rate * chosen)


def _chat_question(
    messages: list[Any], texts: list[int], chosen: set[int], settings: CompressionSettings, count: Counter
) -> tuple[str | None, list[str]]:
    """`(question, keep patterns)`: the explicit question, else (with "last-user") the last user message,
    or its last paragraph, kept verbatim, when that message is compressed."""
    users = [index for index in texts if messages[index]["role"] == "user"]
    last = users[-1] if users else None
    if last is not None and last in chosen:
        ask = _last_paragraph(messages[last]["content"], count)
        keep = [re.escape(ask)] if ask else []
        if settings.question is not None:
            return settings.question, keep
        return (ask if settings.question_from == "last-user" else None), keep
    if settings.question is not None:
        return settings.question, []
    if settings.question_from == "last-user" and last is not None:
        return messages[last]["content"], []
    return None, []


def _last_paragraph(text: str, count: Counter) -> str | None:
    """The last non-blank paragraph of `text`, if short enough to be a question (and not the whole text)."""
    paragraphs = [p.strip() for p in PARAGRAPH_BREAK.split(text) if p.strip()]
    if len(paragraphs) < 2 or count(paragraphs[-1]) > QUESTION_TOKENS:
        return None
    return paragraphs[-1]


def plan_completion(body: dict[str, Any], settings: CompressionSettings, count: Counter) -> Plan:
    prompt = body.get("prompt")
    many = isinstance(prompt, list)
    prompts = prompt if many else [prompt]
    if not prompts or not all(isinstance(p, str) for p in prompts):
        return skipped("the prompt is not text")
    if not any(len(p.encode()) >= settings.min_tokens for p in prompts):
        return skipped(f"no prompt reaches {settings.min_tokens} tokens")
    tokens = [count(p) for p in prompts]
    requests, positions = [], []
    for position, (text, n) in enumerate(zip(prompts, tokens, strict=True)):
        if n < settings.min_tokens:
            continue
        target = settings.target_tokens or math.floor((settings.rate or 1.0) * n)
        if target >= n:
            continue
        ask = _last_paragraph(text, count)
        question = settings.question or (ask if settings.question_from == "last-user" else None)
        requests.append(
            CompressionRequest(
                text, target_tokens=target, question=question, keep=[re.escape(ask)] if ask else []
            )
        )
        positions.append(position)
    if not requests:
        return skipped(f"no prompt reaches {settings.min_tokens} tokens with a budget below it", sum(tokens))
    kept = sum(n for position, n in enumerate(tokens) if position not in positions)

    def rebuild(results: Sequence[CompressionResult]) -> dict[str, Any]:
        new = list(prompts)
        for position, result in zip(positions, results, strict=True):
            new[position] = result.text
        return {**body, "prompt": new if many else new[0]}

    return Plan(requests, rebuild, sum(tokens), kept)


def _no_long_message(settings: CompressionSettings) -> str:
    return f"no {'/'.join(settings.roles)} message reaches {settings.min_tokens} tokens"


def _worth_counting(message: Any, settings: CompressionSettings) -> bool:
    """A message of a compressed role whose text may reach `min_tokens` (a byte-level tokenizer spends at
    least one token per byte) and is not JSON (a tool result as JSON would lose its structure)."""
    if not isinstance(message, dict) or message.get("role") not in settings.roles:
        return False
    content = message.get("content")
    if not isinstance(content, str) or len(content.encode()) < settings.min_tokens:
        return False
    return not _is_json(content)


def _is_json(text: str) -> bool:
    if text.lstrip()[:1] not in ("{", "["):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def quick_skip(endpoint: str, body: dict[str, Any], settings: CompressionSettings) -> str | None:
    """Why nothing in `body` can be compressed, found without counting tokens (None: it may be)."""
    if settings.skip:
        return "skip asked"
    if endpoint == "chat":
        messages = body.get("messages")
        long = [m for m in messages if _worth_counting(m, settings)] if isinstance(messages, list) else []
        return None if long else _no_long_message(settings)
    prompt = body.get("prompt")
    prompts = prompt if isinstance(prompt, list) else [prompt]
    if any(isinstance(p, str) and len(p.encode()) >= settings.min_tokens for p in prompts):
        return None
    return f"no prompt reaches {settings.min_tokens} tokens"
