"""formwork.vllm.LogitsProcessor end to end with vLLM (``vllm-cpu``) and the
real default model, exported from its GGUF to safetensors (vLLM cannot run
a GGUF on CPU): the offline ``LLM`` and ``vllm serve`` with the ``openai``
SDK. Skipped unless vllm is importable and the model is cached."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import jsonschema
import pytest
from conftest import DATA
from model_files import cached_model, export_safetensors

pytest.importorskip("vllm")

MODEL = cached_model()
pytestmark = pytest.mark.skipif(MODEL is None, reason="the default model is not cached")

ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def prompt_cases(n: int):
    lines = (DATA / "prompts.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[:n]]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    os.environ.update(ENV)
    cache = tmp_path_factory.mktemp("vllm-cache")
    os.environ.setdefault("VLLM_CACHE_ROOT", str(cache))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache / "inductor"))
    return export_safetensors()


@pytest.fixture(scope="module")
def llm(model_dir):
    from vllm import LLM

    import formwork.vllm

    return LLM(
        model=str(model_dir),
        tokenizer=str(model_dir),
        dtype="float32",
        max_model_len=2048,
        enforce_eager=True,
        logits_processors=[formwork.vllm.LogitsProcessor],
    )


def test_offline_llm_mixed_batch(llm):
    """One batch: schema-constrained rows, a regex row, a choice row and an
    unconstrained row, which the processor leaves alone."""
    from vllm import SamplingParams

    cases = prompt_cases(3)
    msgs = [[{"role": "user", "content": c["prompt"]}] for c in cases]
    params = [
        SamplingParams(max_tokens=256, temperature=0.0, extra_args={"formwork_json": c["schema"]})
        for c in cases
    ]
    msgs.append([{"role": "user", "content": "Give a date."}])
    params.append(
        SamplingParams(
            max_tokens=32, temperature=0.0, extra_args={"formwork_regex": r"20[0-9]{2}-[01][0-9]"}
        )
    )
    msgs.append([{"role": "user", "content": "Is water wet?"}])
    params.append(
        SamplingParams(
            max_tokens=16, temperature=0.7, seed=3, extra_args={"formwork_choice": ["yes", "no"]}
        )
    )
    plain = [{"role": "user", "content": "Say hello."}]
    msgs.append(plain)
    params.append(SamplingParams(max_tokens=24, temperature=0.0))
    outs = llm.chat(msgs, params, use_tqdm=False)
    for case, o in zip(cases, outs):
        out = o.outputs[0]
        assert out.finish_reason == "stop", (case["id"], out.text)
        jsonschema.validate(json.loads(out.text), case["schema"])

    assert re.fullmatch(r"20[0-9]{2}-[01][0-9]", outs[3].outputs[0].text), outs[3].outputs[0].text
    assert outs[4].outputs[0].text in ("yes", "no")
    # The unconstrained row is what it is alone.
    alone = llm.chat([plain], SamplingParams(max_tokens=24, temperature=0.0), use_tqdm=False)
    assert outs[5].outputs[0].token_ids == alone[0].outputs[0].token_ids


def test_offline_llm_tool_call_and_gbnf(llm):
    """A structural tag that requires one tool call, and a GBNF grammar,
    through vLLM's engine."""
    from vllm import SamplingParams

    params_schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}},
        "required": ["city"],
        "additionalProperties": False,
    }
    tag = {
        "type": "structural_tag",
        "format": {
            "type": "triggered_tags",
            "triggers": ["<tool_call>"],
            "tags": [
                {
                    "type": "tag",
                    "begin": '<tool_call>{"name": "weather", "arguments": ',
                    "content": {"type": "json_schema", "json_schema": params_schema},
                    "end": "}</tool_call>",
                }
            ],
            "at_least_one": True,
            "stop_after_first": True,
        },
    }
    gbnf = 'root ::= "The answer is " [0-9]+ "."'
    msgs = [
        [{"role": "user", "content": "What is the weather in Paris?"}],
        [{"role": "user", "content": "What is 6 times 7?"}],
    ]
    params = [
        SamplingParams(max_tokens=64, temperature=0.0, extra_args={"formwork_structural_tag": tag}),
        SamplingParams(max_tokens=16, temperature=0.0, extra_args={"formwork_gbnf": gbnf}),
    ]
    outs = llm.chat(msgs, params, use_tqdm=False)
    call = outs[0].outputs[0].text
    assert call.startswith("<tool_call>") and call.endswith("</tool_call>"), call
    body = json.loads(call[len("<tool_call>") : -len("</tool_call>")])
    assert body["name"] == "weather"
    jsonschema.validate(body["arguments"], params_schema)
    assert re.fullmatch(r"The answer is [0-9]+\.", outs[1].outputs[0].text), outs[1].outputs[0].text


def test_offline_llm_refuses_a_bad_constraint(llm):
    from vllm import SamplingParams

    bad = SamplingParams(max_tokens=8, extra_args={"formwork_json": {"type": "nonsense"}})
    # vLLM's validation error (a ValueError in older versions).
    with pytest.raises(Exception, match="formwork: invalid JSON Schema") as e:
        llm.chat([{"role": "user", "content": "hi"}], bad, use_tqdm=False)
    assert "Validation" in type(e.value).__name__ or isinstance(e.value, ValueError)
    two = SamplingParams(max_tokens=8, extra_args={"formwork_regex": "a", "formwork_choice": ["b"]})
    with pytest.raises(Exception, match="at most one"):
        llm.chat([{"role": "user", "content": "hi"}], two, use_tqdm=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_vllm_serve_with_openai_sdk(model_dir, tmp_path):
    """``vllm serve --logits-processors formwork.vllm:LogitsProcessor``;
    the openai SDK switches it on with ``vllm_xargs``."""
    openai = pytest.importorskip("openai")
    port = free_port()
    log_path = tmp_path / "serve.log"
    # `vllm serve`'s server and arguments. (vllm-cpu's `vllm` command itself
    # fails at start: it asks for the version of the distribution `vllm`,
    # which is installed as `vllm-cpu`.)
    serve = "from vllm.entrypoints.launchers.api_server.entry import main; main()"
    log = log_path.open("w")
    server = subprocess.Popen(
        [
            sys.executable, "-c", serve, "--model", str(model_dir),
            "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
            "--max-model-len", "2048", "--enforce-eager", "--served-model-name", "smollm2",
            "--logits-processors", "formwork.vllm:LogitsProcessor",
        ],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **ENV},
    )  # fmt: skip
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none")
        deadline = time.time() + 600
        while True:
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail(log_path.read_text()[-3000:])
                time.sleep(2)
        for case in prompt_cases(2):
            r = client.chat.completions.create(
                model="smollm2",
                messages=[{"role": "user", "content": case["prompt"]}],
                max_tokens=256,
                temperature=0.0,
                extra_body={"vllm_xargs": {"formwork_json": json.dumps(case["schema"])}},
            )
            text = r.choices[0].message.content
            assert r.choices[0].finish_reason == "stop", text
            jsonschema.validate(json.loads(text), case["schema"])
        with pytest.raises(openai.BadRequestError, match="formwork"):
            client.chat.completions.create(
                model="smollm2",
                messages=[{"role": "user", "content": "hi"}],
                max_tokens=8,
                extra_body={"vllm_xargs": {"formwork_json": '{"type": "nonsense"}'}},
            )
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
