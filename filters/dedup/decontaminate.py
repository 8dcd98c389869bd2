"""Benchmark decontamination: remove (or redact) documents that share a word n-gram with an evaluation item.

As datatrove's `NGramsDecontFilter` and NeMo Curator's task decontamination: benchmark items (the chosen
fields of each record; a list field gives each of its strings) and documents are normalised as datatrove's
`simplify_text` with its default `TextNormConfig` (lowercase; digit runs, with one decimal separator, become
`0`; punctuation becomes a space; whitespace collapsed; diacritics stripped by NFD and dropping combining
marks), split into words, and a document that contains any word n-gram (default 13) of an item is
contaminated. N-grams made only of numbers (`0 0 ... 0`, from a worked answer's arithmetic) are left out
of the index: any table of figures has them. Punctuation here is every Unicode punctuation, symbol and
control character (`\\p{P}`, `\\p{S}`, `\\p{Cc}`): all of datatrove's list (its `１` is a digit, made `0`
first) and the symbols it keeps (`‘`, `£`, `®`, `°`, `•`); on C4 and GSM8K, 94% of texts give datatrove's
words exactly, the rest differ only by such symbols.

The index is built once per process: every item n-gram hashed to uint64 (polars' word hashes combined by a
rolling polynomial in numpy, never across items), kept sorted, with where each came from for the ledger.
Documents are matched a batch at a time with the same hashes and `np.searchsorted`.

A removed document's reason is `contaminated_BENCHMARK`; `contaminated_item` (the item's id, as the readers
give it: its `id` field, else `FILE:LINE`) and `contaminated_ngram` (the normalised n-gram) say which.
With `mode = "redact"` documents are kept and the original characters of every matched run of words are
cut; the counters say how many documents were redacted and how many n-gram matches were cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.batch import ID, REASON, TEXT
from pipeline.errors import InputError
from pipeline.readers import ReadOptions, read_documents
from pipeline.readers.options import Format
from pipeline.readers.validate import output_name, raise_first
from pipeline.stage import Filter, StageConfig

#: datatrove's `NUMBERS_PATTERN`: digits in any script, with an optional decimal part
_NUMBER = r"\p{Nd}+(?:[.,،٫⎖⎗⎘]\p{Nd}+)?"
_PUNCTUATION = r"[\p{P}\p{S}\p{Cc}]"
#: one word of the original text: what normalisation keeps between two spaces
_TOKEN = rf"(?:{_NUMBER}|[^\s\p{{P}}\p{{S}}\p{{Cc}}])+"
#: odd multiplier of the rolling n-gram hash (mod 2**64)
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_SEED = 0x5EED

MATCHES = "contaminated_ngrams"
ITEM = "contaminated_item"
NGRAM = "contaminated_ngram"


class Benchmark(BaseModel):
    """One evaluation set: a file or folder any reader takes, and the fields that hold its text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    name: str | None = Field(None, min_length=1)
    fields: list[str] = Field(default_factory=lambda: [TEXT], min_length=1)
    format: Format = "auto"

    @field_validator("path")
    @classmethod
    def _exists(cls, path: Path) -> Path:
        if not path.exists():
            raise ValueError(f"benchmark file {path} does not exist")
        return path

    @property
    def label(self) -> str:
        """The name in reasons: `name`, else the file name without its extensions (`gsm8k_test`)."""
        return self.name or self.path.name.split(".")[0] or self.path.name


class DecontaminateConfig(StageConfig):
    """Recipe table for `type = "decontaminate"`."""

    type: Literal["decontaminate"] = "decontaminate"
    benchmarks: list[Benchmark] = Field(min_length=1)
    ngram: int = Field(13, ge=1)
    mode: Literal["remove", "redact"] = "remove"

    @model_validator(mode="after")
    def _distinct_names(self) -> DecontaminateConfig:
        labels = [benchmark.label for benchmark in self.benchmarks]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"benchmarks share the name {', '.join(repeated)}: give each a distinct `name`")
        return self


