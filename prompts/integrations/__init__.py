"""Retrieval-framework adapters that compress retrieved documents to a budget, the query as the question.

`prompts.integrations.langchain.WinnowCompressor` (a LangChain `BaseDocumentCompressor`, extra `langchain`)
and `prompts.integrations.llama_index.WinnowNodePostprocessor` (a LlamaIndex node postprocessor, extra
`llamaindex`). Each adapter module needs its framework installed; this package holds what they share:
`WinnowOptions`, the options as pydantic fields checked when an adapter is made, and `compress_texts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prompts.compress import Compressor, default_compressor
from prompts.request import CompressionRequest

__all__ = ["METADATA_KEY", "CompressedText", "WinnowOptions", "compress_texts"]

#: the metadata key under which each returned document carries its token counts
METADATA_KEY = "winnow"
#: the options that are `CompressionRequest`'s own
REQUEST_OPTIONS = ("rate", "target_tokens", "keep", "keep_numbers", "keep_newlines", "reorder")


class WinnowOptions(BaseModel):
    """The compression options an adapter takes; a wrong one raises the library's `RequestError` when the
    adapter is made.

    Exactly one of `rate` (the share of the retrieved documents' tokens to keep, in (0, 1]) and
    `target_tokens` (a budget for all of them together); `keep`, `keep_numbers`, `keep_newlines`: as in
    `CompressionRequest`; `reorder`: return the documents most relevant to the query first (else in the
    order they came); `drop_empty`: leave out documents of which nothing was kept; `compressor`: the
    `Compressor` to use (default: the process's `default_compressor()`, packaged models).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    rate: float | None = None
    target_tokens: int | None = None
    keep: str | list[str] = Field(default_factory=list)
    keep_numbers: bool = True
    keep_newlines: bool = False
    reorder: bool = False
    drop_empty: bool = True
    compressor: Compressor = Field(default_factory=default_compressor, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _check_options(cls, data: Any) -> Any:
        """The options as given (before pydantic converts them) make a valid request, or `RequestError`."""
        if isinstance(data, dict):
            given = {name: data[name] for name in REQUEST_OPTIONS if name in data}
            CompressionRequest(["a document"], **given)
        return data

    def request_options(self) -> dict[str, Any]:
        """The keyword arguments of `CompressionRequest` these options stand for."""
        return {name: getattr(self, name) for name in REQUEST_OPTIONS}

    def compress_texts(self, texts: Sequence[str], query: str | None) -> list[CompressedText]:
        """`compress_texts` with these options."""
        return compress_texts(
            self.compressor, texts, query, self.request_options(), drop_empty=self.drop_empty
        )


@dataclass(frozen=True)
class CompressedText:
    """One input text after compression: `index` in the input, its compressed `text`, and its tokens before
    and after (`Compressor.count`)."""

    index: int
    text: str
    original_tokens: int
    compressed_tokens: int

    def counts(self) -> dict[str, int]:
        """The token counts as metadata."""
        return {"original_tokens": self.original_tokens, "compressed_tokens": self.compressed_tokens}


def compress_texts(
    compressor: Compressor,
    texts: Sequence[str],
    query: str | None,
    options: dict[str, Any],
    *,
    drop_empty: bool = True,
) -> list[CompressedText]:
    """Compress `texts` together as one list of documents, `query` the question (blank: none), to the budget
    in `options` (those of `CompressionRequest`). With `reorder`, the most relevant first, else input order;
    with `drop_empty`, texts of which nothing was kept are left out. Texts that are all blank come back as
    they are. The returned texts joined by a blank line fit the budget."""
    if not any(text.strip() for text in texts):
        compressed = list(texts)
        ranking: list[int] = []
    else:
        result = compressor.compress(list(texts), question=query, **options)
        assert result.documents is not None  # a list of documents gives one text per document
        compressed = result.documents
        ranking = result.chunk_ranking if options.get("reorder") else []
    ranked = list(dict.fromkeys([*ranking, *range(len(texts))]))
    return [
        CompressedText(
            index, compressed[index], compressor.count(texts[index]), compressor.count(compressed[index])
        )
        for index in ranked
        if compressed[index].strip() or not drop_empty
    ]
