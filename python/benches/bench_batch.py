"""Benchmark: fill_next_token_bitmask_batch over N matchers vs a Python loop
of single fill_next_token_bitmask calls, on JSONSchemaBench schemas with a
given tokenizer (default: the Llama-3 tokenizer in ../shared/models).

The cases are a peer-bench case file (``make_cases.py jsb``: each schema
with its valid documents); by default it is made from
../shared/corpora/jsonschemabench on first use, else the vendored
benches/cases/jsb_any.jsonl (documents under ``{}``) is used. Each side
walks fresh matchers along the cases' valid documents for STEPS tokens,
filling every row's mask at each step, so no mask is served from a
matcher's memo; only the filling is timed. Also reports the binding's
overhead per call at p50 (a repeated call at one state, where the library
returns its memoised mask). Prints timings only; asserts nothing.

    python python/benches/bench_batch.py [--tokenizer PATH] [--cases FILE] [--batch 64] [--steps 16]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import formwork

ROOT = pathlib.Path(__file__).resolve().parents[2]


def random_walk(compiled, tok, n: int, rng) -> list[int]:
    """Up to n tokens drawn uniformly among those the grammar allows."""
    m = formwork.Matcher(compiled)
    bitmask = formwork.allocate_token_bitmask(1, tok.vocab_size)
    out = []
    while len(out) < n and not m.is_accepting():
        m.fill_next_token_bitmask(bitmask)
        bits = np.unpackbits(bitmask[0].view(np.uint8), bitorder="little")
        allowed = np.flatnonzero(bits)
        t = int(rng.choice(allowed))
        assert m.accept_token(t)
        out.append(t)
    return out


def default_cases() -> str:
    """The JSONSchemaBench case file, made once with peer-bench's
    make_cases.py, or the vendored any-JSON cases without ../shared."""
    shared = ROOT.parent / "shared"
    made = pathlib.Path(tempfile.gettempdir()) / "formwork-bench-jsb.jsonl"
    if not made.exists() and (shared / "peer-bench/make_cases.py").exists():
        subprocess.run(
            [
                sys.executable,
                str(shared / "peer-bench/make_cases.py"),
                "jsb",
                str(shared / "corpora/jsonschemabench"),
                "--utf8",
                "-o",
                str(made),
            ],
            check=True,
        )
    return str(made) if made.exists() else str(ROOT / "benches/cases/jsb_any.jsonl")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--tokenizer", default=str(ROOT.parent / "shared/models/llama3/tokenizer.json.gz")
    )
    ap.add_argument("--cases", default=None)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=16)
    args = ap.parse_args()

    tok = formwork.Tokenizer.from_file(args.tokenizer)
    cases = args.cases or default_cases()
    print(f"cases: {cases}")
    walks = []
    rng = np.random.default_rng(0)
    for line in pathlib.Path(cases).read_text().splitlines():
        case = json.loads(line)
        if "schema" in case:  # tests/data/prompts.jsonl: a walk drawn at random
            case = {"kind": "json_schema", "grammar": case["schema"], "valid": None}
        elif "grammar" not in case or not case.get("valid"):
            continue
        try:
            if case["kind"] == "regex":
                g = formwork.Grammar.regex(case["grammar"])
            elif case["kind"] == "pest":
                g = formwork.Grammar.pest(case["grammar"])
            else:
                g = formwork.Grammar.json_schema(case["grammar"], whitespace="flexible")
            compiled = formwork.compile(g, tok)
        except formwork.FormworkError:
            continue
        if case["valid"] is None:
            tokens = random_walk(compiled, tok, args.steps + 1, rng)
        else:
            tokens = tok.encode(case["valid"][0])
        if len(tokens) <= args.steps:
            continue
        walks.append((compiled, tokens))
        if len(walks) == args.batch:
            break
    print(f"{len(walks)} matchers, {args.steps} steps, vocab_size {tok.vocab_size}")
    bitmask = formwork.allocate_token_bitmask(len(walks), tok.vocab_size)

    def run(batch: bool) -> float:
        """Seconds spent filling the masks (accepting tokens is not timed)."""
        ms = [formwork.Matcher(c) for c, _ in walks]
        spent = 0.0
        for step in range(args.steps):
            t0 = time.perf_counter()
            if batch:
                formwork.fill_next_token_bitmask_batch(ms, bitmask)
            else:
                for i, m in enumerate(ms):
                    m.fill_next_token_bitmask(bitmask, i)
            spent += time.perf_counter() - t0
            for m, (_, tokens) in zip(ms, walks):
                assert m.accept_token(tokens[step])
        return spent

    run(False)  # warm-up: builds the lazy DFA states both sides then share
    loop = min(run(False) for _ in range(3))
    batch = min(run(True) for _ in range(3))
    print(
        f"loop of single calls: {loop * 1e3:.1f} ms; batch: {batch * 1e3:.1f} ms; "
        f"speed-up {loop / batch:.2f}x"
    )

    m = formwork.Matcher(walks[0][0])
    m.fill_next_token_bitmask(bitmask, 0)
    times = []
    for _ in range(2000):
        t = time.perf_counter_ns()
        m.fill_next_token_bitmask(bitmask, 0)
        times.append(time.perf_counter_ns() - t)
    print(
        f"binding overhead per call (memoised mask, {tok.vocab_size} tokens): "
        f"p50 {statistics.median(times) / 1e3:.1f} us"
    )


if __name__ == "__main__":
    main()
