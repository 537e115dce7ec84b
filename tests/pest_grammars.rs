//! The pest frontend on the grammars of `grammars/`: they compile, strings
//! fuzzed from them through the matcher all parse with `pest_vm` under the
//! same grammar, and bad grammars give clear errors with line and column.

use formwork::fuzzer::Fuzzer;
use formwork::{pest_grammar, CompiledGrammar, GrammarError};
use std::path::PathBuf;
use std::sync::Arc;

/// (file, start rule) of every shipped grammar.
const GRAMMARS: &[(&str, &str)] = &[
    ("json.pest", "json"),
    ("arithmetic.pest", "calculation"),
    ("csv.pest", "file"),
    ("tool_call.pest", "calls"),
    ("sql.pest", "sql"),
];

fn grammar_text(file: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("grammars")
        .join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Samples per grammar: 2,000 by default (a fresh clone's `cargo test` stays
/// short), `FORMWORK_FUZZ_N` to change.
fn fuzz_count() -> usize {
    std::env::var("FORMWORK_FUZZ_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000)
}

/// Does `input` parse in full with `pest_vm` from rule `start`?
fn pest_accepts(vm: &pest_vm::Vm, start: &str, input: &str) -> Result<(), String> {
    match vm.parse(start, input) {
        Ok(pairs) => {
            let end = pairs.map(|p| p.as_span().end()).max().unwrap_or(0);
            if end == input.len() {
                Ok(())
            } else {
                Err(format!("pest stopped at byte {end} of {}", input.len()))
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

fn round_trip(file: &str, start: &str) {
    let text = grammar_text(file);
    let g = pest_grammar(&text, Some(start)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let c = Arc::new(CompiledGrammar::new(&g).unwrap_or_else(|e| panic!("{file}: {e}")));
    let (_, rules) = pest_meta::parse_and_optimize(&text).unwrap();
    let vm = pest_vm::Vm::new(rules);
    let n = fuzz_count();
    let mut f = Fuzzer::new(c, 42, 120);
    let mut failures = Vec::new();
    let mut total_len = 0;
    for _ in 0..n {
        let s = f.sample().unwrap_or_else(|e| panic!("{file}: {e}"));
        total_len += s.len();
        if let Err(e) = pest_accepts(&vm, start, &s) {
            failures.push((s, e));
        }
    }
    for (s, e) in failures.iter().take(10) {
        eprintln!("{file}: pest_vm rejects {s:?}: {e}");
    }
    println!(
        "{file}: {n} fuzzed strings (mean length {:.1}), {} rejected by pest_vm",
        total_len as f64 / n as f64,
        failures.len()
    );
    assert!(failures.is_empty(), "{file}: {} rejected", failures.len());
}

#[test]
fn fuzz_json_round_trips_through_pest_vm() {
    round_trip("json.pest", "json");
}

#[test]
fn fuzz_arithmetic_round_trips_through_pest_vm() {
    round_trip("arithmetic.pest", "calculation");
}

#[test]
fn fuzz_csv_round_trips_through_pest_vm() {
    round_trip("csv.pest", "file");
}

#[test]
fn fuzz_tool_call_round_trips_through_pest_vm() {
    round_trip("tool_call.pest", "calls");
}

#[test]
fn fuzz_sql_round_trips_through_pest_vm() {
    round_trip("sql.pest", "sql");
}

#[test]
fn shipped_grammars_use_first_rule_as_default_start() {
    for (file, start) in GRAMMARS {
        let g = pest_grammar(&grammar_text(file), None).unwrap();
        assert_eq!(g.start(), *start, "{file}");
    }
}

/// Lowers `text` and returns the error.
fn error_of(text: &str) -> GrammarError {
    match pest_grammar(text, None).and_then(|g| CompiledGrammar::new(&g).map(|_| g)) {
        Ok(_) => panic!("{text:?} should be rejected"),
        Err(e) => e,
    }
}

fn assert_pos(e: &GrammarError, want_line: usize, want_col: usize) {
    let (line, column) = match e {
        GrammarError::PestSyntax { line, column, .. } => (*line, *column),
        GrammarError::PestUnsupported { line, column, .. } => (*line, *column),
        other => panic!("expected a pest error with a position, got {other}"),
    };
    assert_eq!((line, column), (want_line, want_col), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("line {want_line}")), "{msg}");
}

#[test]
fn syntax_error_has_line_and_column() {
    let e = error_of("a = { \"x\" }\nb = { \"y\" ~ }\n");
    assert!(matches!(e, GrammarError::PestSyntax { .. }), "{e}");
    assert_pos(&e, 2, 13);
    let e = error_of("a = { \"unterminated }\n");
    assert!(matches!(e, GrammarError::PestSyntax { .. }), "{e}");
}

#[test]
fn undefined_rule_is_reported() {
    let e = error_of("a = { b ~ \"x\" }\n");
    assert_pos(&e, 1, 7);
    assert!(e.to_string().contains('b'), "{e}");
}

#[test]
fn left_recursion_is_rejected_like_pest() {
    let e = error_of("expr = { expr ~ \"+\" ~ num | num }\nnum = { ASCII_DIGIT+ }\n");
    assert!(matches!(e, GrammarError::PestSyntax { .. }), "{e}");
    assert!(e.to_string().contains("left-recursive"), "{e}");
    assert_pos(&e, 1, 10);
}

#[test]
fn stack_operations_are_unsupported() {
    let e = error_of("a = { SOI ~ PUSH(\"x\") ~ \"-\" ~ POP ~ EOI }\n");
    assert!(matches!(e, GrammarError::PestUnsupported { .. }), "{e}");
    assert_pos(&e, 1, 13);
}

#[test]
fn peek_in_reachable_rule_is_unsupported() {
    let e = error_of("a = { b }\nb = { \"x\" ~ PEEK[..] }\n");
    assert!(matches!(e, GrammarError::PestUnsupported { .. }), "{e}");
    assert!(e.to_string().contains("rule \"b\""), "{e}");
    assert_pos(&e, 2, 13);
}

#[test]
fn lookahead_in_non_atomic_rule_is_unsupported() {
    let e = error_of("a = { \"x\" ~ !\"y\" ~ ANY }\n");
    assert!(matches!(e, GrammarError::PestUnsupported { .. }), "{e}");
    assert!(e.to_string().contains("atomic"), "{e}");
    assert_pos(&e, 1, 13);
}

#[test]
fn recursive_atomic_rule_is_unsupported() {
    let e = error_of("a = @{ \"(\" ~ a? ~ \")\" }\n");
    assert!(matches!(e, GrammarError::PestUnsupported { .. }), "{e}");
    assert!(e.to_string().contains("recursive"), "{e}");
}

#[test]
fn unknown_start_rule_lists_the_rules() {
    let e = pest_grammar("a = { \"x\" }", Some("b")).unwrap_err();
    assert!(e.to_string().contains("defines: a"), "{e}");
}

#[test]
fn non_grammar_text_never_panics() {
    for text in [
        "",
        "=",
        "a",
        "a = ",
        "a = {",
        "a = { }",
        "a = { ^ }",
        "a = { 'ab'..'c' }",
        "a = { \"x\"{3,1} }",
        "a = { (\"x\")* * }",
        "a = @{ (!\"x\")* }",
        "a = { \"\\u{110000}\" }",
        "a = { \"\\u{D800}\" }",
        "WHITESPACE = { \" \"* }\na = { \"x\" }",
    ] {
        let r = pest_grammar(text, None).and_then(|g| CompiledGrammar::new(&g).map(|_| ()));
        if let Err(e) = r {
            assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn case_insensitive_strings_ranges_and_builtins() {
    let g = pest_grammar(
        "s = { SOI ~ ^\"select\" ~ ('a'..'c')+ ~ ASCII_DIGIT ~ NEWLINE? ~ EOI }\nWHITESPACE = _{ \" \" }",
        None,
    )
    .unwrap();
    let c = Arc::new(CompiledGrammar::new(&g).unwrap());
    let vocab = Arc::new(formwork::fuzzer::byte_vocabulary());
    let env = Arc::new(formwork::TokenEnv::new(vocab.clone()));
    for (text, ok) in [
        ("SeLeCt abc1", true),
        ("select cab 2\r\n", true),
        ("select d1", false),
        ("selekt a1", false),
    ] {
        let mut m = formwork::Matcher::new(c.clone(), &env);
        let accepted = m.commit_bytes(text.as_bytes()).is_ok() && m.is_accepting();
        assert_eq!(accepted, ok, "{text:?}");
    }
}

/// Runs each text through a matcher of `grammar` byte by byte: is it accepted whole?
fn accepts(grammar: &CompiledGrammar, cases: &[(&str, bool)]) {
    let c = Arc::new(grammar.clone());
    let vocab = Arc::new(formwork::fuzzer::byte_vocabulary());
    let env = Arc::new(formwork::TokenEnv::new(vocab.clone()));
    for (text, ok) in cases {
        let mut m = formwork::Matcher::new(c.clone(), &env);
        let accepted = m.commit_bytes(text.as_bytes()).is_ok() && m.is_accepting();
        assert_eq!(accepted, *ok, "{text:?}");
    }
}

#[test]
fn sql_separates_words_like_sqlite() {
    let g = pest_grammar(&grammar_text("sql.pest"), None).unwrap();
    let c = CompiledGrammar::new(&g).unwrap();
    accepts(
        &c,
        &[
            ("SELECT x FROM t", true),
            ("select count(*)from t where a=1", true),
            ("SELECT T1.name,T2.id FROM t AS T1 JOIN u AS T2", true),
            ("SELECT 'a'||x FROM t", true),
            // SQLite reads these as one identifier, or a number glued to a name.
            ("SELECTx FROM t", false),
            ("SELECT x FROM t WHEREa=1", false),
            ("SELECT 7x", false),
            ("SELECT x FROM t LIMIT 1OFFSET 2", false),
            ("SELECT x FROM t LIMIT 1 OFFSET 2", true),
        ],
    );
    // Without the directive, pest's reading (no separator needed) is kept.
    let text = grammar_text("sql.pest").replace("//! formwork: separate-words", "");
    let c = CompiledGrammar::new(&pest_grammar(&text, None).unwrap()).unwrap();
    accepts(
        &c,
        &[
            ("SELECTx FROM t", true),
            ("SELECT x FROM t LIMIT 1OFFSET 2", true),
        ],
    );
}

#[test]
fn unknown_directive_has_line_and_column() {
    let e = error_of("//! formwork: separate-words\n  //! formwork: glue\na = { \"x\" }\n");
    assert!(e.to_string().contains("glue"), "{e}");
    assert_pos(&e, 2, 3);
}
