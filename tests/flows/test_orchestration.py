"""Corpus runs go through Prefect only when asked: a plain `winnow dedup` runs in its own process, imports
no Prefect, and writes the same run folder as the `clean_corpus` flow does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from flows.orchestration import configured_api_url, wants_prefect
from pipeline.errors import WinnowError
from tests.conftest import CliResult

TIMINGS = ("seconds", "task_seconds", "docs_per_second", "started_at", "finished_at")


@pytest.fixture
def no_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PREFECT_API_URL in the environment and an empty Prefect home; the home's path."""
    for name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    return tmp_path / "prefect-home"


def test_the_api_url_comes_from_the_environment_or_the_active_profile(
    no_api: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert configured_api_url() is None
    no_api.mkdir()
    (no_api / "profiles.toml").write_text(
        'active = "work"\n[profiles.work]\nPREFECT_API_URL = "http://prefect.internal:4200/api"\n'
        '[profiles.local]\nPREFECT_LOGGING_LEVEL = "DEBUG"\n'
    )
    assert configured_api_url() == "http://prefect.internal:4200/api"
    monkeypatch.setenv("PREFECT_PROFILE", "local")
    assert configured_api_url() is None
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert configured_api_url() == "http://127.0.0.1:4200/api"
    monkeypatch.delenv("PREFECT_API_URL")
    (no_api / "profiles.toml").write_text("active = [not toml")
    assert configured_api_url() is None  # a broken profiles file: Prefect's problem, not a reason to use it


def test_prefect_only_when_asked_configured_or_on_dask(no_api: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not wants_prefect(None)
    assert (
        wants_prefect(True)
        and wants_prefect(None, workers=2)
        and wants_prefect(None, dask_address="tcp://h:8786")
    )
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert wants_prefect(None) and not wants_prefect(False)
    with pytest.raises(WinnowError, match="drop --no-prefect"):
        wants_prefect(False, workers=2)  # Dask runs through prefect-dask: never silently in this process


def without_timings(value: Any) -> Any:
    """`value` (stats.json) with every timing field left out."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def corpus(path: Path) -> Path:
    """Reports with exact and near duplicates and one bad line, in three shards' worth of documents."""
    texts = [f"Report {i}: " + " ".join(f"w{i % 40}x{j}" for j in range(40)) for i in range(120)]
    lines = [orjson.dumps({"id": f"d{i:03d}", "text": t}) for i, t in enumerate(texts)]
    path.write_bytes(b"\n".join([*lines, b"{not json"]) + b"\n")
    return path


def test_both_paths_write_the_same_run_folder(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    source = corpus(tmp_path / "reports.jsonl")
    options = ("--id-field", "id", "--batch-size", "50", "--threshold", "0.7")
    local = winnow("dedup", source, "--out", tmp_path / "local", *options)
    flow = winnow("dedup", source, "--out", tmp_path / "flow", *options, prefect=True)
    assert local.exit_code == 0 == flow.exit_code, local.output + flow.output
    stats = {name: json.loads((tmp_path / name / "stats.json").read_text()) for name in ("local", "flow")}
    assert stats["local"]["removed"] > 0 and stats["local"]["quarantined"] == 1
    local_stats, flow_stats = (without_timings(s) for s in stats.values())
    assert local_stats.pop("paths") != flow_stats.pop("paths")
    assert local_stats == flow_stats
    for table in ("kept", "removed", "quarantine"):
        assert pl.read_parquet(tmp_path / "local" / table).equals(pl.read_parquet(tmp_path / "flow" / table))
    identity = {name: json.loads((tmp_path / name / "run.json").read_text())["identity"] for name in stats}
    assert identity["local"] == identity["flow"]
    assert (tmp_path / "local" / "report.html").is_file()
    again = winnow("dedup", source, "--out", tmp_path / "local", *options)
    assert again.exit_code == 0 and "run is complete" in again.output  # resume works the same way


def test_a_plain_run_imports_no_prefect(tmp_path: Path) -> None:
    source = corpus(tmp_path / "reports.jsonl")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    command = [sys.executable, "-X", "importtime", str(Path(sys.executable).parent / "winnow")]
    done = subprocess.run(
        [*command, "dedup", str(source), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    imported = {
        line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")
    }
    assert "polars" in imported and (tmp_path / "out" / "report.html").is_file()
    assert not {
        name
        for name in imported
        if name.split(".")[0] in ("prefect", "torch", "transformers", "sklearn", "matplotlib", "numba")
    }  # numba: a small input is hashed by numpy, which costs less than loading the compiled loops
