"""Column names of a document batch: a polars DataFrame with `id`, `text` and any other input columns.

Inside a run every batch also carries three provenance columns (prefixed `__`, never written to `kept/`):
the source file, the line (JSON Lines, CSV) or row (Parquet, datasets) the document came from, and its
position in the corpus (`__order`, unique and increasing in input order: compare it to keep "the first").
"""

from __future__ import annotations

import polars as pl

ID = "id"
TEXT = "text"
SOURCE = "__source"
LINE = "__line"
ORDER = "__order"
PROVENANCE = (SOURCE, LINE, ORDER)

REASON = "reason"
STAGE = "stage"

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "line": pl.Int64(),
    "row": pl.Int64(),
    "field": pl.String(),
    "error": pl.String(),
    "raw": pl.String(),
}


def empty_quarantine() -> pl.DataFrame:
    """A quarantine frame with no rows."""
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def document_columns(frame: pl.DataFrame) -> list[str]:
    """The columns of `frame` that belong to the documents (everything but provenance)."""
    return [c for c in frame.columns if c not in PROVENANCE]
