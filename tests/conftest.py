"""Test set-up: offline, no telemetry, a private Prefect home; fixtures for ../shared/data and Prefect."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PREFECT_HOME = tempfile.mkdtemp(prefix="winnow-prefect-")
for _name, _value in (
    ("HF_HUB_OFFLINE", "1"),
    ("HF_DATASETS_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
    ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
    ("PREFECT_HOME", _PREFECT_HOME),
    ("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "0.3"),
):
    os.environ.setdefault(_name, _value)

import pytest  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_file(name: str) -> Path:
    """A file of ../shared/data: missing fails under CI=true (never a silent skip there), else skips."""
    path = SHARED / name
    if not path.is_file():
        message = f"{path} is missing (the shared evaluation data sits beside the checkout)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One real temporary Prefect server (API + SQLite) for every flow test of the session; its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


def flow_run_artifacts(client: Any, flow_run_id: Any) -> dict[str, Any]:
    """The artifacts a flow run published, by key (`client`: a sync Prefect client)."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    )
    return {artifact.key: artifact for artifact in artifacts}


@dataclass
class CliResult:
    exit_code: int
    output: str


@pytest.fixture
def winnow(prefect_server: str) -> Callable[..., CliResult]:
    """Run the installed `winnow` command as a user would: without a Prefect API configured (corpus runs stay
    in the process), or with `prefect=True` against the session's Prefect server."""
    command = Path(sys.executable).parent / "winnow"

    def invoke(*args: str | Path, prefect: bool = False) -> CliResult:
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"COLUMNS": "200"}
        if prefect:
            env["PREFECT_API_URL"] = prefect_server
        done = subprocess.run(
            [str(command), *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        return CliResult(done.returncode, done.stdout + done.stderr)

    return invoke
