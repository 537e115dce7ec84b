"""The core API on the vendored GPT-2 tokenizer."""

from __future__ import annotations

import gzip
import json
import threading

import jsonschema
import numpy as np
import pytest
from conftest import DATA, GPT2

import formwork


def allowed(bitmask_row: np.ndarray) -> set[int]:
    """Token ids whose bit is set in one bitmask row."""
    bits = np.unpackbits(bitmask_row.view(np.uint8), bitorder="little")
    return set(np.flatnonzero(bits).tolist())


def test_tokenizer_properties(gpt2):
    assert gpt2.vocab_size == 50257
    assert gpt2.num_tokens == 50257
    assert gpt2.eos_token_ids == [50256]
    ids = gpt2.encode("Hello world")
    assert b"".join(gpt2.token_bytes(i) for i in ids) == b"Hello world"
    assert "50257" in repr(gpt2)


def test_tokenizer_from_json_and_wider_logits():
    text = gzip.decompress(GPT2.read_bytes()).decode()
    tok = formwork.Tokenizer.from_json(text, vocab_size=50304)
    assert tok.vocab_size == 50304 and tok.num_tokens == 50257
    m = formwork.Matcher(formwork.compile(formwork.Grammar.regex("[0-9]+"), tok))
    bm = formwork.allocate_token_bitmask(1, tok.vocab_size)
    assert bm.shape == (1, 1572)
    m.fill_next_token_bitmask(bm)
    ids = allowed(bm[0])
    assert ids and max(ids) < 50257
    # Padded ids are never allowed, but they are in range.
    assert m.accept_token(50300) is False
    with pytest.raises(formwork.TokenIdError):
        m.accept_token(50304)


def test_tokenizer_explicit_eos():
    tok = formwork.Tokenizer.from_file(GPT2, eos_token_ids=[198])
    assert tok.eos_token_ids == [198]


def test_from_transformers_duck_typed():
    """A stand-in with the attributes of a transformers fast tokenizer."""
    text = gzip.decompress(GPT2.read_bytes()).decode()

    class Backend:
        def to_str(self) -> str:
            return text

    class HF:
        backend_tokenizer = Backend()
        eos_token_id = 50256

    tok = formwork.Tokenizer.from_transformers(HF(), vocab_size=50260)
    assert tok.vocab_size == 50260 and tok.eos_token_ids == [50256]


def test_json_schema_walk(gpt2):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name", "age"],
    }
    compiled = formwork.compile(formwork.Grammar.json_schema(schema), gpt2)
    m = formwork.Matcher(compiled)
    doc = '{"name":"Ada","age":36}'
    bm = formwork.allocate_token_bitmask(1, gpt2.vocab_size)
    for t in gpt2.encode(doc):
        m.fill_next_token_bitmask(bm)
        assert t in allowed(bm[0])
        assert m.accept_token(t)
    assert m.is_accepting()
    m.fill_next_token_bitmask(bm)
    assert allowed(bm[0]) == {50256}
    assert m.accept_token(50256)
    assert m.is_terminated()
    jsonschema.validate(json.loads(doc), schema)


def test_schema_as_string_and_options(gpt2):
    schema = '{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}'
    for ws in ("compact", "flexible"):
        for order in ("schema", "any"):
            for spelling in ("any", "canonical"):
                g = formwork.Grammar.json_schema(
                    schema, whitespace=ws, property_order=order, spelling=spelling
                )
                m = formwork.Matcher(formwork.compile(g, gpt2))
                assert m.accept_tokens(gpt2.encode('{"a":1}'))
                assert m.is_accepting()
    flexible = formwork.Grammar.json_schema(schema, whitespace="flexible")
    m = formwork.Matcher(formwork.compile(flexible, gpt2))
    assert m.accept_tokens(gpt2.encode('{ "a" : 1 }'))
    compact = formwork.Matcher(formwork.compile(formwork.Grammar.json_schema(schema), gpt2))
    assert not compact.accept_tokens(gpt2.encode('{ "a" : 1 }'))
    assert compact.num_accepted == 0


