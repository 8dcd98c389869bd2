"""`WinnowCompressor` with real langchain_core classes: an in-memory vector store over the packaged MiniLM,
its retriever, an LCEL chain that compresses the retrieved documents into a chat prompt, and the packaged
SmolLM2 compressor (no mocks, no LLM: the chain ends at the formatted prompt)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnableParallel, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from pipeline.embeddings import embed
from prompts.compress import Compressor
from prompts.integrations.langchain import WinnowCompressor
from prompts.result import RequestError
from tests.prompts.integrations import ANSWER, BAD_OPTIONS, BUDGET, CORPUS, QUESTION, TOP_K

SYSTEM = "Answer the question from this context only.\n\n"
PROMPT = ChatPromptTemplate.from_messages([("system", SYSTEM + "{context}"), ("human", "{question}")])


class MiniLMEmbeddings(Embeddings):
    """LangChain embeddings over winnow's packaged all-MiniLM-L6-v2."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return embed([text])[0].tolist()


def joined(documents: Sequence[Document]) -> str:
    """The documents' texts as the compressor counts them: joined by a blank line."""
    return "\n\n".join(document.page_content for document in documents)


def compressing_chain(retriever: BaseRetriever, winnow: WinnowCompressor) -> Runnable:
    """question -> chat prompt whose context is the retrieved documents, compressed for the question."""
    retrieve_and_compress = RunnableParallel(
        documents=retriever, query=RunnablePassthrough()
    ) | RunnableLambda(lambda found: winnow.compress_documents(found["documents"], found["query"]))
    return {
        "context": retrieve_and_compress | RunnableLambda(joined),
        "question": RunnablePassthrough(),
    } | PROMPT


@pytest.fixture(scope="module")
def retriever() -> BaseRetriever:
    store = InMemoryVectorStore(embedding=MiniLMEmbeddings())
    store.add_documents(
        [Document(page_content=text, metadata={"topic": topic}) for topic, text in CORPUS.items()],
        ids=list(CORPUS),
    )
    return store.as_retriever(search_kwargs={"k": TOP_K})


@pytest.fixture(scope="module")
def retrieved(retriever: BaseRetriever) -> list[Document]:
    documents = retriever.invoke(QUESTION)
    assert len(documents) == TOP_K
    assert "lighthouse" in [document.id for document in documents]
    return documents


@pytest.fixture(scope="module")
def compressed(retrieved: list[Document], compressor: Compressor) -> Sequence[Document]:
    return WinnowCompressor(target_tokens=BUDGET, compressor=compressor).compress_documents(
        retrieved, QUESTION
    )


def test_a_chain_compresses_the_retrieved_context_to_the_budget_and_keeps_the_answer(
    retriever: BaseRetriever, retrieved: list[Document], compressor: Compressor
) -> None:
    winnow = WinnowCompressor(target_tokens=BUDGET, compressor=compressor)
    messages = compressing_chain(retriever, winnow).invoke(QUESTION).to_messages()
    system, human = messages
    assert human.content == QUESTION
    assert isinstance(system.content, str) and system.content.startswith(SYSTEM)
    context = system.content.removeprefix(SYSTEM)
    assert ANSWER in context
    assert compressor.count(context) <= BUDGET < compressor.count(joined(retrieved))


def test_each_document_keeps_its_id_and_metadata_and_carries_its_token_counts(
    compressed: Sequence[Document], retrieved: list[Document], compressor: Compressor
) -> None:
    originals = {document.id: document for document in retrieved}
    assert compressed
    for document in compressed:
        original = originals[document.id]
        assert document.metadata["topic"] == original.metadata["topic"]
        assert document.metadata["winnow"] == {
            "original_tokens": compressor.count(original.page_content),
            "compressed_tokens": compressor.count(document.page_content),
        }
        assert (
            document.metadata["winnow"]["compressed_tokens"] <= document.metadata["winnow"]["original_tokens"]
        )
    assert compressor.count(joined(compressed)) <= BUDGET


