"""Builds tests/data/prompts.jsonl: (prompt, schema) pairs for the model prompt set.

Schemas come from JSONSchemaBench (../shared/corpora/jsonschemabench): GlaiveAI function-calling
parameter schemas (file name = function name) and BFCL ones. Each prompt is written from the
schema itself: the function's name, the descriptions of its parameters and one valid test
instance as the facts to fill in, so that a correct answer exists. Deterministic: sorted files,
fixed picks. Run: python3 tests/data/make_prompts.py ../shared/corpora/jsonschemabench > tests/data/prompts.jsonl
"""
import json, os, sys, hashlib

root = sys.argv[1]
out = []

def describe(schema):
    props = schema.get("properties", {})
    parts = []
    for k, v in props.items():
        d = v.get("description") if isinstance(v, dict) else None
        parts.append(f"{k} ({d})" if d else k)
    return ", ".join(parts)

def pick(split, n):
    files = sorted(f for f in os.listdir(os.path.join(root, split)) if f.endswith(".json"))
    # spread the picks over the split, deterministically
    files.sort(key=lambda f: hashlib.sha256(f.encode()).hexdigest())
    got = 0
    for f in files:
        d = json.load(open(os.path.join(root, split, f)))
        s = d["schema"]
        valid = [t["data"] for t in d.get("tests", []) if t.get("valid")]
        if not valid or not isinstance(s, dict) or s.get("type") != "object" or not s.get("properties"):
            continue
        text = json.dumps(s)
        if len(text) > 1500 or any(k in text for k in ('"$ref"', '"pattern"', '"format"', '"oneOf"', '"allOf"')):
            continue
        name = f.rsplit("_", 1)[0] if split == "Glaiveai2K" else f[:-5]
        facts = json.dumps(valid[0], ensure_ascii=False)
        if len(facts) > 300:
            continue
        prompt = (f"Fill in the arguments for the function `{name}`, whose parameters are: {describe(s)}. "
                  f"Use these facts: {facts}. Answer with the JSON arguments object only.")
        out.append({"id": f"{split}/{f}", "prompt": prompt, "schema": s})
        got += 1
        if got == n:
            break

pick("Glaiveai2K", 40)
pick("BFCL_simple", 12)
pick("BFCL_multiple", 8)
for o in out:
    print(json.dumps(o, ensure_ascii=False))
print(len(out), file=sys.stderr)
