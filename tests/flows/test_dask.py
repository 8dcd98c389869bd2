"""The clean flow on a local Dask cluster (prefect-dask, 2 worker processes, MinHash's decision split in 7)
equals the in-process run."""

import random
from collections.abc import Callable
from pathlib import Path

import orjson
import polars as pl
import pytest

from flows.dask_runner import DEBUG_HISTORY
from flows.engine import task_runner
from tests.conftest import CliResult


def test_dask_workers_give_the_same_result(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    rng = random.Random(4)
    words = [f"w{i}" for i in range(2000)]
    texts = [" ".join(rng.choice(words) for _ in range(120)) for _ in range(60)]
    texts += [t.upper() for t in texts[:5]] + [t.replace(t.split()[3], "x", 1) for t in texts[5:10]]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(orjson.dumps({"text": t}).decode() + "\n" for t in texts))
    common = ("clean", path, "--batch-size", "9")
    local = winnow(*common, "--out", tmp_path / "local")
    split = ("--partitions", "7")  # MinHash's decision as 7 tasks spread over the workers
    dask = winnow(
        *common, "--out", tmp_path / "dask", "--workers", "2", "--memory-limit", "2GiB", *split, prefect=True
    )
    assert local.exit_code == 0 and dask.exit_code == 0, dask.output
    kept = [pl.read_parquet(tmp_path / run / "kept")["id"].to_list() for run in ("local", "dask")]
    assert kept[0] == kept[1] and len(kept[0]) == 60
    removed = [pl.read_parquet(tmp_path / run / "removed").sort("id") for run in ("local", "dask")]
    assert (
        removed[0]
        .select("id", "reason", "duplicate_of")
        .equals(removed[1].select("id", "reason", "duplicate_of"))
    )


def test_memory_limit_sets_each_local_worker() -> None:
    runner = task_runner(workers=2, memory_limit="1.5GiB")
    assert runner.cluster_kwargs["memory_limit"] == 3 * 2**29
    assert runner.cluster_kwargs["n_workers"] == 2
    assert "memory_limit" not in task_runner(workers=2).cluster_kwargs  # Dask's default: a share of RAM


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--memory-limit", "1GiB"), "give --workers N"),
        (("--workers", "2", "--memory-limit", "lots"), "'lots' is not a size"),
        (("--workers", "2", "--memory-limit", "0"), "'0' is not a size"),
        (("--dask-address", "tcp://127.0.0.1:1", "--memory-limit", "1GiB"), "dask worker --memory-limit"),
    ],
)
def test_a_memory_limit_without_a_local_cluster_is_refused_before_the_run(
    tmp_path: Path, winnow: Callable[..., CliResult], options: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "one document"}\n')
    result = winnow("clean", path, "--out", tmp_path / "run", *options)
    assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_a_local_cluster_keeps_a_short_debugging_history() -> None:
    """Dask's last messages and transitions (each submission carries a pickled Prefect task) are kept
    for debugging: bounded, so the flow's process does not grow with the number of tasks."""
    import dask.config
    from distributed import Client

    setting = "distributed.admin.low-level-log-length"

    def history(client: Client) -> tuple[int | None, int | None, list[int]]:
        workers = client.run(lambda: dask.config.get(setting))
        sent = client.scheduler_comm.recent_message_log  # the submissions, pickled tasks included
        return client.cluster.scheduler.transition_log.maxlen, sent.maxlen, sorted(workers.values())

    with task_runner(workers=1) as runner:
        assert history(runner.client) == (DEBUG_HISTORY, DEBUG_HISTORY, [DEBUG_HISTORY])
    with dask.config.set({setting: 7}), task_runner(workers=1) as runner:  # the user's own setting wins
        assert history(runner.client) == (7, 7, [7])
