"""Object storage: inputs, run folders and the dedup index at s3:// URLs, against a real S3-compatible
server (moto's server mode on a free port, started here; its HTTP API, not mocks of boto calls)."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import polars as pl
import pytest
import s3fs
from moto.server import ThreadedMotoServer

from filters.dedup.exact import ExactDedup
from filters.dedup.minhash import MinHashConfig, MinHashDedup
from filters.select.selection import Selection
from filters.select.semdedup import SemanticDedup
from pipeline import checkpoints, storage
from pipeline.errors import InputError, RunFolderError, WinnowError
from pipeline.lock import LOCK_NAME, FolderLockedError
from pipeline.readers import ReadOptions, resolve_sources
from pipeline.runner import RunOptions, run
from tests.pipeline.test_resume import Spam, counts, outputs, write_corpus

KEY_ID = "AKIAWINNOWTEST0000001"
SECRET = "winnow-test-secret-6c1f0e9b"
OPTIONS = RunOptions(read=ReadOptions(batch_size=10))


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto S3 server on a free port of this machine, for the module's tests."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Credentials and endpoint in the environment, as a user sets them; nothing from ~/.aws."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    s3fs.S3FileSystem.clear_instance_cache()  # an instance made under other variables keeps them
    yield
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def fs(aws_env: None) -> s3fs.S3FileSystem:
    return s3fs.S3FileSystem()


@pytest.fixture
def bucket(fs: s3fs.S3FileSystem) -> str:
    name = f"winnow-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    return name


@pytest.fixture
def local_corpus(tmp_path: Path) -> Path:
    """A folder of sources in several formats: gzip JSON Lines, JSON Lines, Parquet and CSV, with exact
    and near copies across them, a reused id, a malformed line and a null text (`write_corpus`)."""
    folder = tmp_path / "data"
    a, b = write_corpus(tmp_path / "raw")
    folder.mkdir()
    (folder / "a.jsonl.gz").write_bytes(gzip.compress(a.read_bytes()))
    (folder / "b.jsonl").write_bytes(b.read_bytes())
    rows = [json.loads(line) for line in a.read_text().splitlines()[:30] if line.startswith('{"')]
    docs = pl.DataFrame(rows)  # exact copies of a's first documents, under other ids
    nested = folder / "more"
    nested.mkdir()
    docs.with_columns(pl.format("p{}", pl.col("id"))).write_parquet(nested / "c.parquet")
    docs.head(12).with_columns(pl.format("c{}", pl.col("id"))).write_csv(nested / "d.csv")
    return folder


def upload(fs: s3fs.S3FileSystem, folder: Path, url: str) -> None:
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        fs.put_file(str(path), f"{url.removeprefix('s3://')}/{path.relative_to(folder).as_posix()}")


def read_parts(fs: fsspec.AbstractFileSystem, url: str) -> pl.DataFrame:
    files = sorted(fs.glob(f"{url.split('://', 1)[-1]}/part-*"))
    frames = [pl.read_parquet(fs.open(f, "rb")) for f in files]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def remote_outputs(fs: fsspec.AbstractFileSystem, url: str) -> dict[str, Any]:
    """`test_resume.outputs` of a run folder in the bucket (`fs`: its file system, S3 or another)."""
    root = url.split("://", 1)[-1]
    return {
        "kept": read_parts(fs, f"{url}/kept"),
        "removed": read_parts(fs, f"{url}/removed").sort("id", "stage"),
        "quarantine": read_parts(fs, f"{url}/quarantine").sort("source", "line", "error"),
        "stats": counts(json.loads(fs.cat(f"{root}/stats.json"))),
    }


def assert_same(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert got["kept"].equals(expected["kept"]), "kept/ differs"
    assert got["removed"].equals(expected["removed"]), "removed/ differs"
    assert got["quarantine"].equals(expected["quarantine"]), "quarantine/ differs"
    assert got["stats"] == expected["stats"]


def objects_holding(fs: s3fs.S3FileSystem, url: str, *secrets: str) -> list[str]:
    """Every object under `url` whose bytes hold one of `secrets`."""
    found = []
    for key in fs.find(url.removeprefix("s3://")):
        data = fs.cat(key)
        if any(secret.encode() in data for secret in secrets):
            found.append(key)
    return found


def assert_nothing_logged(records: list[logging.LogRecord], printed: str = "") -> None:
    """No log record (every logger, DEBUG included) nor printed output holds the secret key; none at INFO
    and above holds the key id (botocore's own DEBUG lines name it where they show a request's signature)."""
    assert not [r for r in records if SECRET in r.getMessage()]
    assert not [r for r in records if r.levelno >= logging.INFO and KEY_ID in r.getMessage()]
    assert any(r.levelno >= logging.INFO for r in records) or printed  # something was logged or printed
    assert SECRET not in printed and KEY_ID not in printed


@pytest.fixture(autouse=True)
def _reset_spam() -> Iterator[None]:
    Spam.seen.clear()
    Spam.fail_on = None
    yield
    Spam.seen.clear()
    Spam.fail_on = None


def stages() -> list[Any]:
    return [Spam(), ExactDedup(), MinHashDedup()]


# ---------------------------------------------------------------- inputs and run folder


def test_a_corpus_in_a_bucket_cleans_to_what_the_same_local_files_give(
    tmp_path: Path,
    local_corpus: Path,
    fs: s3fs.S3FileSystem,
    bucket: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    run([local_corpus], tmp_path / "local", stages(), OPTIONS)
    expected = outputs(tmp_path / "local")
    reasons = set(expected["removed"]["reason"].to_list())
    assert {"spam", "exact_duplicate", "near_duplicate"} <= reasons  # what the comparison covers
    assert expected["quarantine"].height >= 3  # malformed line, null text, reused id

    upload(fs, local_corpus, f"s3://{bucket}/data")
    out = f"s3://{bucket}/runs/nightly"
    with caplog.at_level(logging.DEBUG):
        result = run([f"s3://{bucket}/data/"], out, stages(), OPTIONS)

    assert_same(remote_outputs(fs, out), expected)
    assert result.stats.paths["kept"] == f"{out}/kept"
    names = {key.rsplit("/", 1)[1] for key in fs.ls(out.removeprefix("s3://"))}
    assert names == {"kept", "removed", "quarantine", "run.json", "stats.json", "report.md", "report.html"}
    manifest = json.loads(fs.cat(f"{out.removeprefix('s3://')}/run.json"))
    assert manifest["status"] == "complete"
    assert [source["path"] for source in manifest["identity"]["inputs"]] == [
        f"s3://{bucket}/data/{name}" for name in ("a.jsonl.gz", "b.jsonl", "more/c.parquet", "more/d.csv")
    ]
    assert all(source["version"] for source in manifest["identity"]["inputs"])  # the objects' ETags
    assert not objects_holding(fs, out, KEY_ID, SECRET)
    assert_nothing_logged(caplog.records, "".join(capfd.readouterr()))

    again = run([f"s3://{bucket}/data/"], out, stages(), OPTIONS)  # same command: complete, nothing done
    assert again.already_complete


def test_globs_and_single_objects_resolve_like_local_files(
    local_corpus: Path, fs: s3fs.S3FileSystem, bucket: str
) -> None:
    upload(fs, local_corpus, f"s3://{bucket}/data")
    options = ReadOptions()
    found = resolve_sources([f"s3://{bucket}/data/*.jsonl*", f"s3://{bucket}/data/more/d.csv"], options)
    assert [(s.label, s.format) for s in found] == [
        ("a.jsonl.gz", "jsonl"),
        ("b.jsonl", "jsonl"),
        ("d.csv", "csv"),
    ]
    assert [str(s.path) for s in found] == [
        f"s3://{bucket}/data/a.jsonl.gz",
        f"s3://{bucket}/data/b.jsonl",
        f"s3://{bucket}/data/more/d.csv",
    ]
    local = resolve_sources([local_corpus], options)
    remote = resolve_sources([f"s3://{bucket}/data"], options)
    assert [(s.label, s.format) for s in remote] == [(s.label, s.format) for s in local]
    assert resolve_sources([f"file://{local_corpus}"], options) == local  # a file:// URL is a local path


def test_locations_that_cannot_be_read_are_errors_naming_them(
    tmp_path: Path, fs: s3fs.S3FileSystem, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs.pipe(f"{bucket}/data/a.jsonl", b'{"text": "one"}\n')
    local = tmp_path / "a.jsonl"
    local.write_text('{"text": "one"}\n')
    options = ReadOptions()
    with pytest.raises(InputError, match=rf"s3://{bucket}/data/missing.jsonl: no such object"):
        resolve_sources([f"s3://{bucket}/data/missing.jsonl"], options)
    with pytest.raises(InputError, match=r"s3://no-such-bucket-winnow/data: no such bucket"):
        resolve_sources(["s3://no-such-bucket-winnow/data"], options)
    with pytest.raises(InputError, match=rf"s3://{bucket}/data/\*.parquet: no object matches"):
        resolve_sources([f"s3://{bucket}/data/*.parquet"], options)
    with pytest.raises(InputError, match=r"nosuch://bucket/x: cannot read: Unsupported filesystem"):
        resolve_sources(["nosuch://bucket/x"], options)
    with pytest.raises(WinnowError, match=r"nosuch://bucket/x: cannot use this location"):
        run([f"s3://{bucket}/data/a.jsonl"], "nosuch://bucket/x", [ExactDedup()])
    with pytest.raises(RunFolderError, match=r"s3://no-such-bucket-winnow/runs/x: no such bucket"):
        run([f"s3://{bucket}/data/a.jsonl"], "s3://no-such-bucket-winnow/runs/x", [ExactDedup()])
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    s3fs.S3FileSystem.clear_instance_cache()
    with pytest.raises(InputError, match=rf"s3://{bucket}/data/a.jsonl: cannot read: .*credentials"):
        resolve_sources([f"s3://{bucket}/data/a.jsonl"], options)
    with pytest.raises(RunFolderError, match=rf"s3://{bucket}/runs/x: cannot use this location"):
        run([local], f"s3://{bucket}/runs/x", [ExactDedup()])


def test_embedding_stages_decide_in_parts_with_their_run_folder_in_a_bucket(
    tmp_path: Path, fs: s3fs.S3FileSystem, bucket: str
) -> None:
    """Semantic dedup and selection share values between their parts through the state folder (centroids,
    a target's embeddings) when it is local; in a bucket every part computes them itself, to the same end."""
    corpus = tmp_path / "corpus.jsonl"
    topics = ["the harvest of {} rose this year", "the striker scored {} goals", "rates on {} loans fell"]
    rows = [{"id": f"d{i}", "text": topics[i % 3].format(i // 3)} for i in range(60)]
    rows += [{"id": f"copy{i}", "text": rows[i]["text"].upper()} for i in range(0, 60, 7)]  # cosine ~1
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows) + "not json\n")
    target = tmp_path / "target.txt"
    target.write_text("the goalkeeper saved a penalty\nthe forward scored late in the match\n")
    cache = tmp_path / "cache"

    def stages() -> list[Any]:
        return [
            SemanticDedup(eps=0.02, cache=cache),
            Selection(method="knn", budget_docs=30, target=target, cache=cache),
            Selection(method="clusters", budget_docs=12, n_clusters=3, cache=cache),
        ]

    options = RunOptions(read=ReadOptions(batch_size=10), partitions=3)
    run([corpus], tmp_path / "local", stages(), options)
    expected = outputs(tmp_path / "local")
    assert expected["kept"].height == 12
    assert set(expected["removed"]["reason"].to_list()) == {"semantic_duplicate", "not_selected"}

    out = f"s3://{bucket}/runs/embedded"
    run([corpus], out, stages(), options)
    assert_same(remote_outputs(fs, out), expected)


def test_credentials_in_urls_are_used_and_never_written(
    tmp_path: Path,
    local_corpus: Path,
    fs: s3fs.S3FileSystem,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    upload(fs, local_corpus, f"s3://{bucket}/data")
    run([local_corpus], tmp_path / "local", stages(), OPTIONS)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # only the URLs hold credentials now
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    s3fs.S3FileSystem.clear_instance_cache()
    with_secret = f"s3://{KEY_ID}:{SECRET}@{bucket}"

    with caplog.at_level(logging.DEBUG):
        result = run([f"{with_secret}/data/"], f"{with_secret}/runs/mine", stages(), OPTIONS)

    assert result.stats.paths["kept"] == f"s3://{bucket}/runs/mine/kept"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    s3fs.S3FileSystem.clear_instance_cache()
    reader = s3fs.S3FileSystem()
    assert_same(remote_outputs(reader, f"s3://{bucket}/runs/mine"), outputs(tmp_path / "local"))
    assert not objects_holding(reader, f"s3://{bucket}/runs/mine", KEY_ID, SECRET)
    assert_nothing_logged(caplog.records)
    assert storage.redact(f"see {with_secret}/x and gs://u:p@b/y") == f"see s3://{bucket}/x and gs://b/y"


def test_credentials_of_a_profile_serve_every_read_and_write(
    tmp_path: Path, local_corpus: Path, fs: s3fs.S3FileSystem, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(fs, local_corpus, f"s3://{bucket}/data")
    run([local_corpus], tmp_path / "local", stages(), OPTIONS)
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(f"[winnow]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "winnow")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    s3fs.S3FileSystem.clear_instance_cache()
    storage._botocore_session.cache_clear()

    run([f"s3://{bucket}/data/"], f"s3://{bucket}/runs/profile", stages(), OPTIONS)  # polars reads too

    assert_same(
        remote_outputs(s3fs.S3FileSystem(), f"s3://{bucket}/runs/profile"), outputs(tmp_path / "local")
    )
    storage._botocore_session.cache_clear()


# ---------------------------------------------------------------- resume and the lock


def test_a_run_stopped_by_an_error_resumes_from_its_folder_in_the_bucket(
    tmp_path: Path, local_corpus: Path, fs: s3fs.S3FileSystem, bucket: str
) -> None:
    run([local_corpus], tmp_path / "whole", stages(), OPTIONS)
    expected = outputs(tmp_path / "whole")
    shards = sorted(Spam.seen)
    assert len(shards) > 10
    Spam.seen.clear()
    upload(fs, local_corpus, f"s3://{bucket}/data")
    out = f"s3://{bucket}/runs/resumed"

    Spam.fail_on = shards[9]
    with pytest.raises(RuntimeError, match="went away"):
        run([f"s3://{bucket}/data"], out, stages(), OPTIONS)
    assert sorted(Spam.seen) == shards[:9]
    assert fs.find(f"{bucket}/runs/resumed/_work/done")  # its checkpoints are in the bucket
    assert not fs.exists(f"{bucket}/runs/resumed/{LOCK_NAME}")  # released
    Spam.seen.clear()
    Spam.fail_on = None

    result = run([f"s3://{bucket}/data"], out, stages(), OPTIONS)

    assert sorted(Spam.seen) == shards[9:]  # only the shards not done before
    assert result.stats.resume is not None and result.stats.resume.attempt == 2
    assert result.stats.resume.tasks_reused >= 4 + 1 + 9  # reads, id check, the shards spam finished
    assert_same(remote_outputs(fs, out), expected)
    assert not fs.exists(f"{bucket}/runs/resumed/_work")


def test_the_lock_of_a_folder_in_a_bucket(
    tmp_path: Path, fs: s3fs.S3FileSystem, bucket: str, local_corpus: Path
) -> None:
    lock = f"s3://{bucket}/runs/locked/{LOCK_NAME}"
    assert storage.create_exclusive(storage.as_path(lock), b"{}")  # a conditional PUT, by the server
    assert not storage.create_exclusive(storage.as_path(lock), b"{}")

    elsewhere = {"pid": 1, "host": "another-host", "started_at": "2026-01-01T00:00:00+00:00"}
    fs.pipe(lock.removeprefix("s3://"), json.dumps(elsewhere).encode())
    with pytest.raises(FolderLockedError, match=rf"pid 1 on another-host.*delete {lock}"):
        run([local_corpus], f"s3://{bucket}/runs/locked", [ExactDedup()], OPTIONS)

    dead = {"pid": _dead_pid(), "host": socket.gethostname(), "started_at": "2026-01-01T00:00:00+00:00"}
    fs.pipe(lock.removeprefix("s3://"), json.dumps(dead).encode())  # left by a killed run of this host
    result = run([local_corpus], f"s3://{bucket}/runs/locked", [ExactDedup()], OPTIONS)
    assert result.stats.kept > 0
    assert not fs.exists(lock.removeprefix("s3://"))


def _dead_pid() -> int:
    """A process id no process of this host has."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


# ---------------------------------------------------------------- the dedup index


def index_run(inputs: list[Any], out: Any, index: str | Path, update: bool) -> pl.DataFrame:
    """Removed documents of a MinHash run against `index`: id, reason, duplicate_of."""
    stage = MinHashDedup(MinHashConfig(index=index, update_index=update))
    result = run(inputs, out, [stage], OPTIONS)
    removed = result.folder.removed
    frames = [storage.read_parquet(p) for p in sorted(removed.glob("part-*"))]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed").select("id", "reason", "duplicate_of").sort("id")


def test_a_dedup_index_in_a_bucket_deduplicates_later_runs_as_a_local_one(
    tmp_path: Path, fs: s3fs.S3FileSystem, bucket: str
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_corpus(first, seed=1)
    lines = (first / "a.jsonl").read_text().splitlines()[:40]
    rows = [json.loads(line) for line in lines if line.startswith('{"')]
    second.mkdir()
    lines = [json.dumps({"id": f"new{i}", "text": r["text"] + " zebra"}) for i, r in enumerate(rows)]
    (second / "later.jsonl").write_text("\n".join(lines) + "\n")
    upload(fs, first, f"s3://{bucket}/first")
    upload(fs, second, f"s3://{bucket}/second")

    index_run([first / "a.jsonl"], tmp_path / "r1", tmp_path / "index", update=True)
    expected = index_run([second / "later.jsonl"], tmp_path / "r2", tmp_path / "index", update=False)
    assert expected.height > 20 and set(expected["reason"]) == {"near_duplicate"}

    url = f"s3://{bucket}/dedup-index"
    index_run([f"s3://{bucket}/first/a.jsonl"], f"s3://{bucket}/runs/r1", url, update=True)
    assert fs.exists(f"{bucket}/dedup-index/index.json")
    assert fs.glob(f"{bucket}/dedup-index/docs/part-*.parquet")
    assert not fs.exists(f"{bucket}/dedup-index/{LOCK_NAME}")
    got = index_run([f"s3://{bucket}/second/later.jsonl"], f"s3://{bucket}/runs/r2", url, update=False)
    assert got.equals(expected)


# ---------------------------------------------------------------- the command line


def test_winnow_clean_reads_and_writes_a_bucket(
    tmp_path: Path,
    local_corpus: Path,
    fs: s3fs.S3FileSystem,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    winnow: Callable[..., Any],
    prefect_server: str,
) -> None:
    upload(fs, local_corpus, f"s3://{bucket}/data")
    local = winnow("clean", local_corpus, "--out", tmp_path / "local", "--batch-size", "10")
    assert local.exit_code == 0, local.output
    expected = outputs(tmp_path / "local")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # the URLs carry the credentials
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with_secret = f"s3://{KEY_ID}:{SECRET}@{bucket}"

    args = ("clean", f"{with_secret}/data/", "--out", f"{with_secret}/runs/cli", "--batch-size", "10")
    done = winnow(*args, prefect=True)  # Prefect stores the flow's parameters and logs: none holds the secret

    assert done.exit_code == 0, done.output
    assert KEY_ID not in done.output and SECRET not in done.output
    assert f"s3://{bucket}/runs/cli/kept" in done.output
    got = remote_outputs(fs, f"s3://{bucket}/runs/cli")
    assert got["kept"]["id"].to_list() == expected["kept"]["id"].to_list()
    assert got["removed"].select("id", "reason").equals(expected["removed"].select("id", "reason"))
    assert got["stats"] == expected["stats"]
    assert not objects_holding(fs, f"s3://{bucket}/runs/cli", KEY_ID, SECRET)
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:  # what Prefect stored: flow and task runs, log lines
        stored = [r.model_dump_json() for r in (*client.read_flow_runs(), *client.read_task_runs())]
        stored += [log.message for log in client.read_logs()]
    assert any(f"s3://{bucket}/runs/cli" in text for text in stored)
    assert not [text for text in stored if SECRET in text or KEY_ID in text]

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    stats = winnow("stats", f"s3://{bucket}/runs/cli", "--json")
    assert stats.exit_code == 0, stats.output
    assert counts(json.loads(stats.output)) == expected["stats"]


@pytest.mark.slow
def test_winnow_clean_on_dask_workers_with_credentials_in_the_urls(
    tmp_path: Path,
    local_corpus: Path,
    fs: s3fs.S3FileSystem,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    winnow: Callable[..., Any],
) -> None:
    upload(fs, local_corpus, f"s3://{bucket}/data")
    run([local_corpus], tmp_path / "local", [ExactDedup(), MinHashDedup()], OPTIONS)  # the dedup preset
    expected = outputs(tmp_path / "local")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # nor do the workers' environments hold any
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with_secret = f"s3://{KEY_ID}:{SECRET}@{bucket}"

    out = f"{with_secret}/runs/dask"
    done = winnow(
        "clean", f"{with_secret}/data/", "--out", out, "--batch-size", "10", "--workers", "2", prefect=True
    )

    assert done.exit_code == 0, done.output  # the paths carried the URL's credentials to the workers
    assert KEY_ID not in done.output and SECRET not in done.output
    assert_same(remote_outputs(fs, f"s3://{bucket}/runs/dask"), expected)
    assert not objects_holding(fs, f"s3://{bucket}/runs/dask", KEY_ID, SECRET)


def test_a_killed_cli_run_resumes_from_its_folder_in_the_bucket(
    tmp_path: Path, local_corpus: Path, fs: s3fs.S3FileSystem, bucket: str, prefect_server: str
) -> None:
    run([local_corpus], tmp_path / "local", [ExactDedup(), MinHashDedup()], OPTIONS)  # the dedup preset
    expected = outputs(tmp_path / "local")
    upload(fs, local_corpus, f"s3://{bucket}/data")
    out = f"s3://{bucket}/runs/killed"
    flag = tmp_path / "paused"
    args = ["clean", f"s3://{bucket}/data/", "--out", out, "--batch-size", "10"]
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "COLUMNS": "200"}
    command = [str(Path(sys.executable).parent / "winnow"), *args]

    pause_at = 30  # reads, the id check and the exact dedup summaries done; a decision or shards to go
    process = subprocess.Popen(
        command,
        env={**env, checkpoints.PAUSE_ENV: f"{pause_at}:{flag}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not flag.exists():
        assert process.poll() is None, f"run ended before its pause: {process.communicate()[0]}"
        assert time.monotonic() < deadline, "run never reached its pause"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    done = fs.glob(f"{bucket}/runs/killed/_work/done/*/*.json")
    assert len(done) >= pause_at
    lock = json.loads(fs.cat(f"{bucket}/runs/killed/{LOCK_NAME}"))
    assert lock["pid"] == process.pid  # the dead run's lock object stays behind

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    assert again.returncode == 0, again.stdout + again.stderr
    assert "resumed (attempt 2)" in again.stdout
    assert_same(remote_outputs(fs, out), expected)
    stats = json.loads(fs.cat(f"{bucket}/runs/killed/stats.json"))
    assert stats["resume"]["tasks_reused"] == len(done)
    assert not fs.exists(f"{bucket}/runs/killed/_work")
    assert not fs.exists(f"{bucket}/runs/killed/{LOCK_NAME}")
