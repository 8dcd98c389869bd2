"""`compress_jsonl`: a JSON Lines file of prompts compressed in chunks in this process, written in input
order."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InputError
from prompts.batch import Entry, compress_jsonl, compress_records
from tests.flows.test_compress_cli import HARBOUR, PARAGRAPHS


def test_chunks_finishing_out_of_order_are_written_in_input_order(tmp_path: Path) -> None:
    records = [{"id": f"r{i}", "prompt": text} for i, text in enumerate([HARBOUR, *PARAGRAPHS])]
    records.append({"id": "short", "prompt": "Too short."})
    batch = tmp_path / "in.jsonl"
    batch.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    seen: list[int] = []

    def last_first(chunks: Sequence[list[Entry]]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        for index in reversed(range(len(chunks))):
            seen.append(len(chunks[index]))
            yield index, compress_records(chunks[index], None, None)

    out = tmp_path / "out.jsonl.gz"
    summary = compress_jsonl(batch, out, {"target_tokens": 20}, chunk_size=2, runner=last_first)
    assert seen == [1, 2, 2]
    with gzip.open(out, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    assert [row["id"] for row in rows] == [r["id"] for r in records]
    assert summary["records"] == 5 == summary["compressed"] and summary["failed"] == 0
    assert summary["compressed_tokens"] == sum(row["compressed_tokens"] for row in rows)
    assert all(row["compressed_tokens"] <= 20 for row in rows) and rows[-1]["text"] == "Too short."


def test_a_bad_chunk_size_or_line_writes_nothing(tmp_path: Path) -> None:
    batch = tmp_path / "in.jsonl"
    batch.write_text(json.dumps({"id": 1, "prompt": HARBOUR}) + "\n{broken\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    with pytest.raises(InputError, match="chunk_size must be at least 1"):
        compress_jsonl(batch, out, {"rate": 0.5}, chunk_size=0)
    with pytest.raises(InputError, match=r"in\.jsonl, line 2: invalid JSON"):
        compress_jsonl(batch, out, {"rate": 0.5})
    assert not out.exists()
