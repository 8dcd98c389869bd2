"""Ids (given, generated, explicit field, ints) and column renames, across formats."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline.readers import ReadOptions, output_renames
from tests.pipeline.readers.readers_util import collect, write_lines


def test_given_and_generated_ids(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "d.jsonl",
        [{"id": "doc-a", "text": "a"}, {"text": "b"}, {"id": None, "text": "c"}, {"id": 7, "text": "d"}],
    )
    docs, _, _, _ = collect(path)
    assert docs["id"].to_list() == ["doc-a", "d.jsonl:2", "d.jsonl:3", "7"]
    assert docs.columns == ["id", "text", "__source", "__line"]


def test_int_ids_become_decimal_strings(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.jsonl", [{"id": 12345678901, "text": "a"}, {"id": 2, "text": "b"}])
    docs, _, _, _ = collect(path)
    assert docs.schema["id"] == pl.String
    assert docs["id"].to_list() == ["12345678901", "2"]


def test_mixed_id_types_in_one_chunk(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.jsonl", [{"id": 1, "text": "a"}, {"id": "two", "text": "b"}])
    docs, quarantined, _, _ = collect(path)
    assert docs["id"].to_list() == ["1", "two"]
    assert quarantined.height == 0


def test_explicit_id_field_and_conflicting_columns(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "d.jsonl",
        [{"id": 1, "url": "http://a", "content": "alpha", "text": "shadow"}],
    )
    options = {"text_field": "content", "id_field": "url"}
    docs, _, _, _ = collect(path, **options)
    assert docs.columns == ["id", "text", "id__input", "text__input", "__source", "__line"]
    assert docs.select("id", "text", "id__input", "text__input").row(0) == ("http://a", "alpha", 1, "shadow")
    renames = output_renames(ReadOptions(**options), docs.columns)
    assert renames == {"text": "content", "id": "url", "text__input": "text", "id__input": "id"}
    restored = docs.drop("__source", "__line").rename(renames)
    assert restored.columns == ["url", "content", "id", "text"]


def test_output_renames_only_for_present_columns() -> None:
    assert output_renames(ReadOptions(), ["id", "text", "title"]) == {}
    assert output_renames(ReadOptions(text_field="body"), ["id", "text"]) == {"text": "body"}
    assert output_renames(ReadOptions(id_field="url"), ["text"]) == {}


def test_explicit_id_field_on_parquet_and_csv(tmp_path: Path) -> None:
    pl.DataFrame({"key": [3, None], "text": ["a", "b"]}).write_parquet(tmp_path / "d.parquet")
    (tmp_path / "d.csv").write_text("key,text\nk1,c\n")
    docs, quarantined, _, _ = collect([tmp_path / "d.parquet", tmp_path / "d.csv"], id_field="key")
    assert docs["id"].to_list() == ["3", "k1"]
    assert quarantined.select("source", "row", "field", "error").rows() == [
        ("d.parquet", 1, "key", "missing id field 'key'")
    ]
