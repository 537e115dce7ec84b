"""Parity with Rust: the bitmask written from Python equals, bit for bit,
the words of the library's `Matcher::compute_mask` (returned by the hidden
native helper `formwork._core._rust_mask_words`), over at least 1,000
states of JSON, JSON Schema, regex and pest grammars walked token by token
along real texts (the vendored JSON-Schema-Test-Suite data values, regex
matches, pest-language texts). Each state is checked through both the
single-matcher and the batch entry point, and the text's own next token
must be set in the bitmask (bit i of word i // 32 is token i)."""

from __future__ import annotations

import json

import numpy as np
from conftest import DATA

import formwork
from formwork import _core

GRAMMARS = DATA.parent.parent / "grammars"

REGEX_CASES = [
    (r"\d{4}-\d{2}-\d{2}", ["2024-05-17", "1999-12-31", "0000-00-00"]),
    (r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}", ["ada.lovelace@example.com", "x_y+z@mail.co.uk"]),
    (r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}", ["192.168.0.1"]),
    (r"#[0-9a-fA-F]{6}", ["#a0B1c2", "#FFFFFF"]),
    (r"\(\d{3}\) \d{3}-\d{4}", ["(555) 123-4567"]),
    (r"(?i)hello,? (world|there)!*", ["Hello, World!!", "hello there"]),
    (r"[A-Z][a-z]+(?: [A-Z][a-z]+)*", ["The Quick Brown Fox Jumps Over"]),
    (r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?", ["-12.5e+3", "0", "314159"]),
    (r"(ab|cd)*e{2,5}", ["abcdabee", "eeeee"]),
    (r"[^\n]{0,40}\n", ["free text, with ünïcödé and emoji 🎉\n"]),
]

PEST_CASES = [
    ("arithmetic.pest", ["1 + 2 * (3 - 4.5) / sqrt(16)", "-max(1, 2) ^ 3", "abs(-7) * 2"]),
    ("csv.pest", ['name,age\nAda,36\n"Lovelace, A.",""\n', "a,b,c\n1,2,3"]),
    ("json.pest", ['{"a": [1, 2.5, true, null], "b": {"c": "d"}}', "[[], {}, -0.5e-3]"]),
    (
        "tool_call.pest",
        ['get_weather(city="Paris", days=3, metric=true)', 'search(q="x");stop()'],
    ),
]

SCHEMA_CASES = [
    (
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 20},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "age": {"type": "integer", "minimum": 0, "maximum": 150},
            },
            "required": ["name"],
        },
        ['{"name":"Ada","tags":["math","code"],"age":36}', '{"name":"x"}'],
    ),
    (
        {"type": "array", "items": {"enum": ["red", "green", 3, None]}, "uniqueItems": True},
        ['["red",3,null,"green"]'],
    ),
]


def walks(gpt2):
    """(family, compiled grammar, text) triples."""
    out = []
    any_json = formwork.compile(formwork.Grammar.any_json(), gpt2)
    lines = (DATA / "jsts_data.jsonl").read_text().splitlines()
    for line in lines[::4][:180]:
        out.append(("json", any_json, line))
    for pattern, texts in REGEX_CASES:
        c = formwork.compile(formwork.Grammar.regex(pattern), gpt2)
        out.extend(("regex", c, t) for t in texts)
    for name, texts in PEST_CASES:
        c = formwork.compile(formwork.Grammar.pest((GRAMMARS / name).read_text()), gpt2)
        out.extend(("pest", c, t) for t in texts)
    for schema, texts in SCHEMA_CASES:
        for ws in ("compact", "flexible"):
            g = formwork.Grammar.json_schema(json.dumps(schema), whitespace=ws)
            out.extend(("schema", formwork.compile(g, gpt2), t) for t in texts)
    return out


def bit(row: np.ndarray, token: int) -> bool:
    return bool((int(row.view(np.uint32)[token // 32]) >> (token % 32)) & 1)


def test_python_bitmask_equals_rust_mask(gpt2):
    words = formwork.bitmask_words(gpt2.vocab_size)
    single = np.full((2, words), -1, dtype=np.int32)
    batch = np.full((3, words), -1, dtype=np.int32)
    states: dict[str, int] = {}
    for family, compiled, text in walks(gpt2):
        m = formwork.Matcher(compiled)
        tokens = gpt2.encode(text)
        for i in range(len(tokens) + 1):
            rust = np.array(_core._rust_mask_words(m.copy()), dtype=np.uint32)
            single.fill(-1)
            m.fill_next_token_bitmask(single, 1)
            batch.fill(-1)
            formwork.fill_next_token_bitmask_batch([m.copy()], batch, [2])
            assert np.array_equal(single[1].view(np.uint32), rust), (text, i)
            assert np.array_equal(batch[2].view(np.uint32), rust), (text, i)
            assert (single[0] == -1).all() and (batch[:2] == -1).all()
            states[family] = states.get(family, 0) + 1
            if i < len(tokens):
                assert bit(single[1], tokens[i]), (text, i)
                assert m.accept_token(tokens[i]), (text, i)
            else:
                assert m.is_accepting(), text
                assert bit(single[1], gpt2.eos_token_ids[0]), text
    print(f"parity states: {states} total {sum(states.values())}")
    assert sum(states.values()) >= 1000, states
    assert all(states.get(f, 0) >= 50 for f in ("json", "regex", "pest", "schema")), states
