"""The shared evaluation corpora read completely, with their own column types."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.readers import ReadOptions, read_documents
from tests.conftest import shared_file


@pytest.mark.shared_data
def test_reuters_reads_completely() -> None:
    path = shared_file("reuters21578.jsonl.gz")
    batches = list(read_documents([path], ReadOptions(on_error="fail")))
    assert sum(b.docs.height for b in batches) == 19_043
    assert all(b.quarantined.is_empty() for b in batches)
    docs = batches[0].docs
    assert docs.columns == ["id", "text", "title", "date", "__source", "__line"]
    assert docs.schema["date"] == pl.String  # date-like strings are not turned into timestamps


@pytest.mark.shared_data
def test_c4_sample_has_1000_docs() -> None:
    batches = list(read_documents([shared_file("c4_sample1k.jsonl.gz")], ReadOptions(on_error="fail")))
    assert sum(b.docs.height for b in batches) == 1_000
