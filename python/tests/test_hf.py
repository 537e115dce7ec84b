"""formwork.hf.LogitsProcessor end to end with transformers and the real
default model (SmolLM2-135M-Instruct Q4_1 GGUF from the formwork cache).
Skipped unless transformers, torch and gguf are importable and the model is
cached (``formwork generate`` caches it)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import DATA
from model_files import cached_model

import formwork

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("gguf")

MODEL = cached_model()
pytestmark = pytest.mark.skipif(MODEL is None, reason="the default model is not cached")


@pytest.fixture(scope="module")
def hf():
    from formwork.hf import LogitsProcessor  # noqa: F401  (imports without error)

    tok = transformers.AutoTokenizer.from_pretrained(str(MODEL.parent), gguf_file=MODEL.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(MODEL.parent), gguf_file=MODEL.name
    )
    model.eval()
    ours = formwork.Tokenizer.from_transformers(tok, vocab_size=model.config.vocab_size)
    return tok, model, ours


def prompt_cases(n: int):
    lines = (DATA / "prompts.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[:n]]


def output_text(ours: formwork.Tokenizer, ids) -> str:
    """The generated text up to EOS, from the tokens' exact bytes."""
    out = b""
    for t in ids.tolist():
        if t in ours.eos_token_ids:
            break
        out += ours.token_bytes(t)
    return out.decode()


def chat(tok, text: str) -> str:
    msgs = [{"role": "user", "content": text}]
    return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def test_schema_valid_json_greedy(hf):
    from formwork.hf import LogitsProcessor

    tok, model, ours = hf
    for case in prompt_cases(3):
        compiled = formwork.compile(
            formwork.Grammar.json_schema(case["schema"], spelling="canonical"), ours
        )
        lp = LogitsProcessor(compiled)
        enc = tok(chat(tok, case["prompt"]), return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=200,
                do_sample=False,
                logits_processor=transformers.LogitsProcessorList([lp]),
                pad_token_id=tok.eos_token_id,
            )
        new = out[0, enc.input_ids.shape[1] :]
        text = output_text(ours, new)
        # generate stops at the EOS it sampled, before the processor sees it.
        assert int(new[-1]) in ours.eos_token_ids, (case["id"], text)
        assert lp.matchers[0].is_accepting(), (case["id"], text)
        jsonschema.validate(json.loads(text), case["schema"])


def test_batch_padding_and_num_return_sequences(hf):
    from formwork.hf import LogitsProcessor

    tok, model, ours = hf
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    cases = prompt_cases(2)
    compiled = [
        formwork.compile(formwork.Grammar.json_schema(c["schema"], spelling="canonical"), ours)
        for c in cases
    ]
    lp = LogitsProcessor(compiled)
    enc = tok([chat(tok, c["prompt"]) for c in cases], return_tensors="pt", padding=True)
    torch.manual_seed(0)
    with torch.inference_mode():
        out = model.generate(
            **enc,
            max_new_tokens=200,
            do_sample=True,
            num_return_sequences=2,
            logits_processor=transformers.LogitsProcessorList([lp]),
            pad_token_id=tok.pad_token_id,
        )
    assert out.shape[0] == 4 and len(lp.matchers) == 4
    for row in range(4):
        new = out[row, enc.input_ids.shape[1] :]
        text = output_text(ours, new)
        assert any(int(t) in ours.eos_token_ids for t in new), text
        assert lp.matchers[row].is_terminated() or lp.matchers[row].is_accepting(), text
        jsonschema.validate(json.loads(text), cases[row // 2]["schema"])
