"""The default model's files for the adapter tests and benches: the GGUF
the CLI caches (``formwork generate`` fetches it with pip on first use), and
a float32 safetensors export of it for vLLM, which cannot run a GGUF on CPU.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> pathlib.Path:
    """formwork's cache folder (as the CLI finds it)."""
    if os.environ.get("FORMWORK_CACHE"):
        return pathlib.Path(os.environ["FORMWORK_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return pathlib.Path(os.environ["XDG_CACHE_HOME"]) / "formwork"
    return pathlib.Path.home() / ".cache" / "formwork"


def cached_model() -> pathlib.Path | None:
    """The default model's GGUF, if the CLI has cached it."""
    path = cache_dir() / "smollm2-135m-instruct" / GGUF_NAME
    return path if path.exists() else None


def export_safetensors() -> pathlib.Path:
    """A float32 safetensors folder (weights, config, tokenizer) made from
    the cached GGUF with transformers (needs ``gguf`` and ``accelerate``),
    once; later calls return the same folder."""
    gguf = cached_model()
    if gguf is None:
        raise FileNotFoundError("the default model is not cached (run `formwork generate` once)")
    out = gguf.parent / "safetensors-f32"
    if (out / "model.safetensors").exists():
        return out
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    d, name = str(gguf.parent), gguf.name
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=".export-", dir=gguf.parent))
    try:
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name)
        # The output head is tied to the embeddings; vLLM ties it again.
        weights = {
            k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"
        }
        save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = AutoConfig.from_pretrained(d, gguf_file=name)
        # transformers 5 names it `dtype`, 4 `torch_dtype`.
        setattr(config, "dtype" if hasattr(config, "dtype") else "torch_dtype", "float32")
        config.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(d, gguf_file=name).save_pretrained(tmp)
        try:
            tmp.rename(out)
        except OSError:  # another process exported it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
