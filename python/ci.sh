#!/usr/bin/env bash
# The Python package's CI: lints (ruff, clippy of the binding crate), then
# `pip install ./python` (maturin builds the native module) into a venv and
# pytest, then the transformers adapter's end-to-end test in a second venv. The venv (FORMWORK_VENV, default /tmp/formwork-venv) survives
# between runs on the same machine; a fresh machine creates it.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${FORMWORK_VENV:-/tmp/formwork-venv}
python=${PYTHON:-python3}
step() { printf '\n--- python: %s (%ds)\n' "$*" "$SECONDS"; }

step "venv $venv"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" --version
"$venv/bin/pip" install -q --upgrade maturin pytest numpy jsonschema ruff

step "ruff"
"$venv/bin/ruff" check python
"$venv/bin/ruff" format --check python

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy -p formwork-python -- -D warnings"
PYO3_PYTHON="$venv/bin/python" cargo clippy -p formwork-python -- -D warnings

step "pip install ./python"
"$venv/bin/pip" install -q ./python

step "pytest"
# From the repository root, so the source tree's python/formwork (which has
# no native module) does not shadow the installed package.
"$venv/bin/pytest" -q python/tests

# The transformers adapter, end to end with the real default model (cached
# by the Rust tests before this script runs; skipped if it is not). torch +
# transformers are ~3 GB: they live in a venv of their own that survives
# between runs (FORMWORK_HF_VENV); FORMWORK_PY_HF=0 skips this step.
if [ "${FORMWORK_PY_HF:-1}" = 1 ]; then
    hf=${FORMWORK_HF_VENV:-/tmp/formwork-hf-venv}
    step "transformers adapter: venv $hf"
    [ -x "$hf/bin/python" ] || "$python" -m venv "$hf"
    "$hf/bin/pip" install -q torch transformers gguf accelerate numpy pytest jsonschema
    "$hf/bin/pip" install -q ./python
    step "transformers adapter: pytest test_hf.py test_readme.py"
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$hf/bin/pytest" -q python/tests/test_hf.py python/tests/test_readme.py
fi
step "done"
