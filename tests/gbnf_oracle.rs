//! Exact masks on llama.cpp's example GBNF grammars
//! (`tests/data/grammars/gbnf`) and on the Lark grammars of llguidance's
//! tests (`benches/cases/lark.jsonl`). At states reached by the tokens
//! of fuzzed strings, the mask from the trie walk must equal a brute-force
//! oracle that tries every token on its own: commit it byte by byte (the
//! lexer and parser stepped directly, without the walk's shared rows and
//! boundary caches) and roll it back. EOS must be allowed exactly when the
//! output is complete. The GBNF strings are fuzzed (and checked against an
//! independent recogniser in `tests/gbnf_examples.rs`); the Lark strings
//! are the cases' valid strings. Here they only lead to varied states.

mod common;

use common::Rng;
use formwork::fuzzer::Fuzzer;
use formwork::{gbnf_grammar, lark_grammar, CompiledGrammar, Matcher};
use std::sync::Arc;

const GRAMMARS: &[&str] = &[
    "arithmetic.gbnf",
    "c.gbnf",
    "chess.gbnf",
    "english.gbnf",
    "japanese.gbnf",
    "json.gbnf",
    "json_arr.gbnf",
    "list.gbnf",
];

/// The GBNF grammars, each with `n` fuzzed strings.
fn gbnf_subjects(n: usize) -> Vec<(String, Arc<CompiledGrammar>, Vec<String>)> {
    GRAMMARS
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(common::data_dir().join("grammars/gbnf").join(file))
                .unwrap();
            let g = Arc::new(CompiledGrammar::new(&gbnf_grammar(&text).unwrap()).unwrap());
            let mut fuzzer = Fuzzer::new(g.clone(), 3, 60);
            let strings = (0..n).map(|_| fuzzer.sample().unwrap()).collect();
            (file.to_string(), g, strings)
        })
        .collect()
}

/// The Lark cases that compile, each with up to `n` of its valid strings.
fn lark_subjects(n: usize) -> Vec<(String, Arc<CompiledGrammar>, Vec<String>)> {
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/cases/lark.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let Ok(g) = lark_grammar(case["grammar"].as_str().unwrap()) else {
            continue;
        };
        let Ok(c) = CompiledGrammar::new(&g) else {
            continue;
        };
        let valid: Vec<String> = case["valid"]
            .as_array()
            .unwrap()
            .iter()
            .take(n)
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        out.push((case["id"].as_str().unwrap().to_string(), Arc::new(c), valid));
    }
    out
}

fn check(tokenizer: &str, strings_per_grammar: usize) -> (usize, usize) {
    let mut subjects = gbnf_subjects(strings_per_grammar);
    subjects.extend(lark_subjects(strings_per_grammar.min(2)));
    let env = common::tokenizer(tokenizer);
    let vocab = env.vocab().clone();
    let mut rng = Rng(0xfeed);
    let (mut states, mut diffs) = (0usize, 0usize);
    for (file, g, strings) in &subjects {
        let mut per_grammar = 0;
        for s in strings {
            let toks = vocab.encode(s).unwrap();
            let mut m = Matcher::new(g.clone(), &env);
            for (i, &t) in toks.iter().enumerate().take(30) {
                let mask = m.compute_mask();
                let accepting = m.is_accepting();
                let mut probe = m.clone();
                for id in 0..vocab.logits_width() as u32 {
                    let expect = if vocab.is_eos(id) {
                        accepting
                    } else if (id as usize) < vocab.len() && !vocab.is_special(id) {
                        let ok = probe.commit(id).is_ok();
                        if ok {
                            probe.rollback(1).unwrap();
                        }
                        ok
                    } else {
                        false
                    };
                    if expect != mask.contains(id) {
                        diffs += 1;
                        if diffs < 20 {
                            eprintln!(
                                "DIFF {file} after {:?}: token {id} {:?} oracle={expect} mask={}",
                                String::from_utf8_lossy(&vocab.decode_bytes(&toks[..i])),
                                String::from_utf8_lossy(vocab.token_bytes(id)),
                                mask.contains(id)
                            );
                        }
                    }
                }
                states += 1;
                per_grammar += 1;
                assert!(mask.contains(t), "{file}: own token {t} of {s:?} masked");
                m.commit(t).unwrap();
                if rng.below(10) == 0 {
                    m.rollback(1).unwrap();
                    m.commit(t).unwrap();
                }
            }
        }
        println!("{tokenizer} {file}: {per_grammar} states");
    }
    println!("{tokenizer}: {states} states compared against the oracle, {diffs} differences");
    (states, diffs)
}

#[test]
fn gbnf_masks_equal_oracle_gpt2() {
    let (states, diffs) = check("gpt2", 4);
    assert!(states >= 100, "{states}");
    assert_eq!(diffs, 0);
}

/// A SentencePiece vocabulary (`▁` for spaces, byte-fallback tokens).
#[test]
fn gbnf_masks_equal_oracle_mistral() {
    let (states, diffs) = check("mistral", 3);
    assert!(states >= 50, "{states}");
    assert_eq!(diffs, 0);
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-3 tokenizer from ../shared/models (not vendored: Llama 3 licence)"
)]
fn gbnf_masks_equal_oracle_llama3() {
    let (states, diffs) = check("llama3", 3);
    assert!(states >= 50, "{states}");
    assert_eq!(diffs, 0);
}
