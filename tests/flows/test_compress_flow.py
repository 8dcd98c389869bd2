"""`winnow compress --batch` and the `compress_prompts` flow, on the session's real Prefect server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from flows.compress_cli import compress
from flows.compress_flow import compress_prompts
from pipeline.errors import InputError
from prompts.request import RequestError
from tests.conftest import CliResult
from tests.flows.test_compress_cli import CHAT, HARBOUR, PARAGRAPHS, words

LIGHTHOUSE = "What colour is the lighthouse on Gull Island?"
RECORDS: list[dict[str, Any]] = [
    {"id": "harbour", "prompt": HARBOUR, "source": "notes", "tags": ["port", 3]},
    {"id": 7, "prompt": PARAGRAPHS, "question": LIGHTHOUSE},
    {"id": "chat", "prompt": CHAT, "source": "chat log"},
    {"id": "binary", "prompt": "A prompt with a NUL \u0000 byte in it, which is not text."},
    {"id": "town", "prompt": "\n\n".join(PARAGRAPHS), "question": None},
]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("prefect", [False, True], ids=["in-process", "prefect-flow"])
def test_batch_through_the_winnow_command(
    tmp_path: Path, winnow: Callable[..., CliResult], prefect: bool
) -> None:
    batch = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    out = tmp_path / "out" / "compressed.jsonl"
    question = "When does the fish auction start?"
    options = ("--rate", "0.5", "--roles", "user", "--question", question, "--json")
    done = winnow("compress", "--batch", batch, "--out", out, *options, prefect=prefect)
    assert done.exit_code == 0, done.output
    assert "compressed 4 of 5 records, 1 failed" in done.output
    summary = json.loads(next(line for line in done.output.splitlines() if line.startswith('{"records"')))
    assert (summary["records"], summary["compressed"], summary["failed"]) == (5, 4, 1)

    rows = read_jsonl(out)
    assert [row["id"] for row in rows] == [record["id"] for record in RECORDS]
    for row, record in zip(rows, RECORDS, strict=True):
        assert {key: row[key] for key in record} == record  # input fields kept as they were
    harbour, documents, chat, binary, town = rows
    assert "NUL" in binary["error"] and "text" not in binary and "compressed_tokens" not in binary
    for row in (harbour, documents, chat, town):
        assert "error" not in row
        assert 0 < row["compressed_tokens"] <= row["target_tokens"] < row["original_tokens"]
        assert row["ratio"] == pytest.approx(row["compressed_tokens"] / row["original_tokens"])
    assert set(words(harbour["text"])) <= set(words(HARBOUR))
    assert documents["chunk_ranking"][0] == 1  # its own question (the lighthouse) wins over --question
    assert "green" in words(documents["text"])
    assert len(town["chunk_ranking"]) == 3  # no question of its own: ranked for --question
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant"]
    assert chat["messages"][0] == CHAT[0] and chat["messages"][2] == CHAT[2]
    assert json.loads(chat["text"]) == chat["messages"]
    assert summary["original_tokens"] == sum(row.get("original_tokens", 0) for row in rows)
    assert summary["compressed_tokens"] == sum(row.get("compressed_tokens", 0) for row in rows)
    assert sorted(p.name for p in out.parent.iterdir()) == ["compressed.jsonl"]  # no temporary file left


def test_in_process_and_flow_write_the_same_records(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    batch = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    written = []
    for prefect in (False, True):
        out = tmp_path / f"out-{prefect}.jsonl"
        done = winnow("compress", "--batch", batch, "--out", out, "--target-tokens", "30", prefect=prefect)
        assert done.exit_code == 0, done.output
        written.append([{k: v for k, v in row.items() if k != "seconds"} for row in read_jsonl(out)])
    assert written[0] == written[1] and len(written[0]) == len(RECORDS)


def test_a_batch_without_prefect_asked_imports_no_prefect(tmp_path: Path) -> None:
    batch = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "prompt": HARBOUR}])
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    command = [sys.executable, "-X", "importtime", str(Path(sys.executable).parent / "winnow"), "compress"]
    done = subprocess.run(
        [*command, "--batch", str(batch), "--out", str(tmp_path / "out.jsonl"), "--target-tokens", "20"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {
        line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")
    }
    assert "transformers" in imported and not {name for name in imported if name.split(".")[0] == "prefect"}
    assert read_jsonl(tmp_path / "out.jsonl")[0]["compressed_tokens"] <= 20


def test_flow_in_chunks_keeps_order_and_counts(tmp_path: Path, prefect_server: str) -> None:
    records = [{"id": f"r{i}", "prompt": text} for i, text in enumerate([HARBOUR, *PARAGRAPHS])]
    records.append({"id": "r4", "prompt": "Too short."})
    batch = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    summary = compress_prompts(batch, out, target_tokens=20, chunk_size=2)

    rows = read_jsonl(out)
    assert [row["id"] for row in rows] == [f"r{i}" for i in range(5)]
    assert summary["records"] == 5 == summary["compressed"] + summary["failed"]
    assert summary["failed"] == 0
    assert summary["original_tokens"] == sum(row["original_tokens"] for row in rows)
    assert summary["compressed_tokens"] == sum(row["compressed_tokens"] for row in rows)
    assert all(row["compressed_tokens"] <= 20 for row in rows)
    assert rows[4]["text"] == "Too short." and "unchanged" in rows[4]["note"]
    assert summary["out"] == str(out) and summary["seconds"] > 0


def test_flow_stops_on_a_bad_line_and_writes_nothing(tmp_path: Path, prefect_server: str) -> None:
    batch = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": HARBOUR}, {"id": 2, "prompt": ""}])
    with pytest.raises(InputError, match=r"in\.jsonl, line 2, field 'prompt': empty"):
        compress_prompts(str(batch), str(tmp_path / "out.jsonl"), rate=0.5)
    assert not (tmp_path / "out.jsonl").exists()


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("compress")(compress)
app.command("noop", hidden=True)(lambda: None)

GOOD = json.dumps({"id": "a", "prompt": HARBOUR})


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ("{not json", "line 2: invalid JSON"),
        ('["a", "list"]', "line 2: a record is a JSON object"),
        ('{"id": "b"}', "line 2, field 'prompt': missing"),
        ('{"id": "b", "prompt": "   "}', "line 2, field 'prompt': empty"),
        ('{"id": "b", "prompt": 42}', "line 2, field 'prompt': must be a string, a list of documents"),
        ('{"id": "b", "prompt": [{"role": "user"}]}', "line 2, field 'prompt[0].content': missing"),
        (
            '{"id": "b", "prompt": [{"role": 1, "content": "x"}]}',
            "line 2, field 'prompt[0].role': must be a string",
        ),
        (
            '{"id": "b", "prompt": [{"role": "user", "content": "x", "compress": "no"}]}',
            "line 2, field 'prompt[0].compress': must be true or false",
        ),
        (
            '{"id": "b", "prompt": ["doc", 3]}',
            "line 2, field 'prompt': must be a string, a list of documents",
        ),
        ('{"id": "b", "prompt": "hi", "question": 3}', "line 2, field 'question': must be a string"),
        ('{"id": "a", "prompt": "hi"}', "line 2, field 'id': duplicate id 'a' (first on line 1)"),
        ('{"id": [1], "prompt": "hi"}', "line 2, field 'id': must be a string or an integer"),
        (b'{"id": "b", "prompt": "caf\xe9"}', "line 2: not valid UTF-8 at byte 26 of the line"),
    ],
)
def test_bad_batch_line_exits_1_and_writes_nothing(
    tmp_path: Path, second_line: str | bytes, message: str
) -> None:
    batch = tmp_path / "in.jsonl"
    line = second_line if isinstance(second_line, bytes) else second_line.encode()
    batch.write_bytes(GOOD.encode() + b"\n" + line + b"\n")
    out = tmp_path / "out.jsonl"
    out.write_text("earlier output\n")
    result = CliRunner().invoke(app, ["compress", "--batch", str(batch), "--out", str(out), "--rate", "0.5"])
    assert result.exit_code == 1
    assert f"{batch}, {message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert out.read_text() == "earlier output\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "2"], "--rate must be in (0, 1], got 2.0"),
        (["--target-tokens", "9", "--keep", "(unclosed"], "--keep '(unclosed': bad regular expression"),
        (["--rate", "0.5", "--tokenizer", "{missing}"], "--tokenizer {missing}: no such folder"),
    ],
)
def test_bad_batch_option_exits_1_naming_the_option(tmp_path: Path, args: list[str], message: str) -> None:
    batch = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "prompt": HARBOUR}])
    out = tmp_path / "out.jsonl"
    missing = str(tmp_path / "no-tokenizer")
    result = CliRunner().invoke(
        app,
        ["compress", "--batch", str(batch), "--out", str(out), *(a.format(missing=missing) for a in args)],
    )
    assert result.exit_code == 1
    assert message.format(missing=missing) in result.stderr
    assert "line 1" not in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_flow_refuses_a_bad_option_before_writing(tmp_path: Path, prefect_server: str) -> None:
    batch = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": HARBOUR}])
    with pytest.raises(RequestError, match=re.escape("rate must be in (0, 1], got 2.0")) as caught:
        compress_prompts(str(batch), str(tmp_path / "out.jsonl"), rate=2.0)
    assert caught.value.field == "rate"
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(("content", "message"), [(None, "no such file"), ("\n\n", "no records")])
def test_missing_or_empty_batch_exits_1(tmp_path: Path, content: str | None, message: str) -> None:
    batch = tmp_path / "in.jsonl"
    if content is not None:
        batch.write_text(content)
    result = CliRunner().invoke(
        app, ["compress", "--batch", str(batch), "--out", str(tmp_path / "out.jsonl"), "--target-tokens", "9"]
    )
    assert result.exit_code == 1 and f"{batch}: {message}" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.slow
def test_batch_on_dask_workers(tmp_path: Path, winnow: Callable[..., CliResult]) -> None:
    records = [{"id": i, "prompt": text} for i, text in enumerate([HARBOUR, *PARAGRAPHS] * 2)]
    batch = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    done = winnow(
        "compress", "--batch", batch, "--out", out, "--target-tokens", "25", "--workers", "2", prefect=True
    )
    assert done.exit_code == 0, done.output
    rows = read_jsonl(out)
    assert [row["id"] for row in rows] == list(range(8))
    assert all(row["compressed_tokens"] <= 25 for row in rows)
