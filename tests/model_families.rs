//! Each model family formwork runs (llama, qwen2, qwen3, phi3, gemma3)
//! computes the logits Hugging Face transformers computes for the same
//! tiny random-weight GGUF (`tests/data/tiny_models/`, written with the
//! reference logits by `tests/data/make_tiny_models.py`): after a prompt fed
//! at once, and after each of three tokens fed one at a time through the KV
//! cache. An unknown architecture is an error that names it.

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
