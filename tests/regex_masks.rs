//! Exact masks for regexes: at random reachable states, the matcher's mask
//! must equal a brute-force oracle that runs every token's bytes through an
//! independently built DFA (token allowed iff a full match is still reachable).

mod common;

use common::Rng;
use formwork::{regex_grammar, CompiledGrammar, Matcher, TokenTrie, Vocabulary};
use regex_automata::{
    dfa::{dense, Automaton, StartKind},
    util::{primitives::StateID, start},
    Anchored, MatchKind,
};
use std::collections::HashMap;
use std::sync::Arc;

/// Brute-force reference: a DFA plus memoised "can a match still be reached".
struct Oracle {
    dfa: dense::DFA<Vec<u32>>,
    start: StateID,
    live: HashMap<StateID, bool>,
}

impl Oracle {
    fn new(pattern: &str) -> Oracle {
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .start_kind(StartKind::Anchored),
            )
            .build(pattern)
            .unwrap();
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .unwrap();
        Oracle {
            dfa,
            start,
            live: HashMap::new(),
        }
    }

    fn run(&self, mut s: StateID, bytes: &[u8]) -> StateID {
        for &b in bytes {
            s = self.dfa.next_state(s, b);
        }
        s
    }

    fn matches_here(&self, s: StateID) -> bool {
        self.dfa.is_match_state(self.dfa.next_eoi_state(s))
    }

    /// Breadth-first search for a state that matches at end of input.
    fn can_match(&mut self, s: StateID) -> bool {
        if let Some(&v) = self.live.get(&s) {
            return v;
        }
        let mut seen = std::collections::HashSet::new();
        let mut queue = std::collections::VecDeque::from([s]);
        seen.insert(s);
        let mut found = false;
        while let Some(x) = queue.pop_front() {
            if self.dfa.is_dead_state(x) {
                continue;
            }
            if self.matches_here(x) {
                found = true;
                break;
            }
            for b in 0..=255u8 {
                let y = self.dfa.next_state(x, b);
                if seen.insert(y) {
                    queue.push_back(y);
                }
            }
        }
        self.live.insert(s, found);
        found
    }
}

fn regexes() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_to_string(common::data_dir().join("regexes.jsonl"))
        .expect("tests/data/regexes.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["regex"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // Practical ones, always included.
    for r in [
        r"\d{4}-\d{2}-\d{2}",
        r"(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
        r"[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
        r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?",
        r"[+-]?\d+",
        r"(true|false)",
        r"\([0-9]{3}\) [0-9]{3}-[0-9]{4}",
        r"[a-z]+( [a-z]+){0,5}\.",
        r"(\d{1,3}\.){3}\d{1,3}",
        r"\p{Greek}+ \w+",
        r"",
        r"a*",
    ] {
        out.push(r.to_string());
    }
    out
}

fn check_tokenizer(name: &str, min_states_per_regex: usize) -> (usize, usize) {
    let env = common::tokenizer(name);
    let vocab = env.vocab().clone();
    let patterns = regexes();
    assert!(
        patterns.len() >= 60,
        "need at least 60 regexes, have {}",
        patterns.len()
    );
    let mut rng = Rng(0x5eed ^ name.len() as u64);
    let (mut states, mut diffs) = (0usize, 0usize);
    for pat in &patterns {
        let grammar = Arc::new(
            CompiledGrammar::new(&regex_grammar(pat).unwrap())
                .unwrap_or_else(|e| panic!("{pat:?}: {e}")),
        );
        let mut oracle = Oracle::new(pat);
        let mut compared = 0;
        let mut walks = 0;
        while compared < min_states_per_regex && walks < 200 {
            walks += 1;
            let mut m = Matcher::new(grammar.clone(), &env);
            let mut prefix: Vec<u8> = Vec::new();
            for _step in 0..40 {
                let fast = m.compute_mask();
                let here = oracle.run(oracle.start, &prefix);
                let mut allowed = Vec::new();
                for id in 0..vocab.len() as u32 {
                    let bytes = vocab.token_bytes(id);
                    let ok = !vocab.is_special(id) && !bytes.is_empty() && {
                        let s = oracle.run(here, bytes);
                        !oracle.dfa.is_dead_state(s) && oracle.can_match(s)
                    };
                    let expect =
                        ok || (vocab.eos_tokens().contains(&id) && oracle.matches_here(here));
                    if expect != fast.contains(id) {
                        diffs += 1;
                        if diffs < 20 {
                            eprintln!(
                                "DIFF {name} {pat:?} after {:?}: token {id} {:?} oracle={expect} fast={}",
                                String::from_utf8_lossy(&prefix),
                                String::from_utf8_lossy(bytes),
                                fast.contains(id)
                            );
                        }
                    }
                    if ok {
                        allowed.push(id);
                    }
                }
                for id in vocab.len()..vocab.logits_width() {
                    assert!(!fast.contains(id as u32), "padded id {id} allowed");
                }
                compared += 1;
                states += 1;
                if allowed.is_empty() {
                    break;
                }
                let t = allowed[rng.below(allowed.len())];
                m.commit(t).unwrap();
                prefix.extend_from_slice(vocab.token_bytes(t));
                // Sometimes roll back and take another branch.
                if rng.below(8) == 0 {
                    m.rollback(1).unwrap();
                    prefix.truncate(prefix.len() - vocab.token_bytes(t).len());
                }
            }
        }
        assert!(
            compared >= min_states_per_regex,
            "{pat:?}: only {compared} states"
        );
    }
    println!(
        "{name}: {} regexes, {states} states compared against the oracle, {diffs} differences",
        patterns.len()
    );
    (states, diffs)
}

#[test]
fn regex_masks_equal_oracle_gpt2() {
    let (states, diffs) = check_tokenizer("gpt2", 20);
    assert!(states >= 20 * 60);
    assert_eq!(diffs, 0);
}

/// A SentencePiece vocabulary (`▁` for spaces, byte-fallback tokens).
#[test]
fn regex_masks_equal_oracle_mistral() {
    let (states, diffs) = check_tokenizer("mistral", 20);
    assert!(states >= 20 * 60);
    assert_eq!(diffs, 0);
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-3 tokenizer from ../shared/models (not vendored: Llama 3 licence)"
)]
fn regex_masks_equal_oracle_llama3() {
    let (states, diffs) = check_tokenizer("llama3", 20);
    assert!(states >= 20 * 60);
    assert_eq!(diffs, 0);
}

#[allow(dead_code)]
fn _types(_: &Vocabulary, _: &TokenTrie) {}
