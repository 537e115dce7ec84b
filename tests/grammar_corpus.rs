//! The third-party grammar corpora (`tests/data/grammars`, copied from
//! `../shared/corpora/grammars`; the whole-corpus run reads the shared
//! folder when it is there): every grammar compiles or fails where its case
//! says it must, every valid string is accepted whole, every invalid one is
//! rejected. A per-file table is printed (`--nocapture`).
//!
//! Cases that cannot run are counted apart, by reason, and never as
//! passes; each reason is listed in the README's exceptions.

mod common;

use formwork::{
    ebnf_grammar, gbnf_grammar_rooted, json_schema, lark_grammar, structural_tag_grammar,
    FormatMode, GrammarError, Matcher, PropertyOrder, SchemaOptions, Spelling, Whitespace,
};
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

/// Cases whose expectation formwork does not meet, by id, with the
/// reason (the README lists them too). Each must still fail as recorded:
/// one that starts to pass is reported, so that the list stays true.
const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "xgrammar-grammar-parser-test-flatten",
        "the grammar's language is empty (a rule that always recurses); formwork refuses such a grammar",
    ),
    (
        "xgrammar-grammar-regex-macro-test-regex-macro-unsupported-features-7",
        "Regex(\"[]\") matches nothing; formwork refuses a grammar with an empty language",
    ),
    (
        "xgrammar-structural-tag-converter-test-json-schema-format",
        "XGrammar's strict mode forbids properties a schema does not name; JSON Schema allows them, and so does formwork",
    ),
    (
        "xgrammar-json-schema-converter-test-integer-multiple-of-4",
        "integer multipleOf 1024: formwork's exact number lexeme for it (every JSON spelling, exponents \
         included) passes its size limit, and the schema is refused as unsupported",
    ),
    (
        "llguidance-test-lark-test-lark-syntax-perc-4",
        "llguidance cannot compile `if`; formwork can, so the grammar compiles",
    ),
    (
        "llguidance-test-lark-test-json-dw-pattern-3",
        "llguidance refuses \\u escapes of characters that need none; JSON allows them",
    ),
    (
        "llguidance-test-lark-test-json-general-unicode-escapes-are-opt-in",
        "llguidance refuses \\u escapes of characters that need none; JSON allows them",
    ),
    (
        "llguidance-test-lark-test-json-additional-property-keys-validate-unic",
        "lone surrogate escapes (\\uD83D) in a key: JSON's grammar allows them, llguidance refuses them",
    ),
];

/// Features formwork refuses with an error naming them, by a piece of
/// that error: the cases that need them are counted as not run, with the
/// reason.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "over token ids",
        "structural-tag formats over token ids (token, any_tokens, token_triggered_tags, ...)",
    ),
    (
        "qwen_xml_parameter",
        "structural-tag XML argument formats (qwen_xml_parameter)",
    ),
    (
        "json_schema style",
        "structural-tag JSON argument styles other than \"json\" (qwen_xml, minimax_xml, ...)",
    ),
    (
        "attribute max_tokens",
        "Lark max_tokens attribute (counts tokens; a grammar over text cannot)",
    ),
    (
        "attribute stop",
        "Lark stop/stop_capture attributes (the stop text is hidden from the output)",
    ),
    ("attribute suffix", "Lark suffix attribute (hidden text)"),
    (
        "the rule attribute \"max_tokens\" is not supported",
        "XGrammar EBNF max_tokens rule attribute (counts tokens; a grammar over text cannot)",
    ),
    (
        "look-around",
        "look-ahead, look-behind and word boundaries (\\b) inside Regex(...): lexemes are DFAs without assertions",
    ),
    (
        "backreferences are not supported",
        "back-references inside Regex(...), which are not regular",
    ),
    (
        "parametric rules",
        "llguidance's parametric rules (name::param, %if)",
    ),
    (
        "x-guidance",
        "llguidance's x-guidance JSON options (separators, escapes, whitespace patterns)",
    ),
    (
        "a nested grammar with whitespace of its own",
        "a %lark block with its own %ignore (the IR has one ignore lexeme per grammar)",
    ),
];

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
    /// Listed exceptions met, by id.
    excepted: Vec<String>,
}

