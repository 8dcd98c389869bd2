"""A persistent near-duplicate index on disk (Parquet), so later runs deduplicate against earlier ones.

Layout of an index folder:
- `index.json`: the parameters every run must share (permutations, bands, shingling, normalisation), a
  check value of the shingle hash (an index built by another hash implementation is refused) and counts;
- `bands/part-*.parquet`: `row`, `band`, `key` of every indexed document, sorted by `key` in row groups of
  `ROW_GROUP` rows, so the part of a split decision that holds a range of keys (`part_of_range`) reads
  only the row groups of that range;
- `docs/part-*.parquet`: `row`, `id` and `shingles` (the 64-bit shingle set, for exact verification).

Updates are staged by the stage's decision in a folder of the run (`_work/` of its run folder; a
`_pending/` folder of the index for a library call) and promoted by `commit()` after the run succeeded,
so a failed run never adds documents to the index, and a run's staged update is its own: another run
neither deletes nor commits it. Row numbers are given at commit, after the rows already there, so a run
killed before its commit and resumed after other runs committed still appends. Parts are named by their
first row and the staged update's key: a commit killed half-way is finished, never repeated, by the next.

The folder may be an fsspec URL (`s3://bucket/dedup-index`, see `pipeline.storage`): every file is then
one upload (atomic), written under its final name.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from pipeline import storage
from pipeline.errors import WinnowError
from pipeline.lock import LOCK_NAME
from pipeline.stage import in_key_range
from pipeline.storage import AnyPath

VERSION = 1
#: rows per row group of a band file (its key statistics let a part skip the others)
ROW_GROUP = 65_536
#: key ranges sorted one at a time when a staged update is committed
COMMIT_RANGES = 16


class IndexError_(WinnowError):
    """The index folder cannot be used with these parameters."""


def check_folder(root: AnyPath, params: dict[str, Any], check: str, kind: str) -> None:
    """Refuse an index folder built with other parameters or another hash implementation, or a folder that
    holds something else (`kind` names the index in the message)."""
    meta = root / "index.json"
    if meta.is_file():
        written = json.loads(meta.read_text())
        stored = written.get("params", {})
        if stored != params:
            diff = sorted(k for k in set(stored) | set(params) if stored.get(k) != params.get(k))
            raise IndexError_(f"{root}: the {kind} was built with other parameters ({', '.join(diff)})")
        if written.get("check") != check:
            raise IndexError_(
                f"{root}: the {kind} was built with another hash implementation "
                "(a different polars version?); rebuild it"
            )
    elif root.exists() and any(p for p in root.iterdir() if p.name not in ("_pending", LOCK_NAME)):
        raise IndexError_(f"{root}: not a winnow {kind} (no index.json)")


class DedupIndex:
    """Open (or create on first update) the index in `root` (a folder or a URL) for runs with `params`."""

    def __init__(self, root: str | Path | AnyPath, params: dict[str, Any], check: str) -> None:
        self.root = storage.as_path(root)
        self.params = params
        self.check = check
        check_folder(self.root, params, check, "dedup index")
        self.rows = self._committed_rows()

    def _committed_rows(self) -> int:
        """Documents in the index, counted from its parts (their Parquet footers)."""
        return sum(_metadata(part).num_rows for part in self._parts("docs"))

    def _parts(self, table: str) -> list[AnyPath]:
        return sorted((self.root / table).glob("part-*.parquet"))

    def band_parts(self) -> list[AnyPath]:
        return self._parts("bands")

    def bands(self) -> pl.LazyFrame | None:
        """`row`, `band`, `key` of every indexed document (None for an empty index)."""
        parts = self.band_parts()
        return storage.scan_parquet(parts) if parts else None

    def docs(self, rows: pl.Series) -> pl.DataFrame:
        """`row`, `id`, `shingles` of the given rows."""
        return storage.scan_parquet(self._parts("docs")).filter(pl.col("row").is_in(rows.implode())).collect()

    def pending(self) -> AnyPath:
        """A new staging folder inside the index, for a library call that commits at once."""
        return self.root / "_pending" / uuid.uuid4().hex

    def stage(self, pieces: Iterable[tuple[pl.DataFrame, pl.DataFrame]], pending: AnyPath) -> None:
        """Stage new documents in the folder `pending` (replacing what an earlier attempt left there) for
        `commit(pending)`, piece by piece (one shard's kept documents at a time, so memory follows a
        piece): each piece's documents (`order`, `id`, `shingles`, ascending `order`) and band `keys`."""
        storage.remove_tree(pending)
        for table in ("docs", "bands"):
            storage.make_dirs(pending / table)
        staged = 0
        for number, (docs, keys) in enumerate(pieces):
            rows = docs.with_row_index("row", offset=staged).with_columns(pl.col("row").cast(pl.Int64))
            name = f"part-{number:06d}.parquet"  # rows counted from 0 here, renumbered at commit
            storage.write_parquet(rows.drop("order"), pending / "docs" / name)
            bands = keys.join(rows.select("order", "row"), on="order").select("row", "band", "key")
            write_by_key(bands.lazy(), pending / "bands" / name, ranges=1)
            staged += rows.height
        (pending / "key").write_text(uuid.uuid4().hex)

    def commit(self, pending: AnyPath) -> int:
        """Append the documents staged in `pending` after the rows already indexed; returns how many were
        added (0 when nothing is staged there, or when an earlier commit of it got as far as its parts)."""
        key_file = pending / "key"
        if not key_file.is_file():  # nothing staged, or committed and cleaned up
            return 0
        key = key_file.read_text().strip()
        self.rows = self._committed_rows()  # another process may have committed since this was opened
        storage.make_dirs(self.root)
        self._write_meta()  # before any part: a folder with parts always has its index.json
        added = 0
        if not list((self.root / "docs").glob(f"part-*-{key}.parquet")):  # docs are written last
            name = f"part-{self.rows:012d}-{key}.parquet"
            for table in ("bands", "docs"):
                pieces = sorted((pending / table).glob("part-*.parquet"))
                if not pieces:
                    continue
                frame = storage.scan_parquet(pieces).with_columns(pl.col("row") + self.rows)
                target = self.root / table / name
                if table == "bands":
                    write_by_key(frame, target, ranges=COMMIT_RANGES)
                    continue
                # the staged pieces streamed into one part (a remote one is assembled in memory)
                if storage.is_remote(target):
                    storage.write_parquet(frame.collect(engine="streaming"), target)  # one upload: atomic
                    continue
                storage.make_dirs(target.parent)
                tmp = self.root / table / f".{name}.tmp"
                frame.sink_parquet(tmp)
                tmp.replace(target)
            added = sum(_metadata(piece).num_rows for piece in (pending / "docs").glob("part-*.parquet"))
            self.rows += added
        self._write_meta()
        storage.remove_tree(pending)
        return added

    def _write_meta(self) -> None:
        meta = {"version": VERSION, "params": self.params, "check": self.check, "rows": self.rows}
        if storage.is_remote(self.root):
            storage.write_bytes(self.root / "index.json", json.dumps(meta, indent=2).encode())
            return
        tmp = self.root / ".index.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2))
        tmp.replace(self.root / "index.json")


