"""Helpers shared by the reader tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from pipeline.batch import empty_quarantine
from pipeline.readers import ReadBatch, ReadOptions, read_documents
from pipeline.readers.validate import empty_docs


def write_lines(path: Path, lines: Sequence[bytes | str | dict[str, Any]]) -> Path:
    """Write JSON Lines: dicts are encoded, str/bytes written as they are."""
    out = []
    for line in lines:
        if isinstance(line, dict):
            out.append(orjson.dumps(line))
        else:
            out.append(line.encode() if isinstance(line, str) else line)
    path.write_bytes(b"\n".join(out) + b"\n")
    return path


def collect(inputs: Any, **options: Any) -> tuple[pl.DataFrame, pl.DataFrame, list[str], list[ReadBatch]]:
    """Read everything: (all docs, all quarantine rows, all warnings, the batches)."""
    batches = list(read_documents(inputs if isinstance(inputs, list) else [inputs], ReadOptions(**options)))
    docs = [b.docs for b in batches if b.docs.height]
    quarantined = [b.quarantined for b in batches if b.quarantined.height]
    return (
        pl.concat(docs, how="diagonal_relaxed") if docs else empty_docs(),
        pl.concat(quarantined) if quarantined else empty_quarantine(),
        [w for b in batches for w in b.warnings],
        batches,
    )
