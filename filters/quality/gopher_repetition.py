"""Gopher repetition rules (Rae et al. 2021, table A1), as datatrove 0.10.1's `GopherRepetitionFilter`.

Library use: `gopher_repetition(frame)` adds the `gopher_*` statistics and `reason` (datatrove's reason string
of the first failing rule, in datatrove's order; null keeps the document).
Pipeline use: the `GopherRepetition` filter stage (`type = "gopher_repetition"`).

Definitions (datatrove's): paragraphs are the stripped text split on `\\n{2,}`, lines the text split on
`\\n+`; a duplicate is an element equal to an earlier one (its characters count once per repeat). Words are
datatrove's English words (`filters.quality.words`). The top n-gram share is the character length of the most
frequent n-gram (words joined by spaces; ties go to the first one seen) times its count; the duplicate n-gram
share scans the words left to right, counting an n-gram (words joined without spaces) already seen and then
jumping over it. Every share is over the number of characters of the text.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from filters.quality.words import words
from pipeline.batch import REASON, TEXT
from pipeline.stage import Filter

_SPACE = r"[\s\x1c-\x1f]"  # Python's str.isspace
_PARAGRAPH = r"[^\n]+(?:\n[^\n]+)*"  # the pieces of `re.split(r"\n{2,}", text)` once the text is stripped
_DOC = "_doc"

NGramThresholds = tuple[tuple[int, float], ...]


class GopherRepetitionConfig(BaseModel):
    """Recipe table for `type = "gopher_repetition"`.

    The fields and defaults are datatrove 0.10.1's `GopherRepetitionFilter` parameters (Gopher's table A1; a
    null or 0 fraction disables its rule, as in datatrove). NeMo Curator uses 0.7 / 0.8 for repeated lines
    (`RepeatedLinesFilter`) instead of 0.3 / 0.2.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["gopher_repetition"] = "gopher_repetition"
    dup_line_frac: float | None = Field(0.3, ge=0, le=1)
    dup_para_frac: float | None = Field(0.3, ge=0, le=1)
    dup_line_char_frac: float | None = Field(0.2, ge=0, le=1)
    dup_para_char_frac: float | None = Field(0.2, ge=0, le=1)
    #: (n, maximum share of characters in the most frequent n-gram)
    top_n_grams: NGramThresholds = ((2, 0.2), (3, 0.18), (4, 0.16))
    #: (n, maximum share of characters in repeated n-grams)
    dup_n_grams: NGramThresholds = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
    #: only English: words are split as spaCy's English tokenizer does
    language: Literal["en"] = "en"
    #: keep the `gopher_*` statistics as score columns
    keep_scores: bool = False

    def build(self) -> GopherRepetition:
        return GopherRepetition(self)

    def statistics(self) -> dict[str, pl.DataType]:
        """The statistics columns `gopher_repetition` adds, with their types."""
        names = ["gopher_dup_para_frac", "gopher_dup_para_char_frac", "gopher_dup_line_frac"]
        names += ["gopher_dup_line_char_frac"]
        names += [f"gopher_top_{n}_gram_frac" for n, _ in self.top_n_grams]
        names += [f"gopher_dup_{n}_gram_frac" for n, _ in self.dup_n_grams]
        return dict.fromkeys(names, pl.Float64())


def _per_doc(frame: pl.DataFrame, n_docs: int, values: list[pl.Expr]) -> pl.DataFrame:
    """Aggregate `frame` (one row per element, `_doc` = document index) to one row per document."""
    docs = pl.DataFrame({_DOC: pl.arange(0, n_docs, dtype=pl.UInt32, eager=True)})
    agg = frame.group_by(_DOC).agg(values)
    return docs.join(agg, on=_DOC, how="left").sort(_DOC).fill_null(0).drop(_DOC)


def _elements(lists: pl.Series) -> pl.DataFrame:
    """One row per list element, with its document index `_doc`; empty lists have no row."""
    return pl.DataFrame({"el": lists}).with_row_index(_DOC).explode("el").drop_nulls("el")


def _duplicates(lists: pl.Series) -> pl.DataFrame:
    """datatrove's `find_duplicates` per list: `dups` (repeated elements), `dup_chars` (their characters)."""
    dup = ~pl.struct(_DOC, "el").is_first_distinct()
    return _per_doc(
        _elements(lists),
        len(lists),
        [dup.sum().alias("dups"), pl.col("el").str.len_chars().filter(dup).sum().alias("dup_chars")],
    )


def _token_frame(texts: pl.Series) -> pl.DataFrame:
    """One row per word: `_doc`, `pos`, `tid` (its hash), `chars` (its length), `words` (in its document)."""
    tokens = _elements(pl.select(words(pl.lit(texts))).to_series())
    return tokens.select(
        _DOC,
        pl.int_range(pl.len()).over(_DOC).alias("pos"),
        pl.col("el").hash().alias("tid"),
        pl.col("el").str.len_chars().cast(pl.Int64).alias("chars"),
        pl.len().over(_DOC).alias("words"),
    )


