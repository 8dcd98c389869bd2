"""`winnow fewshot`, run in process through a small typer app that registers the command as flows.cli will."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from flows.fewshot_cli import fewshot

POOL = [
    {
        "question": "How do I convert 30 degrees Celsius to Fahrenheit?",
        "answer": "Multiply by 9/5, add 32: 86.",
    },
    {"question": "How can I convert 30 degrees Celsius into Fahrenheit?", "answer": "30 * 1.8 + 32 = 86."},
    {"question": "What is 100 Fahrenheit in Celsius?", "answer": "Subtract 32, times 5/9: about 37.8."},
    {"question": "Who painted the ceiling of the Sistine Chapel?", "answer": "Michelangelo."},
    {"question": "How many legs does a spider have?", "answer": "Eight."},
    {"question": "What is the capital city of Canada?", "answer": "Ottawa."},
]
QUERY = "How do I turn 25 degrees Celsius into Fahrenheit?"

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("fewshot")(fewshot)
app.command("noop", hidden=True)(lambda: None)  # two commands: `fewshot` stays a subcommand, as in winnow


def run(*args: str | Path, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["fewshot", *map(str, args)], input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def pool(tmp_path: Path) -> Path:
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in POOL), encoding="utf-8")
    return path


def test_json_lines_of_the_chosen_demonstrations(pool: Path) -> None:
    code, out, err = run(pool, QUERY, "-k", "3", "--fields", "question,answer", "--max-tokens", "80")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["rank"] for row in rows] == list(range(1, len(rows) + 1))
    assert 1 <= len(rows) <= 3
    assert rows[0]["line"] in (1, 2)  # a Celsius-to-Fahrenheit question comes first
    assert rows[0]["example"] == POOL[rows[0]["line"] - 1]
    assert rows[0]["text"] == "{question}\n{answer}".format(**POOL[rows[0]["line"] - 1])
    assert sum(row["tokens"] for row in rows) <= 80
    assert f"{len(rows)} of 6 examples chosen" in err


def test_text_block_with_a_template_and_a_query_file(pool: Path, tmp_path: Path) -> None:
    query = tmp_path / "query.txt"
    query.write_text(QUERY + "\n", encoding="utf-8")
    code, out, err = run(
        pool,
        "--query-file",
        query,
        "-k",
        "2",
        "--lambda",
        "1",
        "--fields",
        "question,answer",
        "--template",
        "Q: {question}\\nA: {answer}",
        "--format",
        "text",
    )
    assert code == 0, err
    assert out == (
        "Q: How can I convert 30 degrees Celsius into Fahrenheit?\nA: 30 * 1.8 + 32 = 86.\n\n"
        "Q: How do I convert 30 degrees Celsius to Fahrenheit?\nA: Multiply by 9/5, add 32: 86.\n"
    )


def test_query_from_stdin_and_k_past_the_pool(pool: Path) -> None:
    code, out, err = run(pool, "--query-file", "-", "-k", "50", "--text-field", "question", stdin=QUERY)
    assert code == 0, err
    assert sorted(json.loads(line)["line"] for line in out.splitlines()) == list(range(1, 7))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", QUERY], "no such file"),
        (["{pool}", QUERY, "-k", "0"], "-k must be at least 1"),
        (["{pool}", QUERY, "--fields", "question,solution"], "unknown field 'solution'"),
        (["{pool}", QUERY, "--fields", "prompt"], "missing field 'prompt'"),
        (["{empty}", QUERY], "empty"),
        (["{pool}", QUERY, "--lambda", "2", "--fields", "question"], "lambda must be between 0 and 1"),
        (["{pool}", " ", "--fields", "question"], "the query is empty"),
    ],
)
def test_bad_input_exits_1_with_a_message(pool: Path, tmp_path: Path, args: list[str], message: str) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    code, out, err = run(*(a.format(pool=pool, empty=empty) for a in args))
    assert code == 1
    assert message in err
    assert "Traceback" not in err and out == ""


def test_query_and_query_file_together_is_a_usage_error(pool: Path) -> None:
    assert run(pool, QUERY, "--query-file", pool)[0] == 2
    assert run(pool)[0] == 2
