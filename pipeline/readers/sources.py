"""Turning user inputs (paths, datasets objects) into an ordered list of labelled sources."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import Any

from upath import UPath

from pipeline import storage
from pipeline.errors import InputError, WinnowError
from pipeline.readers.options import ReadOptions
from pipeline.storage import AnyPath

JSONL_EXTENSIONS = (".jsonl", ".json", ".ndjson")
JSONL_COMPRESSION = ("", ".gz", ".zst")
CSV_EXTENSIONS = (".csv", ".tsv")
CSV_COMPRESSION = ("", ".gz")
HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
SUPPORTED = ".jsonl, .json, .ndjson (optionally .gz or .zst), .parquet, .csv, .tsv (optionally .gz)"


@dataclass(frozen=True)
class Source:
    """One readable unit: a file, a split of a saved dataset, or an in-memory dataset."""

    label: str
    format: str
    path: AnyPath | None = None
    dataset: object | None = None
    split: str | None = None


@dataclass(frozen=True)
class _Entry:
    """A source before labels are made unique: the input it came from and its part inside it."""

    source: Source
    anchor: AnyPath | None = None
    part: str | None = None


def detect_format(path: AnyPath) -> str | None:
    """The format a file name implies ("jsonl", "parquet", "csv"), or None."""
    name = path.name.lower()
    if any(name.endswith(ext + comp) for ext in JSONL_EXTENSIONS for comp in JSONL_COMPRESSION):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if any(name.endswith(ext + comp) for ext in CSV_EXTENSIONS for comp in CSV_COMPRESSION):
        return "csv"
    return None


def _file_format(path: AnyPath, options: ReadOptions, *, given: str) -> str:
    """The format to read a file with, or an InputError for an unknown extension."""
    if options.format != "auto":
        return options.format
    fmt = detect_format(path)
    if fmt is None:
        raise InputError(f"unsupported file type (supported: {SUPPORTED})", source=given)
    return fmt


def _is_hidden(relative: PurePath) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _files_below(folder: AnyPath) -> list[tuple[AnyPath, PurePath]]:
    """Every file below `folder` and its path relative to it (one listing on object storage)."""
    if not storage.is_remote(folder):
        assert isinstance(folder, Path)
        return [(p, p.relative_to(folder)) for p in sorted(folder.rglob("*")) if p.is_file()]
    base = folder.path.rstrip("/")
    return [(folder / rel, PurePath(rel)) for rel in sorted(f[len(base) + 1 :] for f in folder.fs.find(base))]


def _folder_entries(folder: AnyPath, options: ReadOptions, given: str) -> list[_Entry]:
    """The sources of a folder: the splits of a saved dataset, or every supported shard below it."""
    if options.format in ("auto", "hf") and any((folder / m).is_file() for m in HF_MARKERS):
        if storage.is_remote(folder):
            raise InputError("a saved Hugging Face dataset is read from a local folder only", source=given)
        dict_file = folder / "dataset_dict.json"
        if dict_file.is_file():
            splits = json.loads(dict_file.read_text(encoding="utf-8")).get("splits", [])
            return [
                _Entry(Source(f"{folder.name}/{s}", "hf", path=folder, split=s), folder, s) for s in splits
            ]
        return [_Entry(Source(folder.name, "hf", path=folder), folder)]
    entries = []
    for file, relative in _files_below(folder):
        fmt = detect_format(file)
        if fmt is None or _is_hidden(relative):
            continue
        if options.format not in ("auto", "hf") and fmt != options.format:
            continue
        rel = relative.as_posix()
        fmt = "hf" if options.format == "hf" else fmt
        entries.append(_Entry(Source(f"{folder.name}/{rel}", fmt, path=file), folder, rel))
    if not entries:
        raise InputError(f"folder holds no supported file (supported: {SUPPORTED})", source=given)
    return sorted(entries, key=lambda e: e.part or "")


def _path_entries(raw: str | os.PathLike[str] | AnyPath, options: ReadOptions) -> list[_Entry]:
    try:
        path_or_url = storage.as_path(raw)
    except storage.UnusableLocation as error:  # a scheme fsspec does not know, or its package is missing
        raise InputError(f"cannot read: {error.reason}", source=error.url) from error
    if storage.is_remote(path_or_url):
        return _url_entries(path_or_url, options)
    given = str(raw)
    path = Path(os.path.abspath(Path(path_or_url).expanduser()))
    if not path.exists():
        raise InputError("no such file or directory", source=given)
    if path.is_dir():
        return _folder_entries(path, options, given)
    return [_Entry(Source(path.name, _file_format(path, options, given=given), path=path), path)]


def _url_entries(path: UPath, options: ReadOptions) -> list[_Entry]:
    """The sources of a URL: an object, every supported object under a prefix, or those a glob matches."""
    given = storage.display(path)
    try:
        if storage.has_glob(path.path):
            files = storage.glob(path)
            if not files:
                raise InputError("no object matches this pattern", source=given)
            return [_Entry(Source(f.name, _file_format(f, options, given=given), path=f), f) for f in files]
        if path.is_file():
            return [_Entry(Source(path.name, _file_format(path, options, given=given), path=path), path)]
        if path.is_dir():
            return _folder_entries(path, options, given)
        missing = storage.bucket_missing(path)
    except WinnowError:
        raise
    except Exception as error:  # the backend's own (no credentials, no such bucket, access denied, ...)
        detail = storage.display(error) or type(error).__name__
        raise InputError(f"cannot read: {detail}", source=given) from error
    raise InputError("no such bucket" if missing else "no such object or prefix", source=given)


def _dataset_entries(obj: Any) -> list[_Entry] | None:
    """Sources for a datasets.Dataset / DatasetDict object, or None if `obj` is neither."""
    if not type(obj).__module__.startswith("datasets"):
        return None
    import datasets

    if isinstance(obj, datasets.DatasetDict):
        return [_Entry(Source(f"dataset/{s}", "hf", dataset=obj[s], split=s)) for s in obj]
    if isinstance(obj, datasets.Dataset):
        name = getattr(obj.info, "dataset_name", None) or "dataset"
        return [_Entry(Source(str(name), "hf", dataset=obj))]
    return None


def _anchor_text(anchor: AnyPath) -> str:
    """An anchor as a path string (a URL as `/PROTOCOL/BUCKET/...`, so that labels of URLs compare)."""
    return f"/{anchor.protocol}/{anchor.path}" if storage.is_remote(anchor) else str(anchor)  # type: ignore[union-attr]


def _relative_label(entry: _Entry, common: str) -> str:
    assert entry.anchor is not None
    base = PurePath(os.path.relpath(_anchor_text(entry.anchor), common)).as_posix()
    return f"{base}/{entry.part}" if entry.part else base


def _unique_labels(entries: list[_Entry]) -> list[Source]:
    """Sources with labels made unique: clashing ones use their path relative to the inputs' common parent."""
    counts = Counter(e.source.label for e in entries)
    anchors = [os.path.dirname(_anchor_text(e.anchor)) for e in entries if e.anchor is not None]
    common = os.path.commonpath(anchors) if anchors else ""
    labels = [
        _relative_label(e, common) if counts[e.source.label] > 1 and e.anchor is not None else e.source.label
        for e in entries
    ]
    seen: Counter[str] = Counter()
    unique = []
    for label in labels:
        seen[label] += 1
        unique.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return [replace(e.source, label=label) for e, label in zip(entries, unique, strict=True)]


def resolve_sources(inputs: Sequence[Any], options: ReadOptions) -> list[Source]:
    """Expand paths, folders and datasets objects into sources, in input order, with unique labels."""
    if isinstance(inputs, (str, os.PathLike, UPath)):
        inputs = [inputs]
    entries: list[_Entry] = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike, UPath)):
            entries.extend(_path_entries(item, options))
            continue
        found = _dataset_entries(item)
        if found is None:
            raise TypeError(f"cannot read input of type {type(item).__name__}")
        entries.extend(found)
    return _unique_labels(entries)
