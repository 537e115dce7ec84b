#!/usr/bin/env python3
"""Collect the most frequent `pattern` strings of JSONSchemaBench into JSONL.

  python3 tests/data/make_jsb_patterns.py [BENCH_DIR] > tests/data/jsb_patterns.jsonl

BENCH_DIR defaults to ../shared/corpora/jsonschemabench. Every .json file under it
(and every line of a .jsonl file) is parsed; every object with a string member
"pattern" counts that string once, wherever it is in the file. The output is the
LIMIT most frequent distinct patterns, most frequent first, ties in code-point
order, one line {"pattern": ..., "count": n} each (raw UTF-8). Deterministic.
"""
import json, os, sys

LIMIT = 300


def walk(v, counts):
    if isinstance(v, dict):
        p = v.get("pattern")
        if isinstance(p, str):
            counts[p] = counts.get(p, 0) + 1
        for x in v.values():
            walk(x, counts)
    elif isinstance(v, list):
        for x in v:
            walk(x, counts)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "../shared/corpora/jsonschemabench"
    counts = {}
    files = []
    for d, _, names in os.walk(root):
        files += [os.path.join(d, n) for n in names if n.endswith((".json", ".jsonl"))]
    for f in sorted(files):
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        try:
            walk(json.loads(text), counts)
        except ValueError:
            for line in text.splitlines():
                try:
                    walk(json.loads(line), counts)
                except ValueError:
                    pass
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:LIMIT]
    for p, n in top:
        sys.stdout.write(json.dumps({"pattern": p, "count": n}, ensure_ascii=False) + "\n")


main()
