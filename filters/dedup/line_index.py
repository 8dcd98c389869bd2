"""A persistent index of segment counts (Parquet), so `line_dedup` counts lines across runs: a banner that
nightly crawls each bring a few copies of is cut once the copies of all runs exceed `min_documents`.

Layout of an index folder:
- `index.json`: the parameters every run must share (unit, normalisation, digits, min_chars) and a check
  value of the segment hash (an index built by another hash implementation is refused);
- `counts/run-*.parquet`: one file per committed run, `key` (a segment's 64-bit hash) and `documents`
  (how many documents of that run held it), sorted by `key` in row groups, so a decision part reads
  only the row groups of its key range. A segment's count is the sum over the files.

A run stages its counts in its own folder (each decision part writes the counts of its key range) and
`commit()` promotes them after the run succeeded, as one file named by the staged update's key: a
failed run adds nothing, and a commit killed half-way and repeated adds the run once. Every run adds its
documents' counts: re-running the same documents counts them again.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import polars as pl

from filters.dedup.index import check_folder, write_by_key
from pipeline import storage
from pipeline.stage import in_key_range
from pipeline.storage import AnyPath

#: the columns of a count file
COUNTS = {"key": pl.UInt64(), "documents": pl.UInt32()}
#: key ranges sorted one at a time when a staged update is committed
COMMIT_RANGES = 16


class LineIndex:
    """Open (or create on first commit) the segment-count index in `root` (a folder or a URL)."""

    def __init__(self, root: str | Path | AnyPath, params: dict[str, Any], check: str) -> None:
        self.root = storage.as_path(root)
        self.params = params
        self.check = check
        check_folder(self.root, params, check, "line index")

    def _files(self) -> list[AnyPath]:
        return sorted((self.root / "counts").glob("run-*.parquet"))

    def runs(self) -> int:
        """How many runs the index holds."""
        return len(self._files())

    def counts(self, part: int = 0, parts: int = 1) -> pl.LazyFrame:
        """`key`, `documents` (summed over the committed runs) of the keys in part `part` of `parts` by
        range; empty for an empty index."""
        files = self._files()
        if not files:
            return pl.LazyFrame(schema=COUNTS)
        mine = storage.scan_parquet(files).filter(in_key_range(pl.col("key"), part, parts))
        return mine.group_by("key").agg(pl.col("documents").sum().cast(pl.UInt32))

    def pending(self) -> AnyPath:
        """A new staging folder inside the index, for a library call that commits at once."""
        return self.root / "_pending" / uuid.uuid4().hex

    def stage(self, counts: pl.DataFrame, pending: AnyPath, part: int = 0, parts: int = 1) -> None:
        """Stage `counts` (`key`, `documents`: the keys of part `part` of `parts`) in the folder `pending`
        for `commit(pending)`, replacing what an earlier attempt of that part left there (and what an
        attempt split into another number of parts left)."""
        storage.make_dirs(pending)
        for stale in pending.glob("part-*.parquet"):
            if not stale.name.endswith(f"-of-{parts:06d}.parquet"):
                stale.unlink()
        target = pending / f"part-{part:06d}-of-{parts:06d}.parquet"
        write_by_key(counts.lazy(), target, ranges=1, schema=COUNTS, dictionary=())

    def commit(self, pending: AnyPath) -> int:
        """Add the counts staged in `pending` as one run; returns how many segments it holds (0 when
        nothing is staged there)."""
        pieces = sorted(pending.glob("part-*.parquet")) if pending.exists() else []
        if not pieces:
            storage.remove_tree(pending)
            return 0
        key_file = pending / "key"
        if not key_file.is_file():
            key_file.write_text(uuid.uuid4().hex)
        target = self.root / "counts" / f"run-{key_file.read_text().strip()}.parquet"
        storage.make_dirs(self.root)
        self._write_meta()  # before any part: a folder with parts always has its index.json
        frame = storage.scan_parquet(pieces)
        if not target.exists():  # a commit repeated after it wrote its file adds nothing twice
            write_by_key(frame, target, ranges=COMMIT_RANGES, schema=COUNTS, dictionary=())
        added = frame.select(pl.len()).collect().item()
        storage.remove_tree(pending)
        return added

    def _write_meta(self) -> None:
        meta = {"params": self.params, "check": self.check}
        storage.write_bytes(self.root / "index.json", json.dumps(meta, indent=2).encode())
