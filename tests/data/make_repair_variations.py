#!/usr/bin/env python3
"""Generate variations of broken JSON, by kind, with the answers of the two
reference repair libraries, for `tests/repair.rs` (`agreement_with_json_repair`).

    pip install json-repair==0.64.6      # the reference (PyPI)
    (cd /tmp && npm install jsonrepair@3.14.1)   # optional second reference
    python3 tests/data/make_repair_variations.py [--seed N] [--per-kind N] \
        [--jsonrepair-dir /tmp/node_modules/jsonrepair] [--out tests/data/repair_variations.jsonl.gz]

Deterministic for a given seed and library versions. Each output line is
`{"kind", "input", "json_repair", "jsonrepair"}` where `json_repair` is the
exact output string of `json_repair.repair_json(input)` ("" means it found
nothing to salvage) and `jsonrepair` is `{"ok": text}` or `{"error": message}`
from the JS library (or null when it was not run).

Inputs whose json_repair output is not strict JSON (NaN, Infinity) are left
out, and so are inputs json_repair raises on; the script prints how many.

The kinds (see issue #18, section 3):

* `fenced`        1-4 Markdown code blocks (language tags, prose between).
* `empty_value`   `{"k": }`, `{"k": , "k2": 1}`, `[1, , 2]` at several places.
* `escape_cut`    text cut inside a string escape (`\\`, `\\u12`, `\\n`, ...).
* `number_quote`  a number followed by a stray quote inside a container.
* `top_tail`      a value followed by `, []`, another document, NDJSON.
* `prose`         prose with no JSON in it, and prose around one JSON value.
* `error`         inputs of the kinds jsonrepair rejects (no key before `:`,
                  a key followed by what cannot start a value, NUL, a stray
                  bracket after prose); only those jsonrepair does reject.
* `general`       random valid JSON damaged by the edits the two suites cover
                  (truncation, single quotes, unquoted keys, trailing commas,
                  comments, Python literals, missing commas or brackets).
* `schema`        objects with missing, extra and loosely typed properties
                  (in prose, fences, `[...]`, after another document) against
                  five schemas, in `standard` and `salvage` mode; rows carry
                  `schema` and `mode`, and `json_repair` is null with `error`
                  set where json_repair refuses (ValueError).
"""

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys

