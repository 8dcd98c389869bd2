"""A split decision's parts take a few documents' summary rows from the memory-mapped summary files: the
same rows as filtering a scan of every summary, whatever the shards hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipeline import storage
from pipeline.batch import ID, ORDER
from pipeline.summaries import summary_rows
from pipeline.writers import write_frame


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """Three summaries as the runner writes them (Arrow IPC): gaps in the orders (documents an earlier
    stage removed), an empty shard, strings, lists and a vector column."""
    rng = np.random.default_rng(7)
    written = []
    for number, orders in enumerate([np.arange(0, 500), np.arange(0, 0), np.arange(500, 1000, 3)]):
        summary = pl.DataFrame(
            {
                ORDER: pl.Series(orders, dtype=pl.Int64),
                ID: [f"doc-{order}" for order in orders],
                "shingles": [rng.integers(0, 2**63, int(n)).tolist() for n in orders % 5],
                "vector": pl.Series(
                    rng.random((len(orders), 4), dtype=np.float32), dtype=pl.Array(pl.Float32, 4)
                ),
            },
            schema_overrides={"shingles": pl.List(pl.UInt64)},
        )
        written.append(write_frame(summary, tmp_path / f"part-{number:05d}.arrow", "arrow"))
    return written


@pytest.mark.parametrize(
    "orders",
    [
        [3, 499, 500, 503, 998, 997],  # both files, and orders in no file (997: a removed document)
        [2_000, -1],  # none there
        [],
        list(range(1000)),
    ],
)
def test_rows_are_those_of_a_filtered_scan(files: list[Path], orders: list[int]) -> None:
    columns = [ID, "shingles", "vector"]
    wanted = pl.Series(orders, dtype=pl.Int64)
    summaries = storage.scan_ipc(files)
    taken = summary_rows(summaries, wanted, columns, files)
    scanned = summaries.filter(pl.col(ORDER).is_in(wanted.implode())).select(ORDER, *columns).collect()
    assert taken.equals(scanned)
    assert taken.columns == [ORDER, *columns]
    assert summary_rows(summaries, wanted, columns).equals(scanned)  # without files: the scan, filtered


def test_repeated_and_null_orders_give_each_row_once(files: list[Path]) -> None:
    orders = pl.Series([5, 5, None, 503, 5])
    for given in (files, ()):
        taken = summary_rows(storage.scan_ipc(files), orders, ["shingles"], given)
        assert taken[ORDER].to_list() == [5, 503]
