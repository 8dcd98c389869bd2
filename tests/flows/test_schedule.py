"""`winnow schedule clean` against a real `prefect server start`: cron schedule, dated run folders, and
each day deduplicated against the days before through the shared index."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import orjson
import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.recipe import parse_recipe, preset_recipe
from flows.schedule import expand_input, run_folder, with_index
from pipeline.errors import RecipeError, WinnowError

WINNOW = Path(sys.executable).parent / "winnow"
PREFECT = Path(sys.executable).parent / "prefect"
BERLIN = ZoneInfo("Europe/Berlin")

DAY_ONE = {
    "d1-cat": "the old grey cat slept all afternoon on the warm kitchen window sill",
    "d1-rain": "heavy rain is expected along the northern coast until late on sunday evening",
    "d1-bread": "knead the dough for ten minutes then leave it to rise in a covered bowl",
    "d1-train": "the night train to the capital leaves platform four at eleven fifteen",
}
DAY_TWO = {
    "d2-cat": DAY_ONE["d1-cat"],  # an exact copy of day one
    "d2-bread": "knead the dough for ten minutes then leave it to rise in a covered bowl!",  # near copy
    "d2-moon": "a thin crescent moon hung low over the harbour as the boats came home",
    "d2-vote": "the village council will vote on the new cycle path at its march meeting",
}


def write_day(path: Path, docs: dict[str, str]) -> None:
    path.write_bytes(b"".join(orjson.dumps({"id": i, "text": t}) + b"\n" for i, t in docs.items()))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, sig: int = signal.SIGINT) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`prefect server start` on a free port with its own home; the environment that points at it."""
    tmp_path = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
        "PREFECT_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "prefect server did not start in 120 s"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield {**env, "PREFECT_API_URL": url, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    finally:
        stop(process, signal.SIGTERM)
        log.close()


def test_scheduled_runs_write_dated_folders_deduplicated_against_earlier_days(
    tmp_path: Path, server: dict[str, str]
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    write_day(tmp_path / "crawl-2025-01-01.jsonl", DAY_ONE)
    write_day(tmp_path / "crawl-2025-01-02.jsonl", DAY_TWO)
    root = tmp_path / "nightly"
    serve_log = (tmp_path / "serve.log").open("w")
    pattern = str(tmp_path / "crawl-{date:%Y-%m-%d}.jsonl")  # each night reads its own day's crawl
    command = ["schedule", "clean", "--cron", "0 3 * * *", "--timezone", "Europe/Berlin"]
    serving = subprocess.Popen(
        [str(WINNOW), *command, "--input", pattern, "--out", str(root)],
        env={**server, "WINNOW_TORCH_THREADS": "1"},
        stdout=serve_log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    name = "scheduled_clean/nightly"
    try:
        with (
            temporary_settings({PREFECT_API_URL: server["PREFECT_API_URL"]}),
            get_client(sync_client=True) as client,
        ):
            deadline = time.monotonic() + 90
            while True:
                assert serving.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the deployment was not created in 90 s"
                try:
                    deployment = client.read_deployment_by_name(name)
                    break
                except ObjectNotFound:
                    time.sleep(0.5)
            assert [s.schedule.cron for s in deployment.schedules] == ["0 3 * * *"]
            assert deployment.parameters["recipe"]["stages"][-1]["index"] == str(root / "dedup-index")

            # the server's scheduler puts the next nights on the calendar: 03:00 in Berlin
            deadline, upcoming = time.monotonic() + 60, []
            while not upcoming and time.monotonic() < deadline:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["nightly"]))
                )
                upcoming = [r.expected_start_time for r in runs if r.auto_scheduled]
                time.sleep(0.5)
            assert upcoming, "the server scheduled no runs: its scheduler failed (see server.log)"
            assert all((t.astimezone(BERLIN).hour, t.astimezone(BERLIN).minute) == (3, 0) for t in upcoming)

            def night(day: int) -> tuple[str, Path]:
                when = datetime(2025, 1, day, 3, 0, tzinfo=BERLIN)
                run = run_deployment(name, scheduled_time=when, timeout=180, poll_interval=0.5)
                assert run.state is not None and run.state.is_completed(), (run.state, serve_log.name)
                return run.name, root / f"2025-01-0{day}T030000"

            assert night(1) == ("nightly/2025-01-01T030000", root / "2025-01-01T030000")
            _, second = night(2)
            _, again = night(1)  # the same night once more: its folder is complete, nothing is redone

        first = root / "2025-01-01T030000"
        assert sorted(p.name for p in root.iterdir()) == [first.name, second.name, "dedup-index"]
        assert again == first
        for folder in (first, second):
            assert (folder / "stats.json").is_file()
        assert sorted(pl.read_parquet(first / "kept")["id"]) == sorted(DAY_ONE)
        assert sorted(pl.read_parquet(second / "kept")["id"]) == ["d2-moon", "d2-vote"]
        removed = pl.read_parquet(second / "removed").sort("id")
        assert removed.select("id", "reason", "duplicate_of").rows() == [
            ("d2-bread", "near_duplicate", "d1-bread"),
            ("d2-cat", "near_duplicate", "d1-cat"),
        ]
        index_rows = orjson.loads((root / "dedup-index" / "index.json").read_bytes())["rows"]
        assert index_rows == 6  # four of day one, two of day two, nothing twice

        stop(serving)  # Ctrl-C: the runner pauses the schedule on its way out
        assert serving.returncode is not None
        with (
            temporary_settings({PREFECT_API_URL: server["PREFECT_API_URL"]}),
            get_client(sync_client=True) as client,
        ):
            assert client.read_deployment_by_name(name).paused
    finally:
        stop(serving, signal.SIGKILL)
        serve_log.close()


