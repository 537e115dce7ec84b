"""formwork's model runtime against llama.cpp, like for like.

Both engines run the same GGUF file, the same prompt token ids (the first
prompts of tests/data/prompts.jsonl in the model's chat template, tokenized
once by formwork), the same thread count and greedy decoding of the same
number of tokens. The prompt goes in as one batch. Each phase is timed in
CPU time (all threads of the process, so load from other jobs mostly cancels
out) and in wall time. Rounds alternate the engines and keep each engine's
best round.

formwork's side is `cargo run --release --example runtime` (built first);
llama.cpp's is llama-cpp-python in this interpreter. `--models` takes GGUF
paths or the names `default` (the default model, Q4_1) and `q4_k_m` (the
default model requantized by llama.cpp's own tool to Q4_K_M; its 576-wide
matrices fall back to Q5_0, the 1536-wide ones are Q4_K/Q6_K).

    python python/benches/runtime_vs_llama_cpp.py [--models default,q4_k_m]
        [--threads 1,2] [--prompts 8] [--tokens 64] [--rounds 2]

Prints a Markdown table: tokens per CPU-second and per wall-second for the
prompt and for decoding, and formwork's ratio to llama.cpp (above 1: formwork
is faster). Then, with `--samples` prompts (default 8), `formwork generate --n
4` against `--n 1` on the default model: the same prompts and schemas, at
temperature 0.7, timed from formwork's own tokens/s line (generation only,
not the model load).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python" / "tests"))
from model_files import cached_model


def q4_k_m(default: pathlib.Path) -> pathlib.Path:
    """The default model requantized to Q4_K_M by llama.cpp (made once)."""
    import llama_cpp

    out = default.parent.parent / "bench" / "SmolLM2-135M-Instruct.Q4_K_M.gguf"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
        params.allow_requantize = True
        tmp = out.with_suffix(".part")
        rc = llama_cpp.llama_model_quantize(str(default).encode(), str(tmp).encode(), params)
        if rc != 0:
            raise SystemExit(f"llama_model_quantize failed ({rc})")
        tmp.rename(out)
    return out


def formwork_run(model: pathlib.Path, threads: int, prompts: int, tokens: int) -> tuple[dict, dict]:
    """formwork's runtime example: its RESULT figures and the ids it used."""
    exe = ROOT / "target" / "release" / "examples" / "runtime"
    with tempfile.TemporaryDirectory() as tmp:
        dump = pathlib.Path(tmp) / "ids.json"
        env = dict(
            os.environ,
            CANDLE_NUM_THREADS=str(threads),
            RUNTIME_ONLY="native",
            RUNTIME_MODEL=str(model),
        )
        out = subprocess.run(
            [str(exe), str(prompts), str(tokens), str(dump)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT "))[7:])
        return result, json.loads(dump.read_text())


def llama_cpp_run(model: pathlib.Path, threads: int, ids: dict) -> tuple[dict, list]:
    """llama.cpp on the same prompt ids, greedy, the same number of tokens."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(model),
        n_ctx=2048,
        n_batch=2048,
        n_threads=threads,
        n_threads_batch=threads,
        logits_all=False,
        verbose=False,
    )
    tokens = len(ids["native"][0])
    r = dict.fromkeys(
        [
            "prompt_tokens",
            "prompt_cpu",
            "prompt_wall",
            "decode_tokens",
            "decode_cpu",
            "decode_wall",
        ],
        0.0,
    )
    outputs = []
    for prompt in ids["prompts"]:
        llm.reset()
        c, w = time.process_time(), time.perf_counter()
        llm.eval(prompt)
        r["prompt_cpu"] += time.process_time() - c
        r["prompt_wall"] += time.perf_counter() - w
        r["prompt_tokens"] += len(prompt)
        out = []
        c, w = time.process_time(), time.perf_counter()
        for _ in range(tokens):
            # The last evaluated token's logits (llama.cpp keeps only those).
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
            t = int(np.argmax(logits))
            out.append(t)
            llm.eval([t])
        r["decode_cpu"] += time.process_time() - c
        r["decode_wall"] += time.perf_counter() - w
        r["decode_tokens"] += tokens
        outputs.append(out)
    del llm
    return r, outputs


def rate(r: dict, phase: str, clock: str) -> float:
    return r[f"{phase}_tokens"] / max(r[f"{phase}_{clock}"], 1e-9)


def best(a: dict | None, b: dict) -> dict:
    """Per figure, the faster of two rounds."""
    if a is None:
        return b
    out = dict(b)
    for phase in ("prompt", "decode"):
        for clock in ("cpu", "wall"):
            key = f"{phase}_{clock}"
            out[key] = min(a[key], b[key])
    return out


def samples_run(prompts: int, threads: int) -> list[tuple[int, float, int, float]]:
    """Per prompt: (tokens, seconds) of `generate --n 1`, then of `--n 4`."""
    exe = ROOT / "target" / "release" / "formwork"
    lines = (ROOT / "tests/data/prompts.jsonl").read_text().splitlines()[:prompts]
    out = []
    for line in lines:
        case = json.loads(line)
        figures = []
        for n in (1, 4):
            err = subprocess.run(
                [
                    str(exe),
                    "generate",
                    "--schema",
                    json.dumps(case["schema"]),
                    "--prompt",
                    case["prompt"],
                    "--n",
                    str(n),
                    "--temperature",
                    "0.7",
                    "--seed",
                    "1",
                    "--threads",
                    str(threads),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stderr
            line = next(ln for ln in err.splitlines() if " tokens in " in ln)
            words = line.split()
            tokens = int(words[words.index("tokens") - 1])
            seconds = float(words[words.index("s") - 1])
            figures += [tokens, seconds]
        out.append(tuple(figures))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="default,q4_k_m")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=8)
    args = ap.parse_args()
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--example", "runtime", "--bin", "formwork"],
        cwd=ROOT,
        check=True,
    )
    default = cached_model()
    names = {"default": default}
    models = []
    for m in args.models.split(","):
        if m == "q4_k_m":
            models.append(("Q4_K_M (from the default)", q4_k_m(default)))
        elif m in names:
            models.append(("SmolLM2-135M-Instruct Q4_1", names[m]))
        else:
            models.append((pathlib.Path(m).name, pathlib.Path(m)))
    rows = []
    for label, path in models:
        for threads in [int(t) for t in args.threads.split(",")]:
            fw = lc = ids = None
            lc_outs: list = []
            agree = total = 0
            # Rounds alternate which engine goes first (formwork first in
            # round 0, so its prompt ids exist before llama.cpp runs).
            for rnd in range(args.rounds):
                order = ("fw", "lc") if rnd % 2 == 0 else ("lc", "fw")
                for engine in order:
                    if engine == "fw":
                        r, ids = formwork_run(path, threads, args.prompts, args.tokens)
                        fw = best(fw, r)
                    else:
                        r, lc_outs = llama_cpp_run(path, threads, ids)
                        lc = best(lc, r)
            fw_outs = ids["native"]
            if len(fw_outs) == len(lc_outs):
                for a, b in zip(fw_outs, lc_outs):
                    for x, y in zip(a, b):
                        if x != y:
                            break
                        agree += 1
                    total += len(a)
            rows.append((label, threads, fw, lc, agree, total))
            print(f"done: {label}, {threads} threads", file=sys.stderr)
    print(
        "| model | threads | clock | prompt tok/s formwork | llama.cpp | ratio "
        "| decode tok/s formwork | llama.cpp | ratio |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for label, threads, fw, lc, agree, total in rows:
        for clock in ("cpu", "wall"):
            cells = []
            for phase in ("prompt", "decode"):
                f, lr = rate(fw, phase, clock), rate(lc, phase, clock)
                cells += [f"{f:.0f}", f"{lr:.0f}", f"{f / lr:.2f}×"]
            name = "CPU" if clock == "cpu" else "wall"
            print(f"| {label} | {threads} | {name} | " + " | ".join(cells) + " |")
    print()
    for label, threads, fw, _, agree, total in rows:
        print(
            f"{label}, {threads} threads: {fw['prompt_tokens']:.0f} prompt tokens, "
            f"{fw['decode_tokens']:.0f} decoded per round; greedy tokens equal to llama.cpp's "
            f"before the first difference: {agree}/{total}"
        )
    if args.samples:
        print()
        print(
            "| threads | prompts | `--n 1` tokens | seconds | `--n 4` tokens | seconds | time ratio |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for threads in [int(t) for t in args.threads.split(",")]:
            runs = samples_run(args.samples, threads)
            t1, s1 = sum(r[0] for r in runs), sum(r[1] for r in runs)
            t4, s4 = sum(r[2] for r in runs), sum(r[3] for r in runs)
            print(
                f"| {threads} | {len(runs)} | {t1} | {s1:.2f} | {t4} | {s4:.2f} | {s4 / s1:.2f}× |"
            )


if __name__ == "__main__":
    main()
