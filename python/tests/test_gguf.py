"""Tokenizer.from_gguf on the default model (SmolLM2-135M-Instruct Q4_1), when
the CLI has cached it (skipped otherwise): the vocabulary rebuilt from the
GGUF metadata encodes and masks like the vendored tokenizer.json."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA
from model_files import cached_model

import formwork


def test_from_gguf_matches_tokenizer_json():
    path = cached_model()
    if path is None:
        pytest.skip("the default model is not cached (run `formwork generate` once)")
    gguf = formwork.Tokenizer.from_gguf(path)
    json_tok = formwork.Tokenizer.from_file(
        DATA / "tokenizers" / "smollm2-135m-instruct" / "tokenizer.json.gz"
    )
    assert gguf.vocab_size == json_tok.vocab_size == 49152
    assert 2 in gguf.eos_token_ids
    text = '{"name": "héllo wörld", "n": [1, 2.5]}'
    assert gguf.encode(text) == json_tok.encode(text)
    masks = []
    for tok in (gguf, json_tok):
        m = formwork.Matcher(formwork.compile(formwork.Grammar.any_json(), tok))
        bm = formwork.allocate_token_bitmask(1, tok.vocab_size)
        m.accept_tokens(tok.encode('{"name": "h'))
        m.fill_next_token_bitmask(bm)
        masks.append(bm)
    assert np.array_equal(masks[0], masks[1])
