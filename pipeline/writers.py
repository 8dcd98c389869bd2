"""Writers for document frames: Parquet (default, zstd) and JSON Lines, one file per shard, in a local
folder or at a URL (`pipeline.storage`); the run's own working files can also be Arrow IPC (uncompressed,
so that readers memory-map them)."""

from __future__ import annotations

import os
import uuid
from typing import IO, Literal

import polars as pl

from pipeline import storage
from pipeline.storage import AnyPath

OutputFormat = Literal["parquet", "jsonl"]
FrameFormat = Literal["parquet", "jsonl", "arrow"]

SUFFIX: dict[str, str] = {"parquet": ".parquet", "jsonl": ".jsonl", "arrow": ".arrow"}


def _write(frame: pl.DataFrame, target: str | IO[bytes], fmt: FrameFormat) -> None:
    if fmt == "parquet":
        frame.write_parquet(target, compression="zstd", statistics=True)
    elif fmt == "jsonl":
        frame.write_ndjson(target)
    elif fmt == "arrow":
        frame.write_ipc(target, compression="uncompressed")
    else:
        raise ValueError(f"unknown output format {fmt!r} (parquet or jsonl)")


def write_frame(frame: pl.DataFrame, path: AnyPath, fmt: FrameFormat | None = None) -> AnyPath:
    """Write `frame` atomically so a crash never leaves half a shard: a temporary file then a rename, or
    on object storage one upload (an object appears whole when its upload completes, or not at all).
    `fmt` defaults to the one `path`'s suffix names (Parquet for any other suffix)."""
    if fmt is None:
        fmt = next((name for name, suffix in SUFFIX.items() if path.suffix == suffix), "parquet")
    if fmt not in SUFFIX:
        raise ValueError(f"unknown output format {fmt!r} (parquet or jsonl)")
    if storage.is_remote(path):
        with path.open("wb") as handle:
            _write(frame, handle, fmt)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique: a task left over from a killed run (a remote Dask worker) may still be writing the same shard
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    _write(frame, str(tmp), fmt)
    os.replace(tmp, path)
    return path


def shard_path(folder: AnyPath, shard: str, fmt: FrameFormat = "parquet") -> AnyPath:
    """The file of one shard in `folder`."""
    return folder / f"part-{shard}{SUFFIX[fmt]}"


def read_frame(path: AnyPath) -> pl.DataFrame:
    """Read a shard written by `write_frame`."""
    if path.suffix == ".jsonl":
        return storage.read_ndjson(path)
    if path.suffix == ".arrow":
        return storage.read_ipc(path)
    return storage.read_parquet(path)


def frame_schema(path: AnyPath) -> dict[str, pl.DataType]:
    """The schema of a Parquet or Arrow IPC file written by `write_frame`, from its footer."""
    return dict(pl.read_ipc_schema(path)) if path.suffix == ".arrow" else storage.read_parquet_schema(path)


def count_rows(folder: AnyPath) -> int:
    """Rows in every shard of `folder` (Parquet from metadata, JSONL by lines)."""
    total = 0
    if not folder.is_dir():
        return 0
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix == ".parquet":
            total += storage.scan_parquet(path).select(pl.len()).collect().item()
        elif path.suffix == ".jsonl":
            with path.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
    return total
