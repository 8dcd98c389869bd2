"""`CompressionRequest`: every option and the prompt's shape checked once, when it is made (no model)."""

from __future__ import annotations

import dataclasses
import math
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import WinnowError
from prompts.request import (
    CompressionRequest,
    RequestError,
    check_models,
    check_question,
    decode_prompt,
    parse_chat,
)
from prompts.result import CompressionError

TEXT = "The ferry leaves the harbour at 7 in the morning. A return ticket costs 25 euros, ID-4471 included."
DOCUMENTS = ["The bakery sells rye bread.", "", "The lighthouse is painted green."]
CHAT = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": TEXT, "name": "traveller"},
    {"role": "assistant", "content": "At seven.", "compress": False},
]
CLI_NAMES = {"rate": "--rate", "target_tokens": "--target-tokens", "keep": "--keep", "model": "--model"}


# --- valid requests -----------------------------------------------------------------------------------------


def test_a_text_request_is_parsed_and_normalised() -> None:
    request = CompressionRequest(TEXT, rate=1, question="  \n", keep=r"ID-\d+")
    assert request.rate == 1.0 and isinstance(request.rate, float) and request.target_tokens is None
    assert request.question is None  # blank means no question
    assert request.keep == (r"ID-\d+",)  # a string is one pattern
    assert [p.pattern for p in request.patterns] == [r"ID-\d+"]
    assert request.patterns[0].search(TEXT)
    assert request.parsed.kind == "text" and [s.text for s in request.parsed.segments] == [TEXT]
    assert (request.keep_numbers, request.keep_newlines, request.reorder, request.chunk_by) == (
        True,
        False,
        False,
        "auto",
    )


def test_a_documents_request() -> None:
    request = CompressionRequest(
        DOCUMENTS, target_tokens=12, question="What colour is the lighthouse?", chunk_by="documents"
    )
    assert request.target_tokens == 12 and request.rate is None
    assert request.question == "What colour is the lighthouse?"
    assert request.parsed.kind == "documents"
    assert [s.text for s in request.parsed.segments] == DOCUMENTS
    assert request.patterns == () and request.keep == ()


def test_a_chat_request_keeps_roles_and_marks_what_may_be_compressed() -> None:
    request = CompressionRequest(CHAT, rate=0.5, roles="user", keep=["ID-\\d+", "euros"], reorder=True)
    assert request.roles == ("user",)  # a string is one role
    assert request.parsed.kind == "chat"
    segments = request.parsed.segments
    assert [s.role for s in segments] == ["system", "user", "assistant"]
    assert [s.compressible for s in segments] == [False, True, False]
    assert segments[1].extra == {"role": "user", "name": "traveller"}
    assert len(request.patterns) == 2 and request.reorder
    assert CompressionRequest(CHAT, rate=0.5).parsed.segments[0].compressible  # roles=None: every role


