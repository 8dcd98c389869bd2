"""Real server processes for the proxy's tests and `benchmarks/serve.py`: `transformers serve` on the packaged
SmolLM2 (a real OpenAI-compatible upstream) and `winnow serve` itself.

`transformers serve` pins the converted SmolLM2 folder (`causal_lm_path(None)`) on CPU in float32, offline.
Requests must name that folder's path as `model` (`model_name()`), or omit `model`: any other name is a
400. Responses report `model` as `<path>@main`. Serving needs `fastapi`, `uvicorn`, `openai` and
`accelerate` (the CLI passes `--device` as a `device_map`). Generation runs on one inference thread, so
concurrent requests are served one after another.

`HF_HUB_CACHE` points at an empty folder in the server's temporary directory: `GET /v1/models` lists the
Hugging Face cache, not the pinned model, and answers 500 when that cache folder does not exist; with an
empty one it answers `{"object": "list", "data": []}`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import httpx

HOST = "127.0.0.1"
#: seconds to wait for `GET /health` (loading takes about 7 s on 2 idle cores; the first conversion ~30 s)
STARTUP_TIMEOUT_S = 180.0
#: seconds `transformers serve` gets to exit after SIGTERM before SIGKILL (idle, it exits in ~0.6 s; uvicorn
#: waits for in-flight requests, which may take minutes on CPU)
STOP_TIMEOUT_S = 5.0
LOG_TAIL_CHARS = 4000


@cache
def model_path() -> Path:
    """The packaged SmolLM2 as a Hugging Face folder (converted from its GGUF on first use, then cached)."""
    from pipeline.models import causal_lm_path

    return Path(causal_lm_path(None))


def model_name() -> str:
    """The `model` requests must name: the pinned folder's path, exactly as given to `transformers serve`."""
    return str(model_path())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (another process may still take it before it is bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _check_free(port: int) -> None:
    """Fail now if `port` is taken: a server already there would answer `/health` in our server's place."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as uvicorn binds: a port in TIME_WAIT is free, one with a listener is not
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as error:
            raise RuntimeError(f"port {port} on {HOST} is already in use") from error


def serve_command(port: int, model: Path | str | None = None) -> list[str]:
    """The `transformers serve` command line pinning `model` (default: the packaged SmolLM2) on CPU."""
    cli = Path(sys.executable).parent / "transformers"
    program = [str(cli)] if cli.is_file() else [sys.executable, "-m", "transformers.cli.transformers"]
    return [
        *program,
        "serve",
        str(model if model is not None else model_path()),
        "--host",
        HOST,
        "--port",
        str(port),
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--log-level",
        "warning",
    ]


def _log_tail(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-LOG_TAIL_CHARS:]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it has not exited in time."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _wait_healthy(
    proc: subprocess.Popen[bytes], base_url: str, log: Path, timeout: float, name: str = "transformers serve"
) -> None:
    """Poll `GET /health` until it answers 200; raise with the log's tail if the server dies or times out."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode} before it was healthy; log tail:\n{_log_tail(log)}"
                )
            try:
                if client.get(f"{base_url}/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{name} was not healthy within {timeout:.0f} s; log tail:\n{_log_tail(log)}"
                )
            time.sleep(0.25)


@contextmanager
def transformers_serve(port: int | None = None, startup_timeout: float = STARTUP_TIMEOUT_S) -> Iterator[str]:
    """Run `transformers serve` on the packaged SmolLM2 and yield its base URL (`http://127.0.0.1:PORT`).

    The server's output goes to `serve.log` in a temporary directory (its tail is in the error when it fails
    to start); the server's process group is stopped on exit.
    """
    if port is None:
        port = free_port()
    else:
        _check_free(port)
    # resolves (and, the first time, converts) the model before the startup clock starts
    command = serve_command(port)
    with tempfile.TemporaryDirectory(prefix="transformers-serve-") as tmp:
        log = Path(tmp) / "serve.log"
        hub_cache = Path(tmp) / "hub"
        hub_cache.mkdir()
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_CACHE": str(hub_cache),
            "PYTHONUNBUFFERED": "1",
        }
        with _running(command, env, log, port, startup_timeout, "transformers serve") as base_url:
            yield base_url


@contextmanager
def winnow_serve(
    upstream: str,
    *options: str,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    startup_timeout: float = STARTUP_TIMEOUT_S,
) -> Iterator[str]:
    """Run `winnow serve --upstream UPSTREAM OPTIONS...` on a free port and yield its base URL once healthy
    (its models loaded); its output goes to `log` (default: a temporary file); stopped on exit."""
    port = free_port()
    command = [sys.executable, "-c", "from flows.cli import main; main()", "serve", "--upstream", upstream]
    command += ["--port", str(port), *options]
    with tempfile.TemporaryDirectory(prefix="winnow-serve-") as tmp:
        log = log or Path(tmp) / "serve.log"
        with _running(
            command, {**os.environ, **(env or {})}, log, port, startup_timeout, "winnow serve"
        ) as url:
            yield url


@contextmanager
def recording_upstream_process() -> Iterator[str]:
    """The fast recording upstream of `servers.recording_upstream` in a process of its own (uvicorn)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "tests.prompts.serve.servers:recording_upstream"]
    command += ["--host", HOST, "--port", str(port), "--log-level", "warning", "--no-access-log"]
    command += ["--timeout-keep-alive", "75"]  # as `winnow serve`: no reset as a client reuses a connection
    with (
        tempfile.TemporaryDirectory(prefix="recording-upstream-") as tmp,
        _running(command, dict(os.environ), Path(tmp) / "serve.log", port, 60, "the upstream") as url,
    ):
        yield url


@contextmanager
def _running(
    command: list[str], env: dict[str, str], log: Path, port: int, startup_timeout: float, name: str
) -> Iterator[str]:
    """`command` as a server process in its own group, output to `log`, from the repository root; its base
    URL once `/health` answers 200; stopped (with any children) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=Path(__file__).resolve().parents[3],
            start_new_session=True,
        )
    base_url = f"http://{HOST}:{port}"
    try:
        _wait_healthy(proc, base_url, log, startup_timeout, name)
        yield base_url
    finally:
        _stop(proc)
