#!/usr/bin/env python3
"""Builds tests/data/text_samples.jsonl for tests/vocab_roundtrip.rs.

Usage: python3 tests/data/make_text_samples.py [CORPORA_DIR]

CORPORA_DIR defaults to ../../../shared/corpora relative to this script (the
project's shared corpora). The output is deterministic (fixed seed, sorted file
lists): running the script again on the same corpora gives the same file.

Each output line is one JSON string: a text that every tokenizer must encode
into tokens whose bytes are exactly the text's UTF-8 bytes. See README.md for
where each part comes from and its license.
"""
import json
import os
import random
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
CORPORA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "corpora")
OUT = os.path.join(HERE, "text_samples.jsonl")
MAX_BYTES = 600_000

rng = random.Random(20250601)
samples = []  # (part, text)
seen = set()


def ok(s):
    """A usable sample: non-empty, valid Unicode (no lone surrogates)."""
    if not s:
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def add(part, s, max_len=1500):
    if not ok(s) or len(s) > max_len or s in seen:
        return False
    seen.add(s)
    samples.append((part, s))
    return True


def has_non_ascii(s):
    return any(ord(c) > 127 for c in s)


def serialise(value):
    """JSON text with one of several spacing styles."""
    style = rng.randrange(7)
    ensure_ascii = rng.random() < 0.25
    if style == 0:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=ensure_ascii)
    if style == 1:
        return json.dumps(value, ensure_ascii=ensure_ascii)
    if style == 2:
        return json.dumps(value, indent=2, ensure_ascii=ensure_ascii)
    if style == 3:
        return json.dumps(value, indent=4, ensure_ascii=ensure_ascii)
    if style == 4:
        return json.dumps(value, indent="\t", ensure_ascii=ensure_ascii)
    if style == 5:  # Windows line endings
        return json.dumps(value, indent=2, ensure_ascii=ensure_ascii).replace("\n", "\r\n")
    # generous spacing, as some models write it
    return json.dumps(value, indent=3, separators=(" , ", " : "), ensure_ascii=ensure_ascii)


def strings_in(v, out):
    if isinstance(v, str):
        out.append(v)
    elif isinstance(v, list):
        for x in v:
            strings_in(x, out)
    elif isinstance(v, dict):
        for k, x in v.items():
            out.append(k)
            strings_in(x, out)


# ---------------------------------------------------------------- jsonschemabench
bench = os.path.join(CORPORA, "jsonschemabench")
bench_records = []
for split in sorted(os.listdir(bench)):
    d = os.path.join(bench, split)
    if not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), encoding="utf-8") as f:
            bench_records.append((split, json.load(f)))

instances, non_ascii_instances, schemas = [], [], []
bench_strings = []
for split, rec in bench_records:
    for t in rec.get("tests", []):
        (non_ascii_instances if has_non_ascii(json.dumps(t["data"], ensure_ascii=False)) else instances).append(t["data"])
    schemas.append(rec["schema"])
    strings_in(rec["schema"], bench_strings)
    for t in rec.get("tests", []):
        strings_in(t["data"], bench_strings)

rng.shuffle(instances)
rng.shuffle(non_ascii_instances)
n = 0
for v in non_ascii_instances:
    if n >= 150:
        break
    n += add("jsonschemabench-instance", serialise(v), 1200)
n = 0
for v in instances:
    if n >= 330:
        break
    n += add("jsonschemabench-instance", serialise(v), 1200)
rng.shuffle(schemas)
n = 0
for v in schemas:
    if n >= 90:
        break
    n += add("jsonschemabench-schema", serialise(v), 1500)

# ---------------------------------------------------------------- JSON-Schema-Test-Suite
suite = os.path.join(CORPORA, "json-schema-test-suite")
suite_values, suite_strings = [], []
for dp, dn, fn in sorted(os.walk(suite)):
    dn.sort()
    for name in sorted(fn):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(dp, name), encoding="utf-8") as f:
            doc = json.load(f)
        strings_in(doc, suite_strings)
        if isinstance(doc, list):
            for group in doc:
                if not isinstance(group, dict):
                    continue
                suite_values.append(group.get("schema"))
                for t in group.get("tests", []):
                    suite_values.append(t.get("data"))
rng.shuffle(suite_values)
n = 0
for v in suite_values:
    if n >= 260:
        break
    n += add("json-schema-test-suite", serialise(v), 800)

