//! Each model family formwork runs (llama, qwen2, qwen3, phi3, gemma3)
//! computes the logits Hugging Face transformers computes for the same
//! tiny random-weight GGUF (`tests/data/tiny_models/`, written with the
//! reference logits by `tests/data/make_tiny_models.py`): after a prompt fed
//! at once, after each of three tokens fed one at a time through the KV
//! cache, and after two of them fed at once. An unknown architecture is an
//! error that names it. Each family also generates schema-valid JSON.

mod common;

use formwork::model::{GgufModel, LanguageModel, SUPPORTED_ARCHITECTURES};
use serde_json::Value;

fn expected() -> Value {
    let p = common::data_dir().join("tiny_models/expected.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Largest absolute difference, relative to the reference's largest |logit|.
fn rel_diff(got: &[f32], want: &[Value]) -> f32 {
    assert_eq!(got.len(), want.len(), "logits width");
    let scale = want
        .iter()
        .map(|v| v.as_f64().unwrap().abs() as f32)
        .fold(0.0f32, f32::max);
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w.as_f64().unwrap() as f32).abs())
        .fold(0.0f32, f32::max)
        / scale
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

fn check(arch: &str) {
    let e = &expected()[arch];
    let path = common::data_dir().join(format!("tiny_models/{arch}.gguf"));
    let mut m = GgufModel::load(&path).unwrap();
    let prompt: Vec<u32> = e["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let steps: Vec<u32> = e["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let rows = e["logits"].as_array().unwrap();
    let mut logits = m.forward(&prompt, 0).unwrap();
    for (k, row) in rows.iter().enumerate() {
        let want = row.as_array().unwrap();
        let d = rel_diff(&logits, want);
        assert!(d < 1e-3, "{arch}: position {k}: relative difference {d}");
        let best = (0..want.len())
            .max_by(|&a, &b| want[a].as_f64().partial_cmp(&want[b].as_f64()).unwrap())
            .unwrap();
        assert_eq!(argmax(&logits), best, "{arch}: position {k}: greedy token");
        if let Some(&t) = steps.get(k) {
            logits = m.forward(&[t], prompt.len() + k).unwrap();
        }
    }
    // Two tokens fed at once after the prompt (as fast-forward feeds
    // forced tokens) give the logits of feeding them one at a time.
    if steps.len() >= 2 && rows.len() >= 3 {
        let mut m = GgufModel::load(&path).unwrap();
        m.forward(&prompt, 0).unwrap();
        let logits = m.forward(&steps[..2], prompt.len()).unwrap();
        let d = rel_diff(&logits, rows[2].as_array().unwrap());
        assert!(
            d < 1e-3,
            "{arch}: two tokens at once: relative difference {d}"
        );
    }
}

#[test]
fn llama_matches_transformers() {
    check("llama");
}

#[test]
fn qwen2_matches_transformers() {
    check("qwen2");
}

#[test]
fn qwen3_matches_transformers() {
    check("qwen3");
}

#[test]
fn phi3_matches_transformers() {
    check("phi3");
}

#[test]
fn gemma3_matches_transformers() {
    check("gemma3");
}

#[test]
fn every_supported_family_has_a_reference() {
    let e = expected();
    for arch in SUPPORTED_ARCHITECTURES {
        // gemma2 files run on the gemma3 implementation (same tensors).
        if *arch != "gemma2" {
            assert!(e.get(arch).is_some(), "no tiny model for {arch}");
        }
    }
}

#[test]
fn unknown_architecture_is_named() {
    let src = std::fs::read(common::data_dir().join("tiny_models/llama.gguf")).unwrap();
    // Same length, so the header stays valid: "llama" -> "mamba".
    let at = src.windows(5).position(|w| w == b"llama").unwrap();
    let mut bytes = src.clone();
    bytes[at..at + 5].copy_from_slice(b"mamba");
    let dir = std::env::temp_dir().join(format!("formwork-arch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mamba.gguf");
    std::fs::write(&path, bytes).unwrap();
    let err = match GgufModel::load(&path) {
        Ok(_) => panic!("a mamba file loaded"),
        Err(e) => e.to_string(),
    };
    std::fs::remove_dir_all(&dir).ok();
    assert!(err.contains("\"mamba\"") && err.contains("qwen3"), "{err}");
}

/// A byte-level vocabulary (one token per byte, GPT-2's byte spelling, no
/// merges) and an EOS, padded to `width` logits: the tiny models' files
/// carry tokens but no merges.
fn byte_vocabulary(width: usize) -> formwork::Vocabulary {
    // GPT-2's byte-to-character table.
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut chars: Vec<u32> = printable.clone();
    let mut extra = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(256 + extra);
            extra += 1;
        }
    }
    let vocab: serde_json::Map<String, Value> = printable
        .iter()
        .zip(&chars)
        .map(|(&b, &c)| (char::from_u32(c).unwrap().to_string(), Value::from(b)))
        .collect();
    let json = serde_json::json!({
        "version": "1.0",
        "added_tokens": [{"id": 256, "content": "<|endoftext|>", "single_word": false,
                          "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                          "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                    "use_regex": true},
        "model": {"type": "BPE", "vocab": vocab, "merges": []}
    });
    formwork::Vocabulary::from_json_bytes(json.to_string().as_bytes(), "byte vocabulary")
        .unwrap()
        .with_logits_width(width)
        .unwrap()
}

/// Every family generates through the whole pipeline (masks, fast-forward,
/// and for `--n` the batched samples) over a byte-level vocabulary: each
/// output is complete and validates against the schema.
#[test]
fn every_family_generates_schema_valid_json() {
    use formwork::generate::{GenerateOptions, Generator, Select};
    use formwork::sampler::SamplerConfig;
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 0},
            "tag": {"type": "string", "maxLength": 4},
            "ok": {"type": "boolean"}
        },
        "required": ["id", "tag", "ok"],
        "additionalProperties": false
    });
    // As `formwork generate` compiles schemas: the shortest spelling, so
    // that an integer is digits (a random model otherwise writes integers
    // such as `2.5e300`, valid but beyond the f64 the `jsonschema` crate
    // checks with).
    let options = formwork::SchemaOptions {
        spelling: formwork::Spelling::Canonical,
        ..formwork::SchemaOptions::default()
    };
    let grammar = formwork::json_schema(&schema, &options).unwrap();
    for arch in SUPPORTED_ARCHITECTURES.iter().filter(|a| **a != "gemma2") {
        let path = common::data_dir().join(format!("tiny_models/{arch}.gguf"));
        let model = GgufModel::load(&path).unwrap();
        let vocab = byte_vocabulary(model.logits_width());
        let mut g = Generator::builder(model).vocabulary(vocab).build().unwrap();
        let compiled = g.env().compile(&grammar).unwrap();
        let opts = GenerateOptions {
            max_tokens: 64,
            sampler: SamplerConfig {
                temperature: 0.8,
                seed: 5,
                ..SamplerConfig::default()
            },
            ..GenerateOptions::default()
        };
        let (outs, _) = g
            .generate_n("{", Some(compiled), &opts, 3, Select::Best)
            .unwrap();
        for (i, o) in outs.iter().enumerate() {
            assert!(o.complete, "{arch} sample {i}: incomplete {:?}", o.text);
            let v: Value = serde_json::from_str(&o.text)
                .unwrap_or_else(|e| panic!("{arch} sample {i}: {e}: {:?}", o.text));
            assert!(
                jsonschema::is_valid(&schema, &v),
                "{arch} sample {i}: {}",
                o.text
            );
        }
    }
}
