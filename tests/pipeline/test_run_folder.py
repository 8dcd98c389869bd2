from pathlib import Path

import pytest

from pipeline import run_folder
from pipeline.errors import RunFolderError

IDENTITY = {"inputs": [{"path": "/data/a.jsonl", "size": 10}], "recipe": {"stages": []}}


def test_new_folder_is_prepared(tmp_path: Path) -> None:
    root = tmp_path / "run"
    assert run_folder.prepare(root, IDENTITY) == "new"
    assert run_folder.read_manifest(root)["status"] == "running"


def test_complete_run_is_reported_complete(tmp_path: Path) -> None:
    root = tmp_path / "run"
    run_folder.prepare(root, IDENTITY)
    run_folder.write_manifest(root, IDENTITY, status="complete")
    assert run_folder.prepare(root, IDENTITY) == "complete"


def test_unfinished_run_of_same_identity_starts_over(tmp_path: Path) -> None:
    root = tmp_path / "run"
    run_folder.prepare(root, IDENTITY)
    (root / "kept").mkdir()
    (root / "kept" / "part-0.parquet").write_text("partial")
    assert run_folder.prepare(root, IDENTITY) == "new"
    assert not (root / "kept").exists()


@pytest.mark.parametrize(("changed", "what"), [("inputs", "inputs"), ("recipe", "recipe")])
def test_other_run_is_refused(tmp_path: Path, changed: str, what: str) -> None:
    root = tmp_path / "run"
    run_folder.prepare(root, IDENTITY)
    other = {**IDENTITY, changed: {"something": "else"}}
    with pytest.raises(RunFolderError, match=f"holds a run of other {what}"):
        run_folder.prepare(root, other)


def test_foreign_folder_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="holds no winnow run"):
        run_folder.prepare(tmp_path, IDENTITY)
    assert (tmp_path / "notes.txt").read_text() == "mine"