# ---------------------------------------------------------------- non-ASCII strings
# Every distinct string value/key of the two JSON corpora that has non-ASCII
# characters, grouped by the first non-ASCII character's script so that every
# script is represented; all non-NFC strings are kept.
def script_of(s):
    for c in s:
        if ord(c) > 127:
            try:
                return unicodedata.name(c).split()[0]
            except ValueError:
                return "UNNAMED"
    return "ASCII"


multi = sorted({s for s in bench_strings + suite_strings if has_non_ascii(s) and ok(s)})
for s in multi:
    if unicodedata.normalize("NFC", s) != s:
        add("non-nfc", s, 2000)
by_script = {}
for s in multi:
    by_script.setdefault(script_of(s), []).append(s)
for script in sorted(by_script):
    group = by_script[script]
    rng.shuffle(group)
    n = 0
    for s in group:
        if n >= 20:
            break
        n += add("non-ascii-string", s, 400)
# NFD forms of real accented strings (derived: the corpora have only a few
# non-NFC strings of their own).
accented = [s for s in multi if unicodedata.normalize("NFD", s) != s and len(s) < 200]
rng.shuffle(accented)
for s in accented[:30]:
    add("nfd-derived", unicodedata.normalize("NFD", s))

# ---------------------------------------------------------------- json-repair inputs
repair_inputs = []
with open(os.path.join(CORPORA, "json-repair", "cases.jsonl"), encoding="utf-8") as f:
    for line in f:
        repair_inputs.append(json.loads(line)["input"])
for s in repair_inputs:
    if has_non_ascii(s):
        add("json-repair-input", s, 1500)
rng.shuffle(repair_inputs)
n = 0
for s in repair_inputs:
    if n >= 150:
        break
    n += add("json-repair-input", s, 1500)

# ---------------------------------------------------------------- Spider SQL
queries, questions = [], []
with open(os.path.join(CORPORA, "sql", "spider", "queries.jsonl"), encoding="utf-8") as f:
    for line in f:
        row = json.loads(line)
        queries.append(row["query"])
        if row.get("question"):
            questions.append(row["question"])
queries = sorted(set(queries))
rng.shuffle(queries)
# queries with runs of spaces first: they exercise whitespace handling
spaced = [q for q in queries if "  " in q]
n = 0
for q in spaced[:80] + queries:
    if n >= 300:
        break
    n += add("spider-sql", q)
questions = sorted(set(questions))
rng.shuffle(questions)
for q in questions[:40]:
    add("spider-question", q)

# ---------------------------------------------------------------- grammars (code-like text)
gbnf_dir = os.path.join(CORPORA, "llguidance", "sample_parser_data", "from-llama.cpp")
for name in sorted(os.listdir(gbnf_dir)):
    if name.endswith(".gbnf"):
        with open(os.path.join(gbnf_dir, name), encoding="utf-8") as f:
            add("llama.cpp-gbnf", f.read(), 3000)

# ---------------------------------------------------------------- whitespace runs
for ch in [" ", "\t", "\n", "\r\n", "\u00a0", "\u3000"]:
    for k in [1, 2, 3, 4, 5, 7, 8, 12, 16, 17, 31, 32, 33, 64]:
        add("whitespace", ch * k)
for s in ["\n  \n", " \t \n", "\t\n\t\n", "\n\n  \t", "  \n    \n      ", " \r\n\r\n ",
          "x  \n", "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\nx",
          "{\n\t\t\t\"a\":\t1\n}", "   leading", "trailing   ", "  both  ", "a\tb\tc\n1\t2\t3\n"]:
    add("whitespace", s)
# real JSON instances re-indented with wide or mixed whitespace
for v in instances[:40]:
    text = json.dumps(v, indent=8, ensure_ascii=False)
    if rng.random() < 0.5:
        text = text.replace("        ", "\t ")
    add("whitespace-json", text + "\n\n", 1500)

# ---------------------------------------------------------------- write
total = 0
lines = []
for part, s in samples:
    line = json.dumps(s, ensure_ascii=False) + "\n"
    total += len(line.encode("utf-8"))
    lines.append(line)
assert total <= MAX_BYTES, f"{total} bytes is over the {MAX_BYTES}-byte budget"
with open(OUT, "w", encoding="utf-8", newline="\n") as f:
    f.writelines(lines)

counts = {}
for part, _ in samples:
    counts[part] = counts.get(part, 0) + 1
for part in sorted(counts):
    print(f"{part:28} {counts[part]:5}")
print(f"{'total':28} {len(samples):5} samples, {total} bytes -> {OUT}")