WORDS = [
    "name", "age", "city", "id", "tags", "items", "value", "score", "status", "type",
    "title", "data", "list", "count", "price", "user", "email", "note", "active", "meta",
    "first_name", "lastName", "zip", "lat", "lon", "level", "kind", "key", "k2", "results",
]
TEXT = [
    "Ada", "New York", "hello world", "x", "", "a b c", "São Paulo", "東京", "ok!",
    "it's fine", "50%", "v1.2.3", "C:/temp", "line one", "done.", "yes", "No", "N/A",
    "#tag", "a-b_c", "don't", "50 kg", "e", "z", "total: 3",
]
SENTENCES = [
    "Here is the JSON you asked for:",
    "Sure! Here's the result.",
    "I can't be sure, but this should work:",
    "Output:",
    "The answer is below.",
    "Let me know if you need anything else.",
    "Note: the values are estimates.",
    "Hope this helps!",
    "This is the second part",
    "And here's another one:",
    "As requested, two objects.",
    "I've formatted it nicely",
    "Result 2:",
    "That's all.",
]
PROSE = [
    "Sorry, I can't help with that.",
    "hello",
    "hello world",
    "I don't know the answer",
    "The user's name is Ada and she's 36",
    "42 is the answer",
    "3 apples and 2 oranges",
    "- first item\n- second item",
    "# Result\nNothing found",
    "Yes",
    "no",
    "maybe later",
    "It's 5 o'clock somewhere",
    "Here is the answer: it depends.",
    "I said \"yes\" and she said \"no\"",
    "The value is 'unknown'",
    "As an AI language model, I cannot do that.",
    "ok",
    "Unfortunately there is no data for this request",
    "Ada Lovelace was born in 1815 and died in 1852",
    "Error: timeout after 30s",
    "null pointer exception happened",
    "You're welcome! Let me know if there's anything else.",
    "My favourite numbers are 3, 7 and 42",
    "Step 1: read the input. Step 2: parse it.",
    "We're out of stock; try again tomorrow",
    "Thanks",
    "The 'name' field is required",
    "I think the \"best\" option is the second one",
]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def choice(self, xs):
        return self.r.choice(xs)

    def scalar(self):
        k = self.r.randrange(8)
        if k == 0:
            return self.r.randrange(-1000, 100000)
        if k == 1:
            return round(self.r.uniform(-500, 500), self.r.randrange(1, 4))
        if k == 2:
            return self.r.choice([True, False])
        if k == 3:
            return None
        return self.choice(TEXT)

    def value(self, depth=0, kind=None):
        kind = kind or self.r.choice(["obj", "obj", "arr", "scalar"] if depth < 3 else ["scalar"])
        if kind == "scalar":
            return self.scalar()
        if kind == "arr":
            return [self.value(depth + 1) for _ in range(self.r.randrange(0, 4))]
        keys = self.r.sample(WORDS, self.r.randrange(1, 5))
        return {k: self.value(depth + 1) for k in keys}

    def container(self, depth=0):
        return self.value(depth, self.r.choice(["obj", "obj", "arr"]))

    def dumps(self, v):
        style = self.r.randrange(4)
        if style == 0:
            return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        if style == 1:
            return json.dumps(v, ensure_ascii=False)
        if style == 2:
            return json.dumps(v, indent=2, ensure_ascii=False)
        return json.dumps(v, indent=4, ensure_ascii=self.r.random() < 0.5)

    # -- kinds ------------------------------------------------------------

    def fenced(self):
        n = self.r.randrange(1, 5)
        parts = []
        if self.r.random() < 0.7:
            parts.append(self.choice(SENTENCES))
        for i in range(n):
            tag = self.choice(["json", "json", "JSON", "", "", "js", "python", "jsonc", "json5"])
            body = self.dumps(self.container())
            if self.r.random() < 0.2:
                body = self.damage_light(body)
            sep = self.choice(["\n", "\n", " "])
            parts.append("```" + tag + sep + body + sep + "```")
            if i + 1 < n and self.r.random() < 0.8:
                parts.append(self.choice(SENTENCES))
        if self.r.random() < 0.5:
            parts.append(self.choice(SENTENCES))
        return self.choice(["\n", "\n\n", " "]).join(parts)

    def damage_light(self, text):
        k = self.r.randrange(3)
        if k == 0 and text.rstrip().endswith(("}", "]")):
            t = text.rstrip()
            return t[:-1] + "," + t[-1]
        if k == 1:
            return text.replace('"', "'")
        return text.rstrip()[:-1]  # missing last bracket

    def empty_value(self):
        if self.r.random() < 0.25:
            # arrays with holes
            items = [json.dumps(self.scalar(), ensure_ascii=False) for _ in range(self.r.randrange(1, 5))]
            pos = self.r.randrange(len(items) + 1)
            items.insert(pos, self.choice(["", " ", "  "]))
            text = "[" + self.choice([",", ", "]).join(items) + "]"
            if self.r.random() < 0.4:
                text = json.dumps({self.choice(WORDS): "x"})[:-1] + ', "' + self.choice(WORDS) + '_l": ' + text + "}"
            return text
        keys = self.r.sample(WORDS, self.r.randrange(1, 5))
        empties = set(self.r.sample(range(len(keys)), self.r.randrange(1, min(2, len(keys)) + 1)))
        sep = self.choice([", ", ",", ",\n  "])
        members = []
        for i, k in enumerate(keys):
            if i in empties:
                members.append('"%s":%s' % (k, self.choice(["", " ", "  ", "\n", "\t"])))
            else:
                v = self.value(2) if self.r.random() < 0.3 else self.scalar()
                members.append('"%s": %s' % (k, json.dumps(v, ensure_ascii=False)))
        end = self.choice(["}", "}", " }", "\n}", ",}", ""])
        text = "{" + sep.join(members) + end
        if self.r.random() < 0.3:
            outer = self.choice(WORDS)
            text = '{"%s": %s%s' % (outer, text, self.choice(["}", ", \"z\": 1}", ""]))
        if self.r.random() < 0.15:
            text = "[" + text + "]"
        return text

    def escape_cut(self):
        escapes = ["\\", "\\u", "\\u1", "\\u12", "\\u123", "\\u00e", "\\n", "\\t", '\\"', "\\\\", "\\/"]
        esc = self.choice(escapes)
        head = self.choice(["val", "a b", "", "path", "line 1", "C:", "x y z", "naïve"])
        where = self.r.randrange(5)
        key = self.choice(WORDS)
        if where == 0:
            return '{"%s": "%s%s' % (key, head, esc)
        if where == 1:
            pre = json.dumps({k: self.scalar() for k in self.r.sample(WORDS, self.r.randrange(1, 3))}, ensure_ascii=False)[:-1]
            return pre + ', "%s": "%s%s' % (key, head, esc)
        if where == 2:
            items = ", ".join(json.dumps(self.scalar(), ensure_ascii=False) for _ in range(self.r.randrange(0, 3)))
            return "[" + items + (", " if items else "") + '"%s%s' % (head, esc)
        if where == 3:
            return '{"%s": {"%s": ["%s%s' % (key, self.choice(WORDS), head, esc)
        return '{"%s%s' % (head or "k", esc)

    def number(self):
        k = self.r.randrange(6)
        if k == 0:
            return str(self.r.randrange(0, 100000))
        if k == 1:
            return str(-self.r.randrange(1, 100000))
        if k == 2:
            return "%d.%d" % (self.r.randrange(-99, 1000), self.r.randrange(0, 1000))
        if k == 3:
            return "%de%s%d" % (self.r.randrange(1, 99), self.choice(["", "+", "-"]), self.r.randrange(0, 20))
        if k == 4:
            return "%d.%dE%d" % (self.r.randrange(1, 9), self.r.randrange(0, 99), self.r.randrange(0, 9))
        return "0.%d" % self.r.randrange(0, 1000)

    def number_quote(self):
        num = self.number()
        q = self.choice(['"', '"', "'"])
        where = self.r.randrange(4)
        key = self.choice(WORDS)
        other = json.dumps({k: self.scalar() for k in self.r.sample(WORDS, self.r.randrange(0, 3)) if k != key}, ensure_ascii=False)
        rest = other[1:-1]
        if where == 0:
            tail = self.choice(["}", " }", ", " + rest + "}" if rest else "}", "\n}"])
            return '{"%s": %s%s%s' % (key, num, q, tail)
        if where == 1:
            pre = (rest + ", ") if rest else ""
            return '{%s"%s": %s%s}' % (pre, key, num, q)
        if where == 2:
            items = [json.dumps(self.scalar(), ensure_ascii=False) for _ in range(self.r.randrange(0, 3))]
            pos = self.r.randrange(len(items) + 1)
            items.insert(pos, num + q)
            return "[" + ", ".join(items) + "]"
        return '{"%s": {"%s": %s%s}}' % (key, self.choice(WORDS), num, q)

    def top_tail(self):
        first = self.container()
        a = self.dumps(first) if self.r.random() < 0.5 else json.dumps(first, ensure_ascii=False)
        k = self.r.randrange(7)
        sep = self.choice([", ", ",", "\n", " ", "", ",\n", "\n\n"])
        if k == 0:
            tail = self.choice(["[]", "{}", '""', "[ ]"])
        elif k == 1:
            # same shape, other values
            second = self.reshape(first)
            tail = json.dumps(second, ensure_ascii=False)
        elif k == 2:
            tail = json.dumps(self.container(), ensure_ascii=False)
        elif k == 3:
            lines = [json.dumps(self.container(), ensure_ascii=False) for _ in range(self.r.randrange(1, 4))]
            return "\n".join([json.dumps(first, ensure_ascii=False)] + lines) + self.choice(["", "\n"])
        elif k == 4:
            tail = json.dumps(self.scalar(), ensure_ascii=False)
        elif k == 5:
            tail = ""
            sep = self.choice([",", ", ", ",\n"])
        else:
            tail = self.choice(["[]", "{}"]) + sep + json.dumps(self.container(), ensure_ascii=False)
        return a + sep + tail

    def reshape(self, v):
        if isinstance(v, dict):
            return {k: self.reshape(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.reshape(x) for x in v]
        if isinstance(v, bool):
            return not v
        if isinstance(v, int):
            return v + 1
        if isinstance(v, float):
            return v + 1.5
        if isinstance(v, str):
            return v + "2"
        return v

    def prose(self):
        k = self.r.randrange(10)
        if k < 5:
            n = self.r.randrange(1, 3)
            return " ".join(self.choice(PROSE) for _ in range(n)) + self.choice(["", "\n", ".", "!"])
        if k == 5:
            return self.choice(PROSE).lower().replace(" ", self.choice([" ", "  ", "\n"]))
        # prose around one JSON value
        v = self.container()
        body = self.dumps(v) if self.r.random() < 0.6 else self.damage_light(self.dumps(v))
        before = self.choice(PROSE + SENTENCES)
        after = self.choice(["", "", " " + self.choice(PROSE), "\n" + self.choice(SENTENCES)])
        return before + self.choice([" ", "\n", ": ", ":\n"]) + body + after

    def error(self):
        k = self.r.randrange(6)
        key = self.choice(WORDS)
        v = json.dumps(self.scalar(), ensure_ascii=False)
        if k == 0:  # a member with no key
            pre = self.choice(["", '"%s": 1, ' % self.choice(WORDS)])
            return "{" + pre + self.choice([":", " :", ": "]) + v + "}"
        if k == 1:  # a key followed by what cannot start a value
            return '{"%s"%s%s' % (key, self.choice([" ", "", "  "]), self.choice(["]", " ]", "]}", ")"]))
        if k == 2:  # a raw NUL or other binary control character inside
            s = json.dumps({key: self.choice(TEXT) + "@" + self.choice(TEXT)}, ensure_ascii=False)
            return s.replace("@", self.choice(["\x00", "\x01", "\x1b", "\x1f", "\x07"]))
        if k == 3:  # prose then a stray bracket
            return self.choice(PROSE) + " " + self.choice(["[", "{", "[ ", "{ "])
        if k == 4:  # invalid \u escape inside a string with text after it
            return '{"%s": "ab\\u%s%s cd"}' % (key, self.choice(["", "1", "12", "z", "12g"]), self.choice(["x", "!", " "]))
        return '["%s", %s' % (self.choice(TEXT), self.choice([":", ": 1]", ":]"]))

    def general(self):
        v = self.container()
        text = self.dumps(v)
        for _ in range(self.r.randrange(1, 4)):
            text = self.edit(text)
        return text

    def edit(self, text):
        k = self.r.randrange(9)
        if k == 0 and len(text) > 2:  # truncate
            return text[: self.r.randrange(1, len(text))]
        if k == 1:  # single quotes
            return text.replace('"', "'")
        if k == 2:  # unquoted keys
            return re.sub(r'"([A-Za-z_][A-Za-z_0-9]*)"(\s*):', r"\1\2:", text)
        if k == 3:  # trailing comma
            return re.sub(r"(\S)(\s*)([}\]])", lambda m: m.group(1) + ("," if m.group(1) not in "[{," else "") + m.group(2) + m.group(3), text, count=1)
        if k == 4:  # comment
            lines = text.split("\n")
            i = self.r.randrange(len(lines))
            lines[i] = lines[i] + self.choice([" // note", " /* c */", " # x"])
            return "\n".join(lines)
        if k == 5:  # Python literals
            return text.replace("true", "True").replace("false", "False").replace("null", "None")
        if k == 6:  # missing comma
            i = text.find(",")
            return text if i < 0 else text[:i] + text[i + 1 :]
        if k == 7:  # missing closing bracket
            t = text.rstrip()
            return t[:-1] if t and t[-1] in "}]" else t
        # missing closing quote on one string
        i = text.rfind('"')
        return text if i < 0 else text[:i] + text[i + 1 :]


    # -- schema-guided repair ------------------------------------------

    def schema_case(self):
        """An input, a schema and a mode for `repair_json(..., schema=...)`."""
        schema = self.choice(SCHEMAS)
        props = schema.get("properties", {})
        obj = {}
        for k, p in props.items():
            if self.r.random() < 0.25:
                continue  # missing
            obj[k] = self.loose_value(p)
        if self.r.random() < 0.3:
            obj[self.choice(["extra", "note", "x"])] = self.scalar()
        text = json.dumps(obj, ensure_ascii=False)
        k = self.r.randrange(6)
        if k == 1:
            text = self.damage_light(text)
        elif k == 2:
            text = "[" + text + "]"
        elif k == 3:
            text = self.choice(SENTENCES) + "\n```json\n" + text + "\n```"
        elif k == 4:
            text = json.dumps({self.choice(["b", "c"]): 1}) + "\n" + text
        elif k == 5:
            text = text.replace('"', "'")
        return text, schema, self.choice(["standard", "salvage"])

    def loose_value(self, p):
        """A value for property schema `p`, right, loosely typed or wrong."""
        t = p.get("type")
        roll = self.r.random()
        if "enum" in p:
            return self.choice(p["enum"] + ["other"])
        if t == "integer":
            return self.choice([self.r.randrange(0, 99), str(self.r.randrange(0, 99)), 3.0, "many", None, True])
        if t == "number":
            return self.choice([1.5, "2.5", "x", None, 7])
        if t == "boolean":
            return self.choice([True, False, "yes", "no", "true", 1, 0, "maybe", None])
        if t == "string":
            return self.choice(["Ada", 42, True, None, "", ["a"]])
        if t == "array":
            return self.choice([["a", "b"], "a", '["a", "b"]', [], None, [1]])
        if t == "object":
            return self.choice([{"k": "v"}, '{"k": "v"}', [], "x", None])
        return self.scalar() if roll < 0.5 else None


SCHEMAS = [
    {"type": "object", "required": ["name", "age"],
     "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}},
    {"type": "object", "required": ["id", "tags"], "additionalProperties": False,
     "properties": {"id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}},
    {"type": "object", "required": ["ok", "level"],
     "properties": {"ok": {"type": "boolean"}, "level": {"enum": ["low", "high"]},
                    "score": {"type": "number", "default": 0.5}}},
    {"type": "object", "required": ["user"],
     "properties": {"user": {"type": "object", "required": ["email"],
                             "properties": {"email": {"type": "string"}, "age": {"type": "integer"}}},
                    "meta": {"type": "object"}}},
    {"type": "object", "required": ["title", "items"],
     "properties": {"title": {"type": "string", "default": "untitled"},
                    "items": {"type": "array", "items": {"type": "integer"}}}},
]


KINDS = ["fenced", "empty_value", "escape_cut", "number_quote", "top_tail", "prose", "error", "general"]


def run_jsonrepair(inputs, jsdir):
    if not jsdir:
        return [None] * len(inputs)
    script = r"""
const {jsonrepair} = require(process.argv[1]);
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(l => l.length);
const out = [];
for (const l of lines) {
  const s = JSON.parse(l);
  try { out.push(JSON.stringify({ok: jsonrepair(s)})); }
  catch (e) { out.push(JSON.stringify({error: e.message})); }
}
process.stdout.write(out.join('\n') + '\n');
"""
    p = subprocess.run(["node", "-e", script, os.path.abspath(jsdir)],
                       input="\n".join(json.dumps(s) for s in inputs) + "\n",
                       capture_output=True, text=True, check=True)
    return [json.loads(l) for l in p.stdout.splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--per-kind", type=int, default=800)
    ap.add_argument("--jsonrepair-dir", default=None)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "repair_variations.jsonl.gz"))
    a = ap.parse_args()
    import json_repair
    from importlib.metadata import version
    jr_version = version("json-repair")
    g = Gen(a.seed)
    rows, dropped, seen = [], 0, set()
    for kind in KINDS:
        made, tries = 0, 0
        # Some error-kind inputs are repaired by jsonrepair and left out below.
        want = a.per_kind * 2 if kind == "error" else a.per_kind
        while made < want and tries < want * 20:
            tries += 1
            text = getattr(g, kind)()
            if (kind, text) in seen:
                continue
            seen.add((kind, text))
            try:
                out = json_repair.repair_json(text)
                if out != "":
                    json.loads(out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
            except Exception:
                dropped += 1
                continue
            rows.append({"kind": kind, "input": text, "json_repair": out})
            made += 1
    # Schema-guided repair: json_repair's value, or its refusal (ValueError).
    made = 0
    while made < a.per_kind:
        text, schema, mode = g.schema_case()
        if ("schema", text, json.dumps(schema), mode) in seen:
            continue
        seen.add(("schema", text, json.dumps(schema), mode))
        try:
            out = json_repair.repair_json(text, schema=schema, schema_repair_mode=mode)
            err = None
        except ValueError as e:
            out, err = None, str(e)
        rows.append({"kind": "schema", "input": text, "schema": schema, "mode": mode,
                     "json_repair": out, "error": err})
        made += 1
    js = run_jsonrepair([r["input"] for r in rows], a.jsonrepair_dir)
    kept = []
    for r, j in zip(rows, js):
        r["jsonrepair"] = j
        # The error kind keeps only inputs the JS library does reject.
        if r["kind"] == "error" and (j is None or "error" not in j):
            continue
        kept.append(r)
    rows = kept
    with gzip.GzipFile(a.out, "wb", mtime=0) as f:
        for r in rows:
            f.write((json.dumps(r, ensure_ascii=False) + "\n").encode())
    counts = {}
    for r in rows:
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    print(f"json_repair {jr_version}: {len(rows)} variations {counts}; {dropped} left out "
          "(json_repair raised or wrote non-JSON)", file=sys.stderr)


if __name__ == "__main__":
    main()
