"""One compression request, validated once: the library, `winnow compress` and the batch flow all build it.

`CompressionRequest(prompt, rate=0.5, question=..., ...)` checks every option when it is made and parses
the prompt (`parsed`, by `prompts.segments.parse_prompt`, which owns every check of the prompt's shape);
`Compressor.run(request)` then only compresses. A field that is wrong raises `RequestError` (a
`CompressionError`, from `prompts.result`) naming it: `field` is the keyword argument ("rate",
"keep", ...), or the part of the prompt ("prompt", "prompt[1].content" for message 1's content), and
`problem` says what is wrong without naming it, so a caller can name it its own way: the CLI words options
as flags (`error.worded(CLI names)`), the batch flow as `FILE, line N, field 'prompt[1].content': missing`.
Problems found inside well-formed text (NUL bytes, an unclosed `<winnow-keep>`, a role no message has) are
plain `CompressionError`s from `prompts.segments.parse_prompt`.

Also the small helpers the CLI needs to turn bytes into a prompt (`decode_prompt`, `parse_chat`) and to
check its other inputs before any model loads (`check_question`, `check_models`). Plain Python: importing
this module loads neither torch nor transformers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prompts.result import CompressionError, RequestError
from prompts.segments import MESSAGE_OBJECT, ParsedPrompt, json_kind, message_error, parse_prompt

if TYPE_CHECKING:
    from prompts.words import ChunkBy, Words

__all__ = [
    "CHUNK_BY",
    "PACKAGED_MODEL",
    "CompressionRequest",
    "PromptInput",
    "RequestError",
    "check_budget",
    "check_models",
    "check_question",
    "decode_prompt",
    "parse_chat",
]

PromptInput = str | Sequence[str] | Sequence[dict[str, Any]]
CHUNK_BY = ("auto", "documents", "paragraphs", "sentences")
#: the `model` name of the packaged scorer (SmolLM2-135M); any other name is a local folder
PACKAGED_MODEL = "smollm2"


@dataclass(frozen=True)
class CompressionRequest:
    """What to compress and how; every field is checked when the request is made (`RequestError`).

    `prompt`: text, a list of documents (strings), or chat messages (`{"role", "content"}` objects, other
    keys kept; `"compress": false` keeps a message as is); exactly one of `rate` (the share of tokens to
    keep, in (0, 1]) and `target_tokens` (a budget, at least 1); `question`: rank and compress for it (blank
    means none); `keep`: regular expressions whose matches are never dropped (a string is one pattern);
    `keep_numbers`: numbers first (without a question before any sentence, with one in the sentence cut to
    fit); `keep_newlines`: never drop a line break; `chunk_by`: the chunks (auto, documents, paragraphs or
    sentences) whose relevance the sentence scorers read and that `reorder` puts most relevant first;
    `whole_chunks`: keep whole chunks first (the most central that fit, then sentences of the next), as
    few-shot demonstrations need; None (auto): for a list of documents compressed without a question;
    `roles`: chat roles to compress (None: all; a string is one role).

    Made from them: `patterns` (the compiled `keep` regexes) and `parsed` (the prompt's segments,
    `prompts.segments.ParsedPrompt`). `keep` and `roles` are stored as tuples, `rate` as a float, a blank
    `question` as None.
    """

    prompt: PromptInput
    _: KW_ONLY
    rate: float | None = None
    target_tokens: int | None = None
    question: str | None = None
    keep: Sequence[str] = ()
    keep_numbers: bool = True
    keep_newlines: bool = False
    chunk_by: ChunkBy = "auto"
    reorder: bool = False
    whole_chunks: bool | None = None
    roles: Sequence[str] | None = None
    patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    parsed: ParsedPrompt = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rate, target_tokens = check_budget(self.rate, self.target_tokens)
        if self.chunk_by not in CHUNK_BY:
            raise RequestError(
                "chunk_by", f"must be auto, documents, paragraphs or sentences, got {self.chunk_by!r}"
            )
        for name in ("keep_numbers", "keep_newlines", "reorder"):
            if not isinstance(getattr(self, name), bool):
                raise RequestError(name, f"must be true or false, got {getattr(self, name)!r}")
        if self.whole_chunks is not None and not isinstance(self.whole_chunks, bool):
            raise RequestError("whole_chunks", f"must be true, false or null, got {self.whole_chunks!r}")
        keep = _strings(self.keep, "keep", "regular expressions")
        patterns = tuple(_compile(pattern) for pattern in keep)
        roles = None if self.roles is None else _strings(self.roles, "roles", "role names")
        question = self.question
        if question is not None and not isinstance(question, str):
            raise RequestError("question", "must be a string or null")
        if question is not None and not question.strip():
            question = None
        parsed = parse_prompt(self.prompt, roles)
        for name, value in (
            ("rate", rate),
            ("target_tokens", target_tokens),
            ("question", question),
            ("keep", keep),
            ("roles", roles),
            ("patterns", patterns),
            ("parsed", parsed),
        ):
            object.__setattr__(self, name, value)

    @property
    def keeps_whole_chunks(self) -> bool:
        """`whole_chunks`, where None (auto) means: for a list of documents compressed without a question
        (few-shot demonstrations and examples, which a reader needs whole)."""
        if self.whole_chunks is not None:
            return self.whole_chunks
        by_documents = self.chunk_by in ("auto", "documents")
        return self.question is None and self.parsed.kind == "documents" and by_documents

    @cached_property
    def words(self) -> Words:
        """The prompt's words, chunks and sentences (`prompts.words.split_words`), split once per request."""
        from prompts.words import split_words  # numpy and the segmenters load with the compressor

        return split_words(self.parsed.segments, self.chunk_by, self.parsed.kind, self.patterns)


