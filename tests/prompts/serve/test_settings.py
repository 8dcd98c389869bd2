"""The proxy's settings: defaults, a request's overrides (body and headers), and the server's limits."""

from __future__ import annotations

from typing import Any

import pytest

from prompts.result import RequestError
from prompts.serve.settings import CompressionSettings, ServeConfig, header_overrides


def test_defaults_compress_long_user_and_tool_messages_to_half() -> None:
    settings = CompressionSettings()
    assert (settings.rate, settings.target_tokens) == (0.5, None)
    assert settings.roles == ("user", "tool") and settings.min_tokens == 500
    assert settings.question_from == "last-user" and not settings.skip


def test_an_override_replaces_the_budget_it_names() -> None:
    base = CompressionSettings(rate=0.4)
    assert base.override({"target_tokens": 300}).rate is None
    assert base.override({"target_tokens": 300}).target_tokens == 300
    by_target = CompressionSettings(rate=None, target_tokens=300)
    assert by_target.override({"rate": 0.2}) == CompressionSettings(rate=0.2)
    assert base.override({"roles": "tool", "question": "  "}) == CompressionSettings(
        rate=0.4, roles=("tool",)
    )
    assert base.override({}) == base


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"rate": 0}, "winnow.rate", "(0, 1]"),
        ({"rate": "half"}, "winnow.rate", "number"),
        ({"rate": 0.5, "target_tokens": 10}, "winnow.rate", "exactly one"),
        ({"target_tokens": 0}, "winnow.target_tokens", "at least 1"),
        ({"min_tokens": -1}, "winnow.min_tokens", ">= 0"),
        ({"roles": [1]}, "winnow.roles", "role names"),
        ({"question_from": "first-user"}, "winnow.question_from", "last-user or none"),
        ({"skip": "yes"}, "winnow.skip", "true or false"),
        ({"speed": 2}, "winnow.speed", "unknown setting"),
    ],
)
def test_a_bad_override_names_its_field(values: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(RequestError) as caught:
        CompressionSettings().override(values)
    assert caught.value.field == field
    assert field in str(caught.value) and words in str(caught.value)


def test_an_override_that_is_not_an_object_is_named() -> None:
    with pytest.raises(RequestError, match="winnow must be an object"):
        CompressionSettings().override([0.3])  # type: ignore[arg-type]


def test_headers_give_typed_overrides() -> None:
    headers = {
        "x-winnow-rate": "0.25",
        "x-winnow-min-tokens": "100",
        "x-winnow-skip": "true",
        "x-winnow-roles": "user, tool",
        "x-winnow-question": "Who won?",
        "authorization": "Bearer sk-1",
    }
    assert header_overrides(headers) == {
        "rate": 0.25,
        "min_tokens": 100,
        "skip": True,
        "roles": ("user", " tool"),
        "question": "Who won?",
    }
    settings = CompressionSettings().override(header_overrides(headers), where="header")
    assert settings.roles == ("user", "tool") and settings.rate == 0.25
    with pytest.raises(RequestError, match="header x-winnow-rate: cannot read 'lots'"):
        header_overrides({"x-winnow-rate": "lots"})
    with pytest.raises(RequestError, match="x-winnow-skip"):
        header_overrides({"x-winnow-skip": "maybe"})
    with pytest.raises(RequestError, match=r"x-winnow-rate must be in \(0, 1\]"):
        CompressionSettings().override(header_overrides({"x-winnow-rate": "2"}), where="header")


def test_the_server_config_checks_its_limits_and_hides_its_key() -> None:
    config = ServeConfig("http://localhost:8080/v1/", upstream_api_key="sk-server")
    assert config.upstream == "http://localhost:8080"
    assert "sk-server" not in repr(config)
    for fields, field in (
        ({"upstream": "localhost:8080"}, "upstream"),
        ({"queue_size": 0}, "queue_size"),
        ({"max_body_bytes": True}, "max_body_bytes"),
        ({"batch_wait": -1}, "batch_wait"),
    ):
        with pytest.raises(RequestError) as caught:
            ServeConfig(**{"upstream": "http://up", **fields})
        assert caught.value.field == field