def test_documents_come_back_in_retrieval_order_and_the_callers_are_left_as_they_were(
    compressed: Sequence[Document], retrieved: list[Document]
) -> None:
    order = [document.id for document in retrieved]
    ids = [document.id for document in compressed]
    assert ids == sorted(ids, key=order.index)
    assert [document.page_content for document in retrieved] == [
        CORPUS[topic] for topic in order
    ]  # not compressed in place
    assert all("winnow" not in document.metadata for document in retrieved)


def test_reorder_puts_the_document_most_relevant_to_the_query_first(
    retrieved: list[Document], compressor: Compressor
) -> None:
    backwards = list(reversed(retrieved))
    as_given = WinnowCompressor(target_tokens=BUDGET, compressor=compressor).compress_documents(
        backwards, QUESTION
    )
    winnow = WinnowCompressor(target_tokens=BUDGET, reorder=True, compressor=compressor)
    documents = winnow.compress_documents(backwards, QUESTION)
    assert len(documents) > 1
    assert as_given[-1].id == documents[0].id == "lighthouse"
    assert ANSWER in documents[0].page_content
    assert compressor.count(joined(documents)) <= BUDGET


def test_documents_left_empty_are_dropped_unless_asked_to_keep_them(
    retrieved: list[Document], compressor: Compressor
) -> None:
    tight = 25
    dropped = WinnowCompressor(target_tokens=tight, compressor=compressor).compress_documents(
        retrieved, QUESTION
    )
    kept = WinnowCompressor(target_tokens=tight, drop_empty=False, compressor=compressor).compress_documents(
        retrieved, QUESTION
    )
    assert 0 < len(dropped) < len(retrieved)
    assert all(document.page_content.strip() for document in dropped)
    assert [document.id for document in kept] == [document.id for document in retrieved]
    empty = [document for document in kept if not document.page_content]
    assert len(empty) == len(retrieved) - len(dropped)
    assert all(document.metadata["winnow"]["compressed_tokens"] == 0 for document in empty)
    assert [document for document in kept if document.page_content] == dropped
    assert compressor.count(joined(dropped)) <= tight


def test_a_rate_keeps_that_share_of_the_retrieved_tokens(
    retrieved: list[Document], compressor: Compressor
) -> None:
    documents = WinnowCompressor(rate=0.5, compressor=compressor).compress_documents(retrieved, QUESTION)
    assert compressor.count(joined(documents)) <= math.floor(0.5 * compressor.count(joined(retrieved)))
    assert ANSWER in joined(documents)


def test_a_blank_query_compresses_without_a_question_in_input_order(
    retrieved: list[Document], compressor: Compressor
) -> None:
    winnow = WinnowCompressor(target_tokens=BUDGET, reorder=True, compressor=compressor)
    documents = winnow.compress_documents(retrieved, "  ")
    order = [document.id for document in retrieved]
    assert documents
    assert [document.id for document in documents] == sorted(
        (document.id for document in documents), key=order.index
    )
    assert compressor.count(joined(documents)) <= BUDGET


def test_the_async_method_gives_what_the_sync_one_does(
    retrieved: list[Document], compressed: Sequence[Document], compressor: Compressor
) -> None:
    winnow = WinnowCompressor(target_tokens=BUDGET, compressor=compressor)
    assert asyncio.run(winnow.acompress_documents(retrieved, QUESTION)) == compressed


def test_no_documents_or_only_blank_ones_give_nothing(compressor: Compressor) -> None:
    winnow = WinnowCompressor(target_tokens=BUDGET, compressor=compressor)
    assert winnow.compress_documents([], QUESTION) == []
    assert winnow.compress_documents([Document(page_content=" ")], QUESTION) == []


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_options_fail_when_the_compressor_is_made(options: dict[str, object], message: str) -> None:
    with pytest.raises(RequestError, match=message):
        WinnowCompressor(**options)
