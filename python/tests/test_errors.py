"""Each misuse raises a clear exception of the FormworkError hierarchy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA

import formwork


def test_hierarchy():
    for cls in (
        formwork.GrammarError,
        formwork.TokenizerError,
        formwork.MatcherError,
        formwork.BitmaskError,
    ):
        assert issubclass(cls, formwork.FormworkError)
    assert issubclass(formwork.UnsupportedSchemaError, formwork.GrammarError)
    assert issubclass(formwork.InvalidSchemaError, formwork.GrammarError)
    assert issubclass(formwork.TokenIdError, formwork.MatcherError)
    assert issubclass(formwork.TerminatedError, formwork.MatcherError)


@pytest.mark.parametrize(
    "schema",
    ['{"type": "object", "properties": ', {"type": 12}, {"minimum": "three"}],
)
def test_invalid_schema(schema):
    with pytest.raises(formwork.InvalidSchemaError) as e:
        formwork.Grammar.json_schema(schema)
    assert str(e.value)


def test_unsupported_keyword():
    with pytest.raises(formwork.UnsupportedSchemaError, match="pattern"):
        formwork.Grammar.json_schema({"type": "string", "pattern": "(?<=a)b"})


def test_bad_regex_and_pest():
    with pytest.raises(formwork.GrammarError, match="invalid regex"):
        formwork.Grammar.regex("(unclosed")
    with pytest.raises(formwork.GrammarError, match="pest"):
        formwork.Grammar.pest("a = { ")
    with pytest.raises(formwork.GrammarError):
        formwork.Grammar.pest('a = { "x" }', start="nope")
    with pytest.raises(formwork.GrammarError):
        formwork.Grammar.choice([])
    with pytest.raises(formwork.GrammarError, match="whitespace"):
        formwork.Grammar.json_schema({}, whitespace="lots")


def test_bad_tokenizer(tmp_path):
    with pytest.raises(formwork.TokenizerError, match="cannot read"):
        formwork.Tokenizer.from_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(formwork.TokenizerError):
        formwork.Tokenizer.from_file(bad)
    with pytest.raises(formwork.TokenizerError, match="smaller"):
        formwork.Tokenizer.from_file(
            DATA / "tokenizers" / "gpt2" / "tokenizer.json.gz", vocab_size=100
        )
    with pytest.raises(formwork.TokenizerError):
        formwork.Tokenizer.from_gguf(bad)


def test_token_id_out_of_range(gpt2):
    m = formwork.Matcher(formwork.compile(formwork.Grammar.regex("[a-z]+"), gpt2))
    for bad in (gpt2.vocab_size, 10**9, -1):
        with pytest.raises(formwork.TokenIdError, match="outside the logits width"):
            m.accept_token(bad)
        with pytest.raises(formwork.TokenIdError):
            m.accept_tokens([gpt2.encode("a")[0], bad])
    assert m.num_accepted == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda w: np.zeros((1, w - 1), dtype=np.int32),
        lambda w: np.zeros((1, w + 1), dtype=np.int32),
        lambda w: np.zeros((1, 1, w), dtype=np.int32),
        lambda w: np.zeros((1, w), dtype=np.int64),
        lambda w: np.zeros((1, w), dtype=np.uint32),
        lambda w: np.zeros((1, w), dtype=np.float32),
        lambda w: np.zeros((w, 2), dtype=np.int32).T,
        lambda w: [[0] * w],
    ],
    ids=["narrow", "wide", "3d", "int64", "uint32", "float32", "strided", "list"],
)
def test_bitmask_wrong_shape_or_dtype(gpt2, make):
    m = formwork.Matcher(formwork.compile(formwork.Grammar.regex("[a-z]+"), gpt2))
    words = formwork.bitmask_words(gpt2.vocab_size)
    with pytest.raises(formwork.BitmaskError):
        m.fill_next_token_bitmask(make(words))
    with pytest.raises(formwork.BitmaskError):
        formwork.fill_next_token_bitmask_batch([m], make(words))


def test_bitmask_bad_index_and_read_only(gpt2):
    m = formwork.Matcher(formwork.compile(formwork.Grammar.regex("[a-z]+"), gpt2))
    bm = formwork.allocate_token_bitmask(2, gpt2.vocab_size)
    with pytest.raises(formwork.BitmaskError, match="outside"):
        m.fill_next_token_bitmask(bm, 2)
    with pytest.raises(formwork.BitmaskError, match="outside"):
        formwork.fill_next_token_bitmask_batch([m], bm, [5])
    bm.setflags(write=False)
    with pytest.raises(formwork.BitmaskError, match="read-only"):
        m.fill_next_token_bitmask(bm)


def test_use_after_terminated(gpt2):
    m = formwork.Matcher(formwork.compile(formwork.Grammar.regex("ok"), gpt2))
    assert m.accept_tokens(gpt2.encode("ok"))
    assert m.accept_token(gpt2.eos_token_ids[0])
    assert m.is_terminated()
    bm = formwork.allocate_token_bitmask(1, gpt2.vocab_size)
    with pytest.raises(formwork.TerminatedError, match="terminated"):
        m.accept_token(gpt2.encode("ok")[0])
    with pytest.raises(formwork.TerminatedError):
        m.accept_tokens(gpt2.encode("ok"))
    with pytest.raises(formwork.TerminatedError):
        m.fill_next_token_bitmask(bm)
    with pytest.raises(formwork.TerminatedError):
        formwork.fill_next_token_bitmask_batch([m], bm)
    # Rolling back the EOS brings it back to life.
    m.rollback(1)
    assert not m.is_terminated()
    m.fill_next_token_bitmask(bm)


def test_eos_before_complete_is_refused(gpt2):
    m = formwork.Matcher(formwork.compile(formwork.Grammar.regex("ok"), gpt2))
    assert m.accept_token(gpt2.eos_token_ids[0]) is False
    assert not m.is_terminated()


def test_same_matcher_twice_in_batch(gpt2):
    m = formwork.Matcher(formwork.compile(formwork.Grammar.regex("[a-z]+"), gpt2))
    bm = formwork.allocate_token_bitmask(2, gpt2.vocab_size)
    with pytest.raises(formwork.MatcherError, match="twice"):
        formwork.fill_next_token_bitmask_batch([m, m], bm)


def test_panic_becomes_formwork_error():
    with pytest.raises(formwork.FormworkError, match="internal error"):
        formwork._core._panic_for_test()