def test_lenient_schema_warnings(gpt2):
    schema = {"type": "array", "items": {"type": "string", "pattern": "(?<=a)b"}}
    with pytest.raises(formwork.UnsupportedSchemaError):
        formwork.Grammar.json_schema(schema)
    g = formwork.Grammar.json_schema(schema, lenient=True)
    assert g.warnings and g.warnings[0][0] == "/items/pattern"
    m = formwork.Matcher(formwork.compile(g, gpt2))
    assert m.accept_tokens(gpt2.encode('["xyz"]'))


def test_forced_and_jump_forward(gpt2):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
    }
    g = formwork.Grammar.json_schema(schema, spelling="canonical")
    m = formwork.Matcher(formwork.compile(g, gpt2))
    assert m.jump_forward_string() == '{"name":"'
    assert m.forced_bytes() == b'{"name":"'
    forced = m.forced_tokens()
    assert forced and m.accept_tokens(forced)
    assert b'{"name":"'.startswith(b"".join(gpt2.token_bytes(t) for t in forced))
    # Any spelling: the key may be escaped, so only `{"` is forced.
    any_spelling = formwork.Matcher(formwork.compile(formwork.Grammar.json_schema(schema), gpt2))
    assert any_spelling.jump_forward_string() == '{"'


def test_regex_choice_pest_any_json(gpt2):
    cases = [
        (formwork.Grammar.regex(r"\d{4}-\d{2}-\d{2}"), "2024-05-17", "2024-5-17"),
        (formwork.Grammar.choice(["yes", "no", "a.b (c)"]), "a.b (c)", "maybe"),
        (formwork.Grammar.any_json(), '{"a": [1, 2.5e3, "x"]}', "{a}"),
        (
            formwork.Grammar.pest(
                (DATA.parent.parent / "grammars" / "arithmetic.pest").read_text()
            ),
            "1 + 2 * (3 - 4)",
            "1 + * 2",
        ),
    ]
    for grammar, good, bad in cases:
        compiled = formwork.compile(grammar, gpt2)
        m = formwork.Matcher(compiled)
        assert m.accept_tokens(gpt2.encode(good)), good
        assert m.is_accepting()
        m2 = formwork.Matcher(compiled)
        ok = m2.accept_tokens(gpt2.encode(bad))
        assert not (ok and m2.is_accepting()), bad


def test_gbnf_lark_ebnf_structural_tag(gpt2):
    tag = {
        "type": "structural_tag",
        "format": {
            "type": "triggered_tags",
            "triggers": ["<tool_call>"],
            "tags": [
                {
                    "type": "tag",
                    "begin": "<tool_call>",
                    "content": {
                        "type": "json_schema",
                        "json_schema": {
                            "type": "object",
                            "properties": {"q": {"type": "string"}},
                            "required": ["q"],
                        },
                    },
                    "end": "</tool_call>",
                }
            ],
        },
    }
    cases = [
        (
            formwork.Grammar.gbnf((DATA / "grammars" / "gbnf" / "arithmetic.gbnf").read_text()),
            "x+10=y\n",
            "x+=10\n",
        ),
        (
            formwork.Grammar.lark(
                'start: NUMBER ("," NUMBER)*\n%import common.NUMBER\n%ignore " "\n'
            ),
            "1, 2.5,3",
            "1,,2",
        ),
        (formwork.Grammar.ebnf('root ::= "id: " Regex("[0-9]{1,4}")'), "id: 42", "id: 12345"),
        (
            formwork.Grammar.structural_tag(tag),
            'Let me look. <tool_call>{"q": "rust"}</tool_call> Done.',
            'Let me look. <tool_call>{"x": 1}</tool_call>',
        ),
        (formwork.Grammar.structural_tag(json.dumps(tag)), "plain text", "<tool_call>oops"),
    ]
    for grammar, good, bad in cases:
        compiled = formwork.compile(grammar, gpt2)
        m = formwork.Matcher(compiled)
        assert m.accept_tokens(gpt2.encode(good)), good
        assert m.is_accepting(), good
        m2 = formwork.Matcher(compiled)
        ok = m2.accept_tokens(gpt2.encode(bad))
        assert not (ok and m2.is_accepting()), bad
    with pytest.raises(formwork.GrammarError, match="line 1"):
        formwork.Grammar.gbnf("root ::= [a-")
    with pytest.raises(formwork.GrammarError):
        formwork.Grammar.lark("start: <[12]>")


