"""Scoring documents with a trained quality classifier (`winnow quality train` makes the model file).

Library use: `score_quality(frame, model)` adds `quality_score`, the calibrated P(high quality).
Pipeline use: the `QualityClassifierFilter` stage (`type = "quality_classifier"`): scores every document and,
with `min_score`, removes those below it (`reason = quality_below_threshold`); without, it only scores, so
the score can be thresholded later or used as dedup's keep policy (`keep = "quality_score"`).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator, model_validator

from pipeline.batch import REASON, TEXT
from pipeline.stage import Filter, StageConfig

if TYPE_CHECKING:  # scikit-learn is imported where a model is read, not where a recipe is
    from filters.quality.classifier import QualityClassifier

COLUMN = "quality_score"
REASON_BELOW = "quality_below_threshold"


def load_model(path: str | Path, *, device: str | None = None) -> QualityClassifier:
    """The model file at `path`, loaded once per process (and device), reloaded when the file changes.

    `device` runs the embedding head's encoder there instead of the device it was trained on.
    """
    resolved = Path(path).resolve()
    from filters.quality.classifier import read_header

    read_header(resolved)  # a clear error for a missing or foreign file
    stat = resolved.stat()
    return _load(str(resolved), stat.st_mtime_ns, stat.st_size, device)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int, device: str | None) -> QualityClassifier:
    from filters.quality.classifier import QualityClassifier

    model = QualityClassifier.load(path)
    return model if device is None else model.set_params(device=device)


def score_quality(
    frame: pl.DataFrame,
    model: QualityClassifier | str | Path,
    *,
    text: str = TEXT,
    batch_size: int = 4096,
) -> pl.DataFrame:
    """`frame` with a Float64 `quality_score` column: P(high quality), scored `batch_size` texts at a time."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    classifier = model if not isinstance(model, str | Path) else load_model(model)
    texts = frame[text].fill_null("").to_list()
    scores = np.concatenate(
        [np.zeros(0)]
        + [classifier.predict_quality(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    )
    return frame.with_columns(pl.Series(COLUMN, scores, dtype=pl.Float64))


class QualityClassifierConfig(StageConfig):
    """Recipe table for `type = "quality_classifier"`."""

    type: Literal["quality_classifier"] = "quality_classifier"
    #: a model file written by `winnow quality train`
    model: Path
    #: remove documents whose quality_score is below this; None: only score, remove nothing
    min_score: float | None = Field(None, ge=0.0, le=1.0)
    #: documents scored per call (bounds the embedding head's memory)
    batch_size: int = Field(4096, ge=1, le=1_000_000)
    #: torch device of the embedding head's encoder ("cpu", "cuda", ...); the n-gram head ignores it
    device: str = "cpu"
    #: sha256 of the model file, filled in by winnow: a retrained model is a different recipe for a run folder
    model_sha256: str | None = None

    @field_validator("model")
    @classmethod
    def _model_file(cls, path: Path) -> Path:
        from filters.quality.classifier import QualityModelError, read_header

        path = path.expanduser().resolve()
        try:
            read_header(path)  # missing, foreign or another version: fail before any work starts
        except QualityModelError as error:
            raise ValueError(str(error)) from None
        return path

    @model_validator(mode="after")
    def _digest(self) -> QualityClassifierConfig:
        self.model_sha256 = hashlib.sha256(self.model.read_bytes()).hexdigest()
        return self


class QualityClassifierFilter(Filter):
    """Score each document with a trained quality classifier; remove those below `min_score` (if set)."""

    Config = QualityClassifierConfig
    score_columns: ClassVar[dict[str, pl.DataType]] = {COLUMN: pl.Float64()}

    config: QualityClassifierConfig

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        config = self.config
        classifier = load_model(config.model, device=config.device)
        scored = score_quality(batch, classifier, batch_size=config.batch_size)
        reason = pl.lit(None, dtype=pl.String)
        if config.min_score is not None:
            reason = pl.when(pl.col(COLUMN) < config.min_score).then(pl.lit(REASON_BELOW)).otherwise(reason)
        return scored.with_columns(reason.alias(REASON))
