"""LangChain adapter (extra `langchain`): `WinnowCompressor`, a `BaseDocumentCompressor` that compresses the
retrieved documents together to a budget, the query as the question.

    compressor = WinnowCompressor(target_tokens=300)
    documents = compressor.compress_documents(retriever.invoke(query), query)
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document

from prompts.integrations import METADATA_KEY, WinnowOptions

__all__ = ["WinnowCompressor"]


class WinnowCompressor(BaseDocumentCompressor, WinnowOptions):
    """Compresses retrieved documents with winnow (options: `prompts.integrations.WinnowOptions`).

    The documents are compressed as one list, so the budget is shared: the most relevant sentences of any
    document are kept first. Each returned document is a copy with the compressed `page_content`, its
    metadata and `metadata["winnow"] = {"original_tokens", "compressed_tokens"}`; their texts joined by a
    blank line fit the budget.
    """

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The documents compressed for `query` (blank: no question); [] for no documents."""
        if not documents:
            return []
        texts = [document.page_content for document in documents]
        return [
            documents[kept.index].model_copy(
                update={
                    "page_content": kept.text,
                    "metadata": {**documents[kept.index].metadata, METADATA_KEY: kept.counts()},
                }
            )
            for kept in self.compress_texts(texts, query)
        ]
