"""Whether a corpus run (or `winnow compress --batch`) goes through Prefect: only when the user asks for it.

A plain `winnow clean` / `dedup` / `select` / `quality score` runs the runner in this process (threads for
the tasks) and pays nothing for Prefect: no import, no temporary server; `compress --batch` runs its chunks
in this process too (`prompts.batch.compress_jsonl`). Each runs as its Prefect flow (`clean_corpus`,
`compress_prompts`) when asked by `--prefect`, when a Prefect API is configured (`PREFECT_API_URL` in the
environment or in the active Prefect profile), or when its tasks go to Dask (`--workers`,
`--dask-address`: prefect-dask's task runner). The run folder is the same either way. Dask options that
do not fit together are refused here, before either starts (`worker_memory_limit`).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pipeline.errors import WinnowError


def configured_api_url() -> str | None:
    """`PREFECT_API_URL` from the environment, else from the active profile of Prefect's profiles file
    (read as Prefect does: `PREFECT_PROFILES_PATH`, else `PREFECT_HOME`/profiles.toml; the profile named
    by `PREFECT_PROFILE`, else the file's `active`), without importing Prefect."""
    if url := os.environ.get("PREFECT_API_URL"):
        return url
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active")
    profile = profiles.get("profiles", {}).get(active, {}) if isinstance(active, str) else {}
    url = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    return url if isinstance(url, str) and url else None


def wants_prefect(asked: bool | None, *, dask_address: str | None = None, workers: int | None = None) -> bool:
    """Run as a Prefect flow: `asked` (`--prefect` / `--no-prefect` win), else when tasks go to Dask or an
    API is configured. Dask runs through prefect-dask, so `--no-prefect` with Dask options is refused."""
    on_dask = bool(dask_address or workers)
    if asked is False and on_dask:
        raise WinnowError("--workers and --dask-address run the tasks through Prefect: drop --no-prefect")
    if asked is not None:
        return asked
    return on_dask or configured_api_url() is not None


def worker_memory_limit(
    memory_limit: str | None, dask_address: str | None, workers: int | None
) -> int | None:
    """`memory_limit` in bytes; a WinnowError when it is not a size or there is no local cluster to limit."""
    if memory_limit is None:
        return None
    if dask_address:
        raise WinnowError(
            "--memory-limit sets the local workers of --workers; an existing cluster's workers take "
            "theirs when started (`dask worker --memory-limit 3GiB`)"
        )
    if not workers:
        raise WinnowError("--memory-limit needs a local Dask cluster: give --workers N too")
    from dask.utils import parse_bytes

    try:
        limit = parse_bytes(memory_limit)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise WinnowError(f"--memory-limit {memory_limit!r} is not a size (for example 3GiB or 500MB)")
    return limit
