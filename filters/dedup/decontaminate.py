"""Benchmark decontamination: remove (or redact) documents that share a word n-gram with an evaluation item.

As datatrove's `NGramsDecontFilter` and NeMo Curator's task decontamination: benchmark items (the chosen
fields of each record; a list field gives each of its strings) and documents are normalised as datatrove's
`simplify_text` with its default `TextNormConfig` (lowercase; digit runs, with one decimal separator, become
`0`; punctuation becomes a space; whitespace collapsed; diacritics stripped by NFD and dropping combining
marks), split into words (a Chinese or Japanese character, Han, Hiragana or Katakana, is a word of its
own: those scripts put no spaces between words), and a document that contains any word n-gram (default
13) of an item is contaminated; an item of `min_ngram` (default 8) to 12 words is matched whole, as NeMo
Curator does, and a shorter one is not checked (the stage's facts count them). N-grams made only of
numbers (`0 0 ... 0`, from a worked answer's arithmetic) are left out of the index: any table of figures
has them. Punctuation here is every Unicode punctuation, symbol and
control character (`\\p{P}`, `\\p{S}`, `\\p{Cc}`): all of datatrove's list (its `１` is a digit, made `0`
first) and the symbols it keeps (`‘`, `£`, `®`, `°`, `•`); on C4 and GSM8K, 94% of texts give datatrove's
words exactly, the rest differ only by such symbols.

The index is built once per process: every item n-gram hashed to uint64 (polars' word hashes combined by a
rolling polynomial in numpy, never across items), kept sorted, with where each came from for the ledger.
Documents are matched a batch at a time with the same hashes, at every n-gram size the index holds: a
table of the index hashes' top 24 bits first, then `np.searchsorted` for the few that may be in it.

A removed document's reason is `contaminated_BENCHMARK`; `contaminated_item` (the item's id, as the readers
give it: its `id` field, else `FILE:LINE`) and `contaminated_ngram` (the normalised n-gram) say which.
With `mode = "redact"` documents are kept and the original characters of every matched run of words are
cut; the counters say how many documents were redacted and how many n-gram matches were cut.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
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
#: scripts written without spaces between words: each character is a word of its own
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}"
_TOKEN = rf"[{_UNSPACED}]|(?:{_NUMBER}|[^\s\p{{P}}\p{{S}}\p{{Cc}}{_UNSPACED}])+"
#: odd multiplier of the rolling n-gram hash (mod 2**64)
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_SEED = 0x5EED
#: the index's prefix table holds the top bits of each hash
_PREFIX_BITS = 24
_PREFIX_SHIFT = np.uint64(64 - _PREFIX_BITS)

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
    #: an item of at least this many words but fewer than `ngram` is matched whole (NeMo Curator's rule);
    #: shorter items are not checked (the stage's facts count them). At `ngram` or above: datatrove's rule
    min_ngram: int = Field(8, ge=1)
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
    if accented.any():  # NFD, dropping combining marks and splitting Chinese / Japanese only where needed
        rows = accented.arg_true()
        stripped = (
            plain.gather(rows)
            .str.normalize("NFD")
            .str.replace_all(r"\p{Mn}+", "")
            .str.replace_all(f"([{_UNSPACED}])", " $1 ")
        )
        plain = plain.scatter(rows, stripped.str.replace_all(r"\s+", " ").str.strip_chars())
    return plain.str.split(" ").list.eval(pl.element().filter(pl.element() != "")).alias(texts.name)


@dataclass(frozen=True)
class NGrams:
    """The word n-grams of a list of texts: their hashes, the text and word each starts at, its size."""

    hashes: np.ndarray
    text: np.ndarray
    start: np.ndarray
    size: np.ndarray
    #: every text's words, concatenated, and where each text's words begin
    words: pl.Series
    offsets: np.ndarray

    def subset(self, rows: np.ndarray) -> NGrams:
        """The n-grams `rows` (a mask or indices), over the same words."""
        return NGrams(
            self.hashes[rows], self.text[rows], self.start[rows], self.size[rows], self.words, self.offsets
        )

    def numbers_only(self) -> np.ndarray:
        """Which n-grams are all numbers (`0 0 ... 0`): any table has them, so they name no item."""
        zeros = np.concatenate([[0], np.cumsum((self.words == "0").to_numpy())])
        first = self.offsets[self.text] + self.start
        return zeros[first + self.size] - zeros[first] == self.size

    def text_of(self, row: int) -> str:
        """The normalised words of n-gram `row`, joined by spaces."""
        first = int(self.offsets[self.text[row]] + self.start[row])
        return " ".join(self.words.slice(first, int(self.size[row])).to_list())


def word_ngrams(
    texts: pl.Series, sizes: int | Iterable[int], keep: Callable[[np.ndarray], np.ndarray] | None = None
) -> NGrams:
    """Hash every run of n consecutive normalised words of each text (never across two texts), for each n
    of `sizes` (the hash of a run is the same whichever sizes are asked for); with `keep` (hashes -> mask),
    only the n-grams it keeps."""
    wanted = sorted({sizes} if isinstance(sizes, int) else set(sizes))
    lists = normalized_words(texts)
    lengths = lists.list.len().to_numpy().astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    words = lists.explode().drop_nulls()
    owner = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
    empty = np.zeros(0, np.int64)
    if not wanted or len(words) < wanted[0]:
        return NGrams(np.zeros(0, np.uint64), empty, empty, empty, words, offsets)
    total = len(words)
    word_hashes = np.concatenate([words.hash(seed=_SEED).to_numpy(), np.zeros(wanted[-1], np.uint64)])
    combined = np.zeros(total, np.uint64)
    hashes, text, start, size = [], [], [], []
    for n in range(1, min(wanted[-1], total) + 1):  # uint64 arithmetic wraps: the polynomial mod 2**64
        combined = combined * _MULTIPLIER + word_hashes[n - 1 : n - 1 + total]
        if n in wanted:  # combined[i] is now the hash of words i .. i + n - 1
            count = total - n + 1
            rows = np.arange(count) if keep is None else np.flatnonzero(keep(combined[:count]))
            rows = rows[owner[rows] == owner[rows + n - 1]]
            hashes.append(combined[rows])
            text.append(owner[rows])
            start.append(rows - offsets[owner[rows]])
            size.append(np.full(len(rows), n, np.int64))
    return NGrams(
        np.concatenate(hashes),
        np.concatenate(text),
        np.concatenate(start),
        np.concatenate(size),
        words,
        offsets,
    )


@dataclass(frozen=True)
class BenchmarkIndex:
    """Every benchmark n-gram hash, sorted, with the benchmark, item and text of its first occurrence; the
    n-gram sizes documents are matched at, and how many items of each benchmark are checked."""

    hashes: np.ndarray
    benchmark: list[str]
    item: list[str]
    ngram: list[str]
    sizes: tuple[int, ...]
    coverage: list[dict[str, Any]]

    def find(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash, its position in the index, or -1."""
        if len(self.hashes) == 0:
            return np.full(len(hashes), -1, np.int64)
        position = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return np.where(self.hashes[position] == hashes, position, -1)

    @cached_property
    def _prefixes(self) -> np.ndarray:
        """Which top `_PREFIX_BITS` bits some index hash has (a byte each: one gather per lookup)."""
        table = np.zeros(1 << _PREFIX_BITS, bool)
        table[self.hashes >> _PREFIX_SHIFT] = True
        return table

    def holds(self, hashes: np.ndarray) -> np.ndarray:
        """Which hashes are in the index: a prefix table first, so that a binary search is made only for the
        few (about index size / 2**24 of the rest) that may be."""
        maybe = np.flatnonzero(self._prefixes[hashes >> _PREFIX_SHIFT])
        held = np.zeros(len(hashes), bool)
        held[maybe] = self.find(hashes[maybe]) >= 0
        return held


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


