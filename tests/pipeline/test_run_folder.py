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


def _unfinished_with_checkpoint(root: Path, written_by: str | None) -> None:
    run_folder.prepare(root, IDENTITY)
    run_folder.write_json(run_folder.RunFolder(root).checkpoints / "read" / "0.json", {"rows": 3})
    manifest = run_folder.read_manifest(root)
    assert manifest["winnow_version"] == run_folder.winnow_version()
    if written_by is None:
        del manifest["winnow_version"]
    else:
        manifest["winnow_version"] = written_by
    run_folder.write_json(root / run_folder.MANIFEST, manifest)


def test_unfinished_run_of_same_version_resumes(tmp_path: Path) -> None:
    root = tmp_path / "run"
    _unfinished_with_checkpoint(root, run_folder.winnow_version())
    assert run_folder.prepare(root, IDENTITY) == "resume"
    assert run_folder.read_manifest(root)["attempt"] == 2


def test_checkpoints_of_another_version_are_not_resumed(tmp_path: Path) -> None:
    root = tmp_path / "run"
    _unfinished_with_checkpoint(root, "0.0.1")
    message = f"started by winnow 0.0.1, this is winnow {run_folder.winnow_version()}"
    with pytest.raises(RunFolderError, match=message):
        run_folder.prepare(root, IDENTITY)
    assert (run_folder.RunFolder(root).checkpoints / "read" / "0.json").is_file()  # nothing was deleted
    assert run_folder.read_manifest(root)["winnow_version"] == "0.0.1"


def test_a_manifest_from_before_versions_were_recorded_resumes(tmp_path: Path) -> None:
    root = tmp_path / "run"
    _unfinished_with_checkpoint(root, None)
    assert run_folder.prepare(root, IDENTITY) == "resume"
    assert run_folder.read_manifest(root)["winnow_version"] == run_folder.winnow_version()