def normalized_words(texts: pl.Series) -> pl.Series:
    """Each text as datatrove's `simplify_text` would leave it, split into words (a List[String] Series)."""
    plain = pl.select(
        pl.lit(texts)
        .str.to_lowercase()
        .str.replace_all(_NUMBER, "0")
        .str.replace_all(_PUNCTUATION, " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    ).to_series()
    accented = plain.str.contains(r"[^\x00-\x7F]").fill_null(False)
    if accented.any():  # NFD and dropping combining marks only where a text is not plain ASCII
        rows = accented.arg_true()
        stripped = plain.gather(rows).str.normalize("NFD").str.replace_all(r"\p{Mn}+", "")
        plain = plain.scatter(rows, stripped.str.replace_all(r"\s+", " ").str.strip_chars())
    return plain.str.split(" ").list.eval(pl.element().filter(pl.element() != "")).alias(texts.name)


@dataclass(frozen=True)
class NGrams:
    """The word n-grams of a list of texts: their hashes, and the text and word each starts at."""

    hashes: np.ndarray
    text: np.ndarray
    start: np.ndarray
    #: every text's words, concatenated, and where each text's words begin
    words: pl.Series
    offsets: np.ndarray


def word_ngrams(texts: pl.Series, n: int) -> NGrams:
    """Hash every run of `n` consecutive normalised words of each text (never across two texts)."""
    lists = normalized_words(texts)
    lengths = lists.list.len().to_numpy().astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    words = lists.explode().drop_nulls()
    owner = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
    if len(words) < n:
        empty = np.zeros(0, np.int64)
        return NGrams(np.zeros(0, np.uint64), empty, empty, words, offsets)
    word_hashes = words.hash(seed=_SEED).to_numpy()
    count = len(words) - n + 1
    combined = np.zeros(count, np.uint64)
    for shift in range(n):  # uint64 arithmetic wraps: the hash is the polynomial mod 2**64
        combined = combined * _MULTIPLIER + word_hashes[shift : shift + count]
    whole = np.flatnonzero(owner[:count] == owner[n - 1 :])
    return NGrams(combined[whole], owner[whole], whole - offsets[owner[whole]], words, offsets)


def ngram_text(ngrams: NGrams, text: int, start: int, n: int) -> str:
    """The normalised words of one n-gram, joined by spaces."""
    first = int(ngrams.offsets[text]) + start
    return " ".join(ngrams.words.slice(first, n).to_list())


@dataclass(frozen=True)
class BenchmarkIndex:
    """Every benchmark n-gram hash, sorted, with the benchmark, item and text of its first occurrence."""

    hashes: np.ndarray
    benchmark: list[str]
    item: list[str]
    ngram: list[str]

    def find(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash, its position in the index, or -1."""
        if len(self.hashes) == 0:
            return np.full(len(hashes), -1, np.int64)
        position = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return np.where(self.hashes[position] == hashes, position, -1)


def read_items(benchmark: Benchmark) -> pl.DataFrame:
    """The benchmark's texts, one row per string of each chosen field: `id` of the item and `text`."""
    docs, carrier = _read_records(benchmark)
    columns = {field: TEXT if field == carrier else output_name(field) for field in benchmark.fields}
    parts = []
    for field, column in columns.items():
        dtype = docs.schema.get(column)
        if dtype is None or docs[column].null_count() == docs.height:
            shown = ", ".join(_fields(docs, carrier))
            raise InputError(
                f"no item has field '{field}' (fields: {shown})", source=str(benchmark.path), field=field
            )
        values = docs.select(ID, pl.col(column).alias(TEXT))
        if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.String):
            values = values.explode(TEXT)
        elif not isinstance(dtype, pl.String):
            raise InputError(
                f"field '{field}' holds {dtype}, not text or a list of texts",
                source=str(benchmark.path),
                field=field,
            )
        parts.append(values.drop_nulls())
    return pl.concat(parts)


def _fields(docs: pl.DataFrame, carrier: str) -> list[str]:
    hidden = {ID, TEXT, "__source", "__line"}
    return [carrier, *(c.removesuffix("__input") for c in docs.columns if c not in hidden)]


def _read_records(benchmark: Benchmark) -> tuple[pl.DataFrame, str]:
    """Every record that has the first field that is text in some record (the carrier), and that field."""
    problem = "the benchmark is empty"
    for carrier in benchmark.fields:
        options = ReadOptions(text_field=carrier, on_error="quarantine", format=benchmark.format)
        batches = list(read_documents([benchmark.path], options))
        for batch in batches:  # a record that cannot be read at all (malformed JSON) is an error, not skipped
            raise_first(batch.quarantined.filter(pl.col("field").is_null()))
        docs = [batch.docs for batch in batches if batch.docs.height]
        if docs:
            return pl.concat(docs, how="diagonal_relaxed"), carrier
        quarantined = [batch.quarantined for batch in batches if batch.quarantined.height]
        if quarantined:
            first = quarantined[0].row(0, named=True)
            where = f"line {first['line']}" if first["line"] is not None else f"row {first['row']}"
            problem = (
                f"no item has a text field {', '.join(benchmark.fields)} (first: {where}: {first['error']})"
            )
            if first["error"].endswith("got list"):
                problem += "; a list field is read beside a text field (e.g. question, then choices)"
    raise InputError(problem, source=str(benchmark.path), field=", ".join(benchmark.fields))


def _numbers_only(ngrams: NGrams, n: int) -> np.ndarray:
    """Which n-grams are all numbers (`0 0 ... 0`): any table has them, so they name no item."""
    zeros = np.concatenate([[0], np.cumsum((ngrams.words == "0").to_numpy())])
    first = ngrams.offsets[ngrams.text] + ngrams.start
    return zeros[first + n] - zeros[first] == n


def build_index(benchmarks: list[Benchmark], n: int) -> BenchmarkIndex:
    """The n-gram index of every benchmark; InputError for one that is empty or has no n-gram."""
    hashes, benchmark, item, ngram = [], [], [], []
    for each in benchmarks:
        items = read_items(each)
        if items.height == 0:
            raise InputError("the benchmark has no items", source=str(each.path))
        found = word_ngrams(items[TEXT], n)
        if len(found.hashes) == 0:  # checked before numbers-only n-grams are dropped: an item of numbers
            longest = int(np.diff(found.offsets).max(initial=0))
            raise InputError(
                f"no item has {n} words (the longest has {longest}): lower `ngram` or choose other fields",
                source=str(each.path),
            )
        telling = ~_numbers_only(found, n)
        found = NGrams(
            found.hashes[telling], found.text[telling], found.start[telling], found.words, found.offsets
        )
        unique, first = np.unique(found.hashes, return_index=True)
        ids = items[ID]
        hashes.append(unique)
        benchmark.extend([each.label] * len(unique))
        item.extend(ids.gather(found.text[first]).to_list())
        ngram.extend(ngram_text(found, int(found.text[i]), int(found.start[i]), n) for i in first)
    merged = np.concatenate(hashes)
    order = np.argsort(merged, kind="stable")
    _, keep = np.unique(merged[order], return_index=True)  # a hash two benchmarks share: the first names it
    chosen = order[keep]
    return BenchmarkIndex(
        merged[chosen],
        [benchmark[i] for i in chosen],
        [item[i] for i in chosen],
        [ngram[i] for i in chosen],
    )


def _runs(starts: np.ndarray, n: int) -> list[tuple[int, int]]:
    """Matched n-grams (first word positions, sorted) merged into runs of words `[first, last]`."""
    runs: list[tuple[int, int]] = []
    for start in starts.tolist():
        if runs and start <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], max(runs[-1][1], start + n - 1))
        else:
            runs.append((start, start + n - 1))
    return runs


