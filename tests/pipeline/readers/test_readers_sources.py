"""Resolving inputs: formats by extension, folders, labels, missing and unsupported paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.readers import ReadOptions, resolve_sources
from tests.pipeline.readers.readers_util import collect, write_lines


def _touch(path: Path, content: str = '{"text": "x"}\n') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl", "jsonl"),
        ("a.json", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.jsonl.gz", "jsonl"),
        ("a.json.zst", "jsonl"),
        ("a.NDJSON.GZ", "jsonl"),
        ("a.parquet", "parquet"),
        ("a.csv", "csv"),
        ("a.tsv", "csv"),
        ("a.csv.gz", "csv"),
        ("a.tsv.gz", "csv"),
    ],
)
def test_format_by_extension(tmp_path: Path, name: str, fmt: str) -> None:
    (source,) = resolve_sources([_touch(tmp_path / name)], ReadOptions())
    assert (source.label, source.format, source.path) == (name, fmt, tmp_path / name)


def test_forced_format(tmp_path: Path) -> None:
    path = _touch(tmp_path / "data.txt")
    (source,) = resolve_sources([path], ReadOptions(format="jsonl"))
    assert source.format == "jsonl"
    docs, _, _, _ = collect(path, format="jsonl")
    assert docs["text"].to_list() == ["x"]


@pytest.mark.parametrize("mode", ["fail", "quarantine"])
def test_missing_path(tmp_path: Path, mode: str) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputError) as info:
        resolve_sources([missing], ReadOptions(on_error=mode))
    assert (info.value.source, info.value.message) == (str(missing), "no such file or directory")


def test_read_documents_fails_at_once_on_missing_path(tmp_path: Path) -> None:
    from pipeline.readers import read_documents

    with pytest.raises(InputError, match="no such file or directory"):
        read_documents([tmp_path / "nope.jsonl"])


def test_unsupported_extension(tmp_path: Path) -> None:
    path = _touch(tmp_path / "notes.txt")
    with pytest.raises(InputError) as info:
        resolve_sources([path], ReadOptions())
    assert info.value.source == str(path)
    assert all(ext in info.value.message for ext in (".jsonl", ".ndjson", ".zst", ".parquet", ".csv", ".tsv"))


def test_folder_without_supported_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _touch(tmp_path / "other" / "readme.txt")
    for folder in ("empty", "other"):
        with pytest.raises(InputError) as info:
            resolve_sources([tmp_path / folder], ReadOptions())
        assert info.value.source == str(tmp_path / folder)


def test_folder_shards_sorted_by_relative_path(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    for rel in ("b/2.jsonl", "b/10.jsonl", "a.csv", "c.parquet.tmp", ".hidden/x.jsonl", "a/z.jsonl.gz"):
        _touch(folder / rel)
    sources = resolve_sources([folder], ReadOptions())
    assert [s.label for s in sources] == [
        "corpus/a.csv",
        "corpus/a/z.jsonl.gz",
        "corpus/b/10.jsonl",
        "corpus/b/2.jsonl",
    ]
    assert [s.format for s in sources] == ["csv", "jsonl", "jsonl", "jsonl"]


def test_duplicate_file_names_get_relative_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x" / "one").mkdir(parents=True)
    (tmp_path / "y" / "two").mkdir(parents=True)
    first = write_lines(tmp_path / "x" / "one" / "data.jsonl", [{"text": "first"}])
    second = write_lines(tmp_path / "y" / "two" / "data.jsonl", [{"text": "second"}])
    other = _touch(tmp_path / "x" / "other.jsonl")
    labels = [s.label for s in resolve_sources([first, second, other], ReadOptions())]
    assert labels == ["x/one/data.jsonl", "y/two/data.jsonl", "other.jsonl"]
    monkeypatch.chdir(tmp_path / "y")
    relative = [Path(os.path.relpath(p)) for p in (first, second, other)]
    assert [s.label for s in resolve_sources(relative, ReadOptions())] == labels
    docs, _, _, _ = collect([first, second])
    assert docs["id"].to_list() == ["x/one/data.jsonl:1", "y/two/data.jsonl:1"]


def test_same_file_twice_still_unique(tmp_path: Path) -> None:
    path = _touch(tmp_path / "a.jsonl")
    assert [s.label for s in resolve_sources([path, path], ReadOptions())] == ["a.jsonl", "a.jsonl#2"]


def test_inputs_read_in_order(tmp_path: Path) -> None:
    b = write_lines(tmp_path / "b.jsonl", [{"text": "from b"}])
    a = write_lines(tmp_path / "a.jsonl", [{"text": "from a"}])
    docs, _, _, _ = collect([b, a])
    assert docs["text"].to_list() == ["from b", "from a"]
