"""Corpus readers: JSON Lines (plain, .gz, .zst), Parquet, CSV/TSV and Hugging Face datasets.

Every reader yields `ReadBatch`es: documents with `id`, `text`, the other input columns and the
provenance columns `__source` / `__line`, plus the bad records as quarantine rows.
"""

from pipeline.readers.options import ReadBatch, ReadOptions
from pipeline.readers.read import read_all_documents, read_documents, read_source
from pipeline.readers.sources import Source, resolve_sources
from pipeline.readers.validate import output_renames

__all__ = [
    "ReadBatch",
    "ReadOptions",
    "Source",
    "output_renames",
    "read_all_documents",
    "read_documents",
    "read_source",
    "resolve_sources",
]
