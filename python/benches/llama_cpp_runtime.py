"""llama.cpp's side of ``cargo run --release --example runtime``: the same
default model (SmolLM2-135M-Instruct Q4_1 GGUF from the formwork cache),
the same first prompts of tests/data/prompts.jsonl in the model's ChatML
template, the prompt in one batch, then greedy decoding of a fixed number of
tokens, timed in CPU time. Prints CPU ms per prompt token and per decoded
token. With ``--ids DUMP.json`` (written by the runtime example) it feeds
exactly those prompt token ids and reports how far llama.cpp's greedy tokens
agree with formwork's, with the Q4_1 weights as they are and requantized.

    python python/benches/llama_cpp_runtime.py [--prompts 8] [--tokens 64] [--threads 1] [--ids F]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np
from llama_cpp import Llama

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python" / "tests"))
from model_files import cached_model

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ids", default=None)
    args = ap.parse_args()
    llm = Llama(
        model_path=str(cached_model()),
        n_ctx=2048,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        logits_all=False,
        verbose=False,
    )
    dump = json.loads(pathlib.Path(args.ids).read_text()) if args.ids else None
    if dump:
        prompts = dump["prompts"]
        args.tokens = len(dump["q4_1"][0])
    else:
        lines = (ROOT / "tests/data/prompts.jsonl").read_text().splitlines()[: args.prompts]
        prompts = [
            llm.tokenize(
                (
                    f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n"
                    f"{json.loads(line)['prompt']}<|im_end|>\n<|im_start|>assistant\n"
                ).encode(),
                add_bos=False,
                special=True,
            )
            for line in lines
        ]
    prompt_tokens = decode_tokens = 0
    prompt_cpu = decode_cpu = 0.0
    outputs = []
    for ids in prompts:
        llm.reset()
        c = time.process_time()
        llm.eval(ids)
        prompt_cpu += time.process_time() - c
        prompt_tokens += len(ids)
        out = []
        c = time.process_time()
        for _ in range(args.tokens):
            # The last evaluated token's logits (llama.cpp keeps only those).
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
            t = int(np.argmax(logits))
            out.append(t)
            llm.eval([t])
        decode_cpu += time.process_time() - c
        decode_tokens += args.tokens
        outputs.append(out)
    print(
        f"llama.cpp ({args.threads} threads): prompt {1e3 * prompt_cpu / prompt_tokens:.2f} CPU "
        f"ms/token ({prompt_tokens} tokens); decode {1e3 * decode_cpu / decode_tokens:.2f} CPU "
        f"ms/token ({decode_tokens / decode_cpu:.1f} tokens/CPU-s)"
    )
    if dump:
        for name in ("q4_1", "q8_0"):
            same = sum(a == b for a, b in zip(outputs, dump[name]))
            agree = 0
            for a, b in zip(outputs, dump[name]):
                for x, y in zip(a, b):
                    if x != y:
                        break
                    agree += 1
            print(
                f"formwork {name} vs llama.cpp: identical {same}/{len(outputs)}; tokens before "
                f"the first difference {agree}/{decode_tokens}"
            )


if __name__ == "__main__":
    main()
