"""Writes tests/data/tiny_models/: one tiny random-weight GGUF per model
family formwork runs (llama, qwen2, qwen3, phi3, gemma3), and the logits
Hugging Face transformers computes for them (its GGUF loader is the
reference implementation), for tests/model_families.rs. Run with
transformers, torch and gguf installed (the engines venv of python/ci.sh):

    python tests/data/make_tiny_models.py

Each file uses llama.cpp's tensor names and metadata keys, float32 weights
drawn from a seeded generator, and a 300-token byte-level vocabulary. The
expected logits are those after a fixed prompt (fed at once) and after each
of three more tokens fed one at a time (the KV cache's path).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import torch
from gguf import GGUFWriter
from transformers import AutoModelForCausalLM

OUT = pathlib.Path(__file__).resolve().parent / "tiny_models"
VOCAB, HIDDEN, HEADS, KV_HEADS, HEAD_DIM, FFN, LAYERS = 300, 64, 4, 2, 16, 128, 2
PROMPT = [5, 17, 200, 42, 99, 3, 250, 7]
STEPS = [11, 123, 64]


def write(arch: str) -> pathlib.Path:
    # transformers' Qwen3 and Gemma 3 GGUF loaders keep their configs'
    # default head size (Gemma's attention scale is its default
    # query_pre_attn_scalar, 256, which real files match with 256-wide heads).
    head_dim = {"qwen3": 128, "gemma3": 256}.get(arch, HEAD_DIM)
    heads, kv_heads = (2, 1) if arch == "gemma3" else (HEADS, KV_HEADS)
    rng = np.random.default_rng(sum(map(ord, arch)))

    def w(*shape: int, scale: float = 0.08) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def norm(n: int) -> np.ndarray:
        return (1.0 + rng.standard_normal(n) * 0.1).astype(np.float32)

    path = OUT / f"{arch}.gguf"
    g = GGUFWriter(str(path), arch)
    g.add_context_length(512)
    g.add_embedding_length(HIDDEN)
    g.add_block_count(LAYERS)
    g.add_feed_forward_length(FFN)
    g.add_head_count(heads)
    g.add_head_count_kv(kv_heads)
    g.add_layer_norm_rms_eps(1e-6)
    g.add_rope_freq_base(10000.0)
    g.add_rope_dimension_count(head_dim)
    g.add_vocab_size(VOCAB)
    if arch in ("gemma3", "qwen3"):
        g.add_key_length(head_dim)
        g.add_value_length(head_dim)
    if arch == "gemma3":
        g.add_sliding_window(512)
    g.add_tokenizer_model("gpt2")
    g.add_token_list([f"<t{i}>" for i in range(VOCAB)])
    g.add_token_types([1] * VOCAB)
    g.add_token_merges([])
    g.add_bos_token_id(1)
    g.add_eos_token_id(2)
    g.add_pad_token_id(0)
    g.add_tensor("token_embd.weight", w(VOCAB, HIDDEN, scale=0.5))
    g.add_tensor("output_norm.weight", norm(HIDDEN))
    if arch != "gemma3":
        g.add_tensor("output.weight", w(VOCAB, HIDDEN, scale=0.2))
    q, kv = heads * head_dim, kv_heads * head_dim
    for i in range(LAYERS):
        p = f"blk.{i}"
        g.add_tensor(f"{p}.attn_norm.weight", norm(HIDDEN))
        g.add_tensor(f"{p}.ffn_norm.weight", norm(HIDDEN))
        if arch == "phi3":
            g.add_tensor(f"{p}.attn_qkv.weight", w(q + 2 * kv, HIDDEN))
            g.add_tensor(f"{p}.ffn_up.weight", w(2 * FFN, HIDDEN))
        else:
            g.add_tensor(f"{p}.attn_q.weight", w(q, HIDDEN))
            g.add_tensor(f"{p}.attn_k.weight", w(kv, HIDDEN))
            g.add_tensor(f"{p}.attn_v.weight", w(kv, HIDDEN))
            g.add_tensor(f"{p}.ffn_gate.weight", w(FFN, HIDDEN))
            g.add_tensor(f"{p}.ffn_up.weight", w(FFN, HIDDEN))
        if arch == "qwen2":
            g.add_tensor(f"{p}.attn_q.bias", w(q))
            g.add_tensor(f"{p}.attn_k.bias", w(kv))
            g.add_tensor(f"{p}.attn_v.bias", w(kv))
        if arch in ("qwen3", "gemma3"):
            g.add_tensor(f"{p}.attn_q_norm.weight", norm(head_dim))
            g.add_tensor(f"{p}.attn_k_norm.weight", norm(head_dim))
        if arch == "gemma3":
            g.add_tensor(f"{p}.post_attention_norm.weight", norm(HIDDEN))
            g.add_tensor(f"{p}.post_ffw_norm.weight", norm(HIDDEN))
        g.add_tensor(f"{p}.attn_output.weight", w(HIDDEN, q))
        g.add_tensor(f"{p}.ffn_down.weight", w(HIDDEN, FFN))
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()
    return path


def reference(path: pathlib.Path) -> dict:
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, torch_dtype=torch.float32
    )
    model.eval()
    ids = PROMPT + STEPS
    with torch.inference_mode():
        logits = model(torch.tensor([ids])).logits[0]
    # After the prompt, then after each step token.
    rows = [logits[len(PROMPT) - 1 + k].tolist() for k in range(len(STEPS) + 1)]
    return {"prompt": PROMPT, "steps": STEPS, "logits": rows}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    expected = {}
    for arch in ("llama", "qwen2", "qwen3", "phi3", "gemma3"):
        path = write(arch)
        try:
            expected[arch] = reference(path)
            print(arch, "ok", path.stat().st_size, "bytes")
        except Exception as e:  # noqa: BLE001
            print(arch, "no reference:", type(e).__name__, str(e)[:200])
            path.unlink()
    (OUT / "expected.json").write_text(json.dumps(expected) + "\n")


if __name__ == "__main__":
    main()
