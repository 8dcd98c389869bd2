"""The output folder of a run: its layout, its manifest (`run.json`), its checkpoints, and whether it
can take a run.

A folder belongs to one run: the same inputs, read options and recipe. Running the same command again on
a finished folder reports it complete, on an unfinished one (killed, or stopped by an error) resumes it from
its checkpoints; a folder that holds another run (or anything else) is refused.

Checkpoints: every finished task (a source read, a stage on a shard, a corpus stage's decision) leaves a
done marker in `_work/done/STEP/ITEM.json` holding the task's result, written atomically after the task's
own outputs are on disk (fsync), so a marker never points at missing or half-written files. The manifest
records the winnow version that wrote them: another version does not resume them (its stages may write
other columns or decide otherwise), it refuses the folder.

The folder may be a URL (`s3://bucket/runs/nightly`, see `pipeline.storage`): there every file is one
upload, which is atomic, so nothing is written under a temporary name and there is nothing to fsync.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pipeline import storage
from pipeline.errors import RunFolderError
from pipeline.lock import LOCK_NAME
from pipeline.storage import AnyPath

MANIFEST = "run.json"
STATS = "stats.json"
OUTPUTS = ("kept", "removed", "quarantine", "_work", STATS, "report.md", "report.html")

State = Literal["new", "resume", "complete"]


@dataclass(frozen=True)
class RunFolder:
    """Paths inside a run's output folder (a local `Path`, or a `UPath` for a URL)."""

    root: AnyPath

    @property
    def kept(self) -> AnyPath:
        return self.root / "kept"

    @property
    def removed(self) -> AnyPath:
        return self.root / "removed"

    @property
    def quarantine(self) -> AnyPath:
        return self.root / "quarantine"

    @property
    def work(self) -> AnyPath:
        return self.root / "_work"

    @property
    def stats(self) -> AnyPath:
        return self.root / STATS

    @property
    def manifest(self) -> AnyPath:
        return self.root / MANIFEST

    @property
    def checkpoints(self) -> AnyPath:
        return self.work / "done"


def winnow_version() -> str:
    """The installed winnow's version ("unknown" when run from a source tree that was never installed)."""
    try:
        return metadata.version("winnow")
    except metadata.PackageNotFoundError:
        return "unknown"


def now() -> str:
    """UTC timestamp for manifests and stats."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def fingerprint(identity: dict[str, Any]) -> str:
    """A stable hash of what defines a run (inputs, options, recipe)."""
    canonical = json.dumps(identity, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_manifest(root: AnyPath) -> dict[str, Any] | None:
    """The manifest of the run in `root`, or None when there is none."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RunFolderError(f"{path}: unreadable run manifest ({error})") from error


def _difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    parts = [key for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]
    return ", ".join(parts) or "settings"


def check_usable(root: AnyPath) -> None:
    """Refuse, before touching it, a path that is not a folder or a folder that holds no winnow run."""
    storage.check_reachable(root)
    if root.exists() and not root.is_dir():
        raise RunFolderError(f"{root}: exists and is not a folder")
    if root.is_dir() and read_manifest(root) is None and any(p.name != LOCK_NAME for p in root.iterdir()):
        raise RunFolderError(
            f"{root}: folder is not empty and holds no winnow run; choose a new or empty --out folder"
        )


def prepare(root: AnyPath, identity: dict[str, Any]) -> State:
    """Make `root` ready for the run described by `identity` (call it holding the folder's lock).

    "complete": the run is done. "resume": an unfinished run of the same identity left checkpoints; its
    outputs stay and the run goes on from them. "new": nothing to keep (an unfinished run without any
    checkpoint is started over: its outputs are ours to delete).
    """
    check_usable(root)
    manifest = read_manifest(root) if root.exists() else None
    if manifest is not None:
        if manifest.get("fingerprint") != fingerprint(identity):
            what = _difference(manifest.get("identity", {}), identity)
            raise RunFolderError(
                f"{root}: holds a run of other {what}; choose another --out folder or delete this one"
            )
        if manifest.get("status") == "complete":
            return "complete"
        attempt = int(manifest.get("attempt", 1)) + 1
        if has_checkpoints(root):
            started_by = manifest.get("winnow_version")  # None: written before versions were recorded
            current = winnow_version()
            if started_by is not None and started_by != current:
                raise RunFolderError(
                    f"{root}: its unfinished run was started by winnow {started_by}, this is winnow "
                    f"{current}; checkpoints of another version are not resumed: finish it with "
                    f"winnow {started_by}, or delete the folder (or choose another --out) to start over"
                )
            write_manifest(root, identity, status="running", attempt=attempt)
            return "resume"
        for name in OUTPUTS:
            target = root / name
            if target.is_dir():
                storage.remove_tree(target, ignore_errors=False)
            elif target.exists():
                target.unlink()
        write_manifest(root, identity, status="running", attempt=attempt)
        return "new"
    storage.make_dirs(root)
    write_manifest(root, identity, status="running")
    return "new"


def has_checkpoints(root: AnyPath) -> bool:
    """Whether an unfinished run in `root` left any done marker."""
    done = RunFolder(root).checkpoints
    return done.is_dir() and any(done.glob("*/*.json"))


def remove_partial_files(folders: Iterable[AnyPath]) -> int:
    """Delete the temporary files (`.NAME.tmp`) a killed run left half-written; returns how many (none on
    object storage, where nothing is written under a temporary name)."""
    removed = 0
    for folder in folders:
        if storage.is_remote(folder):
            continue
        for path in folder.rglob(".*.tmp") if folder.is_dir() else ():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def sync(paths: Iterable[AnyPath]) -> None:
    """Make written files durable: fsync each file, then each folder holding them (for the renames); an
    object on object storage is durable once its upload returned."""
    folders: set[Path] = set()
    for path in paths:
        if storage.is_remote(path):
            continue
        assert isinstance(path, Path)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        folders.add(path.parent)
    for folder in folders:
        _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: AnyPath, value: Any) -> None:
    """Write JSON durably and atomically: temporary file, fsync, rename, fsync of the folder (one upload
    on object storage)."""
    if storage.is_remote(path):
        storage.write_bytes(path, json.dumps(value, indent=2, default=str).encode())
        return
    assert isinstance(path, Path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w") as handle:
        handle.write(json.dumps(value, indent=2, default=str))
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    _sync_folder(path.parent)


def read_checkpoint(path: AnyPath) -> dict[str, Any] | None:
    """A done marker's content, or None when the task is not done."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_manifest(root: AnyPath, identity: dict[str, Any], *, status: str, **extra: Any) -> None:
    """Write `run.json` atomically; the first start time and the attempt number carry over."""
    previous = read_manifest(root) or {}
    manifest = {
        "fingerprint": fingerprint(identity),
        "status": status,
        "started_at": previous.get("started_at", now()),
        "attempt": previous.get("attempt", 1),
        "winnow_version": winnow_version(),
        **({"finished_at": now()} if status == "complete" else {}),
        "identity": identity,
    }
    manifest.update(extra)
    write_json(root / MANIFEST, manifest)
