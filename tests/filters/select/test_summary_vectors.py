"""The embeddings of summaries as one float32 array, in ORDER order, whatever the shards and chunks."""

import numpy as np
import polars as pl
import pytest

from filters.select import summary_vectors
from filters.select.summary_vectors import stacked_vectors, vector_column
from pipeline.batch import ORDER


def test_vectors_come_back_as_one_float32_array_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summary_vectors, "CHUNK", 3)  # several chunks, each spanning shards
    vectors = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    orders = np.array([40, 7, 12, 3, 99, 5, 60, 8, 1, 30])
    frame = pl.DataFrame({ORDER: orders, "vector": vector_column(vectors, "vector")})
    assert frame.schema["vector"] == pl.Array(pl.Float32, 4)
    shards = pl.concat([frame[:4].lazy(), frame[4:].lazy()])
    stacked = stacked_vectors(shards, pl.Series(np.sort(orders)), "vector")
    assert stacked.dtype == np.float32 and stacked.shape == (10, 4)
    np.testing.assert_array_equal(stacked, vectors[np.argsort(orders)])


def test_a_list_column_or_a_missing_document_is_refused() -> None:
    lists = pl.LazyFrame({ORDER: [1], "vector": [[0.5, 0.5]]})
    with pytest.raises(TypeError, match="Array"):
        stacked_vectors(lists, pl.Series([1]), "vector")
    arrays = pl.LazyFrame({ORDER: [1, 2], "vector": vector_column(np.ones((2, 2)), "vector")})
    with pytest.raises(ValueError, match="does not list"):
        stacked_vectors(arrays, pl.Series([1, 3]), "vector")
