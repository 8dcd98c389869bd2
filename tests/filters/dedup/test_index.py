"""The persistent dedup index: each run's staged update is its own, appended at commit, committed once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from filters.dedup.index import DedupIndex
from filters.dedup.minhash import MinHashConfig, MinHashDedup
from pipeline.readers import ReadOptions
from pipeline.runner import RunOptions, run
from pipeline.stage import FunctionFilter

PARAMS = {"num_perm": 4}


def staged(index: DedupIndex, ids: list[str], pending: Path, pieces: int = 1) -> None:
    """Stage documents `ids` (orders 0..) in `pieces` pieces, as a run stages one shard's at a time."""
    docs = pl.DataFrame(
        {"order": list(range(len(ids))), "id": ids, "shingles": [[i, i + 1] for i in range(len(ids))]},
        schema={"order": pl.Int64, "id": pl.String, "shingles": pl.List(pl.UInt64)},
    )
    keys = pl.DataFrame(
        {"order": list(range(len(ids))), "band": [0] * len(ids), "key": [f"k-{i}" for i in ids]},
        schema={"order": pl.Int64, "band": pl.Int64, "key": pl.String},
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
    assert bands["key"].to_list() == ["k-b0", "k-b1", "k-b2", "k-a0", "k-a1"]
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
    assert bands["key"].to_list() == ["k-x0", *(f"k-{name}" for name in ids)]
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
