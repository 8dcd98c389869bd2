"""Scoring with a trained quality model: the `quality_score` column and the `quality_classifier` stage."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from filters.quality.classifier import QualityClassifier
from filters.quality.classifier_stage import (
    COLUMN,
    REASON_BELOW,
    QualityClassifierConfig,
    QualityClassifierFilter,
    load_model,
    score_quality,
)
from pipeline.batch import ORDER, REASON
from tests.filters.quality.classifier_util import labelled


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = labelled(60, seed=0)
    return QualityClassifier().fit(texts, labels).save(tmp_path_factory.mktemp("model") / "quality.wq")


@pytest.fixture
def batch() -> pl.DataFrame:
    texts, labels = labelled(10, seed=1)
    return pl.DataFrame(
        {"id": [f"d{i}" for i in range(10)], "text": texts, "good": labels, ORDER: list(range(10))}
    )


def test_score_quality_adds_a_float_column_in_order(model_file: Path, batch: pl.DataFrame) -> None:
    scored = score_quality(batch, model_file, batch_size=3)
    assert scored.columns == [*batch.columns, COLUMN]
    assert scored.schema[COLUMN] == pl.Float64
    assert scored.drop(COLUMN).equals(batch)
    expected = QualityClassifier.load(model_file).predict_quality(batch["text"].to_list())
    np.testing.assert_allclose(scored[COLUMN].to_numpy(), expected)
    good = scored.filter(pl.col("good") == 1)[COLUMN]
    bad = scored.filter(pl.col("good") == 0)[COLUMN]
    assert good.min() > bad.max()


def test_score_quality_on_an_empty_frame(model_file: Path) -> None:
    empty = pl.DataFrame(schema={"id": pl.String, "text": pl.String})
    scored = score_quality(empty, model_file)
    assert scored.height == 0 and scored.schema[COLUMN] == pl.Float64


def test_stage_scores_only_without_min_score(model_file: Path, batch: pl.DataFrame) -> None:
    stage = QualityClassifierConfig(model=model_file).build()
    marked = stage.apply(batch)
    assert marked.height == batch.height
    assert marked[REASON].null_count() == batch.height
    assert marked[COLUMN].is_between(0, 1).all()


def test_stage_removes_documents_below_min_score(model_file: Path, batch: pl.DataFrame) -> None:
    stage = QualityClassifierConfig(model=model_file, min_score=0.5).build()
    marked = stage.apply(batch)
    assert marked.height == batch.height
    removed = marked.filter(pl.col(REASON).is_not_null())
    assert removed[REASON].unique().to_list() == [REASON_BELOW]
    assert (removed[COLUMN] < 0.5).all()
    assert removed["good"].to_list() == [0] * 5
    assert stage.score_columns == {COLUMN: pl.Float64()}


def test_stage_is_small_and_loads_the_model_lazily(model_file: Path) -> None:
    stage = QualityClassifierFilter(model=model_file, min_score=0.3)
    assert set(vars(stage)) == {"config"}  # the parameters only: no model is loaded until a batch comes
    assert len(pickle.dumps(stage)) < 500


def test_model_cache_follows_the_file(model_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.wq"
    path.write_bytes(model_file.read_bytes())
    first = load_model(path)
    assert load_model(path) is first
    texts, labels = labelled(40, seed=5)
    QualityClassifier(C=0.1).fit(texts, labels).save(path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert load_model(path).C == 0.1


def test_config_checks_the_model_file_up_front(tmp_path: Path, model_file: Path) -> None:
    with pytest.raises(ValidationError, match="no such quality model file"):
        QualityClassifierConfig(model=tmp_path / "missing.wq")
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ValidationError, match="not a winnow quality model file"):
        QualityClassifierConfig(model=tmp_path / "notes.txt")
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        QualityClassifierConfig(model=model_file, min_score=1.5)
    with pytest.raises(ValidationError, match="Extra inputs"):
        QualityClassifierConfig(model=model_file, threshold=0.5)  # type: ignore[call-arg]
    config = QualityClassifierConfig.model_validate({"type": "quality_classifier", "model": str(model_file)})
    assert config.model.is_absolute() and config.min_score is None
