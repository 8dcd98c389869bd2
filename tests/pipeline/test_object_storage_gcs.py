"""Google Cloud Storage: inputs, a run folder and a dedup index at gs:// URLs, against a real GCS-compatible
server (gcp-storage-emulator's HTTP JSON API on a free port, started here; gcsfs talks to it as to GCS)."""

from __future__ import annotations

import json
import random
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from filters.dedup.exact import ExactDedup
from filters.dedup.minhash import MinHashDedup
from pipeline.readers import ReadOptions
from pipeline.runner import RunOptions, run
from tests.pipeline.test_object_storage import remote_outputs
from tests.pipeline.test_resume import outputs

OPTIONS = RunOptions(read=ReadOptions(batch_size=25), partitions=3)


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """A GCS emulator on a free port of this machine; gcsfs is pointed at it by `STORAGE_EMULATOR_HOST`."""
    from gcp_storage_emulator.server import create_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def gcs(emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh bucket on the emulator, and gcsfs's file system for it."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    # gcsfs's experimental zonal-bucket probe speaks gRPC over TLS, which the emulator does not
    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # no metadata server to ask for credentials here
    import gcsfs

    gcsfs.GCSFileSystem.clear_instance_cache()
    fs = gcsfs.GCSFileSystem()
    bucket = f"winnow-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    yield fs, bucket
    gcsfs.GCSFileSystem.clear_instance_cache()


def corpus_lines() -> list[str]:
    """48 documents of 80 seeded random words, 12 exact copies, 12 near copies (the last word changed) and a
    malformed line."""
    rng = random.Random(7)
    vocabulary = [f"w{n}" for n in range(2000)]
    texts = [" ".join(rng.choices(vocabulary, k=80)) for _ in range(48)]
    lines = [json.dumps({"id": f"d{i}", "text": text}) for i, text in enumerate(texts)]
    lines += [json.dumps({"id": f"copy{i}", "text": texts[i]}) for i in range(12)]
    lines += [
        json.dumps({"id": f"near{i}", "text": texts[12 + i].rsplit(" ", 1)[0] + " changed"})
        for i in range(12)
    ]
    return [*lines, "{not json"]


def stages(index: str | Path) -> list[Any]:
    return [ExactDedup(), MinHashDedup(index=index, update_index=True)]


def test_a_corpus_in_a_gcs_bucket_cleans_to_what_the_same_local_files_give(tmp_path: Path, gcs: Any) -> None:
    fs, bucket = gcs
    text = "\n".join(corpus_lines()) + "\n"
    local = tmp_path / "data" / "corpus.jsonl"
    local.parent.mkdir()
    local.write_text(text)
    fs.pipe(f"{bucket}/data/corpus.jsonl", text.encode())

    run([local.parent], tmp_path / "run", stages(tmp_path / "index"), OPTIONS)
    expected = outputs(tmp_path / "run")
    reasons = expected["removed"]["reason"].value_counts().sort("reason")
    assert dict(reasons.iter_rows()) == {"exact_duplicate": 12, "near_duplicate": 12}  # what is compared
    assert expected["quarantine"].height == 1

    out = f"gs://{bucket}/runs/nightly"
    result = run([f"gs://{bucket}/data/"], out, stages(f"gs://{bucket}/index"), OPTIONS)
    got = remote_outputs(fs, out)
    assert got["kept"].equals(expected["kept"])
    assert got["removed"].drop("source").equals(expected["removed"].drop("source"))
    for key in ("input", "kept", "removed", "quarantined", "stages"):
        assert got["stats"][key] == expected["stats"][key], key
    assert got["quarantine"].select("line", "error").equals(expected["quarantine"].select("line", "error"))
    assert result.stats.paths["kept"] == f"{out}/kept"
    assert json.loads(fs.cat(f"{bucket}/runs/nightly/run.json"))["status"] == "complete"

    # the index in the bucket: a later run of the same documents finds every one of them in it
    again = f"gs://{bucket}/runs/tomorrow"
    run([f"gs://{bucket}/data/"], again, [MinHashDedup(index=f"gs://{bucket}/index")], OPTIONS)
    later = remote_outputs(fs, again)
    assert later["kept"].height == 0 and later["removed"].height == 72
    assert set(later["removed"]["duplicate_of"].to_list()) <= set(got["kept"]["id"].to_list())
