"""Values that the tasks of one split decision compute once per run and share through files of the stage's
state folder (k-means centroids, a target corpus's embeddings, DSIR's importance weights).

The first task that needs a value computes it under an exclusive file lock; the others wait, then read the
file. A file appears whole or not at all (written aside, then hard-linked into place), so concurrent or
killed tasks never leave a half-written one. Without a local state folder (none, or one in object storage,
which has no locks or links) every task computes the value itself: the same result, more work.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from pipeline import run_folder, storage


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (created if missing), waiting for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def publish_once(path: Path, write: Callable[[Path], object]) -> Path:
    """`path`, written by `write(temporary)` unless it exists: the first complete file wins, whole."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        run_folder.sync([tmp])
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: the last complete file wins
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def local_folder(folder: object) -> Path | None:
    """`folder` when it is a local (or mounted) folder that can share values, else None."""
    if folder is None or storage.is_remote(folder):
        return None
    return Path(folder)  # type: ignore[arg-type]


def shared_array(folder: object, name: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """`compute()`, computed once per `folder` and kept there as `name`.npy (every call computes it when
    the folder cannot share it)."""
    local = local_folder(folder)
    if local is None:
        return compute()

    def write(tmp: Path) -> None:
        with tmp.open("wb") as file:
            np.save(file, compute())

    path = local / f"{name}.npy"
    with locked(local / f"{name}.npy.lock"):  # the first task computes, the others wait and read
        publish_once(path, write)
    return np.load(path)
