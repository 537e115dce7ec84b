"""formwork inside llama-cpp-python: a logits processor for
``Llama.create_completion`` and ``Llama.create_chat_completion``
(``logits_processor=``).

>>> from llama_cpp import Llama, LogitsProcessorList  # doctest: +SKIP
>>> from formwork import Grammar, compile  # doctest: +SKIP
>>> from formwork.llama_cpp import LogitsProcessor, tokenizer_for  # doctest: +SKIP
>>> llm = Llama(model_path="model.gguf")  # doctest: +SKIP
>>> compiled = compile(Grammar.json_schema(schema), tokenizer_for(llm))  # doctest: +SKIP
>>> out = llm.create_chat_completion(messages, logits_processor=LogitsProcessorList([LogitsProcessor(compiled)]))  # doctest: +SKIP

llama-cpp-python calls the processor once per sampled token with every
token in the context so far (the prompt, then the generated tokens) and the
next token's logits, a float32 numpy vector it masks in place. The processor
tells the prompt from the output by where its first call starts; a call
whose tokens do not continue the previous call's (another completion)
starts over with a fresh matcher. Generation stops at the EOS the grammar
allows once the output is complete. Use one processor per completion: it is
cheap (the compiled grammar is shared).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import (
    CompiledGrammar,
    Matcher,
    Tokenizer,
    allocate_token_bitmask,
    apply_token_bitmask_inplace,
)

__all__ = ["LogitsProcessor", "tokenizer_for"]


def tokenizer_for(llm: Any) -> Tokenizer:
    """The formwork tokenizer of a ``llama_cpp.Llama``, read from its GGUF
    file, with the model's logits width (``llm.n_vocab()``)."""
    return Tokenizer.from_gguf(os.fspath(llm.model_path), vocab_size=int(llm.n_vocab()))


class LogitsProcessor:
    """A llama-cpp-python logits processor that allows only the tokens a
    compiled grammar allows. Compile the grammar for ``tokenizer_for(llm)``.
    """

    def __init__(self, compiled: CompiledGrammar, max_tokens: int | None = None) -> None:
        """A processor for ``compiled``. Give the completion's ``max_tokens``
        so the output closes, valid, within it rather than being cut off
        (see ``Matcher``)."""
        self._compiled = compiled
        self._max_tokens = max_tokens
        self._bitmask = allocate_token_bitmask(1, compiled.tokenizer.vocab_size)
        self.reset()

    def reset(self) -> None:
        """Forgets the current completion."""
        self.matcher = Matcher(self._compiled, self._max_tokens)
        # The tokens of the previous call, and where the output began.
        self._seen: np.ndarray | None = None
        self._start = 0

    def _restart(self, ids: np.ndarray) -> None:
        self.matcher = Matcher(self._compiled, self._max_tokens)
        self._start = len(ids)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Masks ``scores`` (the next token's logits, ``[vocab]``) in place
        after the tokens ``input_ids`` and returns it."""
        ids = np.asarray(input_ids)
        seen = self._seen
        if seen is None or len(ids) < len(seen) or not np.array_equal(ids[: len(seen)], seen):
            self._restart(ids)
        else:
            new = ids[self._start + self.matcher.num_accepted :]
            if len(new) and not self.matcher.accept_tokens([int(t) for t in new]):
                raise RuntimeError(
                    f"tokens {new.tolist()} were sampled though the grammar does not allow them "
                    "(was the processor reused for another completion, or another processor "
                    "applied after this one?)"
                )
        self._seen = ids.copy()
        if self.matcher.is_terminated():
            return scores
        self.matcher.fill_next_token_bitmask(self._bitmask)
        apply_token_bitmask_inplace(scores, self._bitmask[0])
        width = 32 * self._bitmask.shape[1]
        if scores.shape[-1] > width:
            scores[width:] = -np.inf
        return scores
