//! The third-party grammar corpora (`tests/data/grammars`, copied from
//! `../shared/corpora/grammars`; the whole-corpus run reads the shared
//! folder when it is there): every grammar compiles or fails where its case
//! says it must, every valid string is accepted whole, every invalid one is
//! rejected. A per-file table is printed (`--nocapture`).
//!
//! Cases that cannot run are counted apart, by reason, and never as
//! passes; each reason is listed in the README's exceptions.

mod common;

use formwork::{gbnf_grammar_rooted, GrammarError, Matcher};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The folder of case files: the shared one when present, else the copy.
fn corpus_dir() -> PathBuf {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/grammars");
    if shared.is_dir() {
        shared
    } else {
        common::data_dir().join("grammars")
    }
}

#[derive(Default)]
struct Tally {
    grammars: usize,
    compiled_as_expected: usize,
    valid: usize,
    valid_accepted: usize,
    invalid: usize,
    invalid_rejected: usize,
    not_run: BTreeMap<String, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn print(&self, file: &str) {
        println!(
            "{file:<34} grammars {:>4}  as expected {:>4} ({:.1}%)  valid {:>4}/{:<4}  invalid rejected {:>4}/{:<4}",
            self.grammars,
            self.compiled_as_expected,
            100.0 * self.compiled_as_expected as f64 / self.grammars.max(1) as f64,
            self.valid_accepted,
            self.valid,
            self.invalid_rejected,
            self.invalid,
        );
        for (why, n) in &self.not_run {
            println!("    not run: {n} case(s): {why}");
        }
        for f in self.failures.iter().take(30) {
            println!("    FAIL {f}");
        }
    }
}

/// Whether `m` accepts `s` whole.
fn accepts(m: &Matcher, s: &str) -> bool {
    let mut m = m.clone();
    m.commit_bytes(s.as_bytes()).is_ok() && m.is_accepting()
}

fn strings(case: &Value, key: &str) -> Vec<String> {
    case[key]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs one case of a grammar format whose compile function is `build`.
fn run_case(
    t: &mut Tally,
    case: &Value,
    build: &dyn Fn(&str, &str) -> Result<formwork::grammar::Grammar, GrammarError>,
    default_root: &str,
) {
    let id = case["id"].as_str().unwrap_or("?").to_string();
    let text = case["grammar"].as_str().unwrap_or_default();
    let root = case["root"].as_str().unwrap_or(default_root);
    let has_tokens = case.get("valid_tokens").is_some() || case.get("invalid_tokens").is_some();
    t.grammars += 1;
    let env = common::gpt2();
    let compiled = build(text, root).and_then(|g| env.compile(&g));
    let expect_ok = case["parse_ok"].as_bool();
    match (&compiled, expect_ok) {
        (Err(e), Some(false)) => {
            let _ = e;
            t.compiled_as_expected += 1;
            return;
        }
        (Ok(_), Some(false)) => {
            t.failures
                .push(format!("{id}: compiled, but the case says it must fail"));
            return;
        }
        (Err(e), _) => {
            if has_tokens || text.contains("<[") {
                *t.not_run
                    .entry("token references (<[id]>): grammars over token ids".into())
                    .or_default() += 1;
            } else {
                t.failures.push(format!("{id}: does not compile: {e}"));
            }
            t.valid += case["valid"].as_array().map_or(0, Vec::len);
            t.invalid += case["invalid"].as_array().map_or(0, Vec::len);
            return;
        }
        (Ok(_), _) => t.compiled_as_expected += 1,
    }
    let m = Matcher::new(compiled.unwrap(), &env);
    for s in strings(case, "valid") {
        t.valid += 1;
        if accepts(&m, &s) {
            t.valid_accepted += 1;
        } else {
            t.failures.push(format!("{id}: rejects valid {s:?}"));
        }
    }
    for s in strings(case, "invalid") {
        t.invalid += 1;
        if !accepts(&m, &s) {
            t.invalid_rejected += 1;
        } else {
            t.failures.push(format!("{id}: accepts invalid {s:?}"));
        }
    }
}

fn cases(file: &str, format: &str) -> Vec<Value> {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|c| c["format"] == format)
        .collect()
}

#[test]
fn gbnf_cases() {
    let mut t = Tally::default();
    for case in cases("gbnf_cases.jsonl", "gbnf") {
        run_case(
            &mut t,
            &case,
            &|text, root| gbnf_grammar_rooted(text, root),
            "root",
        );
    }
    t.print("gbnf_cases.jsonl (gbnf)");
    assert!(t.failures.is_empty(), "{} failures", t.failures.len());
    assert!(t.grammars > 0);
    let ran = t.grammars - t.not_run.values().sum::<usize>();
    assert!(
        t.compiled_as_expected * 100 >= ran * 98,
        "fewer than 98% of the grammars compile as expected"
    );
}
