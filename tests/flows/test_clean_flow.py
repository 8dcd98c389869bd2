"""`clean_corpus` on a real Prefect server: one task per stage per shard, logs, the markdown artifact."""

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import polars as pl
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)

from flows.clean import clean_corpus
from flows.recipe import parse_recipe
from tests.conftest import flow_run_artifacts


def write(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(orjson.dumps({"text": t}).decode() + "\n" for t in texts))
    return path


def test_flow_runs_one_task_per_stage_per_shard(tmp_path: Path, prefect_server: str) -> None:
    a = write(tmp_path / "a.jsonl", ["one", "two", "One", "three", "four"])  # 3 shards of 2
    b = write(tmp_path / "b.jsonl", ["TWO", "five"])  # 1 shard
    recipe = parse_recipe({"read": {"batch_size": 2}, "stages": [{"type": "exact_dedup"}]})
    state = clean_corpus(inputs=[str(a), str(b)], out=str(tmp_path / "out"), recipe=recipe, return_state=True)
    assert state.is_completed()
    stats = state.result()
    assert (stats.input, stats.kept, stats.removed) == (7, 5, 2)
    kept = pl.read_parquet(tmp_path / "out" / "kept")
    assert kept["text"].to_list() == ["one", "two", "three", "four", "five"]

    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        names = sorted(run.name for run in tasks)
        shards = ["00000-000000", "00000-000001", "00000-000002", "00001-000000"]
        assert names == sorted(
            ["read [a.jsonl]", "read [b.jsonl]", "ids [all]", "exact_dedup: decide [all]", "report [all]"]
            + [f"exact_dedup: summarize [{s}]" for s in shards]
            + [f"exact_dedup [{s}]" for s in shards]
        )
        assert all(run.state.is_completed() for run in tasks)
        by_key = flow_run_artifacts(client, flow_run_id)
        assert sorted(by_key) == [
            "winnow-clean",
            "winnow-clean-duplicates",
            "winnow-clean-reasons",
            "winnow-clean-stages",
        ]
        assert "| exact_dedup | 7 | 5 | exact_duplicate: 2 |" in by_key["winnow-clean"].data
        deadline, messages = time.monotonic() + 20, []
        while time.monotonic() < deadline:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            messages = [log.message for log in logs]
            if any("exact_dedup: removed 2 of 7" in m for m in messages):
                break
            time.sleep(0.5)
        assert any("exact_dedup: removed 2 of 7" in m for m in messages), messages


def test_prefect_without_an_api_runs_on_prefects_temporary_server(tmp_path: Path) -> None:
    data = write(tmp_path / "a.jsonl", ["alpha", "beta", "ALPHA"])
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    winnow = Path(sys.executable).parent / "winnow"
    done = subprocess.run(
        [str(winnow), "clean", str(data), "--out", str(tmp_path / "out"), "--prefect"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "Starting temporary server" in done.stderr
    assert "3 in: 2 kept, 1 removed, 0 quarantined" in done.stdout
