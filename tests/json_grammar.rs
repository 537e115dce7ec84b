//! The JSON grammar accepts every JSON text and rejects broken ones.
//!
//! Accepted: every `data` value of the JSON-Schema-Test-Suite (vendored in
//! `tests/data/jsts_data.jsonl`), serialised compact and pretty, token by
//! token, with EOS allowed at the end. Rejected: mutations of the same texts
//! (truncated, a bracket removed, a trailing comma, a bad escape) that
//! `serde_json` — an independent parser — also rejects.

mod common;

use common::Rng;
use formwork::{json_grammar, CompiledGrammar, Matcher, TokenTrie, Vocabulary};
use std::sync::Arc;

fn texts() -> Vec<String> {
    let mut out = Vec::new();
    for line in std::fs::read_to_string(common::data_dir().join("jsts_data.jsonl"))
        .unwrap()
        .lines()
    {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        out.push(serde_json::to_string(&v).unwrap());
        out.push(serde_json::to_string_pretty(&v).unwrap());
    }
    out
}

/// Drives `text` through a fresh matcher. Returns Ok if every token was in
/// the mask and EOS was allowed at the end, else Err(position).
fn drive(m0: &Matcher, vocab: &Vocabulary, text: &str) -> Result<(), usize> {
    let mut m = m0.clone();
    let toks = vocab.encode(text).unwrap();
    for (i, &t) in toks.iter().enumerate() {
        let mask = m.compute_mask();
        let allowed = mask.contains(t);
        let committed = m.clone().commit(t).is_ok();
        assert_eq!(
            allowed, committed,
            "mask and commit disagree at token {i} of {text:?}"
        );
        if !allowed {
            return Err(i);
        }
        m.commit(t).unwrap();
    }
    let eos = vocab.eos_tokens()[0];
    if m.compute_mask().contains(eos) && m.is_accepting() {
        Ok(())
    } else {
        Err(toks.len())
    }
}

/// Byte offsets of structural characters (outside strings) and of string interiors.
fn positions(text: &str) -> (Vec<usize>, Vec<usize>) {
    let (mut structural, mut inside) = (Vec::new(), Vec::new());
    let b = text.as_bytes();
    let (mut in_str, mut esc) = (false, false);
    for (i, &c) in b.iter().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            } else if text.is_char_boundary(i) {
                inside.push(i);
            }
        } else if c == b'"' {
            in_str = true;
            inside.push(i + 1);
        } else if b"{}[]".contains(&c) {
            structural.push(i);
        }
    }
    (structural, inside)
}

fn mutate(text: &str, rng: &mut Rng) -> Option<(String, &'static str)> {
    let (structural, inside) = positions(text);
    let kind = rng.below(4);
    let out = match kind {
        0 => {
            let cut = 1 + rng.below(text.len().max(2) - 1);
            if !text.is_char_boundary(cut) || cut >= text.len() {
                return None;
            }
            (text[..cut].to_string(), "truncated")
        }
        1 => {
            let &p = structural.get(rng.below(structural.len().max(1)))?;
            (
                format!("{}{}", &text[..p], &text[p + 1..]),
                "bracket removed",
            )
        }
        2 => {
            let closers: Vec<usize> = structural
                .iter()
                .copied()
                .filter(|&p| matches!(text.as_bytes()[p], b'}' | b']'))
                .collect();
            let &p = closers.get(rng.below(closers.len().max(1)))?;
            (format!("{},{}", &text[..p], &text[p..]), "trailing comma")
        }
        _ => {
            let &p = inside.get(rng.below(inside.len().max(1)))?;
            let bad = ["\\q", "\\u12G4", "\\x41", "\\U0041", "\\", "\u{1}"][rng.below(6)];
            (format!("{}{}{}", &text[..p], bad, &text[p..]), "bad escape")
        }
    };
    // Only texts an independent parser rejects count as invalid.
    serde_json::from_str::<serde_json::Value>(&out.0)
        .is_err()
        .then_some(out)
}

fn run(name: &str) {
    let env = common::tokenizer(name);
    let vocab = env.vocab().clone();
    let grammar = Arc::new(CompiledGrammar::new(&json_grammar()).unwrap());
    let m0 = Matcher::new(grammar, &env);
    let all = texts();
    let mut failures = 0;
    for t in &all {
        if let Err(pos) = drive(&m0, &vocab, t) {
            failures += 1;
            if failures < 10 {
                eprintln!("REJECTED valid JSON at token {pos}: {t:?}");
            }
        }
    }
    println!(
        "{name}: {} valid JSON texts (compact and pretty), {failures} rejected",
        all.len()
    );
    assert_eq!(failures, 0);

    let mut rng = Rng(42);
    let (mut tried, mut accepted) = (0, 0);
    let mut by_kind = std::collections::BTreeMap::new();
    while tried < 1500 {
        let base = &all[rng.below(all.len())];
        let Some((bad, kind)) = mutate(base, &mut rng) else {
            continue;
        };
        tried += 1;
        *by_kind.entry(kind).or_insert(0) += 1;
        if drive(&m0, &vocab, &bad).is_ok() {
            accepted += 1;
            eprintln!("ACCEPTED invalid JSON ({kind}): {bad:?}");
        }
    }
    println!("{name}: {tried} invalid JSON texts {by_kind:?}, {accepted} accepted");
    assert_eq!(accepted, 0);
}

#[test]
fn json_grammar_gpt2() {
    run("gpt2");
}

/// A SentencePiece vocabulary (`▁` for spaces, byte-fallback tokens).
#[test]
fn json_grammar_mistral() {
    run("mistral");
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-3 tokenizer from ../shared/models (not vendored: Llama 3 licence)"
)]
fn json_grammar_llama3() {
    run("llama3");
}

#[allow(dead_code)]
fn _types(_: &TokenTrie) {}