def check_budget(rate: Any, target_tokens: Any) -> tuple[float | None, int | None]:
    """`(rate, target_tokens)`: exactly one given, a rate in (0, 1], a target of at least 1 token."""
    if (rate is None) == (target_tokens is None):
        raise RequestError(
            "rate",
            "give exactly one of rate and target_tokens",
            template="give exactly one of {rate} and {target_tokens}",
        )
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, Real):
            raise RequestError("rate", f"must be a number in (0, 1], got {rate!r}")
        if not (math.isfinite(rate) and 0 < rate <= 1):
            raise RequestError("rate", f"must be in (0, 1], got {rate}")
        return float(rate), None
    if isinstance(target_tokens, bool) or not isinstance(target_tokens, Integral):
        raise RequestError("target_tokens", f"must be a whole number of tokens, got {target_tokens!r}")
    if target_tokens < 1:
        raise RequestError("target_tokens", f"must be at least 1, got {target_tokens}")
    return None, int(target_tokens)


def _strings(values: Any, name: str, what: str) -> tuple[str, ...]:
    """`values` as a tuple of strings (a string is one value)."""
    if isinstance(values, str):
        return (values,)
    if not isinstance(values, Sequence) or not all(isinstance(value, str) for value in values):
        raise RequestError(name, f"must be {what} (a string or a list of strings), got {values!r}")
    return tuple(values)


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise RequestError("keep", f"{pattern!r}: bad regular expression: {error}") from None


def decode_prompt(data: bytes, name: str) -> str:
    """UTF-8 text of `data` (read from `name`); binary input (NUL bytes) and invalid UTF-8 are named by byte
    offset and line."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise CompressionError(f"{name}: binary input (NUL byte at byte offset {nul}); give UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise CompressionError(
            f"{name}: not valid UTF-8 at byte offset {error.start} (line {line}); give UTF-8 text"
        ) from None


def parse_chat(text: str, name: str) -> list[Any]:
    """The messages of a chat prompt read from `name`: a JSON list of `{"role", "content"}` objects (the
    request checks their fields). A message that is not an object is a `RequestError` (`prompt[INDEX]`),
    as in a request: word it with `worded(source=name)`."""
    try:
        messages = json.loads(text)
    except json.JSONDecodeError as error:
        if not text.strip():
            raise CompressionError(f"{name}: the prompt is empty") from None
        raise CompressionError(
            f"{name}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); a chat prompt "
            'is a JSON list of {"role", "content"} messages'
        ) from None
    if not isinstance(messages, list):
        raise CompressionError(
            f"{name}: a chat prompt is a JSON list of {MESSAGE_OBJECT} messages, got {json_kind(messages)}"
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise message_error(index, None, f"must be a {MESSAGE_OBJECT} object, got {json_kind(message)}")
    return messages


def check_question(question: str) -> str:
    """A question given on purpose (the CLI's `--question`): blank is an error there, not "no question"."""
    if not question.strip():
        raise RequestError("question", "empty", template="the question is {problem}")
    return question


def check_models(model: str | Path | None = None, tokenizer: str | Path | None = None) -> None:
    """The scorer and tokenizer folders exist (checked before any model loads, or a flow starts)."""
    for option, path in (("model", model), ("tokenizer", tokenizer)):
        if path is not None and str(path) != PACKAGED_MODEL and not Path(path).expanduser().exists():
            raise RequestError(option, f"{path}: no such folder")
