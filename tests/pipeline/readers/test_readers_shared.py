"""The shared evaluation corpora read completely and quickly."""

from __future__ import annotations

import time

import pytest

from pipeline.readers import ReadOptions, read_documents
from tests.conftest import shared_file


@pytest.mark.shared_data
def test_reuters_reads_fast() -> None:
    path = shared_file("reuters21578.jsonl.gz")
    start = time.perf_counter()
    batches = list(read_documents([path], ReadOptions(on_error="fail")))
    elapsed = time.perf_counter() - start
    assert sum(b.docs.height for b in batches) == 19_043
    assert batches[0].docs.columns == ["id", "text", "title", "date", "__source", "__line"]
    assert elapsed < 3.0


@pytest.mark.shared_data
def test_c4_sample_has_1000_docs() -> None:
    batches = list(read_documents([shared_file("c4_sample1k.jsonl.gz")], ReadOptions(on_error="fail")))
    assert sum(b.docs.height for b in batches) == 1_000
