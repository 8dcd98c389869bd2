"""The persistent dedup index: each run's staged update is its own, appended at commit, committed once."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from filters.dedup import index as index_module
from filters.dedup.index import DedupIndex
from filters.dedup.minhash import MinHashConfig, MinHashDedup
from pipeline.readers import ReadOptions
from pipeline.runner import RunOptions, run
from pipeline.stage import FunctionFilter, in_key_range, key_range, part_of_range

PARAMS = {"num_perm": 4}


def key_of(name: str) -> int:
    """A band key for document `name` (a uniform 64-bit hash, as MinHash's)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def staged(index: DedupIndex, ids: list[str], pending: Path, pieces: int = 1) -> None:
    """Stage documents `ids` (orders 0..) in `pieces` pieces, as a run stages one shard's at a time."""
    docs = pl.DataFrame(
        {"order": list(range(len(ids))), "id": ids, "shingles": [[i, i + 1] for i in range(len(ids))]},
        schema={"order": pl.Int64, "id": pl.String, "shingles": pl.List(pl.UInt64)},
    )
    keys = pl.DataFrame(
        {"order": list(range(len(ids))), "band": [0] * len(ids), "key": [key_of(i) for i in ids]},
        schema={"order": pl.Int64, "band": pl.Int16, "key": pl.UInt64},
    )
    size = -(-len(ids) // pieces)
    index.stage(
        [(docs.slice(start, size), keys.slice(start, size)) for start in range(0, len(ids), size)], pending
    )


def indexed(root: Path) -> dict[int, str]:
    """Row number -> id of every indexed document."""
    meta = json.loads((root / "index.json").read_text())
    index = DedupIndex(root, meta["params"], meta["check"])
    docs = index.docs(pl.Series(range(index.rows)))
    return dict(zip(docs["row"].to_list(), docs["id"].to_list(), strict=True))


def test_staged_updates_are_each_runs_own_and_append_in_commit_order(tmp_path: Path) -> None:
    root = tmp_path / "index"
    first, second = tmp_path / "run-a" / "update", tmp_path / "run-b" / "update"
    staged(DedupIndex(root, PARAMS, "check"), ["a0", "a1"], first)
    staged(DedupIndex(root, PARAMS, "check"), ["b0", "b1", "b2"], second)  # a's update stays
    assert DedupIndex(root, PARAMS, "check").commit(second) == 3
    assert DedupIndex(root, PARAMS, "check").commit(first) == 2  # staged before b's commit, appended after
    assert indexed(root) == {0: "b0", 1: "b1", 2: "b2", 3: "a0", 4: "a1"}
    bands = DedupIndex(root, PARAMS, "check").bands().collect().sort("row")
    assert bands["key"].to_list() == [key_of(i) for i in ("b0", "b1", "b2", "a0", "a1")]
    assert json.loads((root / "index.json").read_text())["rows"] == 5
    assert not first.exists() and not second.exists()
    assert DedupIndex(root, PARAMS, "check").commit(first) == 0  # nothing staged there any more


def test_an_update_staged_piece_by_piece_is_numbered_as_one(tmp_path: Path) -> None:
    root = tmp_path / "index"
    staged(DedupIndex(root, PARAMS, "check"), ["x0"], tmp_path / "first")
    DedupIndex(root, PARAMS, "check").commit(tmp_path / "first")
    ids = [f"a{i}" for i in range(7)]
    staged(DedupIndex(root, PARAMS, "check"), ids, tmp_path / "update", pieces=3)
    assert len(list((tmp_path / "update" / "docs").glob("part-*.parquet"))) == 3
    assert DedupIndex(root, PARAMS, "check").commit(tmp_path / "update") == 7
    assert indexed(root) == {0: "x0", **{i + 1: name for i, name in enumerate(ids)}}
    bands = DedupIndex(root, PARAMS, "check").bands().collect().sort("row")
    assert bands["key"].to_list() == [key_of("x0"), *(key_of(name) for name in ids)]
    assert len(list((root / "docs").glob("part-*.parquet"))) == 2  # one part per committed update


def test_a_commit_cut_short_is_finished_not_repeated(tmp_path: Path) -> None:
    root, pending = tmp_path / "index", tmp_path / "run" / "update"
    staged(DedupIndex(root, PARAMS, "check"), ["a0", "a1"], pending)
    saved = tmp_path / "saved"
    shutil.copytree(pending, saved)
    DedupIndex(root, PARAMS, "check").commit(pending)
    shutil.copytree(saved, pending)  # as if killed after writing the parts, before cleaning up
    (root / "index.json").write_text(json.dumps({**json.loads((root / "index.json").read_text()), "rows": 0}))
    assert DedupIndex(root, PARAMS, "check").commit(pending) == 0
    assert indexed(root) == {0: "a0", 1: "a1"}
    assert json.loads((root / "index.json").read_text())["rows"] == 2


FAIL = {"on": False}


def fail_when_asked(batch: pl.DataFrame) -> pl.Expr:
    if FAIL["on"]:
        raise RuntimeError("the machine went away")
    return pl.lit(None)


def test_a_run_resumed_after_another_committed_still_adds_its_documents(tmp_path: Path) -> None:
    """Run A is killed after its dedup decision (its update staged); run B, on other input, updates the
    index; A resumed then appends its kept documents after B's, none lost and no row number twice."""
    index = tmp_path / "index"
    inputs = {}
    for name, letter in (("a", "w"), ("b", "v")):
        texts = [" ".join(f"{letter}{k}-{i}" for i in range(30)) for k in (0, 1, 1, 2)]  # one duplicate
        inputs[name] = tmp_path / f"{name}.jsonl"
        inputs[name].write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    options = RunOptions(read=ReadOptions(batch_size=2))

    after = FunctionFilter("after_dedup", fail_when_asked)  # one object: its repr is in the run's identity

    def stages() -> list:
        return [MinHashDedup(MinHashConfig(index=index, update_index=True)), after]

    FAIL["on"] = True
    try:
        with pytest.raises(RuntimeError, match="went away"):
            run([inputs["a"]], tmp_path / "a", stages(), options)
    finally:
        FAIL["on"] = False
    staged_in_a = (tmp_path / "a" / "_work").glob("*-minhash_dedup-decide/state/index-update/key")
    assert list(staged_in_a)  # staged in A's own run folder
    b = run([inputs["b"]], tmp_path / "b", stages(), options)
    assert (b.stats.kept, json.loads((index / "index.json").read_text())["rows"]) == (3, 3)
    a = run([inputs["a"]], tmp_path / "a", stages(), options)
    assert a.stats.resume.attempt == 2 and a.stats.kept == 3
    rows = indexed(index)
    assert sorted(rows) == list(range(6))
    kept_ids = pl.read_parquet(tmp_path / "a" / "kept")["id"].to_list()
    kept_ids += pl.read_parquet(tmp_path / "b" / "kept")["id"].to_list()
    assert sorted(rows.values()) == sorted(kept_ids)


def test_band_keys_are_committed_sorted_so_a_part_reads_only_its_key_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "ROW_GROUP", 500)
    root = tmp_path / "index"
    ids = [f"d{i}" for i in range(20_000)]
    staged(DedupIndex(root, PARAMS, "check"), ids, tmp_path / "update", pieces=3)
    assert DedupIndex(root, PARAMS, "check").commit(tmp_path / "update") == 20_000
    [part] = DedupIndex(root, PARAMS, "check").band_parts()
    keys = pl.read_parquet(part)["key"]
    assert keys.is_sorted() and sorted(keys.to_list()) == sorted(key_of(i) for i in ids)
    meta = pq.read_metadata(part)
    groups = [meta.row_group(g).column(2).statistics for g in range(meta.num_row_groups)]
    assert meta.num_row_groups >= 40 and all(a.max <= b.min for a, b in itertools.pairwise(groups))
    parts = 7
    for number in range(parts):
        lo, hi = key_range(number, parts)
        touched = [g for g in groups if g.max >= lo and (hi is None or g.min < hi)]
        assert len(touched) <= len(groups) // parts + 3  # a seventh of the row groups, give or take
        mine = pl.scan_parquet(part).filter(in_key_range(pl.col("key"), number, parts)).collect()
        assert (mine.select(part_of_range(pl.col("key"), parts))["key"] == number).all()
    every = pl.concat(
        pl.scan_parquet(part).filter(in_key_range(pl.col("key"), n, parts)).collect() for n in range(parts)
    )
    assert every.height == 20_000  # every key in exactly one part


def test_key_ranges_cover_every_64_bit_key_once() -> None:
    keys = pl.DataFrame({"key": [0, 1, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1]}, schema={"key": pl.UInt64})
    for parts in (1, 2, 3, 7, 64):
        owner = keys.with_columns(part_of_range(pl.col("key"), parts).alias("part"))["part"]
        assert (owner.min(), owner.max()) == (0, parts - 1)
        assert owner.is_sorted()
        for number in range(parts):
            inside = keys.with_columns(in_key_range(pl.col("key"), number, parts).alias("in"))["in"]
            assert inside.to_list() == (owner == number).to_list()
