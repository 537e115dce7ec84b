"""Load test of `formwork serve`: many concurrent json_schema requests through the `openai` SDK.

Sends --requests chat requests, --concurrency at a time, cycling through the 20 JSONSchemaBench
schemas of tests/data/serve_schemas.jsonl (strict json_schema response formats), validates every
answer with `jsonschema`, and prints a markdown table: requests, concurrency, lost (transport or
HTTP errors, 429s included, or no choice), invalid (not JSON or not valid under its schema), p50
and p99 latency, and completion tokens per second over the whole run. Exits 1 if any request was
lost or invalid, so it doubles as a soak check.

    python python/benches/serve_load.py [--base-url http://127.0.0.1:8000] \\
        [--requests 200] [--concurrency 8] [--max-tokens 96]

Without --base-url it starts its own server (``FORMWORK_BIN`` or target/release/formwork, the
default model from formwork's cache, --parallel/--queue as given) on a free loopback port and
stops it with SIGTERM at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema
from jsonschema.validators import validator_for
from openai import OpenAI, OpenAIError

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python" / "tests"))
from model_files import cached_model

READY = re.compile(r"formwork: listening on http://127\.0\.0\.1:(\d+)")


@dataclass
class Outcome:
    latency: float
    completion_tokens: int
    lost: str | None = None
    invalid: str | None = None


def start_server(parallel: int, queue: int, log: Any) -> tuple[subprocess.Popen[bytes], str]:
    """Starts `formwork serve` on a free port; returns the process and its base URL."""
    binary = os.environ.get("FORMWORK_BIN") or str(ROOT / "target" / "release" / "formwork")
    model = cached_model()
    if model is None:
        sys.exit("the default model is not cached: run `formwork generate` once")
    command = [binary, "serve", "--model", str(model), "--host", "127.0.0.1", "--port", "0"]
    command += ["--parallel", str(parallel), "--queue", str(queue)]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        match = READY.search(pathlib.Path(log.name).read_text(errors="replace"))
        if match:
            return proc, f"http://127.0.0.1:{match.group(1)}"
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"`{' '.join(command)}` did not start:\n{pathlib.Path(log.name).read_text()}")


def stop_server(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -1


def one_request(
    client: OpenAI, model: str, case: dict[str, Any], max_tokens: int, seed: int
) -> Outcome:
    started = time.perf_counter()
    try:
        completion = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": case["prompt"]}],
            max_tokens=max_tokens,
            temperature=0.7,
            seed=seed,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": case["name"], "schema": case["schema"], "strict": True},
            },
        )
    except OpenAIError as e:  # transport errors, HTTP errors (429 too): lost
        return Outcome(time.perf_counter() - started, 0, lost=f"{case['name']}: {e!r}")
    latency = time.perf_counter() - started
    tokens = completion.usage.completion_tokens if completion.usage else 0
    if not completion.choices:
        return Outcome(latency, tokens, lost=f"{case['name']}: no choices")
    text = completion.choices[0].message.content or ""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return Outcome(latency, tokens, invalid=f"{case['name']}: not JSON: {text!r}")
    cls = validator_for(case["schema"], default=jsonschema.Draft202012Validator)
    error = jsonschema.exceptions.best_match(
        cls(case["schema"], format_checker=cls.FORMAT_CHECKER).iter_errors(value)
    )
    if error is not None:
        return Outcome(latency, tokens, invalid=f"{case['name']}: {error.message}: {text!r}")
    return Outcome(latency, tokens)


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def run(args: argparse.Namespace, base_url: str) -> int:
    cases = [json.loads(line) for line in args.schemas.read_text().splitlines() if line]
    with OpenAI(
        base_url=f"{base_url}/v1", api_key=args.api_key, max_retries=0, timeout=args.timeout
    ) as client:
        model = client.models.list().data[0].id
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            futures = [
                pool.submit(one_request, client, model, cases[i % len(cases)], args.max_tokens, i)
                for i in range(args.requests)
            ]
            outcomes = [future.result() for future in futures]
        wall = time.perf_counter() - started
    lost = [o.lost for o in outcomes if o.lost]
    invalid = [o.invalid for o in outcomes if o.invalid]
    latencies = [o.latency for o in outcomes if not o.lost]
    tokens = sum(o.completion_tokens for o in outcomes)
    print(
        "| requests | concurrency | lost | invalid | p50 latency | p99 latency | completion tok/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.requests} | {args.concurrency} | {len(lost)} | {len(invalid)} "
        f"| {percentile(latencies, 50):.2f} s | {percentile(latencies, 99):.2f} s "
        f"| {tokens / wall:.1f} |"
    )
    for problem in (lost + invalid)[:20]:
        print(f"- {problem}", file=sys.stderr)
    return 1 if lost or invalid else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="a running server; without it one is started")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per request")
    parser.add_argument("--api-key", default="x")
    parser.add_argument(
        "--schemas", type=pathlib.Path, default=ROOT / "tests" / "data" / "serve_schemas.jsonl"
    )
    parser.add_argument("--parallel", type=int, default=2, help="for the server started here")
    parser.add_argument("--queue", type=int, default=16, help="for the server started here")
    args = parser.parse_args()
    if args.base_url:
        return run(args, args.base_url.rstrip("/"))
    with tempfile.NamedTemporaryFile(
        prefix="formwork-serve-load-", suffix=".log", delete=False
    ) as log:
        proc, base_url = start_server(args.parallel, args.queue, log)
        try:
            httpx.get(f"{base_url}/health", timeout=30).raise_for_status()
            status = run(args, base_url)
        finally:
            code = stop_server(proc)
    if code != 0:
        print(f"the server exited with code {code} on SIGTERM", file=sys.stderr)
        status = 1
    if status:
        print(f"the server's output: {log.name}", file=sys.stderr)
    else:
        os.unlink(log.name)
    return status


if __name__ == "__main__":
    sys.exit(main())