def _with_ngrams(tokens: pl.DataFrame, sizes: list[int]) -> pl.DataFrame:
    """Add `key_n` (hash of the word sequence) and `chars_n` (characters of its words) for each n in `sizes`,
    null where fewer than n words are left in the document. Words hold no spaces, so equal word sequences are
    equal strings however they are joined (datatrove joins them with " " for the top n-grams and "" for the
    duplicated ones: word sequences that only differ in where a string is cut are not told apart here)."""
    frame = tokens.with_columns(pl.col("tid").alias("_key"), pl.col("chars").alias("_chars"))
    for n in range(1, max(sizes, default=1) + 1):
        if n > 1:
            frame = frame.with_columns(
                pl.struct(pl.col("_key").alias("a"), pl.col("tid").shift(-(n - 1)).alias("b"))
                .hash()
                .alias("_key"),
                pl.col("_chars") + pl.col("chars").shift(-(n - 1)),
            )
        if n in sizes:
            valid = pl.col("pos") + n <= pl.col("words")
            frame = frame.with_columns(
                pl.when(valid).then("_key").alias(f"key_{n}"),
                pl.when(valid).then("_chars").alias(f"chars_{n}"),
            )
    return frame.drop("_key", "_chars")


def _top_ngram_chars(grams: pl.DataFrame, n_docs: int, n: int) -> pl.Series:
    """datatrove's `find_top_duplicate`: characters of the most frequent n-gram times its count, or 0."""
    counts = (
        grams.filter(pl.col(f"key_{n}").is_not_null())
        .group_by(_DOC, f"key_{n}")
        .agg(pl.len().alias("count"), pl.col("pos").min().alias("first"), pl.col(f"chars_{n}").first())
        .filter(pl.col("count") == pl.col("count").max().over(_DOC))
    )
    # ties go to the n-gram seen first (`Counter.most_common` keeps insertion order); + the joining spaces
    top = counts.group_by(_DOC).agg(
        (pl.col("count") * (pl.col(f"chars_{n}") + (n - 1))).get(pl.col("first").arg_min()).alias("top")
    )
    return _per_doc(top, n_docs, [pl.col("top").sum()])["top"]


def _dup_ngram_chars(grams: pl.DataFrame, n_docs: int, sizes: list[int]) -> dict[int, pl.Series]:
    """datatrove's `find_all_duplicate` for each n: characters of the n-grams met again, scanning the words
    left to right and jumping over each repeat.

    Only n-grams that occur more than once in their document can be met again, so the scan moves from one
    such n-gram to the next; one scan runs all (document, n) lanes at once, one n-gram a step."""
    totals = {n: np.zeros(n_docs, dtype=np.int64) for n in sizes}
    parts = [
        grams.filter(pl.col(f"key_{n}").is_not_null())
        .select(
            pl.lit(n, dtype=pl.Int64).alias("n"),
            _DOC,
            "pos",
            pl.struct(_DOC, f"key_{n}").hash().alias("key"),
            pl.col(f"chars_{n}").alias("chars"),
        )
        .filter(pl.col("key").is_duplicated())
        for n in sizes
    ]
    repeats = pl.concat(parts) if parts else pl.DataFrame()
    if repeats.is_empty():
        return {n: pl.Series(values) for n, values in totals.items()}
    repeats = repeats.with_row_index("row")
    lanes = repeats.group_by("n", _DOC, maintain_order=True).agg(
        pl.col("row").min().alias("start"), pl.len().alias("length")
    )
    width = int(repeats["pos"].max()) + max(sizes) + 1
    lane_of_row = np.repeat(np.arange(len(lanes), dtype=np.int64), lanes["length"].to_numpy())
    # (lane, position) as one increasing number, to find the next repeat at or after a jump
    place = lane_of_row * width + repeats["pos"].to_numpy().astype(np.int64)
    ids = repeats.select(pl.struct("n", "key").rank("dense"))
    ids = ids.to_series().to_numpy().astype(np.int64)
    chars = repeats["chars"].to_numpy().astype(np.int64)
    step = lanes["n"].to_numpy().astype(np.int64)
    end = (lanes["start"] + lanes["length"]).to_numpy().astype(np.int64)
    at = lanes["start"].to_numpy().astype(np.int64)
    seen = np.zeros(int(ids.max()) + 1, dtype=bool)
    repeated = np.zeros(len(lanes), dtype=np.int64)
    active = np.arange(len(lanes))
    while active.size:
        rows = at[active]
        gram = ids[rows]
        dup = seen[gram]
        seen[gram[~dup]] = True
        repeated[active[dup]] += chars[rows[dup]]
        at[active[~dup]] += 1
        jumped = active[dup]
        at[jumped] = np.searchsorted(place, place[rows[dup]] + step[jumped], side="left")
        active = active[at[active] < end[active]]
    docs = lanes[_DOC].to_numpy()
    for n in sizes:
        lane = step == n
        totals[n][docs[lane]] = repeated[lane]
    return {n: pl.Series(values) for n, values in totals.items()}