def build_index(benchmarks: list[Benchmark], n: int, min_ngram: int | None = None) -> BenchmarkIndex:
    """The n-gram index of every benchmark: each item's `n`-grams, and an item of `min_ngram` to `n - 1`
    words whole; InputError for a benchmark that is empty or has no n-gram."""
    shortest = n if min_ngram is None else min(n, min_ngram)
    hashes, sizes, benchmark, item, ngram, coverage = [], [], [], [], [], []
    for each in benchmarks:
        items = read_items(each)
        if items.height == 0:
            raise InputError("the benchmark has no items", source=str(each.path))
        found = word_ngrams(items[TEXT], range(shortest, n + 1))
        lengths = np.diff(found.offsets)
        size_of_item = np.minimum(lengths, n)[found.text]
        found = found.subset(found.size == size_of_item)  # an item's n-grams, or the whole of a shorter one
        if len(found.hashes) == 0:  # checked before numbers-only n-grams are dropped: an item of numbers
            knob = "min_ngram" if shortest < n else "ngram"
            raise InputError(
                f"no item has {shortest} words (the longest has {int(lengths.max(initial=0))}): lower "
                f"`{knob}` or choose other fields",
                source=str(each.path),
            )
        found = found.subset(~found.numbers_only())
        checked = np.zeros(len(lengths), bool)
        checked[found.text] = True
        coverage.append(
            {
                "name": each.label,
                "items": len(lengths),
                "by_ngrams": int((checked & (lengths >= n)).sum()),
                "whole": int((checked & (lengths < n)).sum()),
                "unchecked": int((~checked).sum()),
            }
        )
        unique, first = np.unique(found.hashes, return_index=True)
        ids = items[ID]
        hashes.append(unique)
        sizes.append(found.size[first])
        benchmark.extend([each.label] * len(unique))
        item.extend(ids.gather(found.text[first]).to_list())
        ngram.extend(found.text_of(int(i)) for i in first)
    merged = np.concatenate(hashes)
    order = np.argsort(merged, kind="stable")
    _, keep = np.unique(merged[order], return_index=True)  # a hash two benchmarks share: the first names it
    chosen = order[keep]
    return BenchmarkIndex(
        merged[chosen],
        [benchmark[i] for i in chosen],
        [item[i] for i in chosen],
        [ngram[i] for i in chosen],
        tuple(sorted({n} | set(np.concatenate(sizes).tolist()))),
        coverage,
    )