def test_accept_reject_rollback_reset_copy(gpt2):
    compiled = formwork.compile(formwork.Grammar.regex("(ab)+c"), gpt2)
    m = formwork.Matcher(compiled)
    assert m.accept_token(gpt2.encode("ab")[0])
    before = m.num_accepted
    assert m.accept_token(gpt2.encode("x")[0]) is False
    assert m.num_accepted == before
    c = m.copy()
    assert c.accept_tokens(gpt2.encode("c"))
    assert c.is_accepting() and not m.is_accepting()
    c.rollback(1)
    assert not c.is_accepting()
    with pytest.raises(formwork.MatcherError):
        c.rollback(10)
    m.reset()
    assert m.num_accepted == 0
    assert m.compiled.tokenizer.vocab_size == gpt2.vocab_size


def test_compile_cache_returns_shared_tables(gpt2):
    g1 = formwork.Grammar.regex("[a-z]{3,9}")
    g2 = formwork.Grammar.regex("[a-z]{3,9}")
    c1 = formwork.compile(g1, gpt2)
    c2 = formwork.compile(g2, gpt2)
    a, b = formwork.Matcher(c1), formwork.Matcher(c2)
    assert a.accept_tokens(gpt2.encode("hello")) and b.accept_tokens(gpt2.encode("hello"))


def test_batch_matches_single(gpt2):
    grammars = [
        formwork.Grammar.any_json(),
        formwork.Grammar.regex("[0-9]+"),
        formwork.Grammar.json_schema({"type": "array", "items": {"type": "boolean"}}),
    ]
    texts = ['{"k": [1,', "12", "[true,"]
    matchers = []
    for g, text in zip(grammars * 4, texts * 4):
        m = formwork.Matcher(formwork.compile(g, gpt2))
        assert m.accept_tokens(gpt2.encode(text))
        matchers.append(m)
    batch = formwork.allocate_token_bitmask(len(matchers), gpt2.vocab_size)
    formwork.fill_next_token_bitmask_batch(matchers, batch)
    single = np.zeros_like(batch)
    for i, m in enumerate(matchers):
        m.fill_next_token_bitmask(single, i)
    assert np.array_equal(batch, single)
    # Rows chosen by index.
    other = np.zeros((len(matchers) + 2, batch.shape[1]), dtype=np.int32)
    idx = list(range(2, len(matchers) + 2))
    formwork.fill_next_token_bitmask_batch(matchers, other, idx)
    assert np.array_equal(other[2:], batch) and not other[:2].any()


def test_batch_from_threads(gpt2):
    compiled = formwork.compile(formwork.Grammar.any_json(), gpt2)
    errors = []

    def work():
        try:
            m = formwork.Matcher(compiled)
            bm = formwork.allocate_token_bitmask(1, gpt2.vocab_size)
            for t in gpt2.encode('{"a": [1, 2, {"b": null}]}'):
                m.fill_next_token_bitmask(bm)
                assert m.accept_token(t)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_apply_token_bitmask_inplace_numpy(gpt2):
    m = formwork.Matcher(formwork.compile(formwork.Grammar.regex("[0-9]"), gpt2))
    bm = formwork.allocate_token_bitmask(2, gpt2.vocab_size)
    m.fill_next_token_bitmask(bm, 0)
    logits = np.zeros((2, gpt2.vocab_size), dtype=np.float32)
    formwork.apply_token_bitmask_inplace(logits, bm)
    finite = set(np.flatnonzero(np.isfinite(logits[0])).tolist())
    assert finite == allowed(bm[0]) and len(finite) == 10
    assert np.isfinite(logits[1]).all()  # an all-ones row allows everything
    one = np.zeros(gpt2.vocab_size, dtype=np.float32)
    formwork.apply_token_bitmask_inplace(one, bm[0])
    assert set(np.flatnonzero(np.isfinite(one)).tolist()) == finite


