"""`winnow clean` on the real corpora of ../shared/data (Reuters-21578, the C4 sample)."""

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from filters.dedup.normalize import normalize_expr
from tests.conftest import CliResult, shared_file

pytestmark = pytest.mark.shared_data


def check_run(out: Path) -> dict:
    stats = json.loads((out / "stats.json").read_text())
    assert stats["input"] == stats["kept"] + stats["removed"] + stats["quarantined"]
    assert pl.scan_parquet(out / "kept" / "*.parquet").select(pl.len()).collect().item() == stats["kept"]
    return stats


def test_reuters(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    source = shared_file("reuters21578.jsonl.gz")
    result = winnow("clean", source, "--out", tmp_path / "out", "--batch-size", "5000")
    assert result.exit_code == 0, result.output
    stats = check_run(tmp_path / "out")
    assert stats["input"] == 19043 and stats["quarantined"] == 0
    kept = pl.read_parquet(tmp_path / "out" / "kept")
    assert kept.columns == ["id", "text", "title", "date"]
    assert kept["id"].is_unique().all()
    removed = pl.read_parquet(tmp_path / "out" / "removed")
    assert stats["stages"][0]["reasons"] == {"exact_duplicate": 347}
    assert set(removed["reason"]) == {"exact_duplicate", "near_duplicate"}
    # near duplicates point at a kept document, with a verified similarity at or above the threshold
    near = removed.filter(pl.col("reason") == "near_duplicate")
    assert near["duplicate_of"].is_in(kept["id"].implode()).all()
    assert (near["similarity"] >= 0.8).all()
    # every exact duplicate has the same normalised text as the document it points at
    exact = removed.filter(pl.col("reason") == "exact_duplicate")
    everyone = pl.concat([kept.select("id", "text"), near.select("id", "text")])
    norm = normalize_expr(pl.col("text"))
    pairs = exact.select("duplicate_of", norm.alias("mine")).join(
        everyone.select(pl.col("id").alias("duplicate_of"), norm.alias("theirs")),
        on="duplicate_of",
        how="left",
    )
    assert pairs["theirs"].null_count() == 0
    assert (pairs["mine"] == pairs["theirs"]).all()
    # and no two kept documents share a normalised text
    assert kept.select(norm).to_series().is_unique().all()


def test_c4_sample(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    source = shared_file("c4_sample1k.jsonl.gz")
    result = winnow("clean", source, "--out", tmp_path / "out", "--output-format", "jsonl")
    assert result.exit_code == 0, result.output
    stats = check_run_jsonl(tmp_path / "out")
    assert stats["input"] == 1000
    kept = pl.read_ndjson(list((tmp_path / "out" / "kept").glob("*.jsonl")))
    assert set(kept.columns) == {"id", "url", "text"}


def check_run_jsonl(out: Path) -> dict:
    stats = json.loads((out / "stats.json").read_text())
    lines = sum(1 for f in (out / "kept").glob("*.jsonl") for _ in f.open())
    assert lines == stats["kept"]
    assert stats["input"] == stats["kept"] + stats["removed"] + stats["quarantined"]
    return stats