#: the columns of a band file
BANDS = {"row": pl.Int64(), "band": pl.Int16(), "key": pl.UInt64()}


def write_by_key(
    frame: pl.LazyFrame,
    target: AnyPath,
    *,
    ranges: int,
    schema: dict[str, pl.DataType] = BANDS,
    dictionary: Sequence[str] = ("band",),
) -> None:
    """`frame` (with a uniform 64-bit `key`; by default band keys) sorted by `key` into the Parquet file
    `target`, in row groups of `ROW_GROUP` rows, so a decision part reads only the row groups of its key
    range. Sorted one key range at a time (memory: 1/`ranges` of the keys; each range read from the
    pieces' own sorted row groups); written aside and renamed, or one upload. Integer columns other than
    the `dictionary` ones are delta-encoded: sorted keys and their rows differ by less than their values."""
    remote = storage.is_remote(target)
    if not remote:
        storage.make_dirs(target.parent)
    tmp = target if remote else target.with_name(f".{target.name}.tmp")
    delta = {name: "DELTA_BINARY_PACKED" for name, dtype in schema.items() if name not in dictionary}
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(tmp.open("wb")) if remote else str(tmp)
        writer = stack.enter_context(
            pq.ParquetWriter(
                sink,
                pl.DataFrame(schema=schema).to_arrow().schema,
                compression="zstd",
                use_dictionary=list(dictionary),
                column_encoding=delta,
            )
        )
        for part in range(ranges):
            rows = frame.filter(in_key_range(pl.col("key"), part, ranges)).sort("key").collect()
            writer.write_table(rows.cast(schema).to_arrow(), row_group_size=ROW_GROUP)  # type: ignore[arg-type]
    if not remote:
        Path(tmp).replace(target)


def _metadata(part: AnyPath) -> pq.FileMetaData:
    """A Parquet file's footer (ranged reads of its end on object storage)."""
    if not storage.is_remote(part):
        return pq.read_metadata(part)
    with part.open("rb") as handle:
        return pq.read_metadata(handle)
