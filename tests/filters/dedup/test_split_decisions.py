"""Corpus decisions split into parts remove exactly what the one-task decision removes, for any split:
exact dedup (documents partitioned by text hash) and MinHash (band keys partitioned by key, each part
verified in a task of its own, the edges resolved together)."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import polars as pl
import pytest

from filters.dedup.exact import ExactDedup
from filters.dedup.minhash import MinHashConfig, MinHashDedup
from pipeline.readers import ReadOptions
from pipeline.runner import RunOptions, run
from pipeline.stage import Stage
from tests.conftest import shared_file

LEDGER = ("id", "stage", "reason", "duplicate_of", "cluster_id", "similarity")


def clean(corpus: Path, out: Path, parts: int, stages: list[Stage], batch_size: int) -> pl.DataFrame:
    """Every document's fate: its ledger row, or kept (null reason). The run's `_work/` stays."""
    read = ReadOptions(id_field="id", batch_size=batch_size)
    options = RunOptions(read=read, partitions=parts, keep_work=True)
    result = run([corpus], out, stages, options)
    assert result.stats.input == result.stats.kept + result.stats.removed
    kept = pl.read_parquet(out / "kept").select(
        pl.col("id").cast(pl.String), pl.lit(None, pl.String).alias("reason")
    )
    removed = [pl.read_parquet(part).select(LEDGER) for part in sorted((out / "removed").glob("*.parquet"))]
    return pl.concat([kept, *removed], how="diagonal_relaxed").sort("id")


@pytest.fixture(scope="module")
def reuters_one_task(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    out = tmp_path_factory.mktemp("reuters") / "one"
    return clean(shared_file("reuters21578.jsonl.gz"), out, 1, [ExactDedup(), MinHashDedup()], 2000)


@pytest.mark.shared_data
@pytest.mark.parametrize("parts", [7, 64])
def test_any_split_removes_what_one_task_removes_on_reuters(
    tmp_path: Path, reuters_one_task: pl.DataFrame, parts: int
) -> None:
    stages: list[Stage] = [ExactDedup(), MinHashDedup()]
    split = clean(shared_file("reuters21578.jsonl.gz"), tmp_path / "split", parts, stages, 2000)
    assert split.equals(reuters_one_task)
    reasons = split["reason"].value_counts()  # Reuters has exact and near copies: a real check
    assert dict(reasons.iter_rows()).get("exact_duplicate", 0) > 300
    assert dict(reasons.iter_rows()).get("near_duplicate", 0) > 100
    written = (tmp_path / "split").glob(f"_work/*-decide/parts-of-{parts}/part-*.parquet")
    assert len(list(written)) == 2 * parts  # both stages decided in parts
    steps = orjson.loads((tmp_path / "split" / "stats.json").read_bytes())["steps"]
    assert steps["exact_dedup: decide parts"]["tasks"] == parts
    assert steps["minhash_dedup: decide parts (round 1 of 2)"]["tasks"] == parts
    assert steps["minhash_dedup: decide parts (round 2 of 2)"]["tasks"] == parts
    # each shard's band keys were routed to every part when it was summarized (a shuffle, not a scan)
    work = tmp_path / "split" / "_work" / "01-minhash_dedup-decide"
    shards = len(list((work / "summaries").glob("part-*.arrow")))
    routed = work / f"parts-of-{parts}" / "round-0"
    assert sorted(len(list(folder.glob("part-*.parquet"))) for folder in routed.iterdir()) == [shards] * parts


def write(path: Path, texts: list[str], prefix: str) -> Path:
    path.write_text(
        "".join(orjson.dumps({"id": f"{prefix}{i}", "text": t}).decode() + "\n" for i, t in enumerate(texts))
    )
    return path


def test_a_split_decision_against_an_index_equals_one_task(tmp_path: Path) -> None:
    rng = random.Random(11)
    words = [f"w{i}" for i in range(4000)]
    first = [" ".join(rng.choice(words) for _ in range(60)) for _ in range(120)]

    def near(text: str) -> str:
        tokens = text.split()
        tokens[rng.randrange(len(tokens))] = "changed"
        return " ".join(tokens)

    fresh = [" ".join(rng.choice(words) for _ in range(60)) for _ in range(60)]
    second = [near(t) for t in first[:40]] + fresh + [near(t) for t in fresh[:30]]
    index = tmp_path / "index"
    building = [MinHashDedup(MinHashConfig(index=index, update_index=True))]
    built = clean(write(tmp_path / "first.jsonl", first, "a"), tmp_path / "first", 1, building, 25)
    assert built["reason"].null_count() == 120
    corpus = write(tmp_path / "second.jsonl", second, "b")
    fates = [
        clean(corpus, tmp_path / f"second-{parts}", parts, [MinHashDedup(MinHashConfig(index=index))], 40)
        for parts in (1, 7)
    ]
    assert fates[1].equals(fates[0])
    of_index = fates[0].filter(pl.col("duplicate_of").str.starts_with("a"))
    assert of_index.height == 40  # every near copy of the first corpus points at its index document
    assert fates[0].filter(pl.col("duplicate_of").str.starts_with("b")).height == 30