def test_a_request_is_frozen_and_keyword_only() -> None:
    request = CompressionRequest(TEXT, target_tokens=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.rate = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        CompressionRequest(TEXT, 0.5)  # type: ignore[misc]
    assert CompressionRequest(TEXT, target_tokens=5) == request


def test_requests_and_their_errors_survive_pickling() -> None:
    request = CompressionRequest(CHAT, rate=0.5, keep=["ID-\\d+"], roles=["user"])
    copy = pickle.loads(pickle.dumps(request))
    assert copy == request and copy.parsed == request.parsed and copy.patterns == request.patterns
    with pytest.raises(RequestError) as caught:
        CompressionRequest(TEXT, rate=2)
    error = pickle.loads(pickle.dumps(caught.value))
    assert (error.field, error.problem, str(error)) == ("rate", "must be in (0, 1], got 2", str(caught.value))


# --- option errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field", "message", "worded"),
    [
        (
            {},
            "rate",
            "give exactly one of rate and target_tokens",
            "give exactly one of --rate and --target-tokens",
        ),
        (
            {"rate": 0.5, "target_tokens": 20},
            "rate",
            "give exactly one of rate and target_tokens",
            "give exactly one of --rate and --target-tokens",
        ),
        ({"rate": 0}, "rate", "rate must be in (0, 1], got 0", "--rate must be in (0, 1], got 0"),
        ({"rate": 0.0}, "rate", "rate must be in (0, 1], got 0.0", "--rate must be in (0, 1], got 0.0"),
        ({"rate": -0.2}, "rate", "rate must be in (0, 1], got -0.2", None),
        ({"rate": 1.5}, "rate", "rate must be in (0, 1], got 1.5", "--rate must be in (0, 1], got 1.5"),
        ({"rate": math.nan}, "rate", "rate must be in (0, 1], got nan", None),
        ({"rate": math.inf}, "rate", "rate must be in (0, 1], got inf", None),
        ({"rate": True}, "rate", "rate must be a number in (0, 1], got True", None),
        ({"rate": "0.5"}, "rate", "rate must be a number in (0, 1], got '0.5'", None),
        ({"target_tokens": 0}, "target_tokens", "target_tokens must be at least 1, got 0", None),
        (
            {"target_tokens": -3},
            "target_tokens",
            "target_tokens must be at least 1, got -3",
            "--target-tokens must be at least 1, got -3",
        ),
        (
            {"target_tokens": 2.5},
            "target_tokens",
            "target_tokens must be a whole number of tokens, got 2.5",
            None,
        ),
        ({"target_tokens": True}, "target_tokens", "target_tokens must be a whole number of tokens", None),
        (
            {"rate": 0.5, "chunk_by": "words"},
            "chunk_by",
            "chunk_by must be auto, documents, paragraphs or sentences, got 'words'",
            None,
        ),
        (
            {"rate": 0.5, "keep": ["ok", "(unclosed"]},
            "keep",
            "keep '(unclosed': bad regular expression: missing )",
            "--keep '(unclosed': bad regular expression: missing )",
        ),
        (
            {"rate": 0.5, "keep": [3]},
            "keep",
            "keep must be regular expressions (a string or a list of strings)",
            None,
        ),
        ({"rate": 0.5, "keep": None}, "keep", "keep must be regular expressions", None),
        ({"rate": 0.5, "roles": ["user", None]}, "roles", "roles must be role names", None),
        (
            {"rate": 0.5, "keep_numbers": "yes"},
            "keep_numbers",
            "keep_numbers must be true or false, got 'yes'",
            None,
        ),
        (
            {"rate": 0.5, "keep_newlines": 1},
            "keep_newlines",
            "keep_newlines must be true or false, got 1",
            None,
        ),
        ({"rate": 0.5, "reorder": None}, "reorder", "reorder must be true or false, got None", None),
        (
            {"rate": 0.5, "whole_chunks": "auto"},
            "whole_chunks",
            "whole_chunks must be true, false or null, got 'auto'",
            None,
        ),
        ({"rate": 0.5, "question": 3}, "question", "question must be a string or null", None),
    ],
)
def test_a_bad_option_names_itself(
    options: dict[str, Any], field: str, message: str, worded: str | None
) -> None:
    with pytest.raises(RequestError, match=re.escape(message)) as caught:
        CompressionRequest(TEXT, **options)
    error = caught.value
    assert isinstance(error, CompressionError) and isinstance(error, WinnowError)
    assert error.field == field and not error.in_prompt
    assert str(error).startswith(message)
    if worded is not None:
        assert error.worded(CLI_NAMES, source="prompt.txt").startswith(worded)  # no source: not the prompt


def test_options_are_checked_before_the_prompt() -> None:
    with pytest.raises(RequestError, match="exactly one"):
        CompressionRequest("", keep=["(unclosed"])


# --- prompt errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "field", "problem", "message"),
    [
        ("", "prompt", "empty", "the prompt is empty"),
        (" \n\t ", "prompt", "empty", "the prompt is empty"),
        (
            b"some bytes",
            "prompt",
            "bytes: decode it to text first",
            "the prompt is bytes: decode it to text first",
        ),
        (
            42,
            "prompt",
            "must be a string, a list of documents (strings) or a list of chat messages",
            "the prompt must be a string, a list of documents (strings) or a list of chat messages",
        ),
        ({"role": "user", "content": "hi"}, "prompt", "must be a string", "the prompt must be a string"),
        ([], "prompt", "an empty list", "the prompt is an empty list: give text or a non-empty list"),
        (
            ["", "  "],
            "prompt",
            "empty (every document is blank)",
            "the prompt is empty (every document is blank)",
        ),
        (["text", 3], "prompt", "must be a string, a list of documents", "the prompt must be a string"),
        (
            [CHAT[0], "text"],
            "prompt[1]",
            'must be a {"role", "content"} object, got a string',
            'message index 1: must be a {"role", "content"} object, got a string',
        ),
        ([{"content": "hi"}], "prompt[0].role", "missing", "message index 0, field 'role': missing"),
        (
            [CHAT[0], {"role": "user"}],
            "prompt[1].content",
            "missing",
            "message index 1, field 'content': missing",
        ),
        (
            [{"role": 1, "content": "x"}],
            "prompt[0].role",
            "must be a string, got a number",
            "message index 0, field 'role': must be a string, got a number",
        ),
        (
            [CHAT[0], {"role": "user", "content": 7}],
            "prompt[1].content",
            "must be a string, got a number",
            "message index 1, field 'content': must be a string, got a number",
        ),
        (
            [{"role": "user", "content": None}],
            "prompt[0].content",
            "must be a string, got null",
            "message index 0, field 'content': must be a string, got null",
        ),
        ([{"role": " ", "content": "x"}], "prompt[0].role", "empty", "message index 0, field 'role': empty"),
        (
            [{"role": "user", "content": "x", "compress": "no"}],
            "prompt[0].compress",
            "must be true or false, got a string",
            "message index 0, field 'compress': must be true or false, got a string",
        ),
        (
            [{"role": "user", "content": " "}, {"role": "system", "content": ""}],
            "prompt",
            "empty (no message has any content)",
            "the prompt is empty (no message has any content)",
        ),
    ],
)
def test_a_bad_prompt_names_the_message_and_field(
    prompt: Any, field: str, problem: str, message: str
) -> None:
    with pytest.raises(RequestError) as caught:
        CompressionRequest(prompt, rate=0.5)
    error = caught.value
    assert error.field == field and error.in_prompt
    assert error.problem.startswith(problem)
    assert str(error).startswith(message)
    assert error.worded(CLI_NAMES, source="chat.json").startswith(f"chat.json: {message}")


