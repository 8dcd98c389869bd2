"""Parsing a prompt into segments: text, documents or chat; verbatim markers, fenced code, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from prompts.result import CompressionError
from prompts.segments import parse_prompt


def test_plain_text_is_one_compressible_segment() -> None:
    parsed = parse_prompt("Hello there.\n\nSecond paragraph.")
    assert parsed.kind == "text"
    [segment] = parsed.segments
    assert segment.text == "Hello there.\n\nSecond paragraph."
    assert segment.compressible
    assert segment.protected == []
    assert parsed.join(["kept"]) == "kept"


def test_keep_markers_are_removed_and_their_insides_protected() -> None:
    parsed = parse_prompt("a <winnow-keep>b c</winnow-keep> d <winnow-keep>e</winnow-keep>")
    [segment] = parsed.segments
    assert segment.text == "a b c d e"
    assert segment.protected == [(2, 5), (8, 9)]
    assert [segment.text[a:b] for a, b in segment.protected] == ["b c", "e"]


def test_fenced_code_blocks_are_protected() -> None:
    code = "```python\nprint('hi')\n```"
    tilde = "~~~\nx = 1\n~~~"
    text = f"Intro.\n{code}\nMiddle ``` not a fence.\n{tilde}\nEnd."
    [segment] = parse_prompt(text).segments
    assert [segment.text[a:b] for a, b in segment.protected] == [code, tilde]


def test_documents_are_segments_joined_by_blank_lines() -> None:
    parsed = parse_prompt(["First doc.", "", "Third <winnow-keep>doc</winnow-keep>."])
    assert parsed.kind == "documents"
    assert [s.text for s in parsed.segments] == ["First doc.", "", "Third doc."]
    assert parsed.segments[2].protected == [(6, 9)]
    assert parsed.join(["First.", "", "Third."]) == "First.\n\nThird."


def test_chat_keeps_roles_and_fields_and_marks_what_to_compress() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Tell me about the mill.", "name": "ann"},
        {"role": "user", "content": "Keep this.", "compress": False},
        {"role": "assistant", "content": ""},
    ]
    parsed = parse_prompt(messages, roles=["user"])
    assert parsed.kind == "chat"
    assert [s.role for s in parsed.segments] == ["system", "user", "user", "assistant"]
    assert [s.compressible for s in parsed.segments] == [False, True, False, False]
    assert parsed.segments[1].extra == {"role": "user", "name": "ann"}
    assert all(s.compressible for s in parse_prompt(messages[:2]).segments)
    assert parsed.join(["a", "b"]) == "a\nb"


@pytest.mark.parametrize(
    ("prompt", "roles", "message"),
    [
        (b"bytes", None, "bytes"),
        ("", None, "empty"),
        (" \n ", None, "empty"),
        ("a\x00b", None, "NUL"),
        (["ok", "a\x00b"], None, "document 1 holds NUL"),
        ([], None, "non-empty"),
        (["", " "], None, "every document is blank"),
        (
            ["text", {"role": "user", "content": "hi"}],
            None,
            "message index 0: must be a .* object, got a string",
        ),
        (42, None, "must be a string, a list of documents"),
        ("open <winnow-keep> never closed", None, "has no </winnow-keep>"),
        ("stray </winnow-keep> close", None, "without a matching"),
        ([{"content": "hi"}], None, "'role'"),
        ([{"role": "user", "content": 3}], None, "'content'"),
        ([{"role": "user", "content": "hi", "compress": "no"}], None, "'compress'"),
        ([{"role": "user", "content": " "}], None, "no message has any content"),
        ([{"role": "user", "content": "hi"}], ["user", "tool"], "'tool'"),
    ],
)
def test_bad_prompts_are_clear_errors(prompt: Any, roles: list[str] | None, message: str) -> None:
    with pytest.raises(CompressionError, match=message):
        parse_prompt(prompt, roles)
