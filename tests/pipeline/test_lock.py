"""The output folder's lock: one live run per folder; a dead run's lock file blocks nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from filters.dedup.exact import ExactDedup
from filters.dedup.minhash import MinHashConfig, MinHashDedup
from pipeline.errors import RunFolderError
from pipeline.lock import LOCK_NAME, FolderLockedError, ensure_free, hold
from pipeline.readers import ReadOptions
from pipeline.runner import RunOptions, run

HOLD_AND_WAIT = textwrap.dedent(
    """
    import sys, time
    from pipeline.lock import hold
    with hold(sys.argv[1]):
        print("held", flush=True)
        time.sleep(120)
    """
)


def holder_process(folder: Path) -> subprocess.Popen[str]:
    """Another process that takes the folder's lock and keeps it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_AND_WAIT, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_holder_is_refused_with_who_holds_it(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    with hold(folder) as me:
        with pytest.raises(FolderLockedError) as refused, hold(folder):
            pass
        with pytest.raises(FolderLockedError):
            ensure_free(folder)
        message = str(refused.value)
        assert message.startswith(f"{folder}: another winnow run is writing to this folder")
        assert f"pid {os.getpid()} on {socket.gethostname()}, started {me['started_at']}" in message
        assert isinstance(refused.value, RunFolderError)  # the CLI's exit 1, no traceback
    assert not (folder / LOCK_NAME).exists()  # released and removed
    ensure_free(folder)
    with hold(folder):
        pass


def test_a_killed_holder_leaves_a_file_that_blocks_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    other = holder_process(folder)
    try:
        with pytest.raises(FolderLockedError, match=f"pid {other.pid} on"), hold(folder):
            pass
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=30)
    assert json.loads((folder / LOCK_NAME).read_text())["pid"] == other.pid  # stale, left by SIGKILL
    ensure_free(folder)
    with hold(folder) as me:
        assert json.loads((folder / LOCK_NAME).read_text())["pid"] == me["pid"] == os.getpid()


def test_a_run_on_a_held_folder_changes_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text('{"text": "one"}\n{"text": "two"}\n{"text": "one"}\n')
    out = tmp_path / "out"
    options = RunOptions(read=ReadOptions(batch_size=1))
    other = holder_process(out)
    try:
        with pytest.raises(FolderLockedError, match=f"pid {other.pid}"):
            run([corpus], out, [ExactDedup()], options)
        assert [p.name for p in out.iterdir()] == [LOCK_NAME]
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=30)
    result = run([corpus], out, [ExactDedup()], options)
    assert (result.stats.kept, result.stats.removed) == (2, 1)
    assert not (out / LOCK_NAME).exists()


def test_a_foreign_folder_gets_no_lock_file(tmp_path: Path) -> None:
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text('{"text": "one"}\n')
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(RunFolderError, match="holds no winnow run"):
        run([corpus], mine, [ExactDedup()])
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_runs_that_update_one_dedup_index_take_turns(tmp_path: Path) -> None:
    corpus = tmp_path / "docs.jsonl"
    texts = [" ".join(f"{letter}{i}" for i in range(40)) for letter in "wwv"]  # a duplicate and another
    corpus.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))
    index = tmp_path / "index"
    updating = MinHashDedup(MinHashConfig(index=index, update_index=True))
    other = holder_process(index)  # another run that is updating the index
    try:
        with pytest.raises(FolderLockedError, match=f"pid {other.pid}.*take turns"):
            run([corpus], tmp_path / "first", [updating])
        assert not (index / "index.json").exists()
        # reading the index without adding to it does not wait
        reading = run([corpus], tmp_path / "reader", [MinHashDedup(MinHashConfig(index=index))])
        assert reading.stats.removed == 1
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=30)
    result = run([corpus], tmp_path / "first", [updating])  # the refused folder runs once it is free
    assert (result.stats.kept, result.stats.removed) == (2, 1)
    assert json.loads((index / "index.json").read_text())["rows"] == 2
    assert not (index / LOCK_NAME).exists()
