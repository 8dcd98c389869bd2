"""A prompt as segments: plain text, a list of documents, or chat messages; which parts may be compressed.

Text input may mark parts that must survive verbatim with `<winnow-keep>...</winnow-keep>` (the markers
are removed from the output); fenced code blocks (```...```) are kept verbatim too. Chat input keeps every
message and role; only the roles named in `roles` (all when None) are compressed, and a message with
`"compress": false` is kept as is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prompts.result import CompressionError

KEEP_OPEN = "<winnow-keep>"
KEEP_CLOSE = "</winnow-keep>"
FENCED_CODE = re.compile(r"^(```|~~~)[^\n]*\n.*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
DOCUMENT_SEPARATOR = "\n\n"


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
    """Split `prompt` (str, list of str, or list of chat messages) into segments; raise on bad input."""
    if isinstance(prompt, bytes):
        raise CompressionError("the prompt is bytes: decode it to text first")
    if isinstance(prompt, str):
        _check_text(prompt, "the prompt")
        return ParsedPrompt("text", [_text_segment(prompt)])
    if not isinstance(prompt, Sequence) or len(prompt) == 0:
        raise CompressionError("the prompt must be text, a non-empty list of documents or of chat messages")
    if all(isinstance(item, str) for item in prompt):
        segments = [_text_segment(item) for item in prompt]
        if not any(segment.text.strip() for segment in segments):
            raise CompressionError("the prompt is empty: every document is blank")
        for index, item in enumerate(prompt):
            _check_text(item, f"document {index}", allow_empty=True)
        return ParsedPrompt("documents", segments)
    if all(isinstance(item, dict) for item in prompt):
        return ParsedPrompt("chat", _chat_segments(prompt, roles))
    raise CompressionError("a list prompt must hold only strings (documents) or only chat message objects")


def _check_text(text: str, what: str, *, allow_empty: bool = False) -> None:
    if "\x00" in text:
        raise CompressionError(f"{what} holds NUL bytes: it looks binary, not text")
    if not allow_empty and not text.strip():
        raise CompressionError(f"{what} is empty")


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
        role = message.get("role")
        content = message.get("content")
        if not isinstance(role, str) or not role:
            raise CompressionError(f"message {index}: field 'role' must be a non-empty string")
        if not isinstance(content, str):
            raise CompressionError(f"message {index}: field 'content' must be a string")
        _check_text(content, f"message {index} content", allow_empty=True)
        flag = message.get("compress", True)
        if not isinstance(flag, bool):
            raise CompressionError(f"message {index}: field 'compress' must be true or false")
        segment = _text_segment(content)
        segment.role = role
        segment.compressible = flag and (roles is None or role in roles)
        segment.extra = {key: value for key, value in message.items() if key not in ("content", "compress")}
        segments.append(segment)
    if not any(segment.text.strip() for segment in segments):
        raise CompressionError("the prompt is empty: every message is blank")
    if roles is not None:
        unknown = sorted(set(roles) - {segment.role for segment in segments})
        if unknown:
            raise CompressionError(f"no message has role {', '.join(map(repr, unknown))}")
    return segments
