"""The Python examples of the README and docs/python.md run and print JSON
(a line of their output starts with ``{``).

Each ```python block is one test. A block that imports an engine
(transformers, llama_cpp, vllm) runs in the venv that has it, and is
skipped, with the engine named, in the others; python/ci.sh runs this file
in every venv, so each block runs somewhere. Blocks that need the default
model are skipped when it is not cached."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

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
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    assert out.returncode == 0, out.stderr[-4000:]
    # The example's own output (engines such as vLLM also log to stdout).
    assert any(line.startswith("{") for line in out.stdout.splitlines()), out.stdout[-4000:]
