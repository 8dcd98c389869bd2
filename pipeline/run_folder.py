"""The output folder of a run: its layout, its manifest (`run.json`) and whether it can take a run.

A folder belongs to one run: the same inputs, read options and recipe. Running the same command again on
a finished folder reports it complete; a folder that holds another run (or anything else) is refused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import RunFolderError

MANIFEST = "run.json"
STATS = "stats.json"
OUTPUTS = ("kept", "removed", "quarantine", "_work", STATS, "report.md")

State = Literal["new", "complete"]


@dataclass(frozen=True)
class RunFolder:
    """Paths inside a run's output folder."""

    root: Path

    @property
    def kept(self) -> Path:
        return self.root / "kept"

    @property
    def removed(self) -> Path:
        return self.root / "removed"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def work(self) -> Path:
        return self.root / "_work"

    @property
    def stats(self) -> Path:
        return self.root / STATS

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST


def now() -> str:
    """UTC timestamp for manifests and stats."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def fingerprint(identity: dict[str, Any]) -> str:
    """A stable hash of what defines a run (inputs, options, recipe)."""
    canonical = json.dumps(identity, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_manifest(root: Path) -> dict[str, Any] | None:
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


def prepare(root: Path, identity: dict[str, Any]) -> State:
    """Make `root` ready for the run described by `identity`, or say it is already complete.

    An unfinished run of the same identity is started over (its outputs are ours to delete).
    """
    manifest = read_manifest(root) if root.exists() else None
    if root.exists() and not root.is_dir():
        raise RunFolderError(f"{root}: exists and is not a folder")
    if manifest is None:
        if root.exists() and any(root.iterdir()):
            raise RunFolderError(
                f"{root}: folder is not empty and holds no winnow run; choose a new or empty --out folder"
            )
    else:
        if manifest.get("fingerprint") != fingerprint(identity):
            what = _difference(manifest.get("identity", {}), identity)
            raise RunFolderError(
                f"{root}: holds a run of other {what}; choose another --out folder or delete this one"
            )
        if manifest.get("status") == "complete":
            return "complete"
        for name in OUTPUTS:
            target = root / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    root.mkdir(parents=True, exist_ok=True)
    write_manifest(root, identity, status="running")
    return "new"


def write_manifest(root: Path, identity: dict[str, Any], *, status: str, **extra: Any) -> None:
    """Write `run.json` atomically."""
    previous = read_manifest(root) or {}
    manifest = {
        "fingerprint": fingerprint(identity),
        "status": status,
        "started_at": previous.get("started_at", now()),
        **({"finished_at": now()} if status == "complete" else {}),
        "identity": identity,
        **extra,
    }
    tmp = root / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=str))
    tmp.replace(root / MANIFEST)
