"""`winnow demo`: the generated corpus through the clean flow, small and (slow suite) 100k documents."""

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import CliResult


def check_demo(out: Path, docs: int, winnow: Callable[..., CliResult]) -> None:
    result = winnow("demo", "--out", out, "--docs", str(docs))
    assert result.exit_code == 0, result.output
    for words in ("kept corpus:", "ledger:", "report:", "planted kind -> kept, or the stage"):
        assert words in result.output
    kept = pl.read_parquet(out / "run" / "kept")
    removed = pl.read_parquet(out / "run" / "removed")  # one schema across stages
    everything = pl.concat([kept, removed], how="diagonal_relaxed")
    # every planted exact duplicate is removed; exact dedup points at the document it copies
    assert kept.filter(pl.col("kind") == "exact_duplicate").is_empty()
    exact = removed.filter(pl.col("reason") == "exact_duplicate")
    assert set(exact["kind"]) == {"exact_duplicate"}
    assert (exact["duplicate_of"] == exact["duplicate_of__input"]).all()
    # planted near duplicates at Jaccard >= 0.8 are removed, each MinHash removal a verified near duplicate
    near = everything.filter((pl.col("kind") == "near_duplicate") & (pl.col("jaccard") >= 0.8))
    assert near["reason"].is_not_null().mean() >= 0.95
    assert (removed.filter(pl.col("reason") == "near_duplicate")["similarity"] >= 0.8).all()
    # every piece of junk is removed by the quality stages (or as a copy of other junk)
    junk = everything.filter(pl.col("kind") == "junk")
    assert junk["reason"].is_not_null().all()
    assert set(junk.filter(pl.col("stage").is_in(["exact_dedup", "minhash_dedup"]))["duplicate_of"]) <= set(
        junk["id"]
    )
    # originals: only Gopher's alphabetic-word share (punctuation and number tokens count as words, as in
    # datatrove) removes a few of the number-heavy ones; nothing else touches them
    originals = everything.filter(pl.col("kind") == "original")
    assert set(originals["reason"].drop_nulls()) <= {"gopher_below_alpha_threshold"}
    assert originals["reason"].is_not_null().mean() < 0.06
    assert pl.read_parquet(out / "run" / "quarantine").height == 4
    again = winnow("demo", "--out", out, "--docs", str(docs))
    assert again.exit_code == 0 and "run is complete" in again.output


def test_demo(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    check_demo(tmp_path / "demo", 400, winnow)


@pytest.mark.slow
def test_demo_at_100k_documents(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    check_demo(tmp_path / "demo", 100_000, winnow)
