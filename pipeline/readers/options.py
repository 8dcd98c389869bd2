"""Reading options and the batch a reader yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

Format = Literal["auto", "jsonl", "parquet", "csv", "hf"]
OnError = Literal["fail", "quarantine"]


@dataclass(frozen=True)
class ReadOptions:
    """How to read a corpus: field names, batch limits, what to do with bad records."""

    text_field: str = "text"
    id_field: str | None = None
    batch_size: int = 20_000
    batch_bytes: int = 64 * 2**20
    on_error: OnError = "quarantine"
    format: Format = "auto"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.batch_bytes < 1:
            raise ValueError(f"batch_bytes must be at least 1, got {self.batch_bytes}")
        if self.on_error not in ("fail", "quarantine"):
            raise ValueError(f"on_error must be 'fail' or 'quarantine', got {self.on_error!r}")
        if self.format not in ("auto", "jsonl", "parquet", "csv", "hf"):
            raise ValueError(f"unknown format {self.format!r}")


@dataclass
class ReadBatch:
    """Documents read from one source, the records quarantined on the way, and file-level warnings."""

    docs: pl.DataFrame
    quarantined: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
