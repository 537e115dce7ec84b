"""The Python examples of the README and docs/python.md run and print JSON
(a line of their output starts with ``{``).

Each ```python block is one test. A block that imports an engine
(transformers, llama_cpp, vllm) runs in the venv that has it, and is
skipped, with the engine named, in the others; python/ci.sh runs this file
in every venv, so each block runs somewhere. Blocks that need the default
model are skipped when it is not cached. A block that reads ``FORMWORK_URL``
(the README's `formwork serve` example) gets a server of its own: the
release binary on a free port, stopped with SIGTERM after the block."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from conftest import ROOT
from model_files import cached_model, export_safetensors

ENGINES = ("transformers", "llama_cpp", "vllm")


def blocks() -> list[tuple[str, str]]:
    out = []
    for name in ("README.md", "docs/python.md"):
        text = (ROOT / name).read_text()
        for i, code in enumerate(re.findall(r"```python\n(.*?)```", text, re.DOTALL)):
            out.append((f"{name}#{i + 1}", code))
    return out


BLOCKS = blocks()


@contextlib.contextmanager
def formwork_server() -> Iterator[str]:
    """`formwork serve` with the default model on a free port; yields its /v1 URL."""
    binary = os.environ.get("FORMWORK_BIN") or str(ROOT / "target" / "release" / "formwork")
    if not os.path.exists(binary):
        pytest.skip(f"needs the formwork binary ({binary}; run `cargo build --release`)")
    model = cached_model()
    proc = subprocess.Popen(
        [binary, "serve", "--port", "0", "--model", str(model)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url = None
        for line in proc.stderr:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                url = m.group(1) + "/v1"
                break
        assert url, "formwork serve exited before listening"
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_there_are_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", [c for _, c in BLOCKS], ids=[n for n, _ in BLOCKS])
def test_example_runs(code: str):
    for engine in ENGINES:
        uses = re.search(rf"^\s*(from|import) {engine}\b", code, re.MULTILINE)
        if uses and importlib.util.find_spec(engine) is None:
            pytest.skip(f"needs {engine}, which this venv does not have")
    if ".cache/formwork" in code and cached_model() is None:
        pytest.skip("needs the default model (run `formwork generate` once)")
    if "safetensors-f32" in code:
        export_safetensors()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    server: contextlib.AbstractContextManager[str | None] = contextlib.nullcontext()
    if "FORMWORK_URL" in code:
        if importlib.util.find_spec("openai") is None:
            pytest.skip("needs the openai package, which this venv does not have")
        if cached_model() is None:
            pytest.skip("needs the default model (run `formwork generate` once)")
        server = formwork_server()
    with server as url:
        if url is not None:
            env["FORMWORK_URL"] = url
        out = subprocess.run(
            [sys.executable, "-c", code],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
    assert out.returncode == 0, out.stderr[-4000:]
    # The example's own output (engines such as vLLM also log to stdout).
    assert any(line.startswith("{") for line in out.stdout.splitlines()), out.stdout[-4000:]
