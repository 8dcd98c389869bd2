"""Training sets for the quality classifier, read with the corpus readers (JSON Lines, Parquet, CSV, ...).

Two ways to say what good text is:

- labelled documents: a label column of 1 (good) / 0 (bad); `true`/`false` and `"1"`/`"0"` count too;
- a reference corpus of good text against a sample of the raw corpus (the GPT-3 / DCLM recipe): reference
  documents are labelled 1, raw ones 0, and the raw side is sampled down (seeded) to the reference's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from pipeline.batch import LINE, SOURCE, TEXT, document_columns
from pipeline.errors import WinnowError
from pipeline.readers import ReadOptions, read_all_documents
from pipeline.readers.validate import output_name

LABEL_VALUES = {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0}


class TrainingDataError(WinnowError):
    """Training data the classifier cannot learn from (no labels, bad labels, one class, too few)."""


@dataclass
class TrainingSet:
    """Texts and their 0/1 labels, with notes on how they were put together."""

    texts: list[str]
    labels: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def positive(self) -> int:
        return int(self.labels.sum())

    @property
    def negative(self) -> int:
        return len(self.labels) - self.positive


def read_corpus(
    inputs: Sequence[str], *, text_field: str = TEXT, input_format: str = "auto", what: str = "input"
) -> pl.DataFrame:
    """Every document of `inputs` in one frame; a bad record or file is an error (nothing quarantined)."""
    options = ReadOptions(text_field=text_field, on_error="fail", format=input_format)  # type: ignore[arg-type]
    docs = read_all_documents(list(inputs), options)
    if docs is None:
        raise TrainingDataError(f"{what} has no documents: {', '.join(map(str, inputs))}")
    return docs


def parse_labels(docs: pl.DataFrame, label_field: str = "label") -> np.ndarray:
    """The 0/1 labels of `docs[label_field]`; TrainingDataError names the first bad or missing one."""
    column = output_name(label_field)
    if column not in docs.columns:
        shown = ", ".join(c for c in document_columns(docs))
        raise TrainingDataError(f"no label column '{label_field}' (columns: {shown}); see --label-field")
    # mixed-type JSON columns arrive as JSON text ("1" as '"1"'): strip quotes as well as blanks
    words = pl.col(column).cast(pl.String).str.strip_chars(' \t"').str.to_lowercase()
    labels = docs.select(words.replace_strict(LABEL_VALUES, default=None, return_dtype=pl.Int8)).to_series()
    bad = docs.filter(labels.is_null())
    if bad.height:
        first = bad.row(0, named=True)
        where = f"{first[SOURCE]} line {first[LINE]}" if SOURCE in bad.columns else "row 1"
        value = "missing" if first[column] is None else repr(first[column])
        raise TrainingDataError(
            f"{bad.height} of {docs.height} documents have no 0/1 label; first: {where}: "
            f"{label_field} is {value} (labels must be 1 = good or 0 = bad)"
        )
    return labels.to_numpy().astype(np.int8)


def read_labelled(
    inputs: Sequence[str], *, text_field: str = TEXT, label_field: str = "label", input_format: str = "auto"
) -> TrainingSet:
    """Labelled documents: texts and their 0/1 labels."""
    if label_field == text_field:
        raise TrainingDataError(f"the label field and the text field are both '{label_field}'")
    docs = read_corpus(inputs, text_field=text_field, input_format=input_format, what="labelled input")
    labels = parse_labels(docs, label_field)
    return TrainingSet(docs[TEXT].to_list(), labels)


def read_reference(
    reference: Sequence[str],
    raw: Sequence[str],
    *,
    text_field: str = TEXT,
    input_format: str = "auto",
    balance: bool = True,
    seed: int = 0,
) -> TrainingSet:
    """Reference (label 1) against raw (label 0) documents; `balance` samples raw to the reference size."""
    good = read_corpus(reference, text_field=text_field, input_format=input_format, what="--reference")
    bad = read_corpus(raw, text_field=text_field, input_format=input_format, what="--raw")
    notes = []
    if balance and bad.height > good.height:
        notes.append(f"raw sampled to {good.height} of {bad.height} documents (seed {seed}) to balance")
        bad = bad.sample(good.height, seed=seed)
    texts = good[TEXT].to_list() + bad[TEXT].to_list()
    labels = np.concatenate([np.ones(good.height, np.int8), np.zeros(bad.height, np.int8)])
    return TrainingSet(texts, labels, notes)


def check_trainable(labels: np.ndarray, folds: int) -> None:
    """TrainingDataError unless both labels occur, each at least `folds` times (for stratified CV)."""
    counts = {label: int((labels == label).sum()) for label in (0, 1)}
    missing = [label for label, count in counts.items() if count == 0]
    if missing:
        name = {0: "bad (0)", 1: "good (1)"}[missing[0]]
        raise TrainingDataError(
            f"all {len(labels)} documents have the same label: training needs {name} documents too"
        )
    short = {label: count for label, count in counts.items() if count < folds}
    if short:
        found = ", ".join(f"label {label}: {count}" for label, count in short.items())
        raise TrainingDataError(
            f"{folds}-fold cross-validation needs at least {folds} documents of each label ({found}); "
            "add documents or lower --folds"
        )
