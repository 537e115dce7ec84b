"""Type stubs of formwork's native module (import ``formwork`` instead)."""

import os
from collections.abc import Sequence
from typing import Any

class FormworkError(Exception):
    """Base class of every error formwork raises."""

class GrammarError(FormworkError):
    """A grammar, regex or JSON Schema that cannot be built or compiled."""

class InvalidSchemaError(GrammarError):
    """A JSON Schema that is not valid JSON or not a schema."""

class UnsupportedSchemaError(GrammarError):
    """A JSON Schema keyword or shape formwork cannot enforce (see ``lenient=True``)."""

class TokenizerError(FormworkError):
    """A tokenizer that cannot be loaded or used."""

class MatcherError(FormworkError):
    """A matcher operation that failed (budget exceeded, rollback too far, ...)."""

class TokenIdError(MatcherError):
    """A token id outside the tokenizer's logits width."""

class TerminatedError(MatcherError):
    """An operation on a matcher that already accepted EOS."""

class BitmaskError(FormworkError):
    """A bitmask of the wrong shape, dtype or memory layout."""

class Tokenizer:
    """A tokenizer's vocabulary and what grammars compiled for it share."""

    @staticmethod
    def from_file(
        path: str | os.PathLike[str],
        *,
        eos_token_ids: Sequence[int] | None = None,
        vocab_size: int | None = None,
    ) -> Tokenizer:
        """Loads a Hugging Face ``tokenizer.json`` (plain or ``.json.gz``)."""
    @staticmethod
    def from_json(
        json: str,
        *,
        eos_token_ids: Sequence[int] | None = None,
        vocab_size: int | None = None,
    ) -> Tokenizer:
        """The tokenizer of a ``tokenizer.json`` given as a string."""
    @staticmethod
    def from_gguf(path: str | os.PathLike[str], *, vocab_size: int | None = None) -> Tokenizer:
        """The tokenizer stored in a GGUF file's metadata (byte-level BPE models)."""
    @staticmethod
    def from_transformers(hf_tokenizer: Any, vocab_size: int | None = None) -> Tokenizer:
        """The tokenizer of a ``transformers`` fast tokenizer."""
    @property
    def vocab_size(self) -> int:
        """Width of the logits vector (bitmask rows have ``ceil(vocab_size / 32)`` words)."""
    @property
    def num_tokens(self) -> int:
        """Number of token ids in the vocabulary."""
    @property
    def eos_token_ids(self) -> list[int]:
        """The end-of-sequence token ids."""
    def encode(self, text: str) -> list[int]:
        """The token ids of ``text``."""
    def token_bytes(self, id: int) -> bytes:
        """The bytes token ``id`` produces (empty for special tokens)."""

class Grammar:
    """A constraint, checked when it is made."""

    @staticmethod
    def json_schema(
        schema: str | dict[str, Any] | bool,
        *,
        whitespace: str = "compact",
        property_order: str = "schema",
        spelling: str = "any",
        max_whitespace: int | None = None,
        lenient: bool = False,
    ) -> Grammar:
        """Output valid for a JSON Schema (a str of JSON or a dict)."""
    @staticmethod
    def regex(pattern: str) -> Grammar:
        """Output that fully matches ``pattern``."""
    @staticmethod
    def pest(text: str, start: str | None = None) -> Grammar:
        """Output in the language of a pest grammar, from rule ``start``."""
    @staticmethod
    def gbnf(text: str, root: str = "root") -> Grammar:
        """Output in the language of a GBNF grammar (llama.cpp), from ``root``."""
    @staticmethod
    def lark(text: str) -> Grammar:
        """Output in the language of a Lark grammar, as llguidance reads it."""
    @staticmethod
    def ebnf(text: str, root: str = "root") -> Grammar:
        """Output in the language of an XGrammar EBNF grammar, from ``root``."""
    @staticmethod
    def structural_tag(tag: str | dict[str, Any]) -> Grammar:
        """Output following an XGrammar structural tag (tool calls in free text)."""
    @staticmethod
    def any_json() -> Grammar:
        """Any JSON value."""
    @staticmethod
    def choice(options: Sequence[str]) -> Grammar:
        """Exactly one of the given strings."""
    @property
    def warnings(self) -> list[tuple[str, str]]:
        """Keywords a lenient JSON Schema grammar left out: (JSON pointer, reason)."""

class CompiledGrammar:
    """A grammar compiled for one tokenizer; immutable and shareable."""

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer this grammar was compiled for."""

def compile(grammar: Grammar, tokenizer: Tokenizer) -> CompiledGrammar:
    """Compiles ``grammar`` for ``tokenizer`` (cached per tokenizer, GIL released)."""

class Matcher:
    """One sequence's state under a compiled grammar."""

    def __init__(self, compiled: CompiledGrammar, max_tokens: int | None = None) -> None:
        """A matcher at the start of ``compiled``. With ``max_tokens``, the
        masks steer the output to end, complete, within that many accepted
        tokens (near the limit only the shortest completion's next token is
        allowed): pass the engine's own ``max_tokens``."""
    def fill_next_token_bitmask(self, bitmask: Any, index: int = 0) -> None:
        """Writes the allowed next tokens into row ``index`` of an int32 bitmask, in place."""
    def accept_token(self, id: int) -> bool:
        """Accepts token ``id`` if allowed (True); False and no change otherwise."""
    def accept_tokens(self, ids: Sequence[int]) -> bool:
        """Accepts all of ``ids`` (True), or none of them (False)."""
    def rollback(self, num_tokens: int = 1) -> None:
        """Undoes the last ``num_tokens`` accepted tokens."""
    def is_terminated(self) -> bool:
        """True once EOS was accepted."""
    def is_accepting(self) -> bool:
        """True if the output so far is complete (EOS would be allowed)."""
    @property
    def num_accepted(self) -> int:
        """Number of tokens accepted (and not rolled back)."""
    def forced_tokens(self) -> list[int]:
        """Tokens that must come next whatever the model picks."""
    def forced_bytes(self) -> bytes:
        """The bytes every continuation must start with."""
    def jump_forward_string(self) -> str:
        """The text every continuation must start with."""
    def reset(self) -> None:
        """Back to the start of the grammar."""
    def copy(self) -> Matcher:
        """An independent copy in the current state."""
    @property
    def compiled(self) -> CompiledGrammar:
        """The compiled grammar this matcher follows."""

def fill_next_token_bitmask_batch(
    matchers: list[Matcher], bitmask: Any, indices: Sequence[int] | None = None
) -> None:
    """Fills one bitmask row per matcher, computing the masks in parallel."""

def _rust_mask_words(matcher: Matcher) -> list[int]: ...
def _panic_for_test() -> None: ...