def cut_words(text: str, runs: list[tuple[int, int]]) -> str:
    """`text` without the original characters of each run of normalised words `[first, last]`."""
    tokens = pl.Series([text]).str.extract_all(_TOKEN).explode().drop_nulls()
    per_token = normalized_words(tokens).list.len().to_numpy() if len(tokens) else np.zeros(0, np.int64)
    token_of_word = np.repeat(np.arange(len(tokens)), per_token)
    spans, position = [], 0
    for token in tokens.to_list():  # character offsets of the tokens, in order
        begin = text.find(token, position)
        spans.append((begin, begin + len(token)))
        position = begin + len(token)
    if len(token_of_word) == 0:
        return text
    last_word = len(token_of_word) - 1
    pieces, kept_from = [], 0
    for first, last in runs:
        begin = spans[token_of_word[min(first, last_word)]][0]
        end = spans[token_of_word[min(last, last_word)]][1]
        pieces.append(text[kept_from:begin])
        kept_from = max(kept_from, end)
    pieces.append(text[kept_from:])
    return "".join(pieces)


class Decontaminate(Filter):
    """Remove documents that share a word n-gram with a benchmark item (or cut the shared words)."""

    Config = DecontaminateConfig
    score_columns: ClassVar[dict[str, pl.DataType]] = {MATCHES: pl.UInt32()}
    detail_columns: ClassVar[dict[str, pl.DataType]] = {ITEM: pl.String(), NGRAM: pl.String()}

    config: DecontaminateConfig

    def __init__(self, config: StageConfig | None = None, /, **parameters: Any) -> None:
        super().__init__(config, **parameters)
        self._built: BenchmarkIndex | None = None
        self.index()  # a bad benchmark fails here, before any work

    def __getstate__(self) -> dict[str, Any]:  # a worker rebuilds the index on its first batch
        return {**self.__dict__, "_built": None}

    def index(self) -> BenchmarkIndex:
        """The benchmarks' n-gram index, built on first use and kept."""
        if self._built is None:
            self._built = build_index(self.config.benchmarks, self.config.ngram)
        return self._built

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        index, n = self.index(), self.config.ngram
        found = word_ngrams(batch[TEXT].fill_null(""), n)
        position = index.find(found.hashes)
        hit = position >= 0
        rows = found.text[hit]
        matches = np.bincount(rows, minlength=batch.height).astype(np.uint32)
        documents, first = np.unique(rows, return_index=True)
        reason = pl.Series(REASON, [None] * batch.height, pl.String)
        item = pl.Series(ITEM, [None] * batch.height, pl.String)
        ngram = pl.Series(NGRAM, [None] * batch.height, pl.String)
        text = batch[TEXT]
        if len(documents) and self.config.mode == "remove":
            where = position[hit][first]
            reason = reason.scatter(documents, [f"contaminated_{index.benchmark[i]}" for i in where])
            item = item.scatter(documents, [index.item[i] for i in where])
            ngram = ngram.scatter(documents, [index.ngram[i] for i in where])
        elif len(documents):
            starts = found.start[hit]
            bounds = np.append(first, len(rows))
            cut = [
                cut_words(text[int(row)], _runs(np.sort(starts[bounds[k] : bounds[k + 1]]), n))
                for k, row in enumerate(documents)
            ]
            text = text.scatter(documents, cut)
        return batch.with_columns(text, pl.Series(MATCHES, matches), reason, item, ngram)

    def counters(self, marked: pl.DataFrame) -> dict[str, int]:
        """In redact mode, how many documents had n-grams cut and how many n-gram matches there were."""
        if self.config.mode != "redact":
            return {}
        matched = marked[MATCHES]
        return {"documents_redacted": int((matched > 0).sum()), "ngrams_redacted": int(matched.sum())}