impl Tally {
    fn print(&self, file: &str) {
        let ran = self.grammars - self.not_run.values().sum::<usize>();
        println!(
            "{file:<34} grammars {:>4} (run {:>4})  as expected {:>4} ({:.1}% of run)  valid {:>4}/{:<4}  invalid rejected {:>4}/{:<4}",
            self.grammars,
            ran,
            self.compiled_as_expected,
            100.0 * self.compiled_as_expected as f64 / ran.max(1) as f64,
            self.valid_accepted,
            self.valid,
            self.invalid_rejected,
            self.invalid,
        );
        for (why, n) in &self.not_run {
            println!("    not run: {n} case(s): {why}");
        }
        for id in &self.excepted {
            let why = EXCEPTIONS.iter().find(|e| e.0 == id).map_or("", |e| e.1);
            println!("    exception {id}: {why}");
        }
        for f in self.failures.iter().take(200) {
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
    let before = t.failures.len();
    run_case_inner(t, case, build, default_root, &id);
    settle_exception(t, &id, before);
}

/// Moves the failures of a listed exception out of `t.failures`; an
/// exception that no longer fails is a failure itself.
fn settle_exception(t: &mut Tally, id: &str, before: usize) {
    if !EXCEPTIONS.iter().any(|e| e.0 == id) {
        return;
    }
    if t.failures.len() > before {
        t.failures.truncate(before);
        t.excepted.push(id.to_string());
    } else {
        t.failures.push(format!(
            "{id}: listed as an exception but meets its expectation now; drop it from EXCEPTIONS"
        ));
    }
}

fn run_case_inner(
    t: &mut Tally,
    case: &Value,
    build: &dyn Fn(&str, &str) -> Result<formwork::grammar::Grammar, GrammarError>,
    default_root: &str,
    id: &str,
) {
    let id = id.to_string();
    let text = case["grammar"].as_str().unwrap_or_default();
    let root = case["root"].as_str().unwrap_or(default_root);
    let has_tokens = case.get("valid_tokens").is_some() || case.get("invalid_tokens").is_some();
    if std::env::var_os("CORPUS_TRACE").is_some() {
        eprintln!("case {id}");
    }
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
            let msg = e.to_string();
            let unsupported = UNSUPPORTED.iter().find(|(needle, _)| msg.contains(needle));
            if has_tokens || text.contains("<[") {
                *t.not_run
                    .entry("token references (<[id]>): grammars over token ids".into())
                    .or_default() += 1;
            } else if let Some((_, why)) = unsupported {
                *t.not_run.entry((*why).into()).or_default() += 1;
            } else {
                // A grammar that should compile and does not: its strings
                // count as not passed.
                t.failures.push(format!("{id}: does not compile: {e}"));
                t.valid += case["valid"].as_array().map_or(0, Vec::len);
                t.invalid += case["invalid"].as_array().map_or(0, Vec::len);
            }
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

/// The `json_schema` cases of a grammar file. Their strings carry their
/// engines' own converters' restrictions (key order, `1.0` not an integer);
/// the JSON Schema spec decides here: each string is relabelled with the
/// `jsonschema` crate (formats asserted, as formwork's assert mode), and
/// formwork must accept exactly the strings that validate. Returns the
/// tally and how many strings changed label.
fn schema_cases(file: &str) -> (Tally, usize) {
    let mut t = Tally::default();
    let mut relabelled = 0;
    let env = common::gpt2();
    let opts = SchemaOptions {
        whitespace: Whitespace::Flexible,
        format: FormatMode::Assert,
        property_order: PropertyOrder::Any,
        spelling: Spelling::Any,
        ..SchemaOptions::default()
    };
    for case in cases(file, "json_schema") {
        let id = case["id"].as_str().unwrap_or("?").to_string();
        let before = t.failures.len();
        schema_case(&mut t, &case, &env, &opts, &mut relabelled);
        settle_exception(&mut t, &id, before);
    }
    (t, relabelled)
}

/// One `json_schema` case (see [`schema_cases`]).
fn schema_case(
    t: &mut Tally,
    case: &Value,
    env: &std::sync::Arc<formwork::TokenEnv>,
    opts: &SchemaOptions,
    relabelled: &mut usize,
) {
    let id = case["id"].as_str().unwrap_or("?").to_string();
    t.grammars += 1;
    let schema: Value = match serde_json::from_str(case["grammar"].as_str().unwrap_or("")) {
        Ok(v) => v,
        Err(e) => {
            t.failures
                .push(format!("{id}: schema text is not JSON: {e}"));
            return;
        }
    };
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema);
    let compiled = json_schema(&schema, opts).and_then(|g| env.compile(&g));
    match (&compiled, case["parse_ok"].as_bool(), &validator) {
        (Err(_), Some(false), _) => {
            t.compiled_as_expected += 1;
            return;
        }
        (Err(e), _, Ok(_)) => {
            t.failures.push(format!("{id}: does not compile: {e}"));
            return;
        }
        (Err(_), _, Err(_)) => {
            // Not a valid schema for the spec either.
            t.compiled_as_expected += 1;
            return;
        }
        (Ok(_), _, Err(e)) => {
            *t.not_run
                .entry(format!("the jsonschema crate refuses the schema ({e})"))
                .or_default() += 1;
            return;
        }
        (Ok(_), _, Ok(_)) => t.compiled_as_expected += 1,
    }
    let validator = validator.unwrap();
    let m = Matcher::new(compiled.unwrap(), env);
    for (key, engine_says) in [("valid", true), ("invalid", false)] {
        for s in strings(case, key) {
            let valid = serde_json::from_str::<Value>(&s)
                .map(|v| validator.is_valid(&v))
                .unwrap_or(false);
            if valid != engine_says {
                *relabelled += 1;
            }
            let got = accepts(&m, &s);
            if valid {
                t.valid += 1;
                t.valid_accepted += usize::from(got);
            } else {
                t.invalid += 1;
                t.invalid_rejected += usize::from(!got);
            }
            if got != valid {
                t.failures.push(format!(
                    "{id}: {} {s:?} (the spec says {})",
                    if got { "accepts" } else { "rejects" },
                    if valid { "valid" } else { "invalid" }
                ));
            }
        }
    }
}

#[test]
fn gbnf_file_json_schema_cases() {
    let (t, relabelled) = schema_cases("gbnf_cases.jsonl");
    t.print("gbnf_cases.jsonl (json_schema)");
    println!("    {relabelled} string(s) relabelled by the JSON Schema spec");
    assert!(t.failures.is_empty(), "{} failures", t.failures.len());
    assert!(t.grammars > 0);
}

#[test]
fn xgrammar_ebnf_cases() {
    let mut t = Tally::default();
    for case in cases("xgrammar_ebnf_cases.jsonl", "xgrammar_ebnf") {
        run_case(
            &mut t,
            &case,
            &|text, root| ebnf_grammar(text, root),
            "root",
        );
    }
    t.print("xgrammar_ebnf_cases.jsonl (ebnf)");
    let mut r = Tally::default();
    for case in cases("xgrammar_ebnf_cases.jsonl", "regex") {
        // XGrammar's regex flavour, through the EBNF `Regex` macro.
        let build = |text: &str, root: &str| {
            let quoted = text
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            ebnf_grammar(&format!("{root} ::= Regex(\"{quoted}\")"), root)
        };
        run_case(&mut r, &case, &build, "root");
    }
    r.print("xgrammar_ebnf_cases.jsonl (regex)");
    for t in [&t, &r] {
        assert!(t.failures.is_empty(), "{} failures", t.failures.len());
        let ran = t.grammars - t.not_run.values().sum::<usize>();
        assert!(
            t.compiled_as_expected * 100 >= ran * 95,
            "fewer than 95% of the grammars compile as expected"
        );
    }
}

#[test]
fn lark_cases() {
    let mut t = Tally::default();
    for case in cases("lark_cases.jsonl", "lark") {
        run_case(&mut t, &case, &|text, _| lark_grammar(text), "start");
    }
    t.print("lark_cases.jsonl (lark)");
    assert!(t.failures.is_empty(), "{} failures", t.failures.len());
    let ran = t.grammars - t.not_run.values().sum::<usize>();
    assert!(
        t.compiled_as_expected * 100 >= ran * 95,
        "fewer than 95% of the grammars that ran compile as expected"
    );
}

#[test]
fn lark_file_json_schema_cases() {
    let (t, relabelled) = schema_cases("lark_cases.jsonl");
    t.print("lark_cases.jsonl (json_schema)");
    println!("    {relabelled} string(s) relabelled by the JSON Schema spec");
    assert!(t.failures.is_empty(), "{} failures", t.failures.len());
}

#[test]
fn structural_tag_cases() {
    let mut t = Tally::default();
    for case in cases("structural_tag_cases.jsonl", "structural_tag") {
        let build = |text: &str, _: &str| {
            let v: Value = serde_json::from_str(text).map_err(|e| GrammarError::InvalidSchema {
                pointer: String::new(),
                message: e.to_string(),
            })?;
            structural_tag_grammar(&v)
        };
        run_case(&mut t, &case, &build, "");
    }
    t.print("structural_tag_cases.jsonl");
    assert!(t.failures.is_empty(), "{} failures", t.failures.len());
}

/// A frontend, from text to a grammar.
type Frontend = dyn Fn(&str) -> Result<formwork::grammar::Grammar, GrammarError>;

/// Bad grammars give an error with the line and column of the problem,
/// never a panic.
#[test]
fn bad_grammars_name_line_and_column() {
    let cases: &[(&str, &Frontend, &str)] = &[
        (
            "root ::= \"a\"\nx ::= [a-",
            &|t| formwork::gbnf_grammar(t),
            "line 2",
        ),
        (
            "root ::= foo\n",
            &|t| formwork::gbnf_grammar(t),
            "not defined",
        ),
        (
            "root ::= \"a\"{3000}\n",
            &|t| formwork::gbnf_grammar(t),
            "line 1",
        ),
        (
            "root ::= a\na ::= a \"x\" | \"y\"\n",
            &|t| formwork::gbnf_grammar(t),
            "left recursive",
        ),
        (
            "root ::= \"a\"++",
            &|t| ebnf_grammar(t, "root"),
            "column 14",
        ),
        (
            "root ::= Regex(\"a(\")",
            &|t| ebnf_grammar(t, "root"),
            "line 1",
        ),
        ("start: foo\nfoo: \"a\" (\n", &|t| lark_grammar(t), "line"),
        ("start: \"\\q\"", &|t| lark_grammar(t), "line 1"),
        (
            "start: A & b\nA: \"a\"\nb: \"b\"\n",
            &|t| lark_grammar(t),
            "only supported for tokens",
        ),
    ];
    for (text, build, needle) in cases {
        let e = build(text).and_then(|g| formwork::CompiledGrammar::new(&g).map(|_| g));
        let msg = e
            .err()
            .unwrap_or_else(|| panic!("{text:?} must fail"))
            .to_string();
        assert!(msg.contains(needle), "{text:?}: {msg}");
    }
    // Deep nesting and hostile repetition are errors too.
    let deep = format!("root ::= {}\"a\"{}\n", "(".repeat(5000), ")".repeat(5000));
    assert!(formwork::gbnf_grammar(&deep).is_err());
    let stars = format!("root ::= \"a\"{}\n", "*".repeat(5000));
    assert!(formwork::gbnf_grammar(&stars).is_err());
    let lark_deep = format!("start: {}\"a\"{}\n", "(".repeat(5000), ")".repeat(5000));
    assert!(lark_grammar(&lark_deep).is_err());
}

/// XGrammar's JSON-schema converter tests (1.5 MB, not vendored: read from
/// `../shared`).
#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "reads ../shared/corpora/grammars/xgrammar_json_schema_cases.jsonl (1.5 MB, not vendored)"
)]
fn xgrammar_json_schema_cases() {
    let (t, relabelled) = schema_cases("xgrammar_json_schema_cases.jsonl");
    t.print("xgrammar_json_schema_cases.jsonl");
    println!("    {relabelled} string(s) relabelled by the JSON Schema spec");
    assert!(t.failures.is_empty(), "{} failures", t.failures.len());
}
