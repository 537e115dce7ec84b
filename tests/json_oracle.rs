//! Exact masks for the JSON grammar: at reachable states, the matcher's mask
//! must equal a brute-force oracle that feeds every token's bytes to an
//! independent, hand-written JSON prefix recogniser (RFC 8259, UTF-8).
//!
//! For JSON every prefix the recogniser accepts can still be completed
//! (close the strings and containers, finish the number or literal), so a
//! token is allowed iff its bytes keep the recogniser alive, and EOS iff the
//! text is a complete value.

mod common;

use common::Rng;
use formwork::{json_grammar, CompiledGrammar, Matcher, Vocabulary};
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    /// A value must come (after `:` or `,` in an array, or at the top).
    Value,
    /// After `[`: a value or `]`.
    ArrayFirst,
    /// After `{`: a key or `}`.
    ObjectFirst,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value: `,`, a closer, or (at the top) nothing but whitespace.
    After,
    /// Inside a string; `key` says what follows it. `esc`: 0 none, 1 after
    /// a backslash, 2..=5 hex digits of `\u` still expected + 1. `utf8`:
    /// continuation bytes still expected and the range of the next one.
    Str {
        key: bool,
        esc: u8,
        need: u8,
        lo: u8,
        hi: u8,
    },
    Number(Num),
    /// Inside `true`/`false`/`null`: the bytes still to come.
    Literal(&'static [u8]),
}

