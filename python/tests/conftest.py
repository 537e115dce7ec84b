"""Shared fixtures: the vendored tokenizers and test data of the repository."""

from __future__ import annotations

import pathlib

import pytest

import formwork

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
GPT2 = DATA / "tokenizers" / "gpt2" / "tokenizer.json.gz"


@pytest.fixture(scope="session")
def gpt2() -> formwork.Tokenizer:
    """The vendored GPT-2 tokenizer."""
    return formwork.Tokenizer.from_file(GPT2)
