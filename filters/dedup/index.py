"""A persistent near-duplicate index on disk (Parquet), so later runs deduplicate against earlier ones.

Layout of an index folder:
- `index.json`: the parameters every run must share (permutations, bands, shingling, normalisation), a
  check value of the shingle hash (an index built by another hash implementation is refused) and counts;
- `bands/part-*.parquet`: `row`, `band`, `key` of every indexed document;
- `docs/part-*.parquet`: `row`, `id` and `shingles` (the 64-bit shingle set, for exact verification).

Updates are staged in `_pending/` by the stage's decision and promoted by `commit()` after the run
succeeded, so a failed run never adds documents to the index.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.errors import WinnowError
from pipeline.lock import LOCK_NAME

VERSION = 1


class IndexError_(WinnowError):
    """The index folder cannot be used with these parameters."""


class DedupIndex:
    """Open (or create on first update) the index in `root` for runs with `params`."""

    def __init__(self, root: Path, params: dict[str, Any], check: str) -> None:
        self.root = Path(root)
        self.params = params
        self.check = check
        meta = self.root / "index.json"
        if meta.is_file():
            stored = json.loads(meta.read_text())
            if stored.get("params") != params:
                diff = sorted(
                    k
                    for k in set(stored.get("params", {})) | set(params)
                    if stored.get("params", {}).get(k) != params.get(k)
                )
                raise IndexError_(f"{self.root}: index was built with other parameters ({', '.join(diff)})")
            if stored.get("check") != check:
                raise IndexError_(
                    f"{self.root}: index was built with another shingle hash implementation "
                    "(a different polars version?); rebuild it"
                )
            self.rows = int(stored["rows"])
        elif self.root.exists() and any(
            p for p in self.root.iterdir() if p.name not in ("_pending", LOCK_NAME)
        ):
            raise IndexError_(f"{self.root}: not a winnow dedup index (no index.json)")
        else:
            self.rows = 0

    def band_parts(self) -> list[Path]:
        return sorted((self.root / "bands").glob("part-*.parquet"))

    def bands(self) -> pl.LazyFrame | None:
        """`row`, `band`, `key` of every indexed document (None for an empty index)."""
        parts = self.band_parts()
        return pl.scan_parquet(parts) if parts else None

    def docs(self, rows: pl.Series) -> pl.DataFrame:
        """`row`, `id`, `shingles` of the given rows."""
        parts = sorted((self.root / "docs").glob("part-*.parquet"))
        return pl.scan_parquet(parts).filter(pl.col("row").is_in(rows.implode())).collect()

    def stage(self, docs: pl.DataFrame, keys: pl.DataFrame) -> None:
        """Stage new documents (`order`, `id`, `shingles`) and their band `keys` for the next commit."""
        pending = self.root / "_pending"
        shutil.rmtree(pending, ignore_errors=True)  # leftovers of a run that did not finish
        part = pending / uuid.uuid4().hex
        (part / "bands").mkdir(parents=True)
        (part / "docs").mkdir(parents=True)
        docs = docs.with_row_index("row", offset=self.rows).with_columns(pl.col("row").cast(pl.Int64))
        rows = docs.select("order", "row")
        docs.drop("order").write_parquet(part / "docs" / "part.parquet")
        keys.join(rows, on="order").select("row", "band", "key").write_parquet(
            part / "bands" / "part.parquet"
        )
        (part / "count").write_text(str(docs.height))

    def commit(self) -> int:
        """Promote staged documents into the index; returns how many were added."""
        pending = self.root / "_pending"
        added = 0
        for part in sorted(pending.glob("*")) if pending.is_dir() else []:
            count = int((part / "count").read_text())
            name = f"part-{self.rows:012d}.parquet"
            for table in ("bands", "docs"):
                (self.root / table).mkdir(parents=True, exist_ok=True)
                staged = part / table / "part.parquet"
                if staged.exists():  # a commit killed between the two renames moved this one already
                    staged.replace(self.root / table / name)
            self.rows += count
            added += count
        shutil.rmtree(pending, ignore_errors=True)
        meta = {"version": VERSION, "params": self.params, "check": self.check, "rows": self.rows}
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / ".index.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2))
        tmp.replace(self.root / "index.json")
        return added
