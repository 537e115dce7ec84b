#!/usr/bin/env python3
"""Rewrite a make_cases.py `jsb` case file into "any JSON" cases: every case's grammar
becomes the schema {} and the invalid instances are dropped (most of them are still valid
JSON). Valid instances longer than --max-bytes (UTF-8) are dropped, and so are cases left
with none.

  any_json_cases.py IN.jsonl OUT.jsonl [--max-bytes 16384]
"""
import argparse, json, sys

ap = argparse.ArgumentParser()
ap.add_argument("inp")
ap.add_argument("out")
ap.add_argument("--max-bytes", type=int, default=16384)
a = ap.parse_args()
n_cases = n_valid = n_big = 0
with open(a.inp) as f, open(a.out, "w") as out:
    for line in f:
        c = json.loads(line)
        valid = []
        for v in c["valid"]:
            json.loads(v)  # must be JSON
            if len(v.encode("utf-8")) > a.max_bytes:
                n_big += 1
            else:
                valid.append(v)
        if not valid:
            continue
        out.write(json.dumps({"id": c["id"], "kind": "json_schema", "grammar": {}, "valid": valid},
                             ensure_ascii=False) + "\n")
        n_cases += 1
        n_valid += len(valid)
print(f"any-json: {n_cases} cases, {n_valid} valid instances, {n_big} over {a.max_bytes} bytes dropped -> {a.out}",
      file=sys.stderr)
