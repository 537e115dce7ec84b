//! Rebuilds a Hugging Face tokenizer from a GGUF file's `tokenizer.ggml.*`
//! metadata, so that a `.gguf` file alone is enough to run a model.
//!
//! Only byte-level BPE (`tokenizer.ggml.model == "gpt2"`) is rebuilt: its
//! metadata holds the vocabulary and merges verbatim, and the pre-tokenizer
//! follows from `tokenizer.ggml.pre`. SentencePiece GGUFs store scores, not
//! merges; for those, pass the model's `tokenizer.json` explicitly.

use crate::error::ModelError;
use crate::vocab::Vocabulary;
use candle_core::quantized::gguf_file::Value;
use std::collections::HashMap;

type Content = HashMap<String, Value>;
use serde_json::{json, Map};
use std::path::Path;

fn strings<'a>(c: &'a Content, key: &str, path: &Path) -> Result<Vec<&'a str>, ModelError> {
    let bad = |m: String| ModelError::Load {
        path: path.to_path_buf(),
        message: m,
    };
    let v = c
        .get(key)
        .ok_or_else(|| bad(format!("GGUF has no {key}")))?;
    v.to_vec()
        .map_err(|e| bad(format!("{key}: {e}")))?
        .iter()
        .map(|x| {
            x.to_string()
                .map(String::as_str)
                .map_err(|e| bad(format!("{key}: {e}")))
        })
        .collect()
}

/// The GPT-2 pre-tokenizer regex (llama.cpp's "default"/"gpt2" and the
/// second half of "smollm").
fn byte_level() -> serde_json::Value {
    json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true})
}

pub(crate) fn vocabulary_from_gguf(c: &Content, path: &Path) -> Result<Vocabulary, ModelError> {
    let bad = |m: String| ModelError::Load {
        path: path.to_path_buf(),
        message: m,
    };
    let model = c
        .get("tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    if model != "gpt2" {
        return Err(bad(format!(
            "its tokenizer ({model:?}) cannot be rebuilt from GGUF metadata (only byte-level BPE can); \
             pass the model's tokenizer.json with --tokenizer"
        )));
    }
    let pre = c
        .get("tokenizer.ggml.pre")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    let pre_tokenizer = match pre.as_str() {
        "smollm" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true}, byte_level()]}),
        "" | "default" | "gpt-2" | "gpt2" => byte_level(),
        other => {
            return Err(bad(format!(
                "pre-tokenizer {other:?} is not supported for GGUF tokenizers; pass --tokenizer"
            )))
        }
    };
    let tokens = strings(c, "tokenizer.ggml.tokens", path)?;
    // Ids are positions here; the header check bounds the array, and this
    // the vocabulary built from it, as for a tokenizer.json.
    if tokens.len() as u64 > crate::Vocabulary::MAX_IDS {
        return Err(bad(format!(
            "tokenizer.ggml.tokens holds {} tokens, more than the {} formwork loads",
            tokens.len(),
            crate::Vocabulary::MAX_IDS
        )));
    }
    let merges = strings(c, "tokenizer.ggml.merges", path)?;
    let types: Vec<i64> = match c.get("tokenizer.ggml.token_type") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::I32(x) => *x as i64,
                Value::U32(x) => *x as i64,
                Value::I64(x) => *x,
                _ => 1,
            })
            .collect(),
        _ => vec![1; tokens.len()],
    };
    let mut vocab = Map::new();
    let mut added = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if vocab.insert(t.to_string(), json!(i)).is_some() {
            return Err(bad(format!(
                "duplicate token {t:?} in tokenizer.ggml.tokens"
            )));
        }
        // llama.cpp token types: 3 = control, 4 = user-defined.
        let ty = types.get(i).copied().unwrap_or(1);
        if ty == 3 || ty == 4 {
            added.push(
                json!({"id": i, "content": t, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": ty == 3}),
            );
        }
    }
    let merges: Vec<serde_json::Value> = merges
        .iter()
        .map(|m| json!(m.splitn(2, ' ').collect::<Vec<_>>()))
        .collect();
    let tj = json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": pre_tokenizer,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges},
    });
    let what = format!("{} (GGUF metadata)", path.display());
    let bytes = tj.to_string();
    let eos = c
        .get("tokenizer.ggml.eos_token_id")
        .and_then(|v| v.to_u32().ok());
    let v = match (Vocabulary::from_json_bytes(bytes.as_bytes(), &what), eos) {
        (Err(crate::error::VocabError::NoEos { .. }), Some(id)) => {
            return Ok(Vocabulary::from_json_bytes_with_eos(
                bytes.as_bytes(),
                &what,
                &[&id.to_string()],
            )?)
        }
        (v, _) => v?,
    };
    // The file's own EOS joins the default set.
    match eos {
        Some(id) => {
            let mut names: Vec<String> = v.eos_tokens().iter().map(|t| t.to_string()).collect();
            names.push(id.to_string());
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            Ok(v.with_eos(&names)?)
        }
        None => Ok(v),
    }
}