@pytest.mark.parametrize(
    ("prompt", "options", "message"),
    [
        ("some text\x00with a NUL", {}, "NUL"),
        ([{"role": "user", "content": "a\x00b"}], {}, "NUL"),
        ("<winnow-keep>unclosed text", {}, "no </winnow-keep>"),
        ("text</winnow-keep>", {}, "without a matching"),
        (CHAT, {"roles": ["tool"]}, "no message has role 'tool'"),
    ],
)
def test_bad_text_inside_a_well_formed_prompt_is_a_compression_error(
    prompt: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(CompressionError, match=re.escape(message)) as caught:
        CompressionRequest(prompt, rate=0.5, **options)
    assert not isinstance(caught.value, RequestError)


# --- helpers for the CLI ------------------------------------------------------------------------------------


def test_decode_prompt() -> None:
    assert decode_prompt("\ufeffcafé\n".encode(), "p.txt") == "café\n"
    with pytest.raises(CompressionError, match=re.escape("p.txt: binary input (NUL byte at byte offset 4)")):
        decode_prompt(b"PK\x03\x04\x00\x00binary", "p.txt")
    with pytest.raises(
        CompressionError, match=re.escape("p.txt: not valid UTF-8 at byte offset 13 (line 2)")
    ):
        decode_prompt(b"caf\xc3\xa9 ok\nbad \xff here", "p.txt")


def test_parse_chat() -> None:
    assert parse_chat('[{"role": "user", "content": "hi"}]', "c.json") == [{"role": "user", "content": "hi"}]
    for text, message in [
        ("", "c.json: the prompt is empty"),
        ("not json", "c.json: not valid JSON (line 1, column 1"),
        (
            '{"role": "user"}',
            'c.json: a chat prompt is a JSON list of {"role", "content"} messages, got an object',
        ),
    ]:
        with pytest.raises(CompressionError, match=re.escape(message)):
            parse_chat(text, "c.json")
    with pytest.raises(RequestError) as caught:
        parse_chat('["a", "b"]', "c.json")  # a list of strings is not a chat, even though it is a prompt
    assert caught.value.field == "prompt[0]"
    assert (
        caught.value.worded(source="c.json")
        == 'c.json: message index 0: must be a {"role", "content"} object, got a string'
    )
    assert parse_chat("[]", "c.json") == []  # the request says the prompt is an empty list


def test_check_question() -> None:
    assert check_question("Who?") == "Who?"
    with pytest.raises(RequestError, match="the question is empty") as caught:
        check_question(" \n")
    assert caught.value.field == "question"


def test_check_models(tmp_path: Path) -> None:
    check_models(None, None)
    check_models("smollm2", tmp_path)
    missing = tmp_path / "no-model"
    with pytest.raises(RequestError) as caught:
        check_models(str(missing))
    assert caught.value.field == "model"
    assert str(caught.value) == f"model {missing}: no such folder"
    assert caught.value.worded(CLI_NAMES) == f"--model {missing}: no such folder"
    with pytest.raises(RequestError, match=re.escape(f"tokenizer {missing}: no such folder")):
        check_models(tmp_path, missing)


def test_the_request_module_loads_neither_torch_nor_transformers() -> None:
    code = (
        "import sys, prompts.request\n"
        "loaded = sorted({'torch', 'transformers', 'prefect'} & set(sys.modules))\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_compressor_checks_the_request_before_loading_a_model(tmp_path: Path) -> None:
    from prompts.compress import Compressor, compress

    compressor = Compressor(tmp_path / "no-model")  # loading it would fail
    with pytest.raises(RequestError, match="exactly one"):
        compressor.compress(TEXT)
    with pytest.raises(RequestError, match=re.escape("message index 0, field 'role': missing")):
        compressor.compress([{"content": "hi"}], rate=0.5)
    with pytest.raises(TypeError, match="holds its options"):
        compress(CompressionRequest(TEXT, rate=0.5), rate=0.3)
