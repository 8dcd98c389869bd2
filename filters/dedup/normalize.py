"""Text normalisation before hashing, spelled out and configurable (shared by the dedup algorithms)."""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict


class Normalization(BaseModel):
    """How text is normalised before comparison. Digits are kept: merging them merges distinct reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unicode: Literal["NFC", "NFKC", "none"] = "NFKC"
    lowercase: bool = True
    punctuation: bool = False
    """Remove punctuation (Unicode `\\p{P}` and symbols `\\p{S}`)."""
    whitespace: bool = True
    """Collapse runs of whitespace to one space and strip both ends."""


DEFAULT = Normalization()


def normalize_expr(text: pl.Expr, config: Normalization = DEFAULT) -> pl.Expr:
    """A polars expression that normalises `text` as `config` says."""
    if config.unicode != "none":
        text = text.str.normalize(config.unicode)
    if config.lowercase:
        text = text.str.to_lowercase()
    if config.punctuation:
        text = text.str.replace_all(r"[\p{P}\p{S}]+", " ")
    if config.whitespace:
        text = text.str.replace_all(r"\s+", " ").str.strip_chars()
    return text


def normalize_series(texts: pl.Series, config: Normalization = DEFAULT, *, layout: bool = True) -> pl.Series:
    """`normalize_expr` over a Series, with Unicode normalisation only where a text is not plain ASCII.

    `layout=False` skips punctuation and whitespace rules (they do not change word tokens).
    """
    if config.unicode != "none":
        mask = texts.str.contains(r"[^\x00-\x7F]").fill_null(False)
        if mask.any():
            indices = mask.arg_true()
            texts = texts.scatter(indices, texts.gather(indices).str.normalize(config.unicode))
    plain = config.model_copy(update={"unicode": "none"})
    if not layout:
        plain = plain.model_copy(update={"punctuation": False, "whitespace": False})
    return pl.select(normalize_expr(pl.lit(texts), plain)).to_series().alias(texts.name)


def normalize(text: str, config: Normalization = DEFAULT) -> str:
    """Normalise one string (the same rules as `normalize_expr`)."""
    return pl.select(normalize_expr(pl.lit(text, pl.String), config)).item()
