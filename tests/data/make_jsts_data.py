#!/usr/bin/env python3
"""Collect every `data` value of JSON-Schema-Test-Suite test files into JSONL.

  tests/data/make_jsts_data.py OUT.jsonl DIR...

Walks each DIR (sorted, including optional/), takes tests[*].data of every group, and writes
each distinct value once, compact (separators "," and ":", raw UTF-8), in order of first
appearance. Values are kept exactly as written in the suite: numbers keep their source
text (no float rounding, e.g. bignum.json), and object members keep their order.
Two values are the same when their compact text is the same.
"""
import json, os, sys


class Num(str):
    """A JSON number, kept as its source text."""


class Obj(list):
    """A JSON object as a list of (key, value) pairs, in source order."""


def dump(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, str):
        try:
            v.encode("utf-8")
            return json.dumps(v, ensure_ascii=False)
        except UnicodeEncodeError:  # lone surrogate: keep the \\u escape
            return json.dumps(v, ensure_ascii=True)
    if isinstance(v, Obj):
        return "{" + ",".join(dump(k) + ":" + dump(x) for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dump(x) for x in v) + "]"
    raise TypeError(type(v))


def main():
    out_path, dirs = sys.argv[1], sys.argv[2:]
    seen = {}
    n_tests = 0
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            subdirs.sort()
            for f in sorted(files):
                if not f.endswith(".json"):
                    continue
                with open(os.path.join(root, f), encoding="utf-8") as fh:
                    groups = json.load(fh, parse_float=Num, parse_int=Num,
                                       parse_constant=lambda c: sys.exit(f"non-JSON constant {c}"),
                                       object_pairs_hook=Obj)
                for g in groups:
                    for t in dict(g)["tests"]:
                        n_tests += 1
                        s = dump(dict(t)["data"])
                        seen.setdefault(s, None)
    with open(out_path, "w", encoding="utf-8") as out:
        for s in seen:
            json.loads(s)  # sanity
            out.write(s + "\n")
    print(f"jsts-data: {n_tests} tests, {len(seen)} distinct values -> {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
