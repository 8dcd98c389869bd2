"""Writers for document frames: Parquet (default, zstd) and JSON Lines, one file per shard; the run's own
working files can also be Arrow IPC (uncompressed, so that readers memory-map them)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Literal

import polars as pl

OutputFormat = Literal["parquet", "jsonl"]
FrameFormat = Literal["parquet", "jsonl", "arrow"]

SUFFIX: dict[str, str] = {"parquet": ".parquet", "jsonl": ".jsonl", "arrow": ".arrow"}


def write_frame(frame: pl.DataFrame, path: Path, fmt: FrameFormat = "parquet") -> Path:
    """Write `frame` atomically (temporary file, then rename) so a crash never leaves half a shard."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique: a task left over from a killed run (a remote Dask worker) may still be writing the same shard
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    if fmt == "parquet":
        frame.write_parquet(tmp, compression="zstd", statistics=True)
    elif fmt == "jsonl":
        frame.write_ndjson(tmp)
    elif fmt == "arrow":
        frame.write_ipc(tmp, compression="uncompressed")
    else:
        raise ValueError(f"unknown output format {fmt!r} (parquet or jsonl)")
    os.replace(tmp, path)
    return path


def shard_path(folder: Path, shard: str, fmt: FrameFormat = "parquet") -> Path:
    """The file of one shard in `folder`."""
    return folder / f"part-{shard}{SUFFIX[fmt]}"


def read_frame(path: Path) -> pl.DataFrame:
    """Read a shard written by `write_frame`."""
    if path.suffix == ".jsonl":
        return pl.read_ndjson(path)
    if path.suffix == ".arrow":
        return pl.read_ipc(path)
    return pl.read_parquet(path)


def count_rows(folder: Path) -> int:
    """Rows in every shard of `folder` (Parquet from metadata, JSONL by lines)."""
    total = 0
    if not folder.is_dir():
        return 0
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix == ".parquet":
            total += pl.scan_parquet(path).select(pl.len()).collect().item()
        elif path.suffix == ".jsonl":
            with path.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
    return total