#[derive(Clone, Debug)]
struct Recogniser {
    stack: Vec<u8>, // b'[' or b'{'
    state: State,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl Recogniser {
    fn new() -> Self {
        Recogniser {
            stack: Vec::new(),
            state: State::Value,
        }
    }

    fn complete(&self) -> bool {
        self.stack.is_empty()
            && match self.state {
                State::After => true,
                State::Number(n) => matches!(n, Num::Zero | Num::Int | Num::Frac | Num::Exp),
                _ => false,
            }
    }

    fn start_value(&mut self, b: u8) -> bool {
        self.state = match b {
            b'"' => State::Str {
                key: false,
                esc: 0,
                need: 0,
                lo: 0,
                hi: 0,
            },
            b'-' => State::Number(Num::Minus),
            b'0' => State::Number(Num::Zero),
            b'1'..=b'9' => State::Number(Num::Int),
            b't' => State::Literal(b"rue"),
            b'f' => State::Literal(b"alse"),
            b'n' => State::Literal(b"ull"),
            b'[' => {
                self.stack.push(b'[');
                State::ArrayFirst
            }
            b'{' => {
                self.stack.push(b'{');
                State::ObjectFirst
            }
            _ => return false,
        };
        true
    }

    fn close(&mut self, b: u8) -> bool {
        let want = if b == b']' { b'[' } else { b'{' };
        if self.stack.pop() == Some(want) {
            self.state = State::After;
            true
        } else {
            false
        }
    }

    fn feed(&mut self, b: u8) -> bool {
        match self.state {
            State::Value => is_ws(b) || self.start_value(b),
            State::ArrayFirst => is_ws(b) || (b == b']' && self.close(b)) || self.start_value(b),
            State::ObjectFirst | State::Key => {
                if is_ws(b) {
                    true
                } else if b == b'"' {
                    self.state = State::Str {
                        key: true,
                        esc: 0,
                        need: 0,
                        lo: 0,
                        hi: 0,
                    };
                    true
                } else {
                    self.state == State::ObjectFirst && b == b'}' && self.close(b)
                }
            }
            State::Colon => {
                if b == b':' {
                    self.state = State::Value;
                }
                is_ws(b) || b == b':'
            }
            State::After => match (b, self.stack.last()) {
                _ if is_ws(b) => true,
                (b',', Some(b'[')) => {
                    self.state = State::Value;
                    true
                }
                (b',', Some(b'{')) => {
                    self.state = State::Key;
                    true
                }
                (b']' | b'}', Some(_)) => self.close(b),
                _ => false,
            },
            State::Literal(rest) => {
                if rest[0] != b {
                    return false;
                }
                self.state = if rest.len() == 1 {
                    State::After
                } else {
                    State::Literal(&rest[1..])
                };
                true
            }
            State::Number(n) => {
                let next = match (n, b) {
                    (Num::Minus, b'0') => Some(Num::Zero),
                    (Num::Minus, b'1'..=b'9') => Some(Num::Int),
                    (Num::Int, b'0'..=b'9') => Some(Num::Int),
                    (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
                    (Num::Dot | Num::Frac, b'0'..=b'9') => Some(Num::Frac),
                    (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::E),
                    (Num::E, b'+' | b'-') => Some(Num::ESign),
                    (Num::E | Num::ESign | Num::Exp, b'0'..=b'9') => Some(Num::Exp),
                    _ => None,
                };
                match next {
                    Some(n2) => {
                        self.state = State::Number(n2);
                        true
                    }
                    None if matches!(n, Num::Zero | Num::Int | Num::Frac | Num::Exp) => {
                        self.state = State::After;
                        self.feed(b)
                    }
                    None => false,
                }
            }
            State::Str {
                key,
                esc,
                need,
                lo,
                hi,
            } => {
                let s = |esc, need, lo, hi| State::Str {
                    key,
                    esc,
                    need,
                    lo,
                    hi,
                };
                if need > 0 {
                    if b < lo || b > hi {
                        return false;
                    }
                    self.state = s(0, need - 1, 0x80, 0xBF);
                    return true;
                }
                match esc {
                    1 => {
                        if b == b'u' {
                            self.state = s(5, 0, 0, 0);
                            return true;
                        }
                        self.state = s(0, 0, 0, 0);
                        return b"\"\\/bfnrt".contains(&b);
                    }
                    2..=5 => {
                        self.state = s(if esc == 2 { 0 } else { esc - 1 }, 0, 0, 0);
                        return b.is_ascii_hexdigit();
                    }
                    _ => {}
                }
                match b {
                    b'"' => {
                        self.state = if key { State::Colon } else { State::After };
                        true
                    }
                    b'\\' => {
                        self.state = s(1, 0, 0, 0);
                        true
                    }
                    0x00..=0x1F => false,
                    0x20..=0x7F => true,
                    0xC2..=0xDF => {
                        self.state = s(0, 1, 0x80, 0xBF);
                        true
                    }
                    0xE0 => {
                        self.state = s(0, 2, 0xA0, 0xBF);
                        true
                    }
                    0xED => {
                        self.state = s(0, 2, 0x80, 0x9F);
                        true
                    }
                    0xE1..=0xEF => {
                        self.state = s(0, 2, 0x80, 0xBF);
                        true
                    }
                    0xF0 => {
                        self.state = s(0, 3, 0x90, 0xBF);
                        true
                    }
                    0xF4 => {
                        self.state = s(0, 3, 0x80, 0x8F);
                        true
                    }
                    0xF1..=0xF3 => {
                        self.state = s(0, 3, 0x80, 0xBF);
                        true
                    }
                    _ => false,
                }
            }
        }
    }
}

/// Compares the fast mask with the oracle at the matcher's state `m`, whose
/// output so far put the recogniser in state `rec`. Returns the differences.
fn compare(m: &mut Matcher, rec: &Recogniser, vocab: &Vocabulary, what: &str) -> usize {
    let fast = m.compute_mask();
    let mut diffs = 0;
    for id in 0..vocab.logits_width() as u32 {
        let bytes = vocab.token_bytes(id);
        let expect = if vocab.eos_tokens().contains(&id) {
            rec.complete()
        } else if bytes.is_empty() || vocab.is_special(id) {
            false
        } else {
            let mut r = rec.clone();
            bytes.iter().all(|&b| r.feed(b))
        };
        if expect != fast.contains(id) {
            diffs += 1;
            if diffs <= 5 {
                eprintln!(
                    "DIFF after {what}: token {id} {:?} oracle={expect} fast={}",
                    String::from_utf8_lossy(bytes),
                    fast.contains(id)
                );
            }
        }
    }
    diffs
}

fn run(name: &str, texts_to_use: usize, random_walks: usize) {
    let env = common::tokenizer(name);
    let vocab = env.vocab().clone();
    let grammar = Arc::new(CompiledGrammar::new(&json_grammar()).unwrap());
    let m0 = Matcher::new(grammar, &env);
    let texts: Vec<String> = std::fs::read_to_string(common::data_dir().join("jsts_data.jsonl"))
        .unwrap()
        .split('\n')
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            serde_json::to_string_pretty(&v).unwrap()
        })
        .collect();
    let mut rng = Rng(7 + name.len() as u64);
    let (mut states, mut diffs) = (0, 0);
    // States along real JSON texts: a few positions in each.
    for _ in 0..texts_to_use {
        let text = &texts[rng.below(texts.len())];
        let toks = vocab.encode(text).unwrap();
        let (mut m, mut rec, mut out) = (m0.clone(), Recogniser::new(), Vec::new());
        for (i, &t) in toks.iter().enumerate() {
            if i % 3 == 0 || i + 1 == toks.len() {
                diffs += compare(&mut m, &rec, &vocab, &String::from_utf8_lossy(&out));
                states += 1;
            }
            m.commit(t).unwrap();
            for &b in vocab.token_bytes(t) {
                assert!(rec.feed(b), "recogniser rejects valid JSON {text:?}");
            }
            out.extend_from_slice(vocab.token_bytes(t));
        }
        diffs += compare(&mut m, &rec, &vocab, &String::from_utf8_lossy(&out));
        states += 1;
    }
    // Random walks over allowed tokens reach stranger states.
    for _ in 0..random_walks {
        let (mut m, mut rec, mut out) = (m0.clone(), Recogniser::new(), Vec::new());
        for _ in 0..12 {
            diffs += compare(&mut m, &rec, &vocab, &String::from_utf8_lossy(&out));
            states += 1;
            let allowed: Vec<u32> = m
                .compute_mask()
                .iter()
                .filter(|t| !vocab.eos_tokens().contains(t))
                .collect();
            if allowed.is_empty() {
                break;
            }
            let t = allowed[rng.below(allowed.len())];
            m.commit(t).unwrap();
            for &b in vocab.token_bytes(t) {
                assert!(rec.feed(b));
            }
            out.extend_from_slice(vocab.token_bytes(t));
        }
    }
    println!("{name}: {states} JSON states compared against the oracle, {diffs} differences");
    assert!(states >= 100);
    assert_eq!(diffs, 0);
}

#[test]
fn json_masks_equal_oracle_gpt2() {
    run("gpt2", 80, 40);
}

/// A SentencePiece vocabulary (`▁` for spaces, byte-fallback tokens).
#[test]
fn json_masks_equal_oracle_mistral() {
    run("mistral", 60, 30);
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-3 tokenizer from ../shared/models (not vendored: Llama 3 licence)"
)]
fn json_masks_equal_oracle_llama3() {
    run("llama3", 60, 30);
}
