"""Real `formwork serve` processes for the end-to-end tests of the HTTP server.

Each server is the release binary (``FORMWORK_BIN`` overrides the path) with the default model
(SmolLM2-135M-Instruct Q4_1 from formwork's cache), bound to 127.0.0.1 on a port the OS picks.
Servers are started once per session and per set of flags, and stopped with SIGTERM at the end of
the session, where each must exit with code 0 within 30 s: a graceful shutdown is part of what is
tested. Every server's output goes to a temporary file, whose tail is added to the report of any
failing test.

Without the cached model every test here is skipped (``formwork generate`` caches it; the Rust
tests do so in CI before these run). A missing binary is a failure, not a skip.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import resource
import signal
import subprocess
import tempfile
import time
from collections.abc import Generator, Iterator
from typing import Callable, NamedTuple

import httpx
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
READY = re.compile(r"formwork: listening on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
# Flags of the main server of the suite.
DEFAULT_FLAGS = ("--parallel", "2", "--queue", "8")


class Served(NamedTuple):
    """A running server: where it listens and the model id its /v1/models reports."""

    base_url: str
    model_id: str


def server_binary() -> pathlib.Path:
    """The `formwork` binary under test."""
    return pathlib.Path(os.environ.get("FORMWORK_BIN") or ROOT / "target" / "release" / "formwork")


def cached_model() -> pathlib.Path | None:
    """The default model's GGUF as python/tests/model_files.py finds it, or None."""
    path = ROOT / "python" / "tests" / "model_files.py"
    spec = importlib.util.spec_from_file_location("formwork_model_files", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cached_model()


def raise_fd_limit(wanted: int = 8192) -> None:
    """Lifts the soft limit of open files (inherited by the servers) for the 1,000-connection
    test, as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def flag_value(flags: tuple[str, ...], name: str) -> str | None:
    """The value after `name` in `flags`, if present."""
    for i, flag in enumerate(flags[:-1]):
        if flag == name:
            return flags[i + 1]
    return None


class ServerProcess:
    """One `formwork serve` child process and its output file."""

    def __init__(self, binary: pathlib.Path, model: pathlib.Path, flags: tuple[str, ...]):
        self.flags = flags
        self.api_key = flag_value(flags, "--api-key")
        self.log_path = pathlib.Path(tempfile.mkstemp(prefix="formwork-serve-", suffix=".log")[1])
        self.command = [
            str(binary),
            "serve",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *flags,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def describe(self) -> str:
        return " ".join(self.command)

    def start(self) -> Served:
        with open(self.log_path, "wb") as log:
            # The key comes from the flags only, never from the environment.
            env = {k: v for k, v in os.environ.items() if k != "FORMWORK_API_KEY"}
            self.proc = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env
            )
        deadline = time.monotonic() + START_TIMEOUT
        port = None
        while port is None:
            match = READY.search(self.log_text())
            if match:
                port = int(match.group(1))
            elif self.proc.poll() is not None:
                pytest.fail(
                    f"`{self.describe()}` exited with code {self.proc.returncode} before "
                    f"listening:\n{self.tail()}"
                )
            elif time.monotonic() > deadline:
                self.kill()
                pytest.fail(
                    f"`{self.describe()}` printed no 'formwork: listening on' line in "
                    f"{START_TIMEOUT:.0f} s:\n{self.tail()}"
                )
            else:
                time.sleep(0.1)
        base_url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        health = httpx.get(f"{base_url}/health", timeout=30)
        assert health.status_code == 200, f"/health: {health.status_code} {health.text}"
        assert health.json().get("status") == "ok", health.text
        models = httpx.get(f"{base_url}/v1/models", headers=headers, timeout=30)
        assert models.status_code == 200, f"/v1/models: {models.status_code} {models.text}"
        return Served(base_url, models.json()["data"][0]["id"])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> str | None:
        """SIGTERM, then waits; a description of what went wrong, or None."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return (
                f"`{self.describe()}` had already exited (code {self.proc.returncode}) before "
                f"the end of the session:\n{self.tail()}"
            )
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return (
                f"`{self.describe()}` did not exit within {STOP_TIMEOUT:.0f} s of SIGTERM:\n"
                f"{self.tail()}"
            )
        if code != 0:
            return f"`{self.describe()}` exited with code {code} on SIGTERM:\n{self.tail()}"
        return None


_RUNNING: list[ServerProcess] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Appends the servers' output to a failing test's report."""
    report: pytest.TestReport = yield
    if report.failed:
        for server in _RUNNING:
            report.sections.append((f"output of `{server.describe()}` (tail)", server.tail()))
    return report


@pytest.fixture(scope="session")
def server_factory() -> Iterator[Callable[..., Served]]:
    """Starts (once per session and per set of flags) a server with the given extra flags,
    e.g. ``server_factory("--parallel", "1", "--queue", "4")``; all are stopped, and checked to
    exit cleanly on SIGTERM, at the end of the session."""
    model = cached_model()
    if model is None:
        pytest.skip(
            "the default model (SmolLM2-135M-Instruct Q4_1) is not in formwork's cache: "
            "run `formwork generate` once (or the Rust tests) to cache it"
        )
    binary = server_binary()
    if not binary.exists():
        pytest.fail(f"{binary} does not exist: build it with `cargo build --release`")
    raise_fd_limit()
    started: dict[tuple[str, ...], Served] = {}

    def start(*flags: str) -> Served:
        if flags not in started:
            server = ServerProcess(binary, model, flags)
            _RUNNING.append(server)
            started[flags] = server.start()
        return started[flags]

    yield start
    problems = [p for p in (server.stop() for server in _RUNNING) if p]
    if not problems:
        for server in _RUNNING:
            server.log_path.unlink(missing_ok=True)
    _RUNNING.clear()
    assert not problems, "\n\n".join(problems)


@pytest.fixture(scope="session")
def server(server_factory: Callable[..., Served]) -> Served:
    """The suite's main server: ``--parallel 2 --queue 8``; (base_url, model_id)."""
    return server_factory(*DEFAULT_FLAGS)
