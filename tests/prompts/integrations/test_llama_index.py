"""`WinnowNodePostprocessor` with real llama_index.core classes: a `VectorStoreIndex` (in-memory
SimpleVectorStore) over the packaged MiniLM, its retriever and a query engine, and the packaged SmolLM2
compressor (no mocks; the query engine's `MockLLM` is a placeholder that its context-only synthesizer never
calls)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers.context_only import ContextOnly
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode

from pipeline.embeddings import embed
from prompts.compress import Compressor
from prompts.integrations.llama_index import WinnowNodePostprocessor
from prompts.result import RequestError
from tests.prompts.integrations import ANSWER, BAD_OPTIONS, BUDGET, CORPUS, QUESTION, TOP_K


class MiniLMEmbedding(BaseEmbedding):
    """LlamaIndex embeddings over winnow's packaged all-MiniLM-L6-v2."""

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return embed([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return embed(texts).tolist()


def joined(nodes: Sequence[NodeWithScore]) -> str:
    """The nodes' texts as the compressor counts them: joined by a blank line."""
    return "\n\n".join(scored.node.get_content() for scored in nodes)


def topics(nodes: Sequence[NodeWithScore]) -> list[str]:
    return [scored.node.node_id for scored in nodes]


@pytest.fixture(scope="module")
def index() -> VectorStoreIndex:
    nodes = [TextNode(id_=topic, text=text, metadata={"topic": topic}) for topic, text in CORPUS.items()]
    return VectorStoreIndex(nodes, embed_model=MiniLMEmbedding())


@pytest.fixture(scope="module")
def retriever(index: VectorStoreIndex) -> BaseRetriever:
    return index.as_retriever(similarity_top_k=TOP_K)


@pytest.fixture(scope="module")
def retrieved(retriever: BaseRetriever) -> list[NodeWithScore]:
    nodes = retriever.retrieve(QUESTION)
    assert len(nodes) == TOP_K
    assert "lighthouse" in topics(nodes)
    return nodes


@pytest.fixture(scope="module")
def compressed(retrieved: list[NodeWithScore], compressor: Compressor) -> list[NodeWithScore]:
    postprocessor = WinnowNodePostprocessor(target_tokens=BUDGET, compressor=compressor)
    return postprocessor.postprocess_nodes(retrieved, query_str=QUESTION)


def test_a_query_engine_compresses_the_context_its_llm_reads_to_the_budget_and_keeps_the_answer(
    retriever: BaseRetriever, retrieved: list[NodeWithScore], compressor: Compressor
) -> None:
    postprocessor = WinnowNodePostprocessor(target_tokens=BUDGET, compressor=compressor)
    engine = RetrieverQueryEngine(
        retriever, response_synthesizer=ContextOnly(llm=MockLLM()), node_postprocessors=[postprocessor]
    )
    response = engine.query(QUESTION)
    context = str(response.response)  # exactly what an LLM would be given: node texts with their metadata
    assert ANSWER in context
    assert "topic: lighthouse" in context
    assert "winnow" not in context and "original_tokens" not in context
    sources = response.source_nodes
    assert sources and all("winnow" in scored.node.metadata for scored in sources)
    assert compressor.count(joined(sources)) <= BUDGET < compressor.count(joined(retrieved))


def test_each_node_keeps_its_score_and_metadata_and_carries_its_token_counts(
    compressed: list[NodeWithScore], retrieved: list[NodeWithScore], compressor: Compressor
) -> None:
    originals = {scored.node.node_id: scored for scored in retrieved}
    assert compressed
    for scored in compressed:
        original = originals[scored.node.node_id]
        assert scored.score == original.score
        assert scored.node.metadata["topic"] == original.node.metadata["topic"]
        assert scored.node.metadata["winnow"] == {
            "original_tokens": compressor.count(original.node.get_content()),
            "compressed_tokens": compressor.count(scored.node.get_content()),
        }
    assert compressor.count(joined(compressed)) <= BUDGET


def test_the_token_counts_stay_out_of_what_the_llm_and_the_embedder_read(
    compressed: list[NodeWithScore],
) -> None:
    for scored in compressed:
        for mode in (MetadataMode.LLM, MetadataMode.EMBED):
            content = scored.node.get_content(metadata_mode=mode)
            assert "topic: " in content
            assert "winnow" not in content and "original_tokens" not in content


def test_nodes_come_back_in_retrieval_order_and_the_callers_are_left_as_they_were(
    compressed: list[NodeWithScore], retrieved: list[NodeWithScore]
) -> None:
    order = topics(retrieved)
    assert topics(compressed) == sorted(topics(compressed), key=order.index)
    assert [scored.node.get_content() for scored in retrieved] == [CORPUS[topic] for topic in order]
    assert all("winnow" not in scored.node.metadata for scored in retrieved)
    assert all("winnow" not in scored.node.excluded_llm_metadata_keys for scored in retrieved)


def test_reorder_puts_the_node_most_relevant_to_the_query_first(
    retrieved: list[NodeWithScore], compressor: Compressor
) -> None:
    backwards = list(reversed(retrieved))
    as_given = WinnowNodePostprocessor(target_tokens=BUDGET, compressor=compressor).postprocess_nodes(
        backwards, query_str=QUESTION
    )
    postprocessor = WinnowNodePostprocessor(target_tokens=BUDGET, reorder=True, compressor=compressor)
    nodes = postprocessor.postprocess_nodes(backwards, query_str=QUESTION)
    assert len(nodes) > 1
    assert topics(as_given)[-1] == topics(nodes)[0] == "lighthouse"
    assert ANSWER in nodes[0].node.get_content()
    assert compressor.count(joined(nodes)) <= BUDGET


def test_nodes_left_empty_are_dropped_unless_asked_to_keep_them(
    retrieved: list[NodeWithScore], compressor: Compressor
) -> None:
    tight = 25
    dropped = WinnowNodePostprocessor(target_tokens=tight, compressor=compressor).postprocess_nodes(
        retrieved, query_str=QUESTION
    )
    kept = WinnowNodePostprocessor(
        target_tokens=tight, drop_empty=False, compressor=compressor
    ).postprocess_nodes(retrieved, query_str=QUESTION)
    assert 0 < len(dropped) < len(retrieved)
    assert all(scored.node.get_content().strip() for scored in dropped)
    assert topics(kept) == topics(retrieved)
    empty = [scored for scored in kept if not scored.node.get_content()]
    assert len(empty) == len(retrieved) - len(dropped)
    assert all(scored.node.metadata["winnow"]["compressed_tokens"] == 0 for scored in empty)
    assert compressor.count(joined(dropped)) <= tight


def test_a_rate_keeps_that_share_of_the_retrieved_tokens(
    retrieved: list[NodeWithScore], compressor: Compressor
) -> None:
    nodes = WinnowNodePostprocessor(rate=0.5, compressor=compressor).postprocess_nodes(
        retrieved, query_str=QUESTION
    )
    assert compressor.count(joined(nodes)) <= math.floor(0.5 * compressor.count(joined(retrieved)))
    assert ANSWER in joined(nodes)


def test_no_query_compresses_without_a_question_in_input_order(
    retrieved: list[NodeWithScore], compressor: Compressor
) -> None:
    postprocessor = WinnowNodePostprocessor(target_tokens=BUDGET, reorder=True, compressor=compressor)
    nodes = postprocessor.postprocess_nodes(retrieved)
    assert nodes
    assert topics(nodes) == sorted(topics(nodes), key=topics(retrieved).index)
    assert compressor.count(joined(nodes)) <= BUDGET


def test_the_async_method_gives_what_the_sync_one_does(
    retrieved: list[NodeWithScore], compressed: list[NodeWithScore], compressor: Compressor
) -> None:
    postprocessor = WinnowNodePostprocessor(target_tokens=BUDGET, compressor=compressor)
    nodes = asyncio.run(postprocessor.apostprocess_nodes(retrieved, query_str=QUESTION))
    assert [(scored.node.get_content(), scored.score) for scored in nodes] == [
        (scored.node.get_content(), scored.score) for scored in compressed
    ]


def test_no_nodes_or_only_blank_ones_give_nothing(compressor: Compressor) -> None:
    postprocessor = WinnowNodePostprocessor(target_tokens=BUDGET, compressor=compressor)
    assert postprocessor.postprocess_nodes([], query_str=QUESTION) == []
    blank = [NodeWithScore(node=TextNode(text=" "), score=1.0)]
    assert postprocessor.postprocess_nodes(blank, query_str=QUESTION) == []


def test_it_serialises_its_options_without_the_compressor() -> None:
    postprocessor = WinnowNodePostprocessor(rate=0.4, reorder=True)
    assert WinnowNodePostprocessor.class_name() == "WinnowNodePostprocessor"
    data = postprocessor.to_dict()
    assert data["class_name"] == "WinnowNodePostprocessor"
    assert (data["rate"], data["target_tokens"], data["reorder"]) == (0.4, None, True)
    assert "compressor" not in data


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_options_fail_when_the_postprocessor_is_made(options: dict[str, object], message: str) -> None:
    with pytest.raises(RequestError, match=message):
        WinnowNodePostprocessor(**options)
