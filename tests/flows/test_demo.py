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
    removed = pl.read_parquet(out / "run" / "removed")
    # every planted exact duplicate is removed, pointing at the document it copies
    planted = removed.filter(pl.col("kind") == "exact_duplicate")
    assert kept.filter(pl.col("kind") == "exact_duplicate").is_empty()
    assert (planted["duplicate_of"] == planted["duplicate_of__input"]).all()
    # no original is removed; other removals are junk that really repeats (e.g. "Loading...")
    assert removed.filter(pl.col("kind") == "original").is_empty()
    assert removed.filter(pl.col("kind") == "junk")["text"].is_in(kept["text"].implode()).all()
    assert pl.read_parquet(out / "run" / "quarantine").height == 4
    again = winnow("demo", "--out", out, "--docs", str(docs))
    assert again.exit_code == 0 and "run is complete" in again.output


def test_demo(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    check_demo(tmp_path / "demo", 400, winnow)


@pytest.mark.slow
def test_demo_at_100k_documents(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    check_demo(tmp_path / "demo", 100_000, winnow)
