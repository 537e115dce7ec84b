"""formwork.llama_cpp.LogitsProcessor end to end with llama-cpp-python and
the real default model (SmolLM2-135M-Instruct Q4_1 GGUF from the formwork
cache). Skipped unless llama_cpp is importable and the model is cached
(``formwork generate`` caches it)."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from conftest import DATA
from model_files import cached_model

import formwork

llama_cpp = pytest.importorskip("llama_cpp")

MODEL = cached_model()
pytestmark = pytest.mark.skipif(MODEL is None, reason="the default model is not cached")


@pytest.fixture(scope="module")
def llm():
    return llama_cpp.Llama(model_path=str(MODEL), n_ctx=2048, verbose=False)


@pytest.fixture(scope="module")
def ours(llm):
    from formwork.llama_cpp import tokenizer_for

    tok = tokenizer_for(llm)
    assert tok.vocab_size == llm.n_vocab()
    return tok


def prompt_cases(n: int):
    lines = (DATA / "prompts.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[:n]]


def processors(compiled):
    from formwork.llama_cpp import LogitsProcessor

    lp = LogitsProcessor(compiled)
    return lp, llama_cpp.LogitsProcessorList([lp])


def test_chat_completion_is_schema_valid(llm, ours):
    for case in prompt_cases(3):
        compiled = formwork.compile(formwork.Grammar.json_schema(case["schema"]), ours)
        lp, lps = processors(compiled)
        out = llm.create_chat_completion(
            [{"role": "user", "content": case["prompt"]}],
            max_tokens=256,
            temperature=0.0,
            logits_processor=lps,
        )
        choice = out["choices"][0]
        text = choice["message"]["content"]
        # It ended at the EOS the grammar allowed, not at max_tokens.
        assert choice["finish_reason"] == "stop", (case["id"], text)
        assert lp.matcher.is_accepting(), (case["id"], text)
        jsonschema.validate(json.loads(text), case["schema"])


def test_completion_with_sampling_and_reuse(llm, ours):
    """create_completion with temperature sampling; one processor used for
    two completions in a row starts over at the second."""
    compiled = formwork.compile(formwork.Grammar.regex(r"(yes|no), [0-9]{1,3}\."), ours)
    lp, lps = processors(compiled)
    for seed in (1, 2):
        out = llm.create_completion(
            "Answer yes or no, then a number: is the sky blue?",
            max_tokens=32,
            temperature=0.8,
            seed=seed,
            logits_processor=lps,
        )
        text = out["choices"][0]["text"]
        assert out["choices"][0]["finish_reason"] == "stop", text
        assert formwork.Matcher(compiled).accept_tokens(ours.encode(text)), text
        assert lp.matcher.is_accepting(), text


def test_processor_masks_in_place(ours):
    """Called directly as llama-cpp-python calls it: the prompt's tokens,
    then one more token per call."""
    from formwork.llama_cpp import LogitsProcessor

    compiled = formwork.compile(formwork.Grammar.regex("[0-9]+"), ours)
    lp = LogitsProcessor(compiled)
    prompt = np.array(ours.encode("Digits: "), dtype=np.intc)
    scores = np.zeros(ours.vocab_size, dtype=np.single)
    out = lp(prompt, scores)
    assert out is scores
    allowed = np.flatnonzero(np.isfinite(scores))
    assert len(allowed) > 0
    assert all(ours.token_bytes(int(t)).isdigit() for t in allowed)
    nxt = np.append(prompt, allowed[0]).astype(np.intc)
    scores = np.zeros(ours.vocab_size, dtype=np.single)
    lp(nxt, scores)
    assert lp.matcher.num_accepted == 1
    # EOS is allowed now that the output is complete.
    assert all(np.isfinite(scores[t]) for t in ours.eos_token_ids if t < ours.vocab_size)
    # A token outside the grammar is an error that says what went wrong.
    bad = ours.encode("x")[0]
    with pytest.raises(RuntimeError, match="does not allow"):
        lp(np.append(nxt, bad).astype(np.intc), np.zeros(ours.vocab_size, dtype=np.single))
