"""`winnow serve` as users start it: a real process in front of a real (recording) upstream."""

from __future__ import annotations

import http.client
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import typer
from typer.testing import CliRunner

from flows.serve_cli import serve
from tests.prompts.serve.processes import winnow_serve
from tests.prompts.serve.servers import recording_upstream, serving
from tests.prompts.serve.test_app import chat

ROOT = Path(__file__).resolve().parents[2]
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("serve")(serve)
app.command("noop", hidden=True)(lambda: None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "localhost:8080"], "--upstream must be an http:// or https:// URL"),
        (["--upstream", "http://up", "--rate", "2"], "--rate must be in (0, 1]"),
        (["--upstream", "http://up", "--rate", "0.3", "--target-tokens", "9"], "exactly one"),
        (["--upstream", "http://up", "--queue-size", "0"], "--queue-size must be a whole number >= 1"),
        (["--upstream", "http://up", "--tokenizer", "/no/such/folder"], "/no/such/folder: no such folder"),
    ],
)
def test_bad_options_exit_1_naming_the_option(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())


def test_winnow_serve_compresses_and_sends_the_servers_key_unlogged(tmp_path: Path) -> None:
    secret = "sk-server-key-never-logged"
    log = tmp_path / "serve.log"
    options = ("--rate", "0.33", "--min-tokens", "300", "--log-level", "debug")
    with (
        serving(recording_upstream()) as upstream,
        winnow_serve(upstream, *options, env={"WINNOW_UPSTREAM_API_KEY": secret}, log=log) as url,
    ):
        response = httpx.post(
            f"{url}/v1/chat/completions", json={"model": "echo", "messages": chat()}, timeout=120
        )
        assert response.status_code == 200
        assert response.headers["x-winnow-status"] == "compressed"
        forwarded = httpx.get(f"{upstream}/received").json()[-1]
        assert forwarded["headers"]["authorization"] == f"Bearer {secret}"
    text = log.read_text()
    assert "/v1/chat/completions 200 compressed" in text
    assert secret not in text


def test_an_idle_client_connection_outlives_the_clients_own_idle_expiry() -> None:
    """httpx (and the OpenAI SDK over it) reuses an idle connection for 5 s. A server that closes idle ones
    after 5 s too (uvicorn's default) races it: a request sent as the server closes gets a reset, which
    `ReadError('')` showed under load. `winnow serve` keeps them open longer (`--keep-alive`, 75 s)."""
    with serving(recording_upstream()) as upstream, winnow_serve(upstream, "--log-level", "warning") as url:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        connection.request("GET", "/health")
        assert connection.getresponse().read() and connection.sock is not None
        first = connection.sock
        time.sleep(6)  # idle past both 5 s expiries
        connection.request("GET", "/health")  # on the same socket: http.client reconnects only if it is gone
        response = connection.getresponse()
        assert response.status == 200 and response.read()
        assert connection.sock is first
        connection.close()
