"""One run at a time per output folder: an exclusive `fcntl.flock` on `FOLDER/.winnow.lock`.

The operating system drops the lock when its process ends, however it ends (SIGKILL included), so a lock
file left behind by a dead run never blocks the next one; only a live holder does. The file names the
holder (pid, host, start time, command) for the refusal message. Works on local file systems and on NFS
(Linux emulates `flock` there with byte-range locks).

On object storage (a folder given as a URL) there is no `flock`: the lock is an object created with a
conditional PUT (`If-None-Match: *`, exclusive create), deleted on release. Nothing drops it when its
holder dies: a lock object whose holder ran on this host and is no longer alive is taken over; one left
by a process of another host refuses the run until it is deleted by hand (the message says which object).
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

from pipeline import storage
from pipeline.errors import RunFolderError
from pipeline.storage import AnyPath

LOCK_NAME = ".winnow.lock"
#: how long a lock must stay taken to count as held (a probe by `ensure_free` holds it for microseconds)
PATIENCE_S = 0.3


#: what to do about a taken output folder
OUT_FOLDER_HINT = "wait for it to finish or choose another --out folder"


class FolderLockedError(RunFolderError):
    """Another live process is running on this output folder."""

    def __init__(self, root: AnyPath, holder: dict[str, Any], hint: str = OUT_FOLDER_HINT) -> None:
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
        "command": storage.redact(" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]))
        if sys.argv and sys.argv[0]
        else "",
    }


def read_holder(path: AnyPath, wait: float = 1.0) -> dict[str, Any]:
    """The holder named in a lock file (a holder writes its name just after locking: wait for it)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            if time.monotonic() >= deadline:
                return {}
            time.sleep(0.05)


def ensure_free(root: str | os.PathLike[str] | AnyPath) -> None:
    """Raise FolderLockedError now if a live run holds `root` (a quick check before starting anything;
    creates nothing). `hold` still decides: the folder may be taken between the two."""
    root = storage.as_path(root)
    if storage.is_remote(root):
        storage.check_reachable(root)  # no credentials, no such bucket: said now, naming the folder
        holder = _object_holder(root / LOCK_NAME)
        if holder is not None and not _dead_here(holder):
            raise FolderLockedError(root, holder, _object_hint(root, OUT_FOLDER_HINT))
        return
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


def _object_holder(path: AnyPath) -> dict[str, Any] | None:
    """The holder a lock object names ({} when unreadable), or None when there is no lock object."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:
        return {}


def _dead_here(holder: dict[str, Any]) -> bool:
    """Whether the holder ran on this host and its process is gone (its lock object is stale)."""
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _object_hint(root: AnyPath, hint: str) -> str:
    return f"{hint} (if that process is dead, delete {storage.display(root / LOCK_NAME)})"


@contextlib.contextmanager
def _hold_object(root: AnyPath, hint: str) -> Iterator[dict[str, Any]]:
    """The lock of a folder on object storage: an object created only if absent, deleted on release."""
    path = root / LOCK_NAME
    info = holder_info()
    while not storage.create_exclusive(path, json.dumps(info).encode()):
        holder = _object_holder(path)
        if holder is None:
            continue  # released meanwhile: try again
        if not _dead_here(holder):
            raise FolderLockedError(root, holder, _object_hint(root, hint))
        path.unlink(missing_ok=True)  # left by a dead process of this host
    try:
        yield info
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def hold(root: str | os.PathLike[str] | AnyPath, hint: str = OUT_FOLDER_HINT) -> Iterator[dict[str, Any]]:
    """Hold the lock of the folder `root` (created if missing) for the block; FolderLockedError (saying
    `hint`) if taken.

    The lock file is removed on release while still locked; a process that opened the old file meanwhile
    sees that its file is no longer the one at the path and opens again, so two holders never coexist.
    """
    root = storage.as_path(root)
    if storage.is_remote(root):
        with _hold_object(root, hint) as info:
            yield info
        return
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