def test_work_pool_registers_the_deployment_for_its_workers(tmp_path: Path, server: dict[str, str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL, temporary_settings

    write_day(tmp_path / "crawl.jsonl", DAY_ONE)

    def schedule(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(WINNOW), "schedule", "clean", "--cron", "30 2 * * 1", "--input", "crawl.jsonl", *args],
            env={**server, "COLUMNS": "200"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    refused = schedule("--out", "weekly", "--work-pool", "nightly")
    assert refused.returncode == 1
    assert "prefect work-pool create nightly --type process" in refused.stderr
    with (
        temporary_settings({PREFECT_API_URL: server["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        client.create_work_pool(WorkPoolCreate(name="nightly", type="process"))
        done = schedule("--out", "weekly", "--work-pool", "nightly", "--name", "weekly-crawl")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "prefect worker start --pool nightly" in done.stdout
        deployment = client.read_deployment_by_name("scheduled_clean/weekly-crawl")
    assert deployment.work_pool_name == "nightly"
    # a worker imports the flow by module, from any working directory
    assert deployment.entrypoint == "flows.schedule.scheduled_clean"
    assert deployment.parameters["inputs"] == [str(tmp_path / "crawl.jsonl")]
    assert deployment.parameters["root"] == str(tmp_path / "weekly")
    assert not (tmp_path / "weekly").exists()  # nothing runs until a worker picks a run up


def test_a_schedule_without_a_prefect_server_is_refused(tmp_path: Path) -> None:
    write_day(tmp_path / "crawl.jsonl", DAY_ONE)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run(
        [str(WINNOW), "schedule", "clean", "--cron", "0 3 * * *", "--input", "crawl.jsonl", "--out", "runs"],
        env={**env, "PREFECT_HOME": str(tmp_path / "home"), "COLUMNS": "200"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert "prefect server start" in done.stderr
    assert "PREFECT_API_URL" in done.stderr


def test_each_run_gets_a_folder_named_after_its_scheduled_start(tmp_path: Path) -> None:
    when = datetime(2026, 11, 21, 3, 0, 5, tzinfo=BERLIN)
    assert run_folder(tmp_path, when) == tmp_path / "2026-11-21T030005"
    assert expand_input("crawl/{date:%Y/%m/%d}/*.jsonl", when) == "crawl/2026/11/21/*.jsonl"
    assert expand_input("plain/path.jsonl", when) == "plain/path.jsonl"
    with pytest.raises(WinnowError, match="unknown field"):
        expand_input("crawl/{day}.jsonl", when)


def test_the_recipe_index_is_the_one_every_run_reads_and_updates(tmp_path: Path) -> None:
    recipe = with_index(preset_recipe("web"), tmp_path)
    stage = recipe.stages[-1]
    assert (stage.type, stage.index, stage.update_index) == ("minhash_dedup", tmp_path / "dedup-index", True)
    own = parse_recipe({"stages": [{"type": "minhash_dedup", "index": str(tmp_path / "mine")}]})
    assert with_index(own, tmp_path).stages[0].index == tmp_path / "mine"
    assert with_index(own, tmp_path, tmp_path / "given").stages[0].index == tmp_path / "given"
    with pytest.raises(RecipeError, match="exactly one minhash_dedup stage"):
        with_index(parse_recipe({"stages": [{"type": "exact_dedup"}]}), tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cron", "0 3 * *"], "Invalid cron string"),
        (["--cron", "0 3 * * *", "--timezone", "Mars/Olympus"], "Invalid timezone"),
        (["--cron", "0 3 * * *", "--input", "missing.jsonl"], "missing.jsonl"),
    ],
)
def test_bad_schedules_are_refused_before_anything_is_registered(
    tmp_path: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "a.jsonl"
    write_day(data, {"a": "some text"})
    inputs = [] if "--input" in args else ["--input", str(data)]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens: no call may reach it
    result = CliRunner().invoke(app, ["schedule", "clean", *args, *inputs, "--out", str(tmp_path / "root")])
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "root").exists()
