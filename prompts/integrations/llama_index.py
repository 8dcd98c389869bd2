"""LlamaIndex adapter (extra `llamaindex`): `WinnowNodePostprocessor`, a node postprocessor that compresses
the retrieved nodes' text together to a budget, the query as the question.

    engine = index.as_query_engine(node_postprocessors=[WinnowNodePostprocessor(target_tokens=300)])
"""

from __future__ import annotations

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from prompts.integrations import METADATA_KEY, WinnowOptions

__all__ = ["WinnowNodePostprocessor"]


class WinnowNodePostprocessor(BaseNodePostprocessor, WinnowOptions):
    """Compresses retrieved nodes with winnow (options: `prompts.integrations.WinnowOptions`).

    The nodes' texts are compressed as one list, so the budget is shared: the most relevant sentences of any
    node are kept first. Each returned node is a copy (the caller's nodes are left as they are) with the
    compressed text, the same score and metadata, and `metadata["winnow"] = {"original_tokens",
    "compressed_tokens"}`, a key left out of the text the LLM and the embedder see. Their texts joined by a
    blank line fit the budget.
    """

    @classmethod
    def class_name(cls) -> str:
        return "WinnowNodePostprocessor"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        """The nodes compressed for the query (none or blank: no question); [] for no nodes."""
        if not nodes:
            return []
        texts = [scored.node.get_content() for scored in nodes]
        query = query_bundle.query_str if query_bundle is not None else None
        compressed = []
        for kept in self.compress_texts(texts, query):
            node = nodes[kept.index].node.model_copy(deep=True)
            node.set_content(kept.text)
            node.metadata[METADATA_KEY] = kept.counts()
            for excluded in (node.excluded_llm_metadata_keys, node.excluded_embed_metadata_keys):
                if METADATA_KEY not in excluded:
                    excluded.append(METADATA_KEY)
            compressed.append(NodeWithScore(node=node, score=nodes[kept.index].score))
        return compressed
