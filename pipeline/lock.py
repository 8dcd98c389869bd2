"""One run at a time per output folder: an exclusive `fcntl.flock` on `FOLDER/.winnow.lock`.

The operating system drops the lock when its process ends, however it ends (SIGKILL included), so a lock
file left behind by a dead run never blocks the next one; only a live holder does. The file names the
holder (pid, host, start time, command) for the refusal message. Works on local file systems and on NFS
(Linux emulates `flock` there with byte-range locks).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import RunFolderError

LOCK_NAME = ".winnow.lock"
#: how long a lock must stay taken to count as held (a probe by `ensure_free` holds it for microseconds)
PATIENCE_S = 0.3


#: what to do about a taken output folder
OUT_FOLDER_HINT = "wait for it to finish or choose another --out folder"


class FolderLockedError(RunFolderError):
    """Another live process is running on this output folder."""

    def __init__(self, root: Path, holder: dict[str, Any], hint: str = OUT_FOLDER_HINT) -> None:
        self.root = root
        self.holder = holder
        who = (
            f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"started {holder.get('started_at', '?')}"
            if holder
            else "a process that has not said who it is yet"
        )
        command = f", running `{holder['command']}`" if holder.get("command") else ""
        super().__init__(f"{root}: another winnow run is writing to this folder ({who}{command}); {hint}")


def holder_info() -> dict[str, Any]:
    """Who holds a lock: this process."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "",
    }


def read_holder(path: Path, wait: float = 1.0) -> dict[str, Any]:
    """The holder named in a lock file (a holder writes its name just after locking: wait for it)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            if time.monotonic() >= deadline:
                return {}
            time.sleep(0.05)


def ensure_free(root: Path) -> None:
    """Raise FolderLockedError now if a live run holds `root` (a quick check before starting anything;
    creates nothing). `hold` still decides: the folder may be taken between the two."""
    path = Path(root) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if not _try_lock(fd):
            raise FolderLockedError(Path(root), read_holder(path))
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock on `fd` if it is free or only briefly taken."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


@contextlib.contextmanager
def hold(root: Path, hint: str = OUT_FOLDER_HINT) -> Iterator[dict[str, Any]]:
    """Hold the lock of the folder `root` (created if missing) for the block; FolderLockedError (saying
    `hint`) if taken.

    The lock file is removed on release while still locked; a process that opened the old file meanwhile
    sees that its file is no longer the one at the path and opens again, so two holders never coexist.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            raise FolderLockedError(root, read_holder(path), hint)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        opened = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
            break
        os.close(fd)  # the previous holder removed this file as we opened it: take the new one
    info = holder_info()
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)
        yield info
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
