"""Reading training sets: labelled files (any reader format) and reference-vs-raw corpora."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from filters.quality.training_data import (
    TrainingDataError,
    check_trainable,
    read_labelled,
    read_reference,
)
from pipeline.errors import InputError


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def test_labels_in_their_usual_spellings(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "l.jsonl",
        [{"body": f"text {i}", "good": value} for i, value in enumerate([1, 0, True, False, "1", "0", 1.0])],
    )
    data = read_labelled([str(path)], text_field="body", label_field="good")
    assert data.texts[:2] == ["text 0", "text 1"]
    np.testing.assert_array_equal(data.labels, [1, 0, 1, 0, 1, 0, 1])
    assert (data.positive, data.negative) == (4, 3)


def test_csv_labels(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("text,label\nfine prose,1\nspam spam,0\n")
    np.testing.assert_array_equal(read_labelled([str(path)]).labels, [1, 0])


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"text": "a", "score": 1}], r"no label column 'label' \(columns: id, text, score\)"),
        ([{"text": "a", "label": 1}, {"text": "b", "label": 2}], r"l.jsonl line 2: label is 2"),
        ([{"text": "a", "label": 1}, {"text": "b"}], r"1 of 2 documents .* line 2: label is missing"),
        ([{"text": "a", "label": "good"}], r"label is 'good' \(labels must be 1 = good or 0 = bad\)"),
    ],
)
def test_bad_labels_name_the_document(tmp_path: Path, records: list[dict], message: str) -> None:
    path = jsonl(tmp_path / "l.jsonl", [{"id": f"d{i}", **r} for i, r in enumerate(records)])
    with pytest.raises(TrainingDataError, match=message):
        read_labelled([str(path)])


def test_unreadable_input_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": \n')
    with pytest.raises(InputError, match=r"broken\.jsonl"):
        read_labelled([str(path)])
    with pytest.raises(InputError):
        read_labelled([str(tmp_path / "missing.jsonl")])


def test_reference_against_raw_is_balanced_and_seeded(tmp_path: Path) -> None:
    good = jsonl(tmp_path / "good.jsonl", [{"text": f"good {i}"} for i in range(5)])
    raw = jsonl(tmp_path / "raw.jsonl", [{"text": f"raw {i}"} for i in range(50)])
    data = read_reference([str(good)], [str(raw)], seed=3)
    assert len(data.texts) == 10 and data.positive == 5
    assert data.texts[:5] == [f"good {i}" for i in range(5)]
    assert all(t.startswith("raw") for t in data.texts[5:])
    assert data.notes == ["raw sampled to 5 of 50 documents (seed 3) to balance"]
    assert read_reference([str(good)], [str(raw)], seed=3).texts == data.texts
    assert read_reference([str(good)], [str(raw)], seed=4).texts != data.texts
    everything = read_reference([str(good)], [str(raw)], balance=False)
    assert (everything.positive, everything.negative) == (5, 50) and not everything.notes


def test_trainable_needs_both_labels_and_enough_for_the_folds() -> None:
    check_trainable(np.array([0, 1] * 5), folds=5)
    with pytest.raises(TrainingDataError, match=r"same label: training needs bad \(0\) documents too"):
        check_trainable(np.array([1, 1, 1]), folds=2)
    with pytest.raises(TrainingDataError, match=r"needs at least 5 documents of each label \(label 0: 3\)"):
        check_trainable(np.array([0, 0, 0, 1, 1, 1, 1, 1]), folds=5)
