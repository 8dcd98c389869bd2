"""`winnow compress` on one prompt, run in process (the real SmolLM2 scorer, loaded once for the module)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from flows.compress_cli import compress

HARBOUR = (
    "The harbour office opens at seven in the morning and closes at noon on Saturdays. Fishermen bring "
    "their catch to the north quay, where the auction starts at half past five. In 1987 the old lighthouse "
    "was painted red and white, and it still guides 42 boats home every night. Visitors who want to see the "
    "auction should wear boots, because the floor of the market hall is always wet and slippery."
)
PARAGRAPHS = [
    "The bakery on Mill Street sells rye bread, cinnamon rolls and a dark fruit cake that the owner bakes "
    "every Friday. Its ovens were built by the owner's grandfather and still burn beech wood.",
    "The lighthouse on Gull Island is painted green with a white lantern room. The keeper climbs its 120 "
    "steps twice a day to wind the clockwork that turns the lens.",
    "The night train to the capital leaves the central station at ten past eleven. It has four sleeping "
    "cars and a small restaurant car that serves soup and tea until midnight.",
]
CHAT = [
    {"role": "system", "content": "You are a careful assistant. Answer in one short sentence."},
    {"role": "user", "content": HARBOUR + " When does the fish auction start in the morning?"},
    {"role": "assistant", "content": "It starts at half past five in the morning."},
]

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("compress")(compress)
app.command("noop", hidden=True)(lambda: None)  # two commands: `compress` stays a subcommand, as in winnow


def run(*args: str | Path, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["compress", *map(str, args)], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_rate_from_stdin_keeps_whole_words_and_numbers() -> None:
    code, out, err = run("--rate", "0.5", stdin=HARBOUR)
    assert code == 0, err
    compressed = out.rstrip("\n")
    assert 0 < len(compressed) < len(HARBOUR)
    assert set(words(compressed)) <= set(words(HARBOUR))  # whole words only, none invented or cut
    assert "1987" in compressed and "42" in compressed  # numbers are kept by default
    summary = re.search(r"compressed (\d+) -> (\d+) tokens \((\d\.\d\d)\) in [\d.]+ s", err)
    assert summary, err
    before, after = int(summary[1]), int(summary[2])
    assert after <= before * 0.5 and float(summary[3]) == pytest.approx(after / before, abs=0.005)


def test_target_tokens_as_json_matches_the_plain_output(tmp_path: Path) -> None:
    prompt = write(tmp_path / "prompt.txt", HARBOUR + "\n")
    code, out, err = run(prompt, "--target-tokens", "30", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= {
        "text",
        "original_tokens",
        "compressed_tokens",
        "target_tokens",
        "ratio",
        "seconds",
    }
    assert "messages" not in result and result["note"] is None
    assert result["target_tokens"] == 30 and result["compressed_tokens"] <= 30
    assert result["original_tokens"] > 60
    assert result["ratio"] == pytest.approx(result["compressed_tokens"] / result["original_tokens"])
    assert all(0 <= start < end <= len(HARBOUR) for _, start, end in result["kept_spans"])
    plain = run(prompt, "--target-tokens", "30")
    assert plain[0] == 0 and plain[1] == result["text"] + "\n"  # `-` and FILE, json and text agree


@pytest.mark.parametrize("from_file", [False, True])
def test_question_keeps_the_relevant_paragraph(tmp_path: Path, from_file: bool) -> None:
    prompt = write(tmp_path / "context.txt", "\n\n".join(PARAGRAPHS))
    question = "What colour is the lighthouse on Gull Island?"
    asked = (
        ["--question-file", write(tmp_path / "q.txt", question)] if from_file else ["--question", question]
    )
    code, out, err = run(prompt, *asked, "--rate", "0.33", "--chunk-by", "paragraphs", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["chunk_ranking"][0] == 1
    assert "green" in words(result["text"]) and "gull" in words(result["text"])
    assert "bakery" not in words(result["text"])  # the least relevant paragraph is dropped whole
    assert "colour" not in words(result["text"])  # the question is not part of the output


DEMOS = [
    "Question: Ana has 3 apples and buys 4 more. How many apples does she have?\nAnswer: 3 + 4 = 7. #### 7",
    "Question: Ben runs 5 km a day for 6 days. How far does he run?\nAnswer: 5 * 6 = 30 km. #### 30",
    "Question: Cleo pays 12 dollars for 3 pens. What does one pen cost?\nAnswer: 12 / 3 = 4 dollars. #### 4",
    "Question: Dan reads 9 pages a night. How many pages in 7 nights?\nAnswer: 9 * 7 = 63 pages. #### 63",
]


def test_whole_chunks_keeps_few_shot_demonstrations_whole(tmp_path: Path) -> None:
    prompt = write(tmp_path / "demos.txt", "\n\n".join(DEMOS))
    code, out, err = run(prompt, "--rate", "0.5", "--whole-chunks", "--keep-newlines")
    assert code == 0, err
    parts = out.strip().split("\n\n")
    assert sum(part in DEMOS for part in parts) >= len(parts) - 1 >= 1


def test_keep_regex_survives_and_numbers_may_go(tmp_path: Path) -> None:
    ticket = "Your ticket ZX-4471-QP is valid on the harbour ferry until the end of the month."
    prompt = write(tmp_path / "prompt.txt", f"{HARBOUR} {ticket}")
    code, out, err = run(prompt, "--rate", "0.2", "--keep", r"ZX-\d{4}-[A-Z]{2}", "--no-keep-numbers")
    assert code == 0, err
    assert "ZX-4471-QP" in out
    assert len(out) < len(HARBOUR) / 2


def test_chat_compresses_only_the_named_roles(tmp_path: Path) -> None:
    prompt = write(tmp_path / "chat.json", json.dumps(CHAT))
    code, out, err = run(prompt, "--format", "chat", "--roles", "user", "--rate", "0.5")
    assert code == 0, err
    messages = json.loads(out)
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[0] == CHAT[0] and messages[2] == CHAT[2]
    assert len(messages[1]["content"]) < len(CHAT[1]["content"])
    assert set(words(messages[1]["content"])) <= set(words(CHAT[1]["content"]))


def test_target_over_the_prompt_returns_it_unchanged(tmp_path: Path) -> None:
    prompt = write(tmp_path / "prompt.txt", HARBOUR)
    code, out, err = run(prompt, "--target-tokens", "5000")
    assert code == 0, err
    assert out == HARBOUR + "\n"
    assert "note:" in err and "unchanged" in err


BAD_CHAT = json.dumps([CHAT[0], {"role": "user", "content": 7}])


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("", ["--rate", "0.5"], "{prompt}: the prompt is empty"),
        (" \n\t\n", ["--rate", "0.5"], "{prompt}: the prompt is empty"),
        (
            b"PK\x03\x04\x00\x00binary",
            ["--rate", "0.5"],
            "{prompt}: binary input (NUL byte at byte offset 4)",
        ),
        (
            b"caf\xc3\xa9 ok\nbad \xff here",
            ["--rate", "0.5"],
            "{prompt}: not valid UTF-8 at byte offset 13 (line 2)",
        ),
        (HARBOUR, [], "give exactly one of --rate and --target-tokens"),
        (
            HARBOUR,
            ["--rate", "0.5", "--target-tokens", "10"],
            "give exactly one of --rate and --target-tokens",
        ),
        (HARBOUR, ["--rate", "0"], "--rate must be in (0, 1], got 0.0"),
        (HARBOUR, ["--rate", "1.5"], "--rate must be in (0, 1], got 1.5"),
        (HARBOUR, ["--target-tokens", "0"], "--target-tokens must be at least 1"),
        (HARBOUR, ["--rate", "0.5", "--keep", "(unclosed"], "--keep '(unclosed': bad regular expression"),
        (HARBOUR, ["--rate", "0.5", "--question", "  "], "the question is empty"),
        (HARBOUR, ["--rate", "0.5", "--format", "chat"], "{prompt}: not valid JSON (line 1, column 1"),
        ('{"role": "user"}', ["--rate", "0.5", "--format", "chat"], "a JSON list of"),
        (
            BAD_CHAT,
            ["--rate", "0.5", "--format", "chat"],
            "message index 1, field 'content': must be a string",
        ),
        (
            '[{"content": "hi"}]',
            ["--rate", "0.5", "--format", "chat"],
            "message index 0, field 'role': missing",
        ),
        ('[{"role": "user", "content": " "}]', ["--rate", "0.5", "--format", "chat"], "the prompt is empty"),
        (HARBOUR, ["--rate", "0.5", "--model", "{missing}"], "--model {missing}: no such folder"),
    ],
)
def test_bad_input_exits_1_with_a_message(
    tmp_path: Path, content: str | bytes, args: list[str], message: str
) -> None:
    prompt = write(tmp_path / "prompt.txt", content)
    names = {"prompt": prompt, "missing": tmp_path / "no-model"}
    code, out, err = run(prompt, *(a.format(**names) for a in args))
    assert code == 1, err
    assert message.format(**names) in err
    assert "Traceback" not in err and out == ""


def test_missing_file_exits_1(tmp_path: Path) -> None:
    code, out, err = run(tmp_path / "nope.txt", "--rate", "0.5")
    assert code == 1 and f"{tmp_path / 'nope.txt'}: no such file" in err and out == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--rate", "0.5", "--question", "q", "--question-file", "q.txt"],
        ["--rate", "0.5", "--out", "out.jsonl"],
        ["--rate", "0.5", "--batch", "in.jsonl"],
        ["prompt.txt", "--rate", "0.5", "--batch", "in.jsonl", "--out", "out.jsonl"],
        ["--rate", "0.5", "--roles", "user"],
        ["--rate", "0.5", "--format", "xml"],
        ["--rate", "0.5", "--dtype", "int8"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert run(*args, stdin=HARBOUR)[0] == 2


def test_dtype_option_reaches_the_compressor(monkeypatch: pytest.MonkeyPatch) -> None:
    import prompts.compress

    seen: list[str] = []

    class Recording(prompts.compress.Compressor):
        def __init__(self, *args: object, **kwargs: object) -> None:
            seen.append(str(kwargs.get("dtype", "auto")))
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(prompts.compress, "Compressor", Recording)
    code, out, err = run("--rate", "0.5", "--dtype", "float32", stdin=HARBOUR)
    assert code == 0 and 0 < len(out.strip()) < len(HARBOUR), err
    assert run("--rate", "0.5", stdin=HARBOUR)[0] == 0
    assert seen == ["float32", "auto"]  # auto: bfloat16 where the CPU has native bfloat16, else float32
