"""Tokenizer.from_gguf on the default model (SmolLM2-135M-Instruct Q4_1), when
the CLI has cached it (skipped otherwise): the vocabulary rebuilt from the
GGUF metadata encodes and masks like the vendored tokenizer.json."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest
from conftest import DATA

import formwork


def cached_model() -> pathlib.Path | None:
    if os.environ.get("FORMWORK_CACHE"):
        cache = pathlib.Path(os.environ["FORMWORK_CACHE"])
    elif os.environ.get("XDG_CACHE_HOME"):
        cache = pathlib.Path(os.environ["XDG_CACHE_HOME"]) / "formwork"
    else:
        cache = pathlib.Path.home() / ".cache" / "formwork"
    path = cache / "smollm2-135m-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


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
