"""Hugging Face datasets: Dataset and DatasetDict objects, save_to_disk folders, format="hf" on files."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from pathlib import Path

import datasets
import pytest

from pipeline.errors import InputError
from pipeline.readers import ReadOptions, resolve_sources
from tests.pipeline.readers.readers_util import collect, write_lines


def _dataset(texts: list[str | None]) -> datasets.Dataset:
    return datasets.Dataset.from_dict({"text": texts, "n": list(range(len(texts)))})


def test_dataset_object(tmp_path: Path) -> None:
    docs, quarantined, _, batches = collect(_dataset(["a", "b", "", "d", "e"]), batch_size=2)
    assert all(b.docs.height + b.quarantined.height <= 2 for b in batches)
    assert docs["id"].to_list() == ["dataset:0", "dataset:1", "dataset:3", "dataset:4"]
    assert docs["n"].to_list() == [0, 1, 3, 4]
    rows = quarantined.select("source", "line", "row", "error").rows()
    assert rows == [("dataset", None, 2, "text is empty")]
    assert quarantined["raw"][0] == '{"text":"","n":2}'
    with pytest.raises(InputError) as info:
        collect(_dataset(["a", None]), on_error="fail")
    assert (info.value.source, info.value.row, info.value.message) == ("dataset", 1, "text is null")


def test_dataset_dict_object() -> None:
    dd = datasets.DatasetDict({"train": _dataset(["t0", "t1"]), "test": _dataset(["s0"])})
    sources = resolve_sources([dd], ReadOptions())
    assert [s.label for s in sources] == ["dataset/train", "dataset/test"]
    docs, _, _, _ = collect(dd)
    assert docs["id"].to_list() == ["dataset/train:0", "dataset/train:1", "dataset/test:0"]


def test_save_to_disk_folders(tmp_path: Path) -> None:
    _dataset(["x", "y"]).save_to_disk(str(tmp_path / "single"))
    datasets.DatasetDict({"b": _dataset(["b0"]), "a": _dataset(["a0"])}).save_to_disk(str(tmp_path / "multi"))
    sources = resolve_sources([tmp_path / "single", tmp_path / "multi"], ReadOptions())
    assert [(s.label, s.format, s.split) for s in sources] == [
        ("single", "hf", None),
        ("multi/b", "hf", "b"),
        ("multi/a", "hf", "a"),
    ]
    docs, _, _, _ = collect([tmp_path / "single", tmp_path / "multi"])
    assert docs["id"].to_list() == ["single:0", "single:1", "multi/b:0", "multi/a:0"]


def test_empty_dataset(tmp_path: Path) -> None:
    _, _, warnings, _ = collect(_dataset([]))
    assert warnings == ["dataset: file is empty"]


def test_format_hf_on_jsonl_file(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.jsonl", [{"id": "a", "text": "one"}, {"id": "b", "text": "two"}])
    (source,) = resolve_sources([path], ReadOptions(format="hf"))
    assert (source.label, source.format) == ("d.jsonl", "hf")
    docs, quarantined, _, _ = collect(path, format="hf")
    assert docs.select("id", "text", "__line").rows() == [("a", "one", 0), ("b", "two", 1)]
    assert quarantined.height == 0


def test_dataset_without_text_column() -> None:
    ds = datasets.Dataset.from_dict({"body": ["a"]})
    _, quarantined, _, _ = collect(ds)
    assert quarantined.select("row", "error").rows() == [(0, "no column 'text' (columns: body)")]
