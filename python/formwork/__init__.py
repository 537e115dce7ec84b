"""formwork: token bitmasks for structured LLM output.

Build a constraint (``Grammar``), compile it for a tokenizer (``compile``),
and keep one ``Matcher`` per sequence. Before each sampling step, write the
allowed tokens into an int32 bitmask (``Matcher.fill_next_token_bitmask``,
or ``fill_next_token_bitmask_batch`` for a whole batch in parallel), mask
the logits (``apply_token_bitmask_inplace``), sample, then
``Matcher.accept_token``. The bitmask layout is XGrammar's and
llguidance's: bit ``i % 32`` of word ``i // 32`` is token ``i``.

>>> import formwork
>>> tok = formwork.Tokenizer.from_file("tokenizer.json")  # doctest: +SKIP
>>> compiled = formwork.compile(formwork.Grammar.regex("[0-9]+"), tok)  # doctest: +SKIP
>>> m = formwork.Matcher(compiled)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._core import (
    BitmaskError,
    CompiledGrammar,
    FormworkError,
    Grammar,
    GrammarError,
    InvalidSchemaError,
    Matcher,
    MatcherError,
    TerminatedError,
    TokenIdError,
    Tokenizer,
    TokenizerError,
    UnsupportedSchemaError,
    compile,
    fill_next_token_bitmask_batch,
)

__all__ = [
    "BitmaskError",
    "CompiledGrammar",
    "FormworkError",
    "Grammar",
    "GrammarError",
    "InvalidSchemaError",
    "Matcher",
    "MatcherError",
    "TerminatedError",
    "TokenIdError",
    "Tokenizer",
    "TokenizerError",
    "UnsupportedSchemaError",
    "allocate_token_bitmask",
    "apply_token_bitmask_inplace",
    "bitmask_words",
    "compile",
    "fill_next_token_bitmask_batch",
]

__version__ = "0.1.0"


def bitmask_words(vocab_size: int) -> int:
    """Number of int32 words per bitmask row for a logits width of ``vocab_size``."""
    return (vocab_size + 31) // 32


def allocate_token_bitmask(batch_size: int, vocab_size: int) -> np.ndarray:
    """A ``[batch_size, ceil(vocab_size / 32)]`` int32 bitmask with every token allowed."""
    return np.full((batch_size, bitmask_words(vocab_size)), -1, dtype=np.int32)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


_SHIFTS = np.arange(32, dtype=np.uint32)


def apply_token_bitmask_inplace(logits: Any, bitmask: Any) -> None:
    """Sets the logits of disallowed tokens to ``-inf``, in place.

    ``logits`` is a float array (numpy, or a torch tensor on any device) of
    shape ``[batch, vocab]`` or ``[vocab]``; ``bitmask`` the matching int32
    bitmask of shape ``[batch, words]`` or ``[words]``. Logits beyond the
    bitmask's ``32 * words`` columns are left alone; bitmask bits beyond the
    logits' width are ignored.
    """
    if _is_torch(logits):
        _apply_torch(logits, bitmask)
        return
    logits_arr = logits
    mask = np.asarray(bitmask)
    if mask.dtype != np.int32:
        raise BitmaskError(f"the bitmask must have dtype int32, not {mask.dtype}")
    if logits_arr.ndim != mask.ndim or logits_arr.ndim not in (1, 2):
        raise BitmaskError(
            f"logits of shape {logits_arr.shape} do not match a bitmask of shape {mask.shape}"
        )
    if logits_arr.ndim == 2 and logits_arr.shape[0] != mask.shape[0]:
        raise BitmaskError(
            f"logits have {logits_arr.shape[0]} rows but the bitmask has {mask.shape[0]}"
        )
    width = min(logits_arr.shape[-1], 32 * mask.shape[-1])
    bits = (mask.view(np.uint32)[..., :, None] >> _SHIFTS) & 1
    allowed = bits.reshape(*mask.shape[:-1], -1)[..., :width].astype(bool)
    view = logits_arr[..., :width]
    view[~allowed] = -np.inf


def _apply_torch(logits: Any, bitmask: Any) -> None:
    import torch

    mask = bitmask if isinstance(bitmask, torch.Tensor) else torch.from_numpy(np.asarray(bitmask))
    if mask.dtype != torch.int32:
        raise BitmaskError(f"the bitmask must have dtype int32, not {mask.dtype}")
    mask = mask.to(logits.device)
    width = min(logits.shape[-1], 32 * mask.shape[-1])
    shifts = torch.arange(32, device=logits.device, dtype=torch.int32)
    bits = (mask.unsqueeze(-1) >> shifts) & 1
    allowed = bits.reshape(*mask.shape[:-1], -1)[..., :width].bool()
    logits[..., :width].masked_fill_(~allowed, float("-inf"))
