//! formwork's native forward pass on the default model (the real
//! SmolLM2-135M-Instruct Q4_1 GGUF, fetched as `generate` fetches it)
//! against candle's implementation of the same family on the same weights
//! (`Backend::Candle` without requantization): the logits after a prompt
//! and through greedy decoding stay within 10% of the largest logit (both
//! round activations to 8 bits, at different points), with the same greedy
//! tokens. Two threads give exactly one thread's logits, feeding a position
//! again replaces it in the cache, and tokens the cache already holds are
//! not computed again.

use formwork::model::fetch::{default_model, FetchConfig};
use formwork::model::{chat_prompt, Backend, GgufModel, LanguageModel, LoadOptions};

fn load(backend: Backend, threads: usize) -> GgufModel {
    let path = default_model(&FetchConfig::from_env()).expect("default model");
    let options = LoadOptions {
        backend,
        threads: Some(threads),
        requantize_q4_1: false,
    };
    let m = GgufModel::load_with(path, &options).unwrap();
    assert_eq!(m.backend(), backend);
    m
}

fn prompt(model: &GgufModel) -> Vec<u32> {
    let template = model.chat().unwrap();
    let text = chat_prompt(
        template.as_ref(),
        None,
        "Give me a JSON object about a cat.",
    )
    .unwrap();
    model.vocabulary().unwrap().encode(&text).unwrap()
}

fn argmax(v: &[f32]) -> u32 {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap() as u32
}

/// Largest difference relative to the largest logit.
fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
        / scale
}

#[test]
fn native_pass_matches_candle_on_the_default_model() {
    let mut native = load(Backend::Native, 1);
    let mut candle = load(Backend::Candle, 1);
    let ids = prompt(&native);
    let mut a = native.forward(&ids, 0).unwrap();
    let mut b = candle.forward(&ids, 0).unwrap();
    for step in 0..12 {
        let d = rel_diff(&a, &b);
        // Measured 1.6–6% of the largest logit: both quantize activations
        // to 8 bits, at different points.
        assert!(d < 0.1, "step {step}: relative difference {d}");
        let t = argmax(&b);
        assert_eq!(argmax(&a), t, "step {step}: greedy token");
        a = native.forward(&[t], ids.len() + step).unwrap();
        b = candle.forward(&[t], ids.len() + step).unwrap();
    }
}

#[test]
fn two_threads_give_one_threads_logits() {
    let mut one = load(Backend::Native, 1);
    let mut two = load(Backend::Native, 2);
    let ids = prompt(&one);
    let mut a = one.forward(&ids, 0).unwrap();
    let mut b = two.forward(&ids, 0).unwrap();
    assert_eq!(a, b, "prompt");
    for step in 0..4 {
        let t = argmax(&a);
        a = one.forward(&[t], ids.len() + step).unwrap();
        b = two.forward(&[t], ids.len() + step).unwrap();
        assert_eq!(a, b, "step {step}");
    }
}

#[test]
fn feeding_a_position_again_replaces_it() {
    let mut m = load(Backend::Native, 1);
    let ids = prompt(&m);
    let first = m.forward(&ids, 0).unwrap();
    // Another continuation, then back to the prompt's end: the same logits.
    m.forward(&[1, 2, 3], ids.len()).unwrap();
    let again = m.forward(&ids[ids.len() - 1..], ids.len() - 1).unwrap();
    assert_eq!(first, again);
    // A position past the cache is an error, not a panic.
    let err = m.forward(&[1], ids.len() + 10).unwrap_err().to_string();
    assert!(err.contains("position"), "{err}");
}

#[test]
fn a_prompt_already_in_the_cache_is_not_computed_again() {
    let mut m = load(Backend::Native, 1);
    let ids = prompt(&m);
    let first = m.forward(&ids, 0).unwrap();
    assert_eq!(m.tokens_computed(), ids.len() as u64);
    let t = argmax(&first);
    m.forward(&[t], ids.len()).unwrap();
    // The same prompt again (another sample): nothing is computed.
    assert_eq!(m.forward(&ids, 0).unwrap(), first);
    assert_eq!(m.tokens_computed(), ids.len() as u64 + 1);
    // A longer prompt sharing it and the decoded token (a next turn): only
    // the two new tokens.
    let mut longer = ids.clone();
    longer.extend_from_slice(&[t, 13, 28]);
    let fresh = {
        let mut other = load(Backend::Native, 1);
        other.forward(&longer, 0).unwrap()
    };
    let before = m.tokens_computed();
    assert_eq!(m.forward(&longer, 0).unwrap(), fresh);
    assert_eq!(m.tokens_computed() - before, 2);
}

#[test]
fn forgotten_tokens_are_computed_again() {
    let mut m = load(Backend::Native, 1);
    let ids = prompt(&m);
    let first = m.forward(&ids, 0).unwrap();
    m.forget_cached_tokens();
    assert_eq!(m.forward(&ids, 0).unwrap(), first);
    assert_eq!(m.tokens_computed(), 2 * ids.len() as u64);
}
