"""The `winnow` CLI on every kind of bad input, in both error modes, against a real Prefect server."""

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import orjson
import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.conftest import CliResult

Winnow = Callable[..., CliResult]

runner = CliRunner()


def jsonl(path: Path, lines: list[bytes | str | dict]) -> Path:
    out = []
    for line in lines:
        if isinstance(line, dict):
            line = orjson.dumps(line)
        out.append(line.encode() if isinstance(line, str) else line)
    path.write_bytes(b"\n".join(out) + b"\n")
    return path


GOOD = {"id": "g1", "text": "A perfectly good document."}


def malformed(tmp: Path) -> Path:
    return jsonl(tmp / "bad.jsonl", [GOOD, '{"id": "b", "text": "unterminated'])


def missing_text(tmp: Path) -> Path:
    return jsonl(tmp / "bad.jsonl", [GOOD, {"id": "b", "body": "no text field"}])


def null_text(tmp: Path) -> Path:
    return jsonl(tmp / "bad.jsonl", [GOOD, {"id": "b", "text": None}])


def number_text(tmp: Path) -> Path:
    return jsonl(tmp / "bad.jsonl", [GOOD, {"id": "b", "text": 42}])


def list_text(tmp: Path) -> Path:
    return jsonl(tmp / "bad.jsonl", [GOOD, {"id": "b", "text": ["a", "b"]}])


def invalid_utf8(tmp: Path) -> Path:
    return jsonl(tmp / "bad.jsonl", [GOOD, b'{"id": "b", "text": "caf\xe9 \xff"}'])


def empty_text(tmp: Path) -> Path:
    return jsonl(tmp / "bad.jsonl", [GOOD, {"id": "b", "text": ""}])


def whitespace_text(tmp: Path) -> Path:
    return jsonl(tmp / "bad.jsonl", [GOOD, {"id": "b", "text": " \n\t "}])


def duplicate_id(tmp: Path) -> Path:
    return jsonl(tmp / "bad.jsonl", [GOOD, {"id": "g1", "text": "Another text, same id."}])


def truncated_gz(tmp: Path) -> Path:
    records = [orjson.dumps({"id": f"d{i}", "text": f"document number {i} " * 20}) for i in range(200)]
    data = gzip.compress(b"\n".join(records) + b"\n")
    path = tmp / "bad.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


def parquet_without_text(tmp: Path) -> Path:
    path = tmp / "bad.parquet"
    pl.DataFrame({"id": ["a", "b"], "body": ["x", "y"]}).write_parquet(path)
    return path


# case -> (file maker, expected error words, line or None, field or None, records quarantined)
CASES: dict[str, tuple[Callable[[Path], Path], str, int | None, str | None, int]] = {
    "malformed JSON": (malformed, "malformed JSON", 2, None, 1),
    "missing text field": (missing_text, "missing field 'text'", 2, "text", 1),
    "null text": (null_text, "text is null", 2, "text", 1),
    "number text": (number_text, "text must be a string, got int", 2, "text", 1),
    "list text": (list_text, "text must be a string, got list", 2, "text", 1),
    "invalid UTF-8": (invalid_utf8, "invalid UTF-8", 2, None, 1),
    "empty text": (empty_text, "text is empty", 2, "text", 1),
    "whitespace text": (whitespace_text, "text is whitespace only", 2, "text", 1),
    "duplicate id": (duplicate_id, "duplicate id 'g1'", 2, "id", 1),
    "truncated gz": (truncated_gz, "truncated compressed file", None, None, 1),
    "parquet without text": (parquet_without_text, "no column 'text'", None, "text", 2),
}


