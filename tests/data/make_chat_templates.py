"""Writes tests/data/chat_templates.json: conversations rendered by Hugging
Face transformers' apply_chat_template, the reference for
tests/chat_template.rs. Run with transformers and gguf installed (the
engines venv of python/ci.sh), from the repository root:

    python tests/data/make_chat_templates.py

Templates: SmolLM2 (the default model's GGUF) and Qwen3 are Apache-2.0 and
vendored in the file; Llama 3 and Gemma 3 are read from ../shared/models at
test time (their licences are not ours to redistribute), so only their
renderings are stored.
"""

from __future__ import annotations

import gzip
import json
import pathlib
import sys

from transformers import AutoTokenizer, PreTrainedTokenizerFast

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "models"
sys.path.insert(0, str(ROOT / "python" / "tests"))
from model_files import cached_model  # noqa: E402


def config(name: str) -> dict:
    d = SHARED / name
    p = d / "tokenizer_config.json"
    if p.exists():
        return json.loads(p.read_text())
    return json.loads(gzip.open(d / "tokenizer_config.json.gz").read())


def tokenizer_file(name: str) -> str:
    d = SHARED / name
    p = d / "tokenizer.json"
    if p.exists():
        return str(p)
    out = pathlib.Path("/tmp") / f"chat-{name}-tokenizer.json"
    out.write_bytes(gzip.open(d / "tokenizer.json.gz").read())
    return str(out)


def token_text(t) -> str:
    if t is None:
        return ""
    return t if isinstance(t, str) else t.get("content", "")


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
                "required": ["city"],
            },
        },
    }
]

CONVERSATIONS = {
    "user": [{"role": "user", "content": "  What is 2+2?  "}],
    "system_user": [
        {"role": "system", "content": "You answer in JSON."},
        {"role": "user", "content": "Name a colour."},
    ],
    "multi_turn": [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke about \"quotes\" & <tags>."},
    ],
    "tool_call": [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                }
            ],
        },
        {"role": "tool", "content": "{\"temp\": 18}"},
    ],
}


def main() -> None:
    templates = {}
    toks = {}
    gguf = cached_model()
    smol = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    templates["smollm2"] = {
        "vendored": True,
        "source": smol.chat_template,
        "bos": smol.bos_token or "",
        "eos": smol.eos_token or "",
    }
    toks["smollm2"] = smol
    for name in ("qwen3", "llama3", "gemma3"):
        c = config(name)
        tok = PreTrainedTokenizerFast(tokenizer_file=tokenizer_file(name))
        tok.chat_template = c["chat_template"]
        entry = {
            "vendored": name == "qwen3",
            "bos": token_text(c.get("bos_token")),
            "eos": token_text(c.get("eos_token")),
        }
        tok.bos_token = entry["bos"] or None
        tok.eos_token = entry["eos"] or None
        if entry["vendored"]:
            entry["source"] = c["chat_template"]
        templates[name] = entry
        toks[name] = tok
    cases = []
    for name, tok in toks.items():
        for conv_name, messages in CONVERSATIONS.items():
            for tools in (None, TOOLS):
                if tools is not None and conv_name not in ("user", "tool_call"):
                    continue
                for add in (True, False):
                    try:
                        text = tok.apply_chat_template(
                            messages, tools=tools, add_generation_prompt=add, tokenize=False
                        )
                        expected = {"text": text}
                    except Exception as e:  # the template's own refusal
                        expected = {"error": str(e)}
                    cases.append(
                        {
                            "template": name,
                            "conversation": conv_name,
                            "messages": messages,
                            "tools": tools,
                            "add_generation_prompt": add,
                            **expected,
                        }
                    )
    out = {"templates": templates, "cases": cases}
    (ROOT / "tests/data/chat_templates.json").write_text(json.dumps(out, indent=1) + "\n")
    print(len(cases), "cases;", sum("error" in c for c in cases), "refused by their template")


if __name__ == "__main__":
    main()
