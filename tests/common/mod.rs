//! Shared helpers for the integration tests: locating tokenizers and data.
#![allow(dead_code)]

use formwork::{TokenTrie, Vocabulary};
use std::path::PathBuf;
use std::sync::Arc;

/// `tests/data` inside the crate.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The shared models directory (`FORMWORK_MODELS` or `../shared/models`).
pub fn models_dir() -> Option<PathBuf> {
    let p = std::env::var_os("FORMWORK_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/models"));
    p.is_dir().then_some(p)
}

/// Loads a tokenizer by short name: `gpt2` comes from the vendored copy, the
/// others from the shared models directory. Returns `None` (after saying so)
/// only when the shared directory is absent and `FORMWORK_SKIP_SHARED=1`.
pub fn tokenizer(name: &str) -> Option<(Arc<Vocabulary>, Arc<TokenTrie>)> {
    let path = if name == "gpt2" {
        data_dir().join("tokenizers/gpt2/tokenizer.json.gz")
    } else {
        let rel = match name {
            "llama3" => "llama3/tokenizer.json.gz",
            "llama2" => "llama2/tokenizer.json",
            "qwen3" => "qwen3/tokenizer.json.gz",
            "gemma3" => "gemma3/tokenizer.json.gz",
            "mistral" => "mistral-7b-v0.1/tokenizer.json",
            "smollm2" => "smollm2-135m-instruct/tokenizer.json",
            other => panic!("unknown tokenizer {other}"),
        };
        match models_dir() {
            Some(d) => d.join(rel),
            None => {
                if std::env::var("FORMWORK_SKIP_SHARED").as_deref() == Ok("1") {
                    eprintln!(
                        "SKIPPED: {name} tokenizer (no ../shared/models; FORMWORK_SKIP_SHARED=1)"
                    );
                    return None;
                }
                panic!("../shared/models not found: set FORMWORK_MODELS, or FORMWORK_SKIP_SHARED=1 to skip");
            }
        }
    };
    let v = Vocabulary::from_file(&path).unwrap_or_else(|e| panic!("load {}: {e}", path.display()));
    let t = TokenTrie::new(&v);
    Some((Arc::new(v), Arc::new(t)))
}

/// A small deterministic PRNG (SplitMix64), so that tests need no extra crate.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