def no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_clearly(case: str, tmp_path: Path, winnow: Winnow) -> None:
    make, words, line, field, _ = CASES[case]
    path = make(tmp_path)
    result = winnow("clean", str(path), "--out", str(tmp_path / "out"), "--on-error", "fail")
    assert result.exit_code == 1, result.output
    message = result.output
    assert "error:" in message and path.name in message and words in message
    if line is not None:
        assert f"line {line}" in message
    if field is not None:
        assert f"field '{field}'" in message
    no_traceback(result)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_quarantined(case: str, tmp_path: Path, winnow: Winnow) -> None:
    make, words, line, field, quarantined = CASES[case]
    path = make(tmp_path)
    out = tmp_path / "out"
    result = winnow("clean", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["quarantined"] == quarantined
    assert stats["input"] == stats["kept"] + stats["removed"] + stats["quarantined"]
    entries = pl.read_parquet(out / "quarantine")
    assert entries.height == quarantined
    entry = entries.row(0, named=True)
    assert words in entry["error"] and entry["source"] == path.name
    if line is not None:
        assert entry["line"] == line
    assert entry["field"] == field
    no_traceback(result)


def test_empty_file(tmp_path: Path, winnow: Winnow) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    failed = winnow("clean", str(path), "--out", str(tmp_path / "a"), "--on-error", "fail")
    assert failed.exit_code == 1 and "empty.jsonl: file is empty" in failed.output
    passed = winnow("clean", str(path), "--out", str(tmp_path / "b"))
    assert passed.exit_code == 0, passed.output
    stats = json.loads((tmp_path / "b" / "stats.json").read_text())
    assert stats["input"] == 0 and stats["read"]["warnings"] == ["empty.jsonl: file is empty"]
    no_traceback(failed)


def test_twenty_megabyte_document(tmp_path: Path, winnow: Winnow) -> None:
    big = "word " * 4_000_000
    path = jsonl(tmp_path / "big.jsonl", [GOOD, {"id": "big", "text": big}, {"id": "big2", "text": big}])
    result = winnow("clean", str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert (stats["kept"], stats["removed"]) == (2, 1)
    kept = pl.read_parquet(tmp_path / "out" / "kept")
    assert kept.filter(pl.col("id") == "big")["text"].str.len_bytes().item() == len(big)


def test_missing_path(tmp_path: Path, winnow: Winnow) -> None:
    result = winnow("clean", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "nope.jsonl: no such file or directory" in result.output
    assert not (tmp_path / "out").exists()
    no_traceback(result)


def test_output_folder_of_another_run(tmp_path: Path, winnow: Winnow) -> None:
    first = jsonl(tmp_path / "first.jsonl", [GOOD])
    second = jsonl(tmp_path / "second.jsonl", [{"text": "something else"}])
    out = tmp_path / "out"
    assert winnow("clean", str(first), "--out", str(out)).exit_code == 0
    again = winnow("clean", str(first), "--out", str(out))
    assert again.exit_code == 0 and "run is complete" in again.output
    other_inputs = winnow("clean", str(second), "--out", str(out))
    assert other_inputs.exit_code == 1 and "holds a run of other inputs" in other_inputs.output
    recipe = tmp_path / "r.toml"
    recipe.write_text("[[stages]]\ntype = 'exact_dedup'\nnormalization = { lowercase = false }\n")
    other_recipe = winnow("clean", str(first), "--out", str(out), "--recipe", str(recipe))
    assert other_recipe.exit_code == 1 and "holds a run of other recipe" in other_recipe.output
    no_traceback(other_recipe)


def test_bad_recipe_stops_before_work(tmp_path: Path, winnow: Winnow) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text("[[stages]]\ntype = 'exact_dedup'\nthreshold = 2\n")
    data = jsonl(tmp_path / "a.jsonl", [GOOD])
    result = winnow("clean", data, "--out", tmp_path / "out", "--recipe", recipe)
    assert result.exit_code == 1 and "stages.0.threshold: Extra inputs are not permitted" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["clean", "x.jsonl"],
        ["clean", "x.jsonl", "--out", "o", "--on-error", "skip"],
        ["clean", "x.jsonl", "--out", "o", "--batch-size", "0"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_help_explains_every_option() -> None:
    result = runner.invoke(app, ["clean", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for option in (
        "--out",
        "--recipe",
        "--text-field",
        "--id-field",
        "--on-error",
        "--input-format",
        "--output-format",
        "--batch-size",
        "--progress",
    ):
        assert option in result.output


def test_stats_command(tmp_path: Path, winnow: Winnow) -> None:
    path = jsonl(tmp_path / "a.jsonl", [GOOD, {"id": "g2", "text": "a perfectly GOOD document."}])
    assert winnow("clean", str(path), "--out", str(tmp_path / "out")).exit_code == 0
    shown = winnow("stats", str(tmp_path / "out"))
    assert shown.exit_code == 0
    assert "2 in: 1 kept, 1 removed, 0 quarantined" in shown.output
    assert "exact_duplicate: 1" in shown.output
    as_json = winnow("stats", str(tmp_path / "out"), "--json")
    assert json.loads(as_json.output)["kept"] == 1
    missing = winnow("stats", str(tmp_path))
    assert missing.exit_code == 1 and "not a finished winnow run" in missing.output


def test_presets_print_as_recipes_that_clean_runs(tmp_path: Path, winnow: Winnow) -> None:
    from flows.recipe import load_recipe, preset_recipe

    printed = winnow("recipe", "web")
    assert printed.exit_code == 0
    (tmp_path / "web.toml").write_text(printed.output)
    assert load_recipe(tmp_path / "web.toml").identity() == preset_recipe("web").identity()
    assert winnow("recipe", "nope").exit_code == 1
    path = jsonl(tmp_path / "a.jsonl", [GOOD, {"id": "g2", "text": "a perfectly GOOD document."}])
    both = winnow("clean", str(path), "--out", str(tmp_path / "x"), "--preset", "web", "--recipe", "r.toml")
    assert both.exit_code == 2 and "not both" in both.output
    ran = winnow("clean", str(path), "--out", str(tmp_path / "out"), "--preset", "web")
    assert ran.exit_code == 0, ran.output
    stages = [s["name"] for s in json.loads((tmp_path / "out" / "stats.json").read_text())["stages"]]
    assert stages[:2] == ["language", "gopher_repetition"] and stages[-1] == "minhash_dedup"
