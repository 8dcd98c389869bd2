"""`winnow quality train` / `winnow quality score`: a model file with its cross-validated AUC, a run folder.

Runs the installed `winnow` command once `flows.cli` mounts `quality_app`; until then the sub-app itself
through typer's CliRunner, against the same real Prefect test server.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import polars as pl
import pytest
from typer.testing import CliRunner

from filters.quality.classifier import QualityClassifier
from flows.quality_cli import quality_app
from tests.conftest import CliResult, shared_file
from tests.filters.quality.classifier_util import labelled

Quality = Callable[..., CliResult]


def mounted() -> bool:
    from flows.cli import app

    return any(group.name == "quality" for group in app.registered_groups)


@pytest.fixture
def quality(request: pytest.FixtureRequest) -> Iterator[Quality]:
    """`winnow quality ARGS...` (the installed command when mounted, else the sub-app in process)."""
    if mounted():
        winnow = request.getfixturevalue("winnow")
        yield lambda *args: winnow("quality", *args)
        return
    server = request.getfixturevalue("prefect_server")
    runner = CliRunner()
    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = server

    def invoke(*args: str | Path) -> CliResult:
        done = runner.invoke(quality_app, [str(a) for a in args], env={"COLUMNS": "200"})
        if done.exception and not isinstance(done.exception, SystemExit):
            raise done.exception
        return CliResult(done.exit_code, done.output)

    yield invoke
    if saved is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = saved


def write(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


@pytest.fixture
def labelled_file(tmp_path: Path) -> Path:
    texts, labels = labelled(40, seed=0)
    return write(
        tmp_path / "labelled.jsonl", [{"text": t, "label": y} for t, y in zip(texts, labels, strict=True)]
    )


def test_train_prints_cv_auc_and_saves_a_model(tmp_path: Path, labelled_file: Path, quality: Quality) -> None:
    out = tmp_path / "models" / "quality.wq"
    result = quality("train", labelled_file, "--out", out, "--folds", "4")
    assert result.exit_code == 0, result.output
    assert "4-fold cross-validation (ngram head, seed 0)" in result.output
    assert len(re.findall(r"│\s+\d\s+│\s+10\s+│\s+1\.000\s+│", result.output)) == 4
    assert re.search(r"mean\s+│\s+40\s+│\s+1\.000 ± 0\.000", result.output)
    assert "trained on 40 documents (20 good, 20 bad)" in result.output
    model = QualityClassifier.load(out)
    assert model.cv_report_ is not None and model.cv_report_.mean_auc == 1.0
    assert model.training_ == {"documents": 40, "positive": 20}


def test_train_from_reference_and_raw(tmp_path: Path, quality: Quality) -> None:
    texts, labels = labelled(60, seed=1)
    good = write(
        tmp_path / "wiki.jsonl", [{"body": t} for t, y in zip(texts, labels, strict=True) if y == 1][:10]
    )
    raw = write(tmp_path / "crawl.jsonl", [{"body": t} for t, y in zip(texts, labels, strict=True) if y == 0])
    out = tmp_path / "ref.wq"
    result = quality(
        "train", "--reference", good, "--raw", raw, "--text-field", "body", "--out", out, "--folds", "3"
    )
    assert result.exit_code == 0, result.output
    assert "raw sampled to 10 of 30 documents (seed 0) to balance" in result.output
    assert "trained on 20 documents (10 good, 10 bad)" in result.output
    assert QualityClassifier.load(out).training_ == {"documents": 20, "positive": 10}


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"text": "a", "score": 1}] * 10, "no label column 'label'"),
        ([{"text": "a", "label": 3}] * 10, "label is 3 (labels must be 1 = good or 0 = bad)"),
        ([{"text": "a", "label": 1}] * 10, "all 10 documents have the same label"),
        ([{"text": "a", "label": i % 2} for i in range(6)], "5-fold cross-validation needs at least 5"),
    ],
)
def test_train_bad_labels_exit_1(tmp_path: Path, quality: Quality, records: list[dict], message: str) -> None:
    path = write(tmp_path / "bad.jsonl", records)
    result = quality("train", path, "--out", tmp_path / "m.wq")
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "m.wq").exists()


def test_train_unreadable_input_exit_1(tmp_path: Path, quality: Quality) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine", "label": 1}\n{"text": oops}\n')
    result = quality("train", broken, "--out", tmp_path / "m.wq")
    assert result.exit_code == 1, result.output
    assert "broken.jsonl" in result.output and "line 2" in result.output
    missing = quality("train", tmp_path / "nowhere.jsonl", "--out", tmp_path / "m.wq")
    assert missing.exit_code == 1, missing.output


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--out", "m.wq"],
        ["train", "x.jsonl", "--reference", "g.jsonl", "--raw", "r.jsonl", "--out", "m.wq"],
        ["train", "--reference", "g.jsonl", "--out", "m.wq"],
        ["train", "x.jsonl", "--out", "m.wq", "--folds", "1"],
        ["score", "x.jsonl", "--out", "run"],
    ],
)
def test_usage_errors_exit_2(args: list[str], quality: Quality) -> None:
    assert quality(*args).exit_code == 2


def test_score_writes_a_run_folder_with_quality_scores(
    tmp_path: Path, labelled_file: Path, quality: Quality
) -> None:
    model = tmp_path / "quality.wq"
    assert quality("train", labelled_file, "--out", model, "--folds", "4").exit_code == 0
    texts, labels = labelled(20, seed=7)
    corpus = write(
        tmp_path / "corpus.jsonl",
        [{"id": f"d{i}", "text": t, "good": y} for i, (t, y) in enumerate(zip(texts, labels, strict=True))],
    )

    scored = quality("score", corpus, "--model", model, "--out", tmp_path / "run", "--batch-size", "7")
    assert scored.exit_code == 0, scored.output
    kept = pl.read_parquet(tmp_path / "run" / "kept")
    assert kept.height == 20 and kept.schema["quality_score"] == pl.Float64
    assert kept.filter(pl.col("good") == 1)["quality_score"].min() > 0.5
    assert kept.filter(pl.col("good") == 0)["quality_score"].max() < 0.5
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["input"] == 20 and stats["kept"] == 20

    filtered = quality(
        "score", corpus, "--model", model, "--out", tmp_path / "filtered", "--min-score", "0.5"
    )
    assert filtered.exit_code == 0, filtered.output
    kept = pl.read_parquet(tmp_path / "filtered" / "kept")
    removed = pl.read_parquet(tmp_path / "filtered" / "removed")
    assert sorted(kept["good"].to_list()) == [1] * 10
    assert set(removed["reason"]) == {"quality_below_threshold"}
    assert set(removed["stage"]) == {"quality_classifier"}
    assert (removed["quality_score"] < 0.5).all() and removed.height == 10


def test_score_with_a_bad_model_exit_1(tmp_path: Path, quality: Quality) -> None:
    corpus = write(tmp_path / "corpus.jsonl", [{"text": "anything"}])
    missing = quality("score", corpus, "--model", tmp_path / "none.wq", "--out", tmp_path / "run")
    assert missing.exit_code == 1, missing.output
    assert "no such quality model file" in missing.output
    (tmp_path / "fake.wq").write_text("hello")
    fake = quality("score", corpus, "--model", tmp_path / "fake.wq", "--out", tmp_path / "run")
    assert fake.exit_code == 1 and "not a winnow quality model file" in fake.output
    assert not (tmp_path / "run").exists()


@pytest.mark.shared_data
def test_train_on_dclm_reaches_085(tmp_path: Path, quality: Quality) -> None:
    result = quality("train", shared_file("dclm_quality.jsonl.gz"), "--out", tmp_path / "dclm.wq")
    assert result.exit_code == 0, result.output
    mean = float(re.search(r"mean\s+│\s+349\s+│\s+([0-9.]+)", result.output).group(1))  # type: ignore[union-attr]
    assert mean >= 0.85, result.output