def repetition_statistics(texts: pl.Series, config: GopherRepetitionConfig | None = None) -> pl.DataFrame:
    """The `gopher_*` statistics of `texts`, one row per text (in order)."""
    config = config or GopherRepetitionConfig()
    texts = texts.fill_null("")
    n_docs = len(texts)
    n_chars = texts.str.len_chars().cast(pl.Float64)
    stripped = texts.str.replace_all(rf"^{_SPACE}+|{_SPACE}+$", "")
    paragraphs = stripped.str.extract_all(_PARAGRAPH)
    n_paragraphs = paragraphs.list.len().clip(1, None).cast(pl.Float64)  # `re.split` gives [""] for ""
    lines = texts.str.replace_all(r"\n+", "\n").str.split("\n")
    n_lines = lines.list.len().cast(pl.Float64)
    para, line = _duplicates(paragraphs), _duplicates(lines)
    columns = {
        "gopher_dup_para_frac": para["dups"] / n_paragraphs,
        "gopher_dup_para_char_frac": para["dup_chars"] / n_chars,
        "gopher_dup_line_frac": line["dups"] / n_lines,
        "gopher_dup_line_char_frac": line["dup_chars"] / n_chars,
    }
    top_sizes = [n for n, _ in config.top_n_grams]
    dup_sizes = [n for n, _ in config.dup_n_grams]
    grams = _with_ngrams(_token_frame(texts), sorted(set(top_sizes + dup_sizes)))
    for n in top_sizes:
        columns[f"gopher_top_{n}_gram_frac"] = _top_ngram_chars(grams, n_docs, n) / n_chars
    for n, repeated in _dup_ngram_chars(grams, n_docs, dup_sizes).items():
        columns[f"gopher_dup_{n}_gram_frac"] = repeated / n_chars
    return pl.DataFrame({name: values.cast(pl.Float64) for name, values in columns.items()})


def repetition_reason(config: GopherRepetitionConfig, *, text: str = TEXT) -> pl.Expr:
    """datatrove's reason for the first failing rule, over `text` and the statistics; null when all pass."""
    rules: list[tuple[float | None, str, str]] = [
        (config.dup_para_frac, "gopher_dup_para_frac", "dup_para_frac"),
        (config.dup_para_char_frac, "gopher_dup_para_char_frac", "dup_para_char_frac"),
        (config.dup_line_frac, "gopher_dup_line_frac", "dup_line_frac"),
        (config.dup_line_char_frac, "gopher_dup_line_char_frac", "dup_line_char_frac"),
    ]
    rules += [(frac, f"gopher_top_{n}_gram_frac", f"top_{n}_gram") for n, frac in config.top_n_grams]
    rules += [
        (frac, f"gopher_dup_{n}_gram_frac", f"duplicated_{n}_n_grams") for n, frac in config.dup_n_grams
    ]
    # the n-gram rules apply whatever their fraction (datatrove tests `if frac` only for lines and paragraphs)
    enabled = [bool(threshold) for threshold, _, _ in rules[:4]] + [True] * (len(rules) - 4)
    reason: pl.Expr = pl.lit(None, dtype=pl.String)
    for (threshold, column, name), on in reversed(list(zip(rules, enabled, strict=True))):
        if on:
            # NaN (no paragraph) compares false in Python but above every number in polars
            fails = (pl.col(column).fill_nan(None) > (threshold or 0)).fill_null(False)
            reason = pl.when(fails).then(pl.lit(name)).otherwise(reason)
    empty = pl.col(text).is_null() | (pl.col(text) == "")
    return pl.when(empty).then(pl.lit("empty")).otherwise(reason)


def gopher_repetition(
    frame: pl.DataFrame, config: GopherRepetitionConfig | None = None, *, text: str = TEXT
) -> pl.DataFrame:
    """`frame` with the `gopher_*` statistics and `reason` (datatrove's reason string, null = keep)."""
    config = config or GopherRepetitionConfig()
    statistics = repetition_statistics(frame[text], config)
    return frame.with_columns(statistics).with_columns(repetition_reason(config, text=text).alias(REASON))


class GopherRepetition(Filter):
    """Remove documents with repeated paragraphs, lines or n-grams (`reason` = datatrove's reason string)."""

    kind: ClassVar[str] = "gopher_repetition"

    def __init__(self, config: GopherRepetitionConfig | None = None) -> None:
        self.config = config or GopherRepetitionConfig()
        self.score_columns = self.config.statistics() if self.config.keep_scores else {}

    def __repr__(self) -> str:
        return f"GopherRepetition({self.config!r})"

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        marked = gopher_repetition(batch, self.config)
        return marked if self.config.keep_scores else marked.drop(list(self.config.statistics()))
