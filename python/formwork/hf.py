"""formwork inside Hugging Face ``transformers``: a logits processor for
``model.generate(logits_processor=[...])``.

>>> from formwork import Grammar, Tokenizer, compile  # doctest: +SKIP
>>> from formwork.hf import LogitsProcessor  # doctest: +SKIP
>>> tok = Tokenizer.from_transformers(hf_tokenizer, vocab_size=model.config.vocab_size)  # doctest: +SKIP
>>> lp = LogitsProcessor(compile(Grammar.json_schema(schema), tok))  # doctest: +SKIP
>>> out = model.generate(**enc, logits_processor=[lp], max_new_tokens=256)  # doctest: +SKIP

It is batch-aware: one matcher per row of ``input_ids`` (``batch *
num_return_sequences`` rows, in the order ``generate`` expands them), with
left or right padding of the prompts. A row whose matcher has accepted EOS
is finished: ``generate`` then pads it, and the processor leaves it alone.
Use a new processor (or ``reset()``) for each ``generate`` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import (
    CompiledGrammar,
    Matcher,
    allocate_token_bitmask,
    apply_token_bitmask_inplace,
    fill_next_token_bitmask_batch,
)

__all__ = ["LogitsProcessor"]


class LogitsProcessor:
    """A ``transformers`` logits processor that allows only the tokens a
    compiled grammar allows.

    ``compiled`` is one ``CompiledGrammar`` for every row, or a sequence of
    them, one per prompt (each is repeated for the ``num_return_sequences``
    rows of its prompt). Compile them for a ``Tokenizer`` made with
    ``Tokenizer.from_transformers(hf_tokenizer,
    vocab_size=model.config.vocab_size)``, so that the bitmask covers the
    model's whole logits width.
    """

    def __init__(
        self,
        compiled: CompiledGrammar | Sequence[CompiledGrammar],
        max_new_tokens: int | None = None,
    ) -> None:
        """A processor for ``compiled`` (one grammar, or one per prompt).
        Give ``generate``'s ``max_new_tokens`` so the output closes, valid,
        within it rather than being cut off (see ``Matcher``)."""
        self._compiled = [compiled] if isinstance(compiled, CompiledGrammar) else list(compiled)
        self._max_new_tokens = max_new_tokens
        if not self._compiled:
            raise ValueError("LogitsProcessor needs at least one compiled grammar")
        self.reset()

    def reset(self) -> None:
        """Forgets the matchers, ready for another ``generate`` call."""
        self.matchers: list[Matcher] = []
        self._bitmask: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Masks ``scores`` (``[rows, vocab]``) in place for the next token
        of each row of ``input_ids`` (``[rows, length]``) and returns it."""
        import torch

        rows = int(input_ids.shape[0])
        if not self.matchers:
            if rows % len(self._compiled):
                raise ValueError(
                    f"{rows} rows cannot be split among {len(self._compiled)} grammars"
                )
            per = rows // len(self._compiled)
            self.matchers = [
                Matcher(self._compiled[r // per], self._max_new_tokens) for r in range(rows)
            ]
            width = self._compiled[0].tokenizer.vocab_size
            self._bitmask = torch.from_numpy(allocate_token_bitmask(rows, width))
        else:
            last = input_ids[:, -1].tolist()
            for matcher, token in zip(self.matchers, last):
                if matcher.is_terminated():
                    continue  # finished: generate pads this row
                if not matcher.accept_token(int(token)):
                    raise RuntimeError(
                        f"token {int(token)} was sampled though the grammar does not allow it "
                        "(was another logits processor or a forced token applied after this one?)"
                    )
        live = [i for i, m in enumerate(self.matchers) if not m.is_terminated()]
        if not live:
            return scores
        bitmask = self._bitmask
        bitmask.fill_(-1)
        fill_next_token_bitmask_batch([self.matchers[i] for i in live], bitmask, live)
        width = 32 * bitmask.shape[1]
        apply_token_bitmask_inplace(scores, bitmask.to(scores.device))
        if scores.shape[-1] > width:
            scores[:, width:] = float("-inf")
        return scores
