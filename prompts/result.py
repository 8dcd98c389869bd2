"""What a compression returns: the shorter prompt, its token counts and which parts of the input survived."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.errors import WinnowError


class CompressionError(WinnowError):
    """Input that cannot be compressed as asked: empty, binary, bad rate or target, unknown role, ..."""


#: the keyword arguments of a request (and `model`, `tokenizer` of `check_models`) that messages name
OPTIONS = (
    "rate",
    "target_tokens",
    "question",
    "keep",
    "keep_numbers",
    "keep_newlines",
    "chunk_by",
    "reorder",
    "whole_chunks",
    "roles",
    "model",
    "tokenizer",
)


class RequestError(CompressionError):
    """A field of a compression request that is wrong: `field` names it, `problem` says what is wrong.

    `field`: an option ("rate", "target_tokens", "keep", ...), "prompt", or a chat message or one of its
    fields ("prompt[1]", "prompt[1].content"). `str(error)` names options as the library's keyword
    arguments; `worded(names)` with other names (`{"rate": "--rate"}`), and with `source` before a problem
    of the prompt (the file it came from).
    """

    def __init__(
        self, field: str, problem: str, *, template: str = "{name} {problem}", **values: Any
    ) -> None:
        self.field = field
        self.problem = problem
        self._template = template
        self._values = values
        super().__init__(self.worded())

    def __reduce__(self) -> tuple[Any, ...]:
        return _request_error, (self.field, self.problem, self._template, self._values)

    @property
    def in_prompt(self) -> bool:
        """Whether the prompt itself is wrong (not an option)."""
        return self.field == "prompt" or self.field.startswith("prompt[")

    def worded(self, names: Mapping[str, str] | None = None, *, source: str | None = None) -> str:
        """The message, options named by `names` (default: their keyword names), `source: ` first for a
        problem of the prompt."""
        named = {option: (names or {}).get(option, option) for option in OPTIONS}
        message = self._template.format(
            name=named.get(self.field, self.field), problem=self.problem, **named, **self._values
        )
        return f"{source}: {message}" if source is not None and self.in_prompt else message


def _request_error(field: str, problem: str, template: str, values: dict[str, Any]) -> RequestError:
    return RequestError(field, problem, template=template, **values)


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
    chat as JSON. `documents` is, for a list of documents, each document's compressed text in input order
    ("" where nothing of it was kept), else None. `note` says why a prompt came back unchanged, or other
    things worth knowing.
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
    documents: list[str] | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (spans as `[segment, start, end]` triples)."""
        data = asdict(self)
        data["kept_spans"] = [[s.segment, s.start, s.end] for s in self.kept_spans]
        for name in ("messages", "documents"):
            if data[name] is None:
                del data[name]
        return data
