"""What a compression returns: the shorter prompt, its token counts and which parts of the input survived."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.errors import WinnowError


class CompressionError(WinnowError):
    """Input that cannot be compressed as asked: empty, binary, bad rate or target, unknown role, ..."""


@dataclass(frozen=True)
class KeptSpan:
    """Characters `[start, end)` of input segment `segment` that appear in the output.

    Segment 0 is the whole prompt for text input; for a list of documents it is the document's index, for
    chat input the message's index.
    """

    segment: int
    start: int
    end: int


@dataclass
class CompressionResult:
    """The compressed prompt and how it was made.

    `ratio` is `compressed_tokens / original_tokens` (the achieved rate); tokens are counted with the target
    tokenizer, without special tokens (for chat input: the messages' contents, not the role markup).
    `messages` is the compressed chat (same roles and order) for chat input, else None; `text` is then that
    chat as JSON. `note` says why a prompt came back unchanged, or other things worth knowing.
    """

    text: str
    original_tokens: int
    compressed_tokens: int
    target_tokens: int
    ratio: float
    seconds: float
    kept_spans: list[KeptSpan] = field(default_factory=list)
    chunk_ranking: list[int] = field(default_factory=list)
    messages: list[dict[str, Any]] | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (spans as `[segment, start, end]` triples)."""
        data = asdict(self)
        data["kept_spans"] = [[s.segment, s.start, s.end] for s in self.kept_spans]
        if self.messages is None:
            del data["messages"]
        return data
