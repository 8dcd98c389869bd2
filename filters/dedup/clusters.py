"""Duplicate clusters from verified pairs: connected components (scipy), then who is kept in each.

Within a component, documents are visited best first (keep policy, then input order). A document is
removed when it is similar (a verified pair) to a document already kept, and points at the most similar
one; otherwise it is kept. So every `duplicate_of` is a verified near duplicate, never a chain away.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def resolve(edges: pl.DataFrame, rank: pl.DataFrame, pinned: pl.Series | None = None) -> pl.DataFrame:
    """Removals from verified `edges` (`a`, `b`, `similarity`).

    `rank` has `doc` and `rank` (lower is better) for every document in an edge but the `pinned` ones,
    which rank first and are kept whatever happens (e.g. documents of an earlier run's index).
    Returns `doc`, `duplicate_of` (a doc), `similarity` and `cluster` (the component's best-ranked doc)
    for removed documents.
    """
    empty = pl.DataFrame(
        schema={"doc": pl.Int64, "duplicate_of": pl.Int64, "similarity": pl.Float64, "cluster": pl.Int64}
    )
    if edges.is_empty():
        return empty
    from scipy.sparse import coo_matrix  # imported here: a run without near duplicates never pays for scipy
    from scipy.sparse.csgraph import connected_components

    nodes = pl.concat([edges["a"], edges["b"]]).unique().sort()
    position = pl.DataFrame({"doc": nodes, "i": np.arange(len(nodes))})
    indexed = edges.join(position.rename({"doc": "a", "i": "ia"}), on="a").join(
        position.rename({"doc": "b", "i": "ib"}), on="b"
    )
    n = len(nodes)
    graph = coo_matrix(
        (np.ones(indexed.height), (indexed["ia"].to_numpy(), indexed["ib"].to_numpy())), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    ranked = position.with_columns(pl.Series("component", labels)).join(rank, on="doc", how="left")
    if pinned is not None:
        ranked = ranked.with_columns(
            pl.when(pl.col("doc").is_in(pinned.implode()))
            .then(pl.lit(-1))
            .otherwise(pl.col("rank"))
            .alias("rank")
        )
    ranked = ranked.sort("component", "rank", "doc")
    cluster_of = ranked.group_by("component", maintain_order=True).agg(pl.col("doc").first().alias("cluster"))

    neighbours: dict[int, list[tuple[int, float]]] = {}
    for a, b, similarity in indexed.select("a", "b", "similarity").iter_rows():
        neighbours.setdefault(a, []).append((b, similarity))
        neighbours.setdefault(b, []).append((a, similarity))
    always = frozenset(pinned.to_list()) if pinned is not None else frozenset()
    kept: set[int] = set()
    removed_doc, removed_of, removed_sim = [], [], []
    for doc in ranked["doc"].to_list():  # components are contiguous and best first
        best: tuple[float, int] | None = None
        for other, similarity in neighbours.get(doc, ()):
            if other in kept and (best is None or similarity > best[0]):
                best = (similarity, other)
        if best is None or doc in always:
            kept.add(doc)
        else:
            removed_doc.append(doc)
            removed_of.append(best[1])
            removed_sim.append(best[0])
    if not removed_doc:
        return empty
    removed = pl.DataFrame(
        {"doc": removed_doc, "duplicate_of": removed_of, "similarity": removed_sim},
        schema={name: empty.schema[name] for name in ("doc", "duplicate_of", "similarity")},
    )
    return (
        removed.join(ranked.select("doc", "component"), on="doc")
        .join(cluster_of, on="component")
        .select(empty.columns)
    )