def _runs(starts: np.ndarray, sizes: np.ndarray) -> list[tuple[int, int]]:
    """Matched n-grams (first word positions, sorted, and their sizes) merged into runs of words
    `[first, last]`."""
    runs: list[tuple[int, int]] = []
    for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
        if runs and start <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], max(runs[-1][1], start + size - 1))
        else:
            runs.append((start, start + size - 1))
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
        index = self.index()  # a bad benchmark fails here, before any work
        self.facts = {
            "decontamination": {
                "ngram": self.config.ngram,
                "min_ngram": self.config.min_ngram,
                "benchmarks": index.coverage,
            }
        }

    def __getstate__(self) -> dict[str, Any]:  # a worker rebuilds the index on its first batch
        return {**self.__dict__, "_built": None}

    def index(self) -> BenchmarkIndex:
        """The benchmarks' n-gram index, built on first use and kept."""
        if self._built is None:
            self._built = build_index(self.config.benchmarks, self.config.ngram, self.config.min_ngram)
        return self._built

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        index = self.index()
        found = word_ngrams(batch[TEXT].fill_null(""), index.sizes, keep=index.holds)
        hit = np.lexsort(
            (found.start, found.text)
        )  # every n-gram kept is in the index: by document and place
        position, rows = index.find(found.hashes[hit]), found.text[hit]
        matches = np.bincount(rows, minlength=batch.height).astype(np.uint32)
        documents, first = np.unique(rows, return_index=True)
        reason = pl.Series(REASON, [None] * batch.height, pl.String)
        item = pl.Series(ITEM, [None] * batch.height, pl.String)
        ngram = pl.Series(NGRAM, [None] * batch.height, pl.String)
        text = batch[TEXT]
        if len(documents) and self.config.mode == "remove":
            where = position[first]
            reason = reason.scatter(documents, [f"contaminated_{index.benchmark[i]}" for i in where])
            item = item.scatter(documents, [index.item[i] for i in where])
            ngram = ngram.scatter(documents, [index.ngram[i] for i in where])
        elif len(documents):
            starts, sizes = found.start[hit], found.size[hit]
            bounds = np.append(first, len(rows))
            cut = [
                cut_words(
                    text[int(row)], _runs(starts[bounds[k] : bounds[k + 1]], sizes[bounds[k] : bounds[k + 1]])
                )
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
