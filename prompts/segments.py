"""A prompt as segments: plain text, a list of documents, or chat messages; which parts may be compressed.

Text input may mark parts that must survive verbatim with `<winnow-keep>...</winnow-keep>` (the markers
are removed from the output); fenced code blocks (```...```) are kept verbatim too. Chat input keeps every
message and role; only the roles named in `roles` (all when None) are compressed, and a message with
`"compress": false` is kept as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prompts.result import CompressionError, RequestError

KEEP_OPEN = "<winnow-keep>"
KEEP_CLOSE = "</winnow-keep>"
FENCED_CODE = re.compile(r"^(```|~~~)[^\n]*\n.*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
DOCUMENT_SEPARATOR = "\n\n"
_PROMPT_KINDS = "a string, a list of documents (strings) or a list of chat messages"
_MESSAGE_FIELDS = ("role", "content")
MESSAGE_OBJECT = '{"role", "content"}'


@dataclass
class Segment:
    """One piece of the input: its text, whether it may be compressed, and protected character ranges."""

    text: str
    compressible: bool = True
    protected: list[tuple[int, int]] = field(default_factory=list)
    role: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedPrompt:
    """The segments of a prompt and how to put them back together."""

    kind: str  # "text", "documents" or "chat"
    segments: list[Segment]

    def join(self, texts: Sequence[str]) -> str:
        """The output text of segment texts (documents: non-empty ones joined by a blank line)."""
        if self.kind == "documents":
            return DOCUMENT_SEPARATOR.join(text for text in texts if text)
        if self.kind == "chat":
            return "\n".join(texts)
        return texts[0]


def parse_prompt(prompt: Any, roles: Sequence[str] | None = None) -> ParsedPrompt:
    """Split `prompt` (str, list of str, or list of chat messages) into segments. A prompt of the wrong shape
    is a `RequestError` naming the field ("prompt", "prompt[1].content"); bad text inside a well-formed one
    (NUL bytes, an unclosed `<winnow-keep>`, a role no message has) a `CompressionError`."""
    _check_shape(prompt)
    if isinstance(prompt, str):
        _check_binary(prompt, "the prompt")
        return ParsedPrompt("text", [_text_segment(prompt)])
    if all(isinstance(item, str) for item in prompt):
        for index, item in enumerate(prompt):
            _check_binary(item, f"document {index}")
        return ParsedPrompt("documents", [_text_segment(item) for item in prompt])
    return ParsedPrompt("chat", _chat_segments(prompt, roles))


def _check_shape(prompt: Any) -> None:
    """The prompt is non-empty text, documents or chat messages whose roles and contents are strings."""
    if isinstance(prompt, bytes):
        raise RequestError("prompt", "bytes: decode it to text first", template="the prompt is {problem}")
    if isinstance(prompt, str):
        if not prompt.strip():
            raise RequestError("prompt", "empty", template="the prompt is {problem}")
        return
    if not isinstance(prompt, Sequence):
        raise RequestError("prompt", f"must be {_PROMPT_KINDS}", template="the prompt {problem}")
    if len(prompt) == 0:
        raise RequestError(
            "prompt",
            "an empty list: give text or a non-empty list of documents or of chat messages",
            template="the prompt is {problem}",
        )
    if all(isinstance(document, str) for document in prompt):
        if not any(document.strip() for document in prompt):
            raise RequestError(
                "prompt", "empty (every document is blank)", template="the prompt is {problem}"
            )
        return
    if not any(isinstance(message, Mapping) for message in prompt):
        raise RequestError("prompt", f"must be {_PROMPT_KINDS}", template="the prompt {problem}")
    for index, message in enumerate(prompt):
        _check_message(index, message)
    if not any(message["content"].strip() for message in prompt):
        raise RequestError("prompt", "empty (no message has any content)", template="the prompt is {problem}")


def _check_message(index: int, message: Any) -> None:
    """A chat message: an object with a non-empty string 'role', a string 'content', a boolean 'compress'."""
    if not isinstance(message, Mapping):
        raise message_error(index, None, f"must be a {MESSAGE_OBJECT} object, got {json_kind(message)}")
    for key in _MESSAGE_FIELDS:
        if key not in message:
            raise message_error(index, key, "missing")
        if not isinstance(message[key], str):
            raise message_error(index, key, f"must be a string, got {json_kind(message[key])}")
    if not message["role"].strip():
        raise message_error(index, "role", "empty")
    if not isinstance(message.get("compress", True), bool):
        raise message_error(index, "compress", f"must be true or false, got {json_kind(message['compress'])}")


def message_error(index: int, key: str | None, problem: str) -> RequestError:
    """`prompt[INDEX].KEY` is wrong: "message index INDEX, field 'KEY': PROBLEM"."""
    field = f"prompt[{index}]" + (f".{key}" if key else "")
    where = f"message index {index}" + (f", field '{key}'" if key else "")
    return RequestError(field, problem, template="{where}: {problem}", where=where)


def json_kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _check_binary(text: str, what: str) -> None:
    if "\x00" in text:
        raise CompressionError(f"{what} holds NUL bytes: it looks binary, not text")


def _text_segment(text: str) -> Segment:
    """A segment with `<winnow-keep>` markers removed and their insides and fenced code protected."""
    pieces: list[str] = []
    protected: list[tuple[int, int]] = []
    position = 0
    length = 0
    while True:
        start = text.find(KEEP_OPEN, position)
        if start < 0:
            break
        end = text.find(KEEP_CLOSE, start)
        if end < 0:
            raise CompressionError(f"{KEEP_OPEN} at character {start} has no {KEEP_CLOSE}")
        pieces.append(text[position:start])
        length += start - position
        inside = text[start + len(KEEP_OPEN) : end]
        protected.append((length, length + len(inside)))
        pieces.append(inside)
        length += len(inside)
        position = end + len(KEEP_CLOSE)
    pieces.append(text[position:])
    clean = "".join(pieces)
    if KEEP_CLOSE in clean:
        raise CompressionError(f"{KEEP_CLOSE} without a matching {KEEP_OPEN}")
    protected.extend(match.span() for match in FENCED_CODE.finditer(clean))
    return Segment(clean, protected=protected)


def _chat_segments(messages: Sequence[dict[str, Any]], roles: Sequence[str] | None) -> list[Segment]:
    segments = []
    for index, message in enumerate(messages):
        role, content, flag = message["role"], message["content"], message.get("compress", True)
        _check_binary(content, f"message {index} content")
        segment = _text_segment(content)
        segment.role = role
        segment.compressible = flag and (roles is None or role in roles)
        segment.extra = {key: value for key, value in message.items() if key not in ("content", "compress")}
        segments.append(segment)
    if roles is not None:
        unknown = sorted(set(roles) - {segment.role for segment in segments})
        if unknown:
            raise CompressionError(f"no message has role {', '.join(map(repr, unknown))}")
    return segments
