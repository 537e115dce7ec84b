"""formwork inside vLLM (V1 engine): a custom logits processor, switched on
per request.

vLLM's structured-output backends are a fixed list, so formwork comes in as
a logits processor. Give the class to the offline engine::

    from vllm import LLM, SamplingParams
    import formwork.vllm

    llm = LLM(model=..., logits_processors=[formwork.vllm.LogitsProcessor])
    params = SamplingParams(max_tokens=256, extra_args={"formwork_json": schema})
    out = llm.chat(messages, params)

For ``vllm serve``, name it on the command line: ``--logits-processors
formwork.vllm:LogitsProcessor``; a request switches it on with
``"vllm_xargs": {"formwork_json": "<the schema as a JSON string>"}`` in the
body (``extra_body`` in the ``openai`` SDK). (The package declares no
``vllm.logits_processors`` entry point: vLLM would load it into every
engine of the environment, and twice where it is also named.)

A request carries at most one of these ``extra_args`` keys:

- ``formwork_json``: a JSON Schema, as a dict or a JSON string;
- ``formwork_json_object``: any JSON object (the value is ignored);
- ``formwork_regex``: a regex the whole output must match;
- ``formwork_grammar``: a pest grammar (start rule: ``formwork_start``, else
  its first rule);
- ``formwork_choice``: a list of strings, the output is one of them;
- ``formwork_gbnf``, ``formwork_lark``, ``formwork_ebnf``: a GBNF (llama.cpp),
  Lark (llguidance) or XGrammar EBNF grammar (GBNF and EBNF start at
  ``formwork_start``, else ``root``);
- ``formwork_structural_tag``: an XGrammar structural tag (dict or JSON
  string), for tool calls in free text.

Requests without one are left alone. Each distinct constraint is compiled
once per worker (a bounded LRU); each request keeps its own matcher, fed with
the tokens vLLM appends to the request's output list, and the masks of a
batch's constrained rows are computed in parallel with the GIL released. An
invalid constraint is refused when the request is validated, before it is
scheduled.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from vllm.v1.sample.logits_processor import BatchUpdate
from vllm.v1.sample.logits_processor import LogitsProcessor as _VllmLogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

from . import (
    CompiledGrammar,
    FormworkError,
    Grammar,
    Matcher,
    Tokenizer,
    apply_token_bitmask_inplace,
    bitmask_words,
    compile,
    fill_next_token_bitmask_batch,
)

try:
    from vllm.exceptions import VLLMValidationError as _ValidationError
except ImportError:  # older vLLM: a ValueError is its validation error

    class _ValidationError(ValueError):  # type: ignore[no-redef]
        def __init__(self, message: str, *, parameter: str | None = None) -> None:
            super().__init__(message)


__all__ = ["KEYS", "LogitsProcessor", "constraint_of"]

log = logging.getLogger(__name__)

#: The ``extra_args`` keys that carry a constraint.
KEYS = (
    "formwork_json",
    "formwork_json_object",
    "formwork_regex",
    "formwork_grammar",
    "formwork_choice",
    "formwork_gbnf",
    "formwork_lark",
    "formwork_ebnf",
    "formwork_structural_tag",
)

_CACHE_SIZE = 128


def constraint_of(extra_args: dict[str, Any] | None) -> tuple[str, str] | None:
    """The constraint a request's ``extra_args`` carries, as a cache key
    ``(kind, text)``, or None. Raises ``ValueError`` for more than one
    constraint or malformed JSON, ``TypeError`` for a value of the wrong
    type."""
    args = extra_args or {}
    found = [k for k in KEYS if k in args]
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"a request carries at most one formwork constraint, not {found}")
    key = found[0]
    value = args[key]
    if key == "formwork_json":
        if isinstance(value, str):
            value = json.loads(value)
        return ("json", json.dumps(value, sort_keys=True))
    if key == "formwork_json_object":
        return ("json", json.dumps({"type": "object"}))
    if key == "formwork_choice":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError("formwork_choice must be a list of strings")
        return ("choice", json.dumps(value))
    if key == "formwork_structural_tag":
        if isinstance(value, str):
            value = json.loads(value)
        return ("structural_tag", json.dumps(value, sort_keys=True))
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string")
    if key == "formwork_regex":
        return ("regex", value)
    if key == "formwork_lark":
        return ("lark", value)
    start = args.get("formwork_start")
    if key in ("formwork_gbnf", "formwork_ebnf"):
        return (key.removeprefix("formwork_"), json.dumps([value, start or "root"]))
    return ("pest", json.dumps([value, start]))


def grammar_of(constraint: tuple[str, str]) -> Grammar:
    """The grammar of a constraint from :func:`constraint_of`."""
    kind, text = constraint
    if kind == "json":
        return Grammar.json_schema(text)
    if kind == "choice":
        return Grammar.choice(json.loads(text))
    if kind == "regex":
        return Grammar.regex(text)
    if kind == "lark":
        return Grammar.lark(text)
    if kind == "structural_tag":
        return Grammar.structural_tag(text)
    grammar, start = json.loads(text)
    if kind == "gbnf":
        return Grammar.gbnf(grammar, start)
    if kind == "ebnf":
        return Grammar.ebnf(grammar, start)
    return Grammar.pest(grammar, start=start)


class _Row:
    """One constrained request: its matcher and vLLM's live list of its
    output tokens."""

    __slots__ = ("broken", "matcher", "output")

    def __init__(self, matcher: Matcher | None, output: list[int]) -> None:
        self.matcher = matcher
        self.output = output
        self.broken = matcher is None

    def catch_up(self) -> None:
        """Feeds the matcher the tokens sampled since the last step."""
        m = self.matcher
        if m is None or self.broken:
            return
        new = self.output[m.num_accepted :]
        if new and not m.accept_tokens(new):
            # Not ours (a stop string's cut, another processor): end the
            # request with EOS rather than bring the engine down.
            log.warning("formwork: a sampled token is outside the grammar; ending the request")
            self.broken = True


class LogitsProcessor(_VllmLogitsProcessor):
    """vLLM V1 logits processor constraining the requests whose
    ``SamplingParams.extra_args`` carry a formwork constraint."""

    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        """Called by vLLM once per worker."""
        from transformers import AutoTokenizer

        model_config = vllm_config.model_config
        hf = AutoTokenizer.from_pretrained(
            model_config.tokenizer, trust_remote_code=model_config.trust_remote_code
        )
        self.tokenizer = Tokenizer.from_transformers(hf, vocab_size=model_config.get_vocab_size())
        self.device = device
        self.rows: dict[int, _Row] = {}
        self._compiled: OrderedDict[tuple[str, str], CompiledGrammar] = OrderedDict()
        # The mask of a request that can only end: EOS alone.
        eos = np.zeros(bitmask_words(self.tokenizer.vocab_size), dtype=np.uint32)
        for t in self.tokenizer.eos_token_ids:
            if t < self.tokenizer.vocab_size:
                eos[t // 32] |= np.uint32(1 << (t % 32))
        self._eos_row = torch.from_numpy(eos.view(np.int32))

    @classmethod
    def validate_params(cls, sampling_params: Any) -> None:
        """Refuses a request whose constraint is malformed or unsupported
        (vLLM answers it with an error before scheduling it)."""
        try:
            constraint = constraint_of(sampling_params.extra_args)
            if constraint is not None:
                grammar_of(constraint)
        except (FormworkError, TypeError, ValueError) as e:
            raise _ValidationError(f"formwork: {e}", parameter="extra_args") from e

    def is_argmax_invariant(self) -> bool:
        """Masks change greedy results."""
        return False

    def _compile(self, constraint: tuple[str, str]) -> CompiledGrammar:
        hit = self._compiled.get(constraint)
        if hit is not None:
            self._compiled.move_to_end(constraint)
            return hit
        compiled = compile(grammar_of(constraint), self.tokenizer)
        self._compiled[constraint] = compiled
        if len(self._compiled) > _CACHE_SIZE:
            self._compiled.popitem(last=False)
        return compiled

    def _new_row(self, params: Any, _prompt: Any, output: list[int]) -> _Row | None:
        try:
            constraint = constraint_of(params.extra_args)
            if constraint is None:
                return None
            # The output closes, valid, within the request's max_tokens.
            return _Row(Matcher(self._compile(constraint), params.max_tokens), output)
        except (FormworkError, TypeError, ValueError) as e:
            log.warning("formwork: %s; the request will end with EOS", e)
            return _Row(None, output)

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        """Tracks requests added, removed and moved in the persistent batch."""
        process_dict_updates(self.rows, batch_update, self._new_row)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        """Masks the constrained rows of ``logits`` (``[num_reqs, vocab]``)."""
        if not self.rows:
            return logits
        live: list[int] = []
        matchers: list[Matcher] = []
        dead: list[int] = []
        for index, row in self.rows.items():
            row.catch_up()
            m = row.matcher
            if row.broken or m is None or m.is_terminated():
                dead.append(index)
            else:
                live.append(index)
                matchers.append(m)
        words = bitmask_words(self.tokenizer.vocab_size)
        bitmask = torch.full((logits.shape[0], words), -1, dtype=torch.int32)
        if matchers:
            fill_next_token_bitmask_batch(matchers, bitmask, live)
        for index in dead:
            bitmask[index] = self._eos_row
        apply_token_bitmask_inplace(logits, bitmask)
        width = 32 * words
        if logits.shape[-1] > width:
            rows = torch.tensor(sorted(self.rows), device=logits.device)
            logits[rows, width:] = float("-inf")
        return logits
