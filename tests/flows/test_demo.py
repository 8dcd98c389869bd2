"""`winnow demo`: the generated corpus through the clean flow, small and (slow suite) 100k documents."""

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import CliResult


def check_demo(out: Path, docs: int, winnow: Callable[..., CliResult]) -> None:
    result = winnow("demo", "--out", out, "--docs", str(docs))
    assert result.exit_code == 0, result.output
    for words in ("kept corpus:", "ledger:", "report:", "planted kind -> outcome"):
        assert words in result.output
    kept = pl.read_parquet(out / "run" / "kept")
    removed = pl.read_parquet(out / "run" / "removed")  # one schema across stages
    # every planted exact duplicate is removed by exact dedup, pointing at the document it copies
    planted = removed.filter(pl.col("kind") == "exact_duplicate")
    assert kept.filter(pl.col("kind") == "exact_duplicate").is_empty()
    assert set(planted["reason"]) == {"exact_duplicate"}
    assert (planted["duplicate_of"] == planted["duplicate_of__input"]).all()
    # planted near duplicates at Jaccard >= 0.8 are removed by MinHash, each a verified near duplicate
    near = pl.concat([kept, removed], how="diagonal_relaxed").filter(
        (pl.col("kind") == "near_duplicate") & (pl.col("jaccard") >= 0.8)
    )
    assert near["reason"].is_not_null().mean() >= 0.95
    assert (removed.filter(pl.col("reason") == "near_duplicate")["similarity"] >= 0.8).all()
    # no original is removed; junk is removed only as a copy of other junk
    assert removed.filter(pl.col("kind") == "original").is_empty()
    sources = removed.filter(pl.col("kind") == "junk").join(
        pl.concat([kept, removed], how="diagonal_relaxed").select(
            pl.col("id").alias("duplicate_of"), pl.col("kind").alias("source_kind")
        ),
        on="duplicate_of",
    )
    assert set(sources["source_kind"]) <= {"junk"}
    assert pl.read_parquet(out / "run" / "quarantine").height == 4
    again = winnow("demo", "--out", out, "--docs", str(docs))
    assert again.exit_code == 0 and "run is complete" in again.output


def test_demo(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    check_demo(tmp_path / "demo", 400, winnow)


@pytest.mark.slow
def test_demo_at_100k_documents(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    check_demo(tmp_path / "demo", 100_000, winnow)
