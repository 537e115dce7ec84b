"""End to end through one adapter: every prompt of tests/data/prompts.jsonl
with its JSON schema through the default model (SmolLM2-135M-Instruct Q4_1,
from the formwork cache), constrained and unconstrained, greedy. Prints one
JSON line per (prompt, mode) and a summary: schema-valid outputs (Python
``jsonschema``), tokens/s, and the share of the generation time spent in the
formwork processor (mask, token acceptance and applying the mask). Asserts
nothing; the adapters' pytest files are the tests.

    python python/benches/e2e_adapters.py --adapter hf|llama_cpp|vllm [--limit N]

``vllm`` needs the model exported to safetensors (``--st DIR``; made with
transformers from the GGUF if missing) and runs vLLM in-process
(``VLLM_ENABLE_V1_MULTIPROCESSING=0``) so the processor's time can be read.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from typing import Any

import jsonschema

import formwork

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python" / "tests"))
from model_files import cached_model, export_safetensors

MAX_TOKENS = 256


def valid(text: str, schema: Any) -> bool:
    try:
        jsonschema.validate(json.loads(text), schema)
        return True
    except (ValueError, jsonschema.ValidationError, jsonschema.SchemaError):
        return False


class Timed:
    """Wraps a processor, adding up the time spent in its calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def __call__(self, *args: Any) -> Any:
        t = time.perf_counter()
        try:
            return self.inner(*args)
        finally:
            self.seconds += time.perf_counter() - t


def run_hf(cases, constrained: bool, batch: int):
    import torch
    import transformers

    from formwork.hf import LogitsProcessor

    model_path = cached_model()
    tok = transformers.AutoTokenizer.from_pretrained(
        str(model_path.parent), gguf_file=model_path.name
    )
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(model_path.parent), gguf_file=model_path.name
    )
    model.eval()
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    ours = formwork.Tokenizer.from_transformers(tok, vocab_size=model.config.vocab_size)
    for i in range(0, len(cases), batch):
        group = cases[i : i + batch]
        prompts = [
            tok.apply_chat_template(
                [{"role": "user", "content": c["prompt"]}],
                tokenize=False,
                add_generation_prompt=True,
            )
            for c in group
        ]
        enc = tok(prompts, return_tensors="pt", padding=True)
        procs = []
        if constrained:
            compiled = [
                formwork.compile(formwork.Grammar.json_schema(c["schema"]), ours) for c in group
            ]
            procs = [Timed(LogitsProcessor(compiled, max_new_tokens=MAX_TOKENS))]
        t = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=MAX_TOKENS,
                do_sample=False,
                logits_processor=transformers.LogitsProcessorList(procs),
                pad_token_id=tok.pad_token_id,
            )
        seconds = time.perf_counter() - t
        mask = procs[0].seconds if procs else 0.0
        for row, case in enumerate(group):
            ids = out[row, enc.input_ids.shape[1] :].tolist()
            text = b""
            n = 0
            for t_id in ids:
                n += 1
                if t_id in ours.eos_token_ids:
                    break
                text += ours.token_bytes(t_id)
            # The batch's time and mask time, shared by its rows in
            # proportion to their tokens.
            yield case, text.decode(errors="replace"), n, seconds / len(group), mask / len(group)


def run_llama_cpp(cases, constrained: bool):
    from llama_cpp import Llama, LogitsProcessorList

    from formwork.llama_cpp import LogitsProcessor, tokenizer_for

    llm = Llama(model_path=str(cached_model()), n_ctx=2048, n_threads=os.cpu_count(), verbose=False)
    ours = tokenizer_for(llm)
    for case in cases:
        procs = []
        if constrained:
            compiled = formwork.compile(formwork.Grammar.json_schema(case["schema"]), ours)
            procs = [Timed(LogitsProcessor(compiled, max_tokens=MAX_TOKENS))]
        t = time.perf_counter()
        out = llm.create_chat_completion(
            [{"role": "user", "content": case["prompt"]}],
            max_tokens=MAX_TOKENS,
            temperature=0.0,
            logits_processor=LogitsProcessorList(procs) if procs else None,
        )
        seconds = time.perf_counter() - t
        text = out["choices"][0]["message"]["content"] or ""
        n = out["usage"]["completion_tokens"]
        yield case, text, n, seconds, procs[0].seconds if procs else 0.0


def run_vllm(cases, constrained: bool, st_dir: pathlib.Path):
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from vllm import LLM, SamplingParams

    import formwork.vllm

    class TimedProcessor(formwork.vllm.LogitsProcessor):
        seconds = 0.0

        def apply(self, logits):
            t = time.perf_counter()
            try:
                return super().apply(logits)
            finally:
                TimedProcessor.seconds += time.perf_counter() - t

    llm = LLM(
        model=str(st_dir),
        tokenizer=str(st_dir),
        dtype="float32",
        max_model_len=2048,
        enforce_eager=True,
        logits_processors=[TimedProcessor],
    )
    msgs = [[{"role": "user", "content": c["prompt"]}] for c in cases]
    params = [
        SamplingParams(
            max_tokens=MAX_TOKENS,
            temperature=0.0,
            extra_args={"formwork_json": c["schema"]} if constrained else None,
        )
        for c in cases
    ]
    TimedProcessor.seconds = 0.0
    t = time.perf_counter()
    outs = llm.chat(msgs, params, use_tqdm=False)
    seconds = time.perf_counter() - t
    total = sum(len(o.outputs[0].token_ids) for o in outs) or 1
    for case, o in zip(cases, outs):
        n = len(o.outputs[0].token_ids)
        # One batched run: its time and mask time, shared by tokens.
        yield case, o.outputs[0].text, n, seconds * n / total, TimedProcessor.seconds * n / total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", choices=["hf", "llama_cpp", "vllm"], required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--batch", type=int, default=8, help="hf: prompts per generate call")
    ap.add_argument("--st", default=None, help="vllm: the exported safetensors folder")
    ap.add_argument("--modes", default="constrained,unconstrained")
    args = ap.parse_args()
    if cached_model() is None:
        sys.exit("the default model is not cached: run `cargo run --release -- generate ...` once")
    lines = (ROOT / "tests/data/prompts.jsonl").read_text().splitlines()
    cases = [json.loads(line) for line in lines][: args.limit]
    summary = []
    for mode in args.modes.split(","):
        constrained = mode == "constrained"
        if args.adapter == "hf":
            rows = run_hf(cases, constrained, args.batch)
        elif args.adapter == "llama_cpp":
            rows = run_llama_cpp(cases, constrained)
        else:
            st = pathlib.Path(args.st) if args.st else export_safetensors()
            rows = run_vllm(cases, constrained, st)
        n_valid = tokens = 0
        seconds = mask = 0.0
        for case, text, n, secs, mask_secs in rows:
            ok = valid(text, case["schema"])
            n_valid += ok
            tokens += n
            seconds += secs
            mask += mask_secs
            print(
                json.dumps(
                    {
                        "adapter": args.adapter,
                        "mode": mode,
                        "id": case["id"],
                        "valid": ok,
                        "tokens": n,
                        "seconds": round(secs, 3),
                        "text": text[:200],
                    }
                ),
                flush=True,
            )
        summary.append(
            f"SUMMARY adapter={args.adapter} mode={mode} valid={n_valid}/{len(cases)} "
            f"tokens={tokens} tok_per_s={tokens / seconds:.1f} "
            f"processor_share={100 * mask / seconds:.1f}%"
        )
        print(summary[-1], flush=True)
    print("\n".join(summary))


if __name__ == "__main__":
    main()
