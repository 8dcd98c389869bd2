"""Hugging Face datasets reader: Dataset objects, save_to_disk folders, local files via load_dataset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from pipeline.errors import InputError
from pipeline.readers.options import ReadBatch, ReadOptions
from pipeline.readers.sources import Source, detect_format
from pipeline.readers.validate import table_batches

BUILDERS = {"jsonl": "json", "parquet": "parquet", "csv": "csv"}


def load(source: Source) -> Any:
    """The datasets.Dataset behind a source (in memory, a saved folder's split, or a local file)."""
    if source.dataset is not None:
        return source.dataset
    import datasets

    assert source.path is not None
    try:
        if source.path.is_dir():
            loaded = datasets.load_from_disk(str(source.path))
            if isinstance(loaded, datasets.DatasetDict):
                if source.split is None:
                    raise InputError("a saved dataset dictionary needs a split", source=source.label)
                return loaded[source.split]
            return loaded
        fmt = detect_format(source.path)
        if fmt is None:
            raise InputError("cannot tell the dataset builder from the file name", source=source.label)
        extra = {"delimiter": "\t"} if source.path.name.lower().endswith((".tsv", ".tsv.gz")) else {}
        return datasets.load_dataset(BUILDERS[fmt], data_files=str(source.path), split="train", **extra)
    except InputError:
        raise
    except Exception as exc:  # datasets raises many unrelated types for a bad local file
        raise InputError(f"cannot load dataset: {exc}", source=source.label) from exc


def _frames(dataset: Any, options: ReadOptions) -> Iterator[pl.DataFrame]:
    for table in dataset.with_format("arrow").iter(batch_size=options.batch_size):
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        yield frame


def read_hf(source: Source, options: ReadOptions) -> Iterator[ReadBatch]:
    """Stream a datasets.Dataset in batches of at most batch_size rows, rows numbered from 0."""
    return table_batches(_frames(load(source), options), source.label, options, "row", 0)