def test_torch_tensors_if_available(gpt2):
    torch = pytest.importorskip("torch")
    m = formwork.Matcher(formwork.compile(formwork.Grammar.regex("[0-9]"), gpt2))
    bm = torch.zeros((1, formwork.bitmask_words(gpt2.vocab_size)), dtype=torch.int32)
    m.fill_next_token_bitmask(bm)
    assert int((bm != 0).sum()) > 0
    logits = torch.zeros((1, gpt2.vocab_size))
    formwork.apply_token_bitmask_inplace(logits, bm)
    assert int(torch.isfinite(logits).sum()) == 10


def test_every_public_name_has_a_docstring():
    for name in formwork.__all__:
        obj = getattr(formwork, name)
        assert obj.__doc__, name
        for attr, value in vars(obj).items() if isinstance(obj, type) else []:
            if not attr.startswith("_"):
                assert getattr(value, "__doc__", None), f"{name}.{attr}"


def test_max_tokens_closes_the_output(gpt2):
    """A 'model' that never chooses to stop (it takes the allowed token with
    the highest id among those without a ``]``, else any, never EOS) still
    ends with complete output within max_tokens; without the limit it runs
    on."""
    schema = {"type": "array", "items": {"type": "number"}}
    compiled = formwork.compile(formwork.Grammar.json_schema(schema), gpt2)
    eos = set(gpt2.eos_token_ids)
    bitmask = formwork.allocate_token_bitmask(1, gpt2.vocab_size)

    def choose(allowed: list[int]) -> int:
        free = [t for t in allowed if t not in eos]
        going = [t for t in free if b"]" not in gpt2.token_bytes(t)]
        return max(going or free)

    def run(m: formwork.Matcher, steps: int) -> list[int]:
        out: list[int] = []
        for _ in range(steps):
            m.fill_next_token_bitmask(bitmask)
            bits = np.unpackbits(bitmask[0].view(np.uint8), bitorder="little")
            allowed = [int(t) for t in np.flatnonzero(bits)]
            if allowed == [next(iter(eos))]:
                break
            pick = choose(allowed)
            assert m.accept_token(pick)
            out.append(pick)
        return out

    for limit in (6, 24, 60):
        m = formwork.Matcher(compiled, max_tokens=limit)
        tokens = run(m, 200)
        assert len(tokens) <= limit
        assert m.is_accepting(), b"".join(gpt2.token_bytes(t) for t in tokens)
        json.loads(b"".join(gpt2.token_bytes(t) for t in tokens))
        # The batch call follows the same limit.
        ms = [formwork.Matcher(compiled, max_tokens=limit) for _ in range(2)]
        batch = formwork.allocate_token_bitmask(2, gpt2.vocab_size)
        for _ in range(limit + 1):
            formwork.fill_next_token_bitmask_batch(ms, batch)
            assert (batch[0] == batch[1]).all()
            bits = np.unpackbits(batch[0].view(np.uint8), bitorder="little")
            allowed = [int(t) for t in np.flatnonzero(bits)]
            if set(allowed) <= eos:
                break
            pick = choose(allowed)
            for mm in ms:
                assert mm.accept_token(pick)
        assert all(mm.is_accepting() for mm in ms)
    unlimited = formwork.Matcher(compiled)
    assert len(run(unlimited, 100)) == 100 and not unlimited.is_accepting()
