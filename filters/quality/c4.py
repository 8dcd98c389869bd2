"""C4's heuristic quality rules, as datatrove 0.10.1's `C4QualityFilter` and `C4BadWordsFilter` apply them.

`c4_quality(frame)` looks at each line (`str.splitlines()`, stripped) in order and removes it when, in this
order, it has a word over `max_word_length` characters (`too_long_word`), does not end in `. ? ! " '` or
ends in `...` after citations such as `[1]` are cut (`no_terminal_punc`), has fewer than
`min_words_per_line` words (`too_few_words`), mentions "javascript" (`javascript`) or a cookie / terms of use
phrase (`policy`). The first surviving line that contains "lorem ipsum" (checked before "javascript") or a
`{` (checked after it) removes the whole document (`lorem_ipsum`, `curly_bracket`); so does having fewer than
`min_num_sentences` sentences (spaCy's sentencizer) in the kept lines (`too_few_sentences`). A kept
document's text becomes its kept lines joined by newlines. With `split_paragraph=False` the same rules apply
to spaCy's sentences instead of lines (joined by spaces).

`c4_badwords(frame, C4BadWordsConfig(words_file=...))` removes documents that contain a word of the list
(`document_removed_with_badwords`); nothing is downloaded: the list is the user's file, one word a line.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field, field_validator

from filters.quality.pytext import (
    py_endswith,
    py_has_word_longer_than,
    py_splitlines,
    py_strip,
    py_word_count,
)
from filters.quality.sentences import sentences, split_sentences
from pipeline.batch import REASON, TEXT
from pipeline.stage import Filter, StageConfig

CITATION = r"\[\d*]|\[edit]|\[citation needed]"
END_PUNCTUATION = (".", "?", "!", '"', "'")
ELLIPSIS = "..."
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)

REASON_LOREM = "lorem_ipsum"
REASON_CURLY = "curly_bracket"
REASON_FEW_SENTENCES = "too_few_sentences"
REASON_BADWORDS = "document_removed_with_badwords"

#: why a line was removed, in datatrove's order of checks (its `line-filter-*` statistics)
LINE_RULES = ("too_long_word", "no_terminal_punc", "too_few_words", "javascript", "policy")
LINES = "c4_lines"
LINES_REMOVED = "c4_lines_removed"
SENTENCES = "c4_sentences"
#: statistics columns of `c4_quality`
STATS: dict[str, pl.DataType] = {
    LINES: pl.UInt32(),
    LINES_REMOVED: pl.UInt32(),
    SENTENCES: pl.UInt32(),
    **{f"c4_lines_{rule}": pl.UInt32() for rule in LINE_RULES},
}

_ROW = "__c4_row"
_LINE = "__c4_line"
_RULE = "__c4_rule"
_CLEANED = "__c4_cleaned"
_KEPT = "kept"


class C4QualityConfig(StageConfig):
    """Recipe table for `type = "c4_quality"`: datatrove 0.10.1's `C4QualityFilter` parameters and defaults.

    `-1` disables `min_num_sentences`, `min_words_per_line` and `max_word_length`. `split_paragraph = false`
    applies the line rules to each sentence (spaCy's) instead, each kept one counting as one sentence, and
    joins the kept ones with spaces. English only.
    """

    type: Literal["c4_quality"] = "c4_quality"
    split_paragraph: bool = True
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = Field(5, ge=-1)
    min_words_per_line: int = Field(3, ge=-1)
    max_word_length: int = Field(1000, ge=-1)
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True
    language: Literal["en"] = "en"
    #: keep every statistics column with the kept documents (`c4_lines_removed` is always kept)
    keep_scores: bool = False


def _line_rule(line: pl.Expr, cleaned: pl.Expr, config: C4QualityConfig) -> pl.Expr:
    """The first rule that removes a stripped line (a line rule, a document reason, or "kept").

    Words are counted and measured on the `line`, the rest looks at it `cleaned` of citations.
    """
    lower = cleaned.str.to_lowercase()
    rules: list[tuple[pl.Expr, str]] = []
    if config.max_word_length != -1:
        rules.append((py_has_word_longer_than(line, config.max_word_length), "too_long_word"))
    if config.filter_no_terminal_punct:
        no_end = ~py_endswith(cleaned, END_PUNCTUATION) | cleaned.str.ends_with(ELLIPSIS)
        rules.append((no_end, "no_terminal_punc"))
    rules.append((py_word_count(line) < config.min_words_per_line, "too_few_words"))
    if config.filter_lorem_ipsum:
        rules.append((lower.str.contains("lorem ipsum", literal=True), REASON_LOREM))
    if config.filter_javascript:
        rules.append((lower.str.contains("javascript", literal=True), "javascript"))
    if config.filter_curly_bracket:
        rules.append((cleaned.str.contains("{", literal=True), REASON_CURLY))
    if config.filter_policy:
        rules.append((lower.str.contains_any(list(POLICY_SUBSTRINGS)), "policy"))
    decided = pl.when(rules[0][0]).then(pl.lit(rules[0][1]))
    for condition, rule in rules[1:]:
        decided = decided.when(condition).then(pl.lit(rule))
    return decided.otherwise(pl.lit(_KEPT))


def c4_quality(
    frame: pl.DataFrame, config: C4QualityConfig | None = None, *, text: str = TEXT
) -> pl.DataFrame:
    """`frame` with C4's line removal applied to the kept documents' `text`, `reason` and `STATS` columns.

    `c4_sentences` needs spaCy's tokens; unless `config.keep_scores`, they are only counted in documents
    with fewer kept lines than `min_num_sentences`, elsewhere each kept line counts as one (a lower bound).
    """
    config = config or C4QualityConfig()
    lines = (
        frame.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias(_ROW),
            (py_splitlines if config.split_paragraph else split_sentences)(pl.col(text)).alias(_LINE),
        )
        .explode(_LINE)
        .drop_nulls(_LINE)
        .with_columns(py_strip(pl.col(_LINE)))
        .with_columns(
            (pl.col(_LINE).str.replace_all(CITATION, "") if config.remove_citations else pl.col(_LINE)).alias(
                _CLEANED
            )
        )
        .select(
            _ROW,
            pl.col(_CLEANED).alias(_LINE),
            _line_rule(pl.col(_LINE), pl.col(_CLEANED), config).alias(_RULE),
        )
    )
    kept = pl.col(_RULE) == _KEPT
    # a kept line holds at least one sentence: only documents with fewer kept lines need spaCy's count
    exact = kept & (pl.lit(config.keep_scores) | (kept.sum().over(_ROW) < config.min_num_sentences))
    if not config.split_paragraph:
        exact = pl.lit(False)
    lines = lines.with_columns(
        pl.when(exact)
        .then(sentences(pl.when(exact).then(pl.col(_LINE))))
        .when(kept)
        .then(1)
        .otherwise(0)
        .cast(pl.UInt32)
        .alias(SENTENCES)
        if config.min_num_sentences != -1
        else pl.lit(0, dtype=pl.UInt32).alias(SENTENCES)
    )
    document_rule = pl.col(_RULE).is_in([REASON_LOREM, REASON_CURLY])
    per_doc = lines.group_by(_ROW).agg(
        pl.col(_RULE).filter(document_rule).first().alias(REASON),
        pl.col(_LINE).filter(kept).str.join("\n" if config.split_paragraph else " ").alias("__c4_text"),
        pl.len().cast(pl.UInt32).alias(LINES),
        (pl.len() - kept.sum()).cast(pl.UInt32).alias(LINES_REMOVED),
        pl.col(SENTENCES).sum().cast(pl.UInt32),
        *[(pl.col(_RULE) == rule).sum().cast(pl.UInt32).alias(f"c4_lines_{rule}") for rule in LINE_RULES],
    )
    few_sentences = pl.col(SENTENCES) < config.min_num_sentences
    return (
        frame.drop(REASON, *STATS, strict=False)
        .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias(_ROW))
        .join(per_doc, on=_ROW, how="left", maintain_order="left")
        .with_columns(pl.col(*STATS).fill_null(0))
        .with_columns(
            pl.when(pl.col(REASON).is_null() & few_sentences)
            .then(pl.lit(REASON_FEW_SENTENCES))
            .otherwise(pl.col(REASON))
            .alias(REASON)
        )
        .with_columns(
            pl.when(pl.col(REASON).is_null())
            .then(py_strip(pl.col("__c4_text").fill_null("")))
            .otherwise(pl.col(text))
            .alias(text)
        )
        .drop(_ROW, "__c4_text")
    )


class C4Quality(Filter):
    """C4's line removal (rewrites `text`) and document rules; `c4_lines_removed` stays with the documents."""

    Config = C4QualityConfig

    config: C4QualityConfig

    @property
    def score_columns(self) -> dict[str, pl.DataType]:  # type: ignore[override]
        return dict(STATS if self.config.keep_scores else {LINES_REMOVED: STATS[LINES_REMOVED]})

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        marked = c4_quality(batch, self.config)
        return marked.drop([c for c in STATS if c not in self.score_columns])

    def counters(self, marked: pl.DataFrame) -> dict[str, int]:
        """Lines removed from the kept documents (by rule too, when the scores are kept)."""
        kept = marked.filter(pl.col(REASON).is_null())
        return {
            column.removeprefix("c4_"): int(kept[column].sum())
            for column in STATS
            if column.startswith("c4_lines_") and column in kept.columns
        }


class C4BadWordsConfig(StageConfig):
    """Recipe table for `type = "c4_badwords"`: datatrove 0.10.1's `C4BadWordsFilter` with the user's list.

    `words_file` holds one word or phrase a line (e.g. LDNOOBW's `en` list); nothing is downloaded. Matches
    are case-insensitive and must be flanked by non-word characters, except for `language` ja, th and zh.
    A document with a bad word is kept with probability `keep_fraction` (decided by a hash of its text and
    `seed`, so the same on every run and shard).
    """

    type: Literal["c4_badwords"] = "c4_badwords"
    words_file: Path
    keep_fraction: float = Field(0.0, ge=0.0, le=1.0)
    seed: int = Field(0, ge=0)
    language: str = "en"

    @field_validator("words_file")
    @classmethod
    def _exists(cls, path: Path) -> Path:
        if not path.is_file():
            raise ValueError(f"bad-words file {path} does not exist (give a list, one word a line)")
        return path


#: words datatrove removes from every list: common subwords of languages written without spaces
_ALLOWLIST = frozenset({"sm", "グロ", "女の子", "性"})
_UNSPACED_LANGUAGES = ("ja", "th", "zh")


@lru_cache(maxsize=8)
def badwords_pattern(path: str, language: str = "en") -> str | None:
    """The regex of the bad words in `path` as datatrove builds it, blank lines ignored (None: no words)."""
    with open(path, encoding="utf-8") as handle:
        badwords = {line.strip() for line in handle} - _ALLOWLIST - {""}
    if not badwords:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(badwords))
    if language in _UNSPACED_LANGUAGES:
        return alternatives
    return rf"(?:\W|^)(?:{alternatives})(?:\W|$)"


def c4_badwords(frame: pl.DataFrame, config: C4BadWordsConfig, *, text: str = TEXT) -> pl.DataFrame:
    """`frame` with `c4_badwords` (a bad word was found) and `reason`."""
    pattern = badwords_pattern(str(config.words_file), config.language)
    found = pl.col(text).str.to_lowercase().str.contains(pattern) if pattern else pl.lit(False)
    # a uniform draw per document from its text, as datatrove's `uniform() < keep_fraction`
    cut = pl.lit(min(int(config.keep_fraction * 2**64), 2**64 - 1), dtype=pl.UInt64)
    spared = pl.lit(config.keep_fraction > 0) & (pl.col(text).hash(seed=config.seed) < cut)
    return frame.with_columns(found.fill_null(False).alias("c4_badwords")).with_columns(
        pl.when(pl.col("c4_badwords") & ~spared).then(pl.lit(REASON_BADWORDS)).alias(REASON)
    )


class C4BadWords(Filter):
    """Remove documents that contain a word of the user's bad-words list."""

    Config = C4BadWordsConfig

    config: C4BadWordsConfig

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        return c4_badwords(batch, self.config).drop("c4_badwords")
