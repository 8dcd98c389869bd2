"""Parquet and CSV/TSV: rows, numbering, missing or non-string text column, corrupt files."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import polars as pl
import pytest

from pipeline.errors import InputError
from tests.pipeline.readers.readers_util import collect


def _parquet(path: Path, frame: pl.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, row_group_size=4)
    return path


def test_parquet_rows_and_numbering(tmp_path: Path) -> None:
    frame = pl.DataFrame({"id": [10, 11, 12], "text": ["a", "b", "c"], "lang": ["en", "fr", None]})
    docs, quarantined, _, _ = collect(_parquet(tmp_path / "d.parquet", frame))
    assert docs.columns == ["id", "text", "lang", "__source", "__line"]
    assert docs["id"].to_list() == ["10", "11", "12"]
    assert docs["__line"].to_list() == [0, 1, 2]
    assert docs["__source"].to_list() == ["d.parquet"] * 3
    assert quarantined.height == 0


def test_parquet_batches_and_bad_rows(tmp_path: Path) -> None:
    texts = [f"t{i}" for i in range(10)]
    texts[3], texts[7] = "", None
    path = _parquet(tmp_path / "d.parquet", pl.DataFrame({"text": texts, "n": list(range(10))}))
    docs, quarantined, _, batches = collect(path, batch_size=4)
    assert max(b.docs.height + b.quarantined.height for b in batches) <= 4
    assert docs["id"].to_list() == [f"d.parquet:{i}" for i in range(10) if i not in (3, 7)]
    assert quarantined.select("line", "row", "field", "error").rows() == [
        (None, 3, "text", "text is empty"),
        (None, 7, "text", "text is null"),
    ]
    assert orjson.loads(quarantined["raw"][1]) == {"text": None, "n": 7}
    with pytest.raises(InputError) as info:
        collect(path, on_error="fail")
    exc = info.value
    assert (exc.source, exc.line, exc.row, exc.field) == ("d.parquet", None, 3, "text")
    assert exc.message == "text is empty"


def test_parquet_folder_of_shards(tmp_path: Path) -> None:
    folder = tmp_path / "shards"
    _parquet(folder / "b" / "part-0.parquet", pl.DataFrame({"text": ["b0"]}))
    _parquet(folder / "a-1.parquet", pl.DataFrame({"text": ["a1"]}))
    _parquet(folder / "a-0.parquet", pl.DataFrame({"text": ["a0", "a0 again"]}))
    (folder / "_SUCCESS").write_text("")
    docs, _, _, _ = collect(folder)
    assert docs["text"].to_list() == ["a0", "a0 again", "a1", "b0"]
    assert docs["id"].to_list() == [
        "shards/a-0.parquet:0",
        "shards/a-0.parquet:1",
        "shards/a-1.parquet:0",
        "shards/b/part-0.parquet:0",
    ]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "no column 'text' (columns: a, b)"),
        (pl.DataFrame({"text": [1, 2], "b": ["x", "y"]}), "column 'text' has type Int64, expected string"),
    ],
)
def test_parquet_unusable_text_column(tmp_path: Path, frame: pl.DataFrame, message: str) -> None:
    path = _parquet(tmp_path / "t.parquet", frame)
    docs, quarantined, _, _ = collect(path)
    assert docs.height == 0
    assert quarantined["row"].to_list() == [0, 1]
    assert set(quarantined["error"]) == {message}
    assert set(quarantined["field"]) == {"text"}
    assert [orjson.loads(r) for r in quarantined["raw"]] == frame.to_dicts()
    with pytest.raises(InputError) as info:
        collect(path, on_error="fail")
    assert (info.value.source, info.value.field, info.value.message) == ("t.parquet", "text", message)


@pytest.mark.parametrize("mode", ["fail", "quarantine"])
def test_corrupt_parquet(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(InputError) as info:
        collect(path, on_error=mode)
    assert info.value.source == "broken.parquet"


def test_zero_byte_parquet_is_empty(tmp_path: Path) -> None:
    (tmp_path / "z.parquet").write_bytes(b"")
    _, _, warnings, _ = collect(tmp_path / "z.parquet")
    assert warnings == ["z.parquet: file is empty"]


def test_csv_every_column_is_a_string(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('id,text,score\n1,"hello, world",0.5\n2,"two\nlines",7\n3,,1\n')
    docs, quarantined, _, _ = collect(path)
    assert docs.columns == ["id", "text", "score", "__source", "__line"]
    assert docs.rows() == [("1", "hello, world", "0.5", "d.csv", 1), ("2", "two\nlines", "7", "d.csv", 2)]
    assert quarantined.select("line", "row", "field", "error").rows() == [(None, 3, "text", "text is empty")]
    assert orjson.loads(quarantined["raw"][0]) == {"id": "3", "text": "", "score": "1"}
    with pytest.raises(InputError) as info:
        collect(path, on_error="fail")
    assert (info.value.row, info.value.field, info.value.message) == (3, "text", "text is empty")


def test_tsv_and_gzip_csv(tmp_path: Path) -> None:
    (tmp_path / "d.tsv").write_text("text\tlabel\nfirst, with comma\t1\nsecond\t0\n")
    (tmp_path / "e.csv.gz").write_bytes(gzip.compress(b"text,label\nthird,1\n"))
    docs, _, _, _ = collect([tmp_path / "d.tsv", tmp_path / "e.csv.gz"])
    assert docs.select("text", "label", "__source").rows() == [
        ("first, with comma", "1", "d.tsv"),
        ("second", "0", "d.tsv"),
        ("third", "1", "e.csv.gz"),
    ]


def test_csv_batches_and_large_row(tmp_path: Path) -> None:
    big = "z" * 300_000
    rows = "".join(f"row {i}\n" for i in range(10))
    (tmp_path / "d.csv").write_text(f"text\n{rows}{big}\nlast\n")
    docs, _, _, batches = collect(tmp_path / "d.csv", batch_size=4, batch_bytes=1000)
    assert all(b.docs.height <= 4 for b in batches)
    assert docs["__line"].to_list() == list(range(1, 13))
    assert docs["text"][10] == big
    assert docs["text"][11] == "last"


def test_csv_without_text_column(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("title,body\na,b\n")
    _, quarantined, _, _ = collect(tmp_path / "d.csv")
    assert quarantined.select("row", "field", "error").rows() == [
        (1, "text", "no column 'text' (columns: title, body)")
    ]
    with pytest.raises(InputError, match=r"no column 'text' \(columns: title, body\)"):
        collect(tmp_path / "d.csv", on_error="fail")


def test_csv_header_only_is_empty(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id,text\n")
    _, _, warnings, _ = collect(tmp_path / "d.csv")
    assert warnings == ["d.csv: file is empty"]
    with pytest.raises(InputError, match="file is empty"):
        collect(tmp_path / "d.csv", on_error="fail")


@pytest.mark.parametrize("mode", ["fail", "quarantine"])
def test_corrupt_csv(tmp_path: Path, mode: str) -> None:
    (tmp_path / "d.csv").write_text("id,text\n1,a\n2,b,extra,fields\n")
    with pytest.raises(InputError) as info:
        collect(tmp_path / "d.csv", on_error=mode)
    assert info.value.source == "d.csv"
