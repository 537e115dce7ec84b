//! Tests of `formwork::repair`: the reference cases of two repair libraries,
//! a round-trip property over generated valid JSON, and adversarial inputs.
//!
//! `cargo test --test repair -- --nocapture` prints the pass rates and the
//! failing case ids; with `REPAIR_VERBOSE=1` also each failing input and
//! what we got instead of the expected value.

mod common;

use common::Rng;

use formwork::repair::{
    repair, repair_with, repair_with_schema, RepairError, RepairOptions, SchemaCheck, SchemaMode,
    MAX_DEPTH,
};
use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------
// 1. reference cases

const CASES: &str = include_str!("data/json_repair_cases.jsonl");

/// Options of json_repair that this crate implements (or that do not change
/// the parsed value). `schema` cases run through `repair_with_schema`
/// (`schema_repair_mode` picks the mode, default standard), `stream_stable`
/// sets [`RepairOptions::stream_stable`]. Anything else counts as a failure.
fn options_supported(opts: &Map<String, Value>) -> Result<(), String> {
    for (k, v) in opts {
        match k.as_str() {
            // Output form only: we always return a value and compare values.
            "return_objects" | "ensure_ascii" | "_function" => {}
            // Bypass of the strict fast path (`RepairOptions::always_repair`).
            "skip_json_loads" if v.is_boolean() => {}
            "stream_stable" if v.is_boolean() => {}
            // Schema-guided repair (`repair_with_schema`).
            "schema" => {}
            "schema_repair_mode" if v == "standard" || v == "salvage" => {}
            _ => return Err(format!("unsupported option {k}")),
        }
    }
    Ok(())
}

/// A JSON number's exact value as (negative, significant digits, exponent
/// of the last digit): equal values give equal triples.
fn exact(text: &str) -> Option<(bool, String, i64)> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i64>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let all = format!("{int}{frac}");
    let digits = all.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    if trimmed.is_empty() {
        return Some((false, String::new(), 0));
    }
    let exp = exp - frac.len() as i64 + (digits.len() - trimmed.len()) as i64;
    Some((neg, trimmed.to_string(), exp))
}

/// Equality of JSON values with numbers compared by value (`1e10` and
/// `10000000000.0` are one number), as the reference libraries' Python and
/// JavaScript tests compare them. serde_json keeps each number's text, so
/// `==` on values would compare spellings.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (exact(&x.to_string()), exact(&y.to_string())) {
                (Some(p), Some(q)) => p == q,
                _ => x == y,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| same(p, q)))
        }
        _ => a == b,
    }
}

/// Checks one case; `Err` explains the failure.
fn check_case(case: &Value) -> Result<(), String> {
    let input = case["input"].as_str().ok_or("no input")?;
    let empty = Map::new();
    let opts = case["options"].as_object().unwrap_or(&empty);
    options_supported(opts)?;
    let kind = case["expected_kind"].as_str().ok_or("no kind")?;
    let got = match opts.get("schema") {
        Some(schema) => {
            let mode = match opts.get("schema_repair_mode").and_then(Value::as_str) {
                Some("salvage") => SchemaMode::Salvage,
                _ => SchemaMode::Standard,
            };
            match repair_with_schema(input, schema, mode) {
                // json_repair gives up (returns "") where a value cannot be
                // made to fit; we report a mismatch.
                Ok(r) if !r.mismatches.is_empty() && case["expected"] == "" => return Ok(()),
                r => r.map(|r| formwork::repair::Repaired {
                    value: r.value,
                    fixes: r.fixes,
                }),
            }
        }
        None => {
            let on = |k: &str| opts.get(k) == Some(&Value::Bool(true));
            repair_with(
                input,
                &RepairOptions::default()
                    .stream_stable(on("stream_stable"))
                    .always_repair(on("skip_json_loads")),
            )
        }
    };
    match kind {
        "error" => match got {
            Err(_) => Ok(()),
            Ok(r) => Err(format!("expected an error, got {}", r.value)),
        },
        "value" => {
            let want = &case["expected"];
            match got {
                Ok(r) if same(&r.value, want) => Ok(()),
                Ok(r) => Err(format!("got {}, want {want}", r.value)),
                Err(e) => Err(format!("error {e}, want {want}")),
            }
        }
        "text" => {
            let want_text = case["expected"].as_str().ok_or("text expected")?;
            if want_text.is_empty() {
                // json_repair's "nothing salvageable" (its output for `""` too):
                // we must fail with NothingRecoverable or return the empty string.
                return match got {
                    Err(RepairError::NothingRecoverable) => Ok(()),
                    Ok(r) if r.value == Value::String(String::new()) => Ok(()),
                    Ok(r) => Err(format!("got {}, want nothing", r.value)),
                    Err(e) => Err(format!("error {e}, want NothingRecoverable")),
                };
            }
            let want: Value = serde_json::from_str(want_text)
                .map_err(|e| format!("expected text is not JSON: {e}"))?;
            match got {
                Ok(r) if same(&r.value, &want) => Ok(()),
                Ok(r) => Err(format!("got {}, want {want}", r.value)),
                Err(e) => Err(format!("error {e}, want {want}")),
            }
        }
        other => Err(format!("unknown kind {other}")),
    }
}

/// Pass rates at or above which the test passes (they can only go up),
/// over the cases that are not [`EXCEPTIONS`].
const MIN_RATE_JSON_REPAIR: f64 = 0.982;
const MIN_RATE_JSONREPAIR: f64 = 0.982;

/// What formwork does instead of the library's answer in an exception.
#[derive(Debug)]
enum Instead {
    /// No value: `RepairError`, a non-zero exit in the CLI.
    Error,
    /// This value (JSON text).
    Value(&'static str),
}

/// Reference cases where formwork deliberately differs from the library,
/// with what it does instead (checked like any case) and why. Most are
/// places where the two libraries contradict each other, or where issue #18
/// asks for `json_repair`'s behaviour over `jsonrepair`'s; the module
/// documentation of `formwork::repair` states each rule.
const EXCEPTIONS: &[(&str, &str, Instead, &str)] = &[
    // Bare words are prose, not a JSON value (json_repair returns nothing).
    ("jsonrepair", "abc", Instead::Error, "bare word"),
    ("jsonrepair", "foo", Instead::Error, "bare word"),
    ("jsonrepair", "e", Instead::Error, "bare word"),
    ("jsonrepair", "ES2020", Instead::Error, "bare word"),
    ("jsonrepair", "trueble", Instead::Error, "bare word"),
    ("jsonrepair", "false_value", Instead::Error, "bare word"),
    ("jsonrepair", "nullifiable", Instead::Error, "bare word"),
    ("jsonrepair", "hello   world", Instead::Error, "bare words"),
    ("jsonrepair", "foo 2 bar", Instead::Error, "bare words"),
    ("jsonrepair", "a,b", Instead::Error, "bare words"),
    (
        "jsonrepair",
        "https://www.bible.com/",
        Instead::Error,
        "bare word",
    ),
    // An escape cut off by the end of the text is kept as text, as
    // json_repair does; jsonrepair drops it.
    (
        "jsonrepair",
        "{\"foo\":\"bar\\u20",
        Instead::Value(r#"{"foo":"bar\\u20"}"#),
        "cut escape",
    ),
    (
        "jsonrepair",
        "\"\\u",
        Instead::Value(r#""\\u""#),
        "cut escape",
    ),
    (
        "jsonrepair",
        "{\"s \\ud",
        Instead::Value(r#"{"s \\ud": null}"#),
        "cut escape",
    ),
    // An invalid escape keeps its backslash (json_repair keeps it too).
    (
        "jsonrepair",
        "\"\\a\"",
        Instead::Value(r#""\\a""#),
        "invalid escape",
    ),
    // Prose before a bracket is skipped, prose or an empty document after a
    // value is ignored (json_repair: `stringbeforeobject {}` → `{}`,
    // `[]{}` → `[]`); jsonrepair rejects these.
    (
        "jsonrepair",
        "callback {}",
        Instead::Value("{}"),
        "prose before JSON",
    ),
    (
        "jsonrepair",
        "{\"a\":2}{}",
        Instead::Value(r#"{"a":2}"#),
        "empty document",
    ),
    (
        "jsonrepair",
        "{\"a\":2}foo",
        Instead::Value(r#"{"a":2}"#),
        "prose after JSON",
    ),
    // Python literals alone are values (jsonrepair: `True` → `true`);
    // json_repair returns nothing for them.
    ("json_repair", "True", Instead::Value("true"), "keyword"),
    ("json_repair", "False", Instead::Value("false"), "keyword"),
    ("json_repair", "Null", Instead::Value("null"), "keyword"),
];

/// The exception for `case`, if it is one.
fn exception(case: &Value) -> Option<&'static (&'static str, &'static str, Instead, &'static str)> {
    let lib = case["library"].as_str().unwrap_or("");
    let input = case["input"].as_str()?;
    if case["options"].get("schema").is_some() {
        return None; // the exceptions are about plain repair
    }
    EXCEPTIONS
        .iter()
        .find(|(l, i, ..)| *i == input && lib.starts_with(l) && lib[l.len()..].starts_with(' '))
}

/// Checks that formwork does what [`EXCEPTIONS`] says for `input`.
fn check_exception(input: &str, instead: &Instead) -> Result<(), String> {
    match (instead, repair(input)) {
        (Instead::Error, Err(_)) => Ok(()),
        (Instead::Error, Ok(r)) => Err(format!("exception: want an error, got {}", r.value)),
        (Instead::Value(t), Ok(r)) => {
            let want: Value = serde_json::from_str(t).expect("exception value is JSON");
            if r.value == want {
                Ok(())
            } else {
                Err(format!("exception: got {}, want {want}", r.value))
            }
        }
        (Instead::Value(t), Err(e)) => Err(format!("exception: error {e}, want {t}")),
    }
}

/// `s` cut to at most 300 characters, for readable failure lists.
fn clip(s: &str) -> String {
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}… ({} chars)", &s[..i], s.chars().count()),
        None => s.to_string(),
    }
}

#[test]
fn reference_cases() {
    let verbose = std::env::var_os("REPAIR_VERBOSE").is_some();
    let mut stats: Vec<(&str, usize, usize, Vec<String>)> = vec![
        ("json_repair", 0, 0, Vec::new()),
        ("jsonrepair", 0, 0, Vec::new()),
    ];
    let mut exceptions = [0usize; 2];
    for line in CASES.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("case line is JSON");
        let lib = case["library"].as_str().unwrap_or("");
        let idx = if lib.starts_with("json_repair") {
            0
        } else if lib.starts_with("jsonrepair") {
            1
        } else {
            panic!("unknown library {lib}");
        };
        let source = case["source"].as_str().unwrap_or("?");
        let short = source.rsplit_once(':').map_or(source, |(a, _)| a);
        let short = short.split_once(':').map_or(short, |(_, b)| b);
        let id = format!("{short}:{}", source.rsplit(':').next().unwrap_or(""));
        if let Some((_, input, instead, why)) = exception(&case) {
            exceptions[idx] += 1;
            if let Err(e) = check_exception(input, instead) {
                panic!("{id} ({why}): {e}");
            }
            continue;
        }
        stats[idx].1 += 1;
        match check_case(&case) {
            Ok(()) => stats[idx].2 += 1,
            Err(why) => {
                let mut msg = id.clone();
                if verbose {
                    msg = format!(
                        "{id}\n    input {}\n    {}",
                        clip(&serde_json::to_string(&case["input"]).unwrap_or_default()),
                        clip(&why)
                    );
                } else if why.starts_with("unsupported") {
                    msg = format!("{id} ({why})");
                }
                stats[idx].3.push(msg);
            }
        }
    }
    for (i, (lib, total, pass, fails)) in stats.iter().enumerate() {
        let rate = *pass as f64 / *total as f64;
        let all = total + exceptions[i];
        println!(
            "{lib}: {pass}/{total} = {:.1}% pass, {} documented exceptions checked apart \
             ({pass}/{all} = {:.1}% of all cases); {} failing:",
            rate * 100.0,
            exceptions[i],
            *pass as f64 / all as f64 * 100.0,
            fails.len()
        );
        for f in fails {
            println!("  {f}");
        }
    }
    let rate = |i: usize| stats[i].2 as f64 / stats[i].1 as f64;
    assert_eq!(
        stats[0].1 + stats[1].1 + exceptions[0] + exceptions[1],
        584,
        "case count"
    );
    for (lib, input, ..) in EXCEPTIONS {
        assert!(
            CASES.lines().any(|l| {
                let c: Value = serde_json::from_str(l).unwrap_or_default();
                c["input"] == *input && c["library"].as_str().is_some_and(|x| x.starts_with(lib))
            }),
            "exception {lib} {input:?} is no reference case"
        );
    }
    assert!(
        rate(0) >= MIN_RATE_JSON_REPAIR,
        "json_repair pass rate {:.3} fell below {MIN_RATE_JSON_REPAIR}",
        rate(0)
    );
    assert!(
        rate(1) >= MIN_RATE_JSONREPAIR,
        "jsonrepair pass rate {:.3} fell below {MIN_RATE_JSONREPAIR}",
        rate(1)
    );
}

// ---------------------------------------------------------------------------
// 1b. agreement with json_repair on generated variations

/// Variations of broken JSON by kind, with json_repair 0.64.6's answer and
/// jsonrepair 3.14.1's, made by `data/make_repair_variations.py` (see
/// `data/README.md`).
const VARIATIONS: &[u8] = include_bytes!("data/repair_variations.jsonl.gz");

/// Agreement per kind at or above which the test passes (measured, rounded
/// down; they can only go up). Agreement: json_repair's value, compared as
/// values; where json_repair returns nothing (`""`), a `RepairError`. In the
/// `error` kind (inputs jsonrepair rejects) agreement is a `RepairError`. In
/// the `schema` kind, formwork's answer is what `repair --schema` prints: the
/// schema-guided value if it validates, else nothing (exit 1); json_repair
/// refusing (ValueError) counts as nothing.
const AGREEMENT_FLOORS: &[(&str, f64)] = &[
    ("fenced", 0.83),
    ("empty_value", 0.94),
    ("escape_cut", 0.82),
    ("number_quote", 0.75),
    ("top_tail", 0.92),
    ("prose", 0.96),
    ("error", 1.0),
    ("general", 0.81),
    ("schema", 0.98),
];

/// Equal as JSON values; numbers are equal when their values are
/// (json_repair writes `2.0` where the text had `2.`, Python `1e3` as
/// `1000.0`).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_value(v, w))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn agreement_with_json_repair() {
    use std::io::Read;
    let verbose = std::env::var_os("REPAIR_VERBOSE").is_some();
    let mut text = String::new();
    flate2::read::GzDecoder::new(VARIATIONS)
        .read_to_string(&mut text)
        .expect("variations decompress");
    // kind -> (total, agree)
    let mut stats: Vec<(&str, usize, usize)> =
        AGREEMENT_FLOORS.iter().map(|(k, _)| (*k, 0, 0)).collect();
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).expect("variation line is JSON");
        let kind = row["kind"].as_str().expect("kind");
        let input = row["input"].as_str().expect("input");
        // json_repair's answer; None where it refused (schema kind).
        let want = row["json_repair"].as_str().filter(|w| !w.is_empty());
        let got = if kind == "schema" {
            // What `formwork repair --schema` prints: a value that validates.
            let schema = &row["schema"];
            let mode = match row["mode"].as_str() {
                Some("salvage") => SchemaMode::Salvage,
                _ => SchemaMode::Standard,
            };
            let check = SchemaCheck::new(schema).expect("variation schema is valid");
            repair_with_schema(input, schema, mode)
                .ok()
                .map(|r| r.value)
                .filter(|v| check.is_valid(v))
                .ok_or(RepairError::NothingRecoverable)
        } else {
            repair(input).map(|r| r.value)
        };
        let agree = match want {
            _ if kind == "error" => got.is_err(),
            None => got.is_err(),
            Some(want) => {
                let want: Value = serde_json::from_str(want).expect("json_repair wrote JSON");
                matches!(&got, Ok(v) if same_value(v, &want))
            }
        };
        let s = stats
            .iter_mut()
            .find(|s| s.0 == kind)
            .unwrap_or_else(|| panic!("unknown kind {kind}"));
        s.1 += 1;
        s.2 += agree as usize;
        if !agree && verbose {
            println!(
                "{kind}: {}\n    json_repair {}\n    formwork    {}",
                clip(&serde_json::to_string(input).unwrap_or_default()),
                clip(want.unwrap_or("(nothing)")),
                clip(&match got {
                    Ok(v) => v.to_string(),
                    Err(e) => format!("error: {e}"),
                })
            );
        }
    }
    let (mut n, mut a) = (0, 0);
    for (kind, total, agree) in &stats {
        println!(
            "{kind:>13}: {agree:>4}/{total:<4} = {:5.1}% agree",
            *agree as f64 * 100.0 / *total as f64
        );
        n += total;
        a += agree;
    }
    println!(
        "{:>13}: {a:>4}/{n:<4} = {:5.1}% agree",
        "all",
        a as f64 * 100.0 / n as f64
    );
    assert!(n >= 5000, "only {n} variations");
    for ((kind, total, agree), (_, floor)) in stats.iter().zip(AGREEMENT_FLOORS) {
        let rate = *agree as f64 / *total as f64;
        assert!(*total > 0, "no variation of kind {kind}");
        assert!(
            rate >= *floor,
            "{kind}: agreement {rate:.3} fell below {floor}"
        );
    }
}

// ---------------------------------------------------------------------------
// 2. property: valid JSON round-trips unchanged

fn gen_string(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "é", "中", "😀", "'", "`", "“", "”",
        ",", ":", "{", "}", "[", "]", "//", "/*", "*/", "...", "+", "true", "None", "NaN", "0",
        "\u{2028}", "\u{a0}", "```",
    ];
    let n = rng.below(8);
    (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect()
}

fn gen_value(rng: &mut Rng, depth: u32) -> Value {
    let leaf = depth >= 4 || rng.below(3) == 0;
    let k = if leaf { rng.below(6) } else { 6 + rng.below(2) };
    match k {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => Value::Number(Number::from(rng.next_u64() as i64 >> rng.below(64))),
        3 => {
            let f = (rng.next_u64() as i64 as f64) / (1u64 << rng.below(60)) as f64;
            Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        4 => Value::Number(Number::from(rng.next_u64())),
        5 => Value::String(gen_string(rng)),
        6 => Value::Array(
            (0..rng.below(5))
                .map(|_| gen_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(5) {
                m.insert(gen_string(rng), gen_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

#[test]
fn valid_json_round_trips() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2000 {
        let v = gen_value(&mut rng, 0);
        for text in [
            serde_json::to_string(&v).unwrap(),
            serde_json::to_string_pretty(&v).unwrap(),
        ] {
            let r = repair(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.value, v, "{text}");
            assert!(r.fixes.is_empty(), "{text}: {:?}", r.fixes);
        }
    }
}

/// Structural guesses: each rule with a case that fires it and a near case
/// that must not.
#[test]
fn structural_guesses() {
    let v = |t: &str| repair(t).map(|r| r.value).unwrap();
    use serde_json::json;
    // A decimal comma or digit groups in an object value stay together.
    assert_eq!(v(r#"{"price": 12,50}"#), json!({"price": "12,50"}));
    assert_eq!(
        v(r#"{"n": 1,000,000, "m": 2}"#),
        json!({"n": "1,000,000", "m": 2})
    );
    assert_eq!(v(r#"{"a": 1,"b": 2"#), json!({"a": 1, "b": 2}));
    assert_eq!(v("[12,50]"), json!([12, 50]));
    // A comma typed for the colon before a non-string value; a set of strings.
    assert_eq!(v(r#"{"key", 105}"#), json!({"key": 105}));
    assert_eq!(v(r#"{"key", [1]}"#), json!({"key": [1]}));
    assert_eq!(v(r#"{"a", "b"}"#), json!(["a", "b"]));
    // A second colon after a member's value: the fragment is dropped.
    assert_eq!(v(r#"{"a": "x": 5, "c": 1}"#), json!({"a": "x", "c": 1}));
    assert!(repair("{:2}").is_err());
    // Array elements cut off before they held anything.
    assert_eq!(v("[{]"), json!([]));
    assert_eq!(v("[1, {"), json!([1]));
    assert_eq!(v("[1, -"), json!([1]));
    assert!(same(&v("[-,"), &json!([-0.0])));
    assert_eq!(v("[{}]"), json!([{}]));
    // Rows with the `}, {` lost: a repeated key without a comma before it.
    assert_eq!(v(r#"[{"a": 1 "a": 2}]"#), json!([{"a": 1}, {"a": 2}]));
    assert_eq!(v(r#"[{"a": 1, "a": 2}]"#), json!([{"a": 2}]));
    assert_eq!(v(r#"{"a": 1 "a": 2}"#), json!({"a": 2}));
    // `always_repair` reads valid JSON with the repair parser too.
    let text = r#"{"k": "a\\\"b"}"#;
    assert_eq!(v(text), json!({"k": "a\\\"b"}));
    let all = RepairOptions::default().always_repair(true);
    assert_eq!(repair_with(text, &all).unwrap().value, json!({"k": "a\"b"}));
}

/// Schema-guided repair coerces where the reading is unambiguous and
/// reports a mismatch where it is not (a boolean is not turned into text).
#[test]
fn schema_mismatches_are_reported() {
    use serde_json::json;
    let s = json!({"type": "object", "properties": {
        "port": {"type": "integer"}, "name": {"type": "string"}, "tls": {"type": "boolean"}}});
    let r = repair_with_schema(
        "{port: '8443', name: True, tls: 'yes'}",
        &s,
        SchemaMode::Standard,
    )
    .unwrap();
    assert_eq!(r.value, json!({"port": 8443, "name": true, "tls": true}));
    assert_eq!(r.mismatches.len(), 1, "{:?}", r.mismatches);
    assert_eq!(r.mismatches[0].pointer, "/name");
    assert_eq!(
        r.mismatches[0].to_string(),
        "/name: a boolean where the schema wants string"
    );
    // A branch that was only tried leaves no mismatch behind.
    let s = json!({"anyOf": [{"type": "integer"}, {"type": "string"}]});
    let r = repair_with_schema("'7'", &s, SchemaMode::Standard).unwrap();
    assert!(r.mismatches.is_empty(), "{:?}", r.mismatches);
    // Without `type`, a string under object keywords is allowed.
    let s = json!({"properties": {"a": {"type": "integer"}}});
    let r = repair_with_schema("'x'", &s, SchemaMode::Standard).unwrap();
    assert!(r.mismatches.is_empty(), "{:?}", r.mismatches);
}

// ---------------------------------------------------------------------------
// 3. adversarial inputs: each call returns (Ok or Err), no panic, no hang

#[test]
fn megabyte_of_quotes() {
    for unit in ["\"", "'", "“", "\\\"", "\"a", "\" + "] {
        let text = unit.repeat((1 << 20) / unit.len());
        let _ = repair(&text);
    }
}

#[test]
fn deep_nesting() {
    for unit in ["[", "{\"a\":", "(", "[{\"a\":[", "f(", "\"a\":{"] {
        let text = unit.repeat(100_000);
        match repair(&text) {
            Err(RepairError::TooDeep { limit, .. }) => assert_eq!(limit, MAX_DEPTH),
            Err(e) => panic!("{unit}: {e}"),
            Ok(_) => panic!("{unit}: Ok"),
        }
    }
    // `{{{…`: a `{` where a key is expected closes the object, so this is a
    // long run of empty objects, not deep nesting.
    let _ = repair(&"{".repeat(100_000));
    // Closed deep nesting: serde_json's own limit is 128, ours 512.
    let text = format!("{}{}", "[".repeat(400), "]".repeat(400));
    assert!(repair(&text).is_ok());
    let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(repair(&text).is_err());
}

/// Look-ahead that re-scans from every quote (for a comment, the next key,
/// the end of the line) must not turn into quadratic time.
#[test]
fn megabyte_of_quotes_inside_values() {
    for prefix in ["{\"a\": \"", "[\"", "{a: '", "\""] {
        for unit in [
            "\" /*", "\" //", "\", \"", "\" x", "\n\"", "\" ```", ", b: \"", "\\\"", "' //",
        ] {
            let text = format!("{prefix}{}", unit.repeat((1 << 20) / unit.len()));
            let t = std::time::Instant::now();
            let _ = repair(&text);
            assert!(
                t.elapsed().as_secs() < 30,
                "{prefix}{unit}...: {:?}",
                t.elapsed()
            );
        }
    }
}

/// Every prefix of valid JSON (truncated output) repairs without a panic,
/// and a prefix that ends after a complete top-level value gives that value.
#[test]
fn prefixes_of_valid_json() {
    let mut rng = Rng(7);
    for _ in 0..300 {
        let v = gen_value(&mut rng, 1);
        let text = serde_json::to_string(&v).unwrap();
        for (i, _) in text.char_indices() {
            let _ = repair(&text[..i]);
        }
        assert_eq!(repair(&text).unwrap().value, v);
    }
}

#[test]
fn megabyte_of_brackets_and_separators() {
    for unit in [
        "]", "}", ",", ":", "/*", "//", "...", "```", "{]", "[}", "a", "\\", "1e",
    ] {
        let text = unit.repeat((1 << 20) / unit.len());
        let _ = repair(&text);
    }
}

/// Code fences that close containers, `#` comments, prose between
/// documents: a megabyte of each repeated is read in linear time (the test
/// runs in a child process bounded to 10 s and 2 GiB).
#[test]
fn fences_comments_and_prose_stay_bounded() {
    common::bounded("fences_comments_and_prose_stay_bounded", || {
        for prefix in ["", "[", "{\"a\": [", "{a: "] {
            for unit in [
                "[```",
                "{```\n",
                "``` [",
                "# x ",
                "1 # ]\n",
                "null null ",
                "12345\" ",
                "{} ",
                "[] x ",
                "\"a\" b ",
                "```json\n{\"a\":1}\n```\nok ",
                "x\\u12",
            ] {
                let text = format!("{prefix}{}", unit.repeat((1 << 20) / unit.len()));
                let _ = repair(&text);
            }
        }
    });
}

#[test]
fn random_bytes() {
    let mut rng = Rng(42);
    const ALPHABET: &[u8] = b"{}[]()\"'`:,.+-/*\\ \n\t01eE_aTfnNuI#;";
    for round in 0..3000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if round % 2 == 0 {
                    ALPHABET[rng.below(ALPHABET.len())]
                } else {
                    rng.next_u64() as u8
                }
            })
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = repair(&text);
    }
}

// ---------------------------------------------------------------------------
// a few behaviours that the module documentation promises

#[test]
fn documented_choices() {
    let v = |t: &str| repair(t).map(|r| r.value);
    assert_eq!(
        v("[NaN, Infinity, -Infinity]").unwrap(),
        serde_json::json!([null, null, null])
    );
    assert_eq!(
        v("{\"a\": None, 'b': True}").unwrap(),
        serde_json::json!({"a": null, "b": true})
    );
    // Documents of the same shape without a comma: the later replaces the
    // earlier; with commas, or of other shapes, all are kept.
    assert_eq!(
        v("{\"a\": 1}\n{\"a\": 2}\n").unwrap(),
        serde_json::json!({"a": 2})
    );
    assert_eq!(
        v("{\"a\": 1},\n{\"a\": 2}\n").unwrap(),
        serde_json::json!([{"a": 1}, {"a": 2}])
    );
    assert_eq!(
        v("{\"a\": 1}\n{\"b\": 2}\n").unwrap(),
        serde_json::json!([{"a": 1}, {"b": 2}])
    );
    assert_eq!(v("\"a\" + \"b\"").unwrap(), serde_json::json!("ab"));
    assert_eq!(v("cb({\"a\": 1});").unwrap(), serde_json::json!({"a": 1}));
    assert_eq!(
        v("{\"a\": [1, 2, {\"b\": \"c").unwrap(),
        serde_json::json!({"a": [1, 2, {"b": "c"}]})
    );
    assert_eq!(
        v("{\"a\": \"x\ny\u{8}\tz\"}").unwrap(),
        serde_json::json!({"a": "x\ny\u{8}\tz"})
    );
    assert!(matches!(
        v("{\"a\": \"x\u{1}y\"}"),
        Err(RepairError::ControlCharacter { offset: 8, code: 1 })
    ));
    assert_eq!(v("[1, 2, ...]").unwrap(), serde_json::json!([1, 2]));
    assert_eq!(
        v("Here you go:\n```json\n{\"a\": 1}\n```\nAnything else?").unwrap(),
        serde_json::json!({"a": 1})
    );
    // Glued documents: a re-emission of the same shape replaces the first.
    assert_eq!(
        v("[{\"k\": 1}][{\"k\": 2}]").unwrap(),
        serde_json::json!([{"k": 2}])
    );
    assert_eq!(
        v(r#"{"re": "^\s+$"}"#).unwrap(),
        serde_json::json!({"re": "^\\s+$"})
    );
    assert_eq!(
        v("{\"a\": \"x, b: 1").unwrap(),
        serde_json::json!({"a": "x", "b": 1})
    );
    let stable = RepairOptions::default().stream_stable(true);
    assert_eq!(
        repair_with("{\"a\": \"x, b: 1", &stable).unwrap().value,
        serde_json::json!({"a": "x, b: 1"})
    );
    assert!(matches!(
        v("\"a\u{0}\""),
        Err(RepairError::NulCharacter { .. })
    ));
    assert_eq!(v("   "), Err(RepairError::NothingRecoverable));
    assert_eq!(v(""), Err(RepairError::NothingRecoverable));
}

// ---------------------------------------------------------------------------
// 4. the `formwork repair` command

fn cli(args: &[&str], stdin: &str) -> (i32, String, String) {
    let out = common::run_cli_bounded(args, stdin.as_bytes());
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Prose with no JSON in it is not repaired into a string: exit 1, nothing
/// on stdout, and an error that says why.
#[test]
fn cli_prose_without_json_fails() {
    for text in [
        "Sorry, I can't help with that.\n",
        "hello\n",
        "I said \"yes\" and she said \"no\"",
        "42 is the answer",
        "- first item\n- second item\n",
        "",
    ] {
        let (code, out, err) = cli(&["repair"], text);
        assert_eq!(code, 1, "{text:?}: {out}");
        assert!(out.is_empty(), "{text:?}: {out}");
        assert!(err.contains("contains no JSON value"), "{text:?}: {err}");
    }
    let (code, out, _) = cli(
        &["repair"],
        "Sure, it's:\n```json\n{\"a\": 1}\n```\nand\n```\n[2]\n```",
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!([{"a": 1}, [2]]));
}

/// `--verbose` says what each fix did, in words, at a line and column.
#[test]
fn cli_verbose_says_what_was_fixed_and_where() {
    let text = "{\n  name: 'Ada',\n  \"tags\": [1, 2,],\n  \"ok\": True // done\n";
    let (code, _, err) = cli(&["repair", "--verbose"], text);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    for want in [
        "fix: line 2, column 3: added quotes around an object key",
        "fix: line 3, column 16: removed a trailing or extra comma",
        "fix: line 4, column 9: converted a literal (True, None, undefined) to JSON",
        "fix: line 4, column 14: removed a comment",
        "fix: line 1, column 1: closed the array or object that opens here, left open",
    ] {
        assert!(lines.contains(&want), "missing {want:?} in:\n{err}");
    }
    assert!(!err.contains("Fix {") && !err.contains("kind:"), "{err}");
}

/// `--schema` must be a JSON Schema, as for `mask` and `fuzz`.
#[test]
fn cli_schema_rejects_what_is_no_schema() {
    for schema in [
        "[1,2]",
        "{\"type\":5}",
        "{\"required\": \"name\"}",
        "{\"minItems\": -1}",
    ] {
        let (code, out, err) = cli(&["repair", "--schema", schema], "{\"name\": \"Ada\"}");
        assert_eq!(code, 1, "{schema}: {out}");
        assert!(out.is_empty(), "{schema}: {out}");
        assert!(err.contains("invalid JSON Schema"), "{schema}: {err}");
    }
}

/// A value that still does not fit after schema-guided repair is not
/// printed: each violation is listed with its path and the exit code is 1.
#[test]
fn cli_schema_reports_what_still_does_not_fit() {
    let schema = r#"{"type": "object", "required": ["name", "age"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                       "tags": {"type": "array", "items": {"type": "string"}}}}"#;
    let (code, out, err) = cli(&["repair", "--schema", schema], "{\"name\": \"Ada\"}");
    assert_eq!(code, 1, "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("does not fit the schema: (root): \"age\" is a required property"),
        "{err}"
    );
    assert!(err.contains("--salvage"), "{err}");
    let (code, _, err) = cli(
        &["repair", "--schema", schema],
        "{\"name\": \"Ada\", \"age\": 3, \"tags\": [\"a\", true]}",
    );
    assert_eq!(code, 1);
    assert!(err.contains("/tags/1: "), "{err}");
    // Salvage does not invent an age: still reported.
    let (code, _, err) = cli(
        &["repair", "--schema", schema, "--salvage"],
        "{\"name\": \"Ada\"}",
    );
    assert_eq!(code, 1);
    assert!(err.contains("\"age\" is a required property"), "{err}");
    // It fills a required key from the schema's default; what fits is printed.
    let with_default = schema.replace(
        r#""age": {"type": "integer"}"#,
        r#""age": {"type": "integer", "default": 36}"#,
    );
    let (code, out, err) = cli(
        &["repair", "--schema", &with_default, "--salvage"],
        "Sure: [{\"name\": \"Ada\"}]",
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!({"name": "Ada", "age": 36}));
    assert!(
        err.contains("took the object out of a one-element array"),
        "{err}"
    );
}

/// The probe of issue #18: random inputs against schemas with required
/// keys. Whenever `repair --schema` exits 0, what it printed is valid.
#[test]
fn cli_schema_exit_zero_implies_valid() {
    let schemas = [
        r#"{"type": "object", "required": ["name", "age"],
            "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}}"#,
        r#"{"type": "object", "required": ["id", "tags"], "additionalProperties": false,
            "properties": {"id": {"type": "integer"},
                           "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1}}}"#,
        r#"{"type": "array", "items": {"type": "object", "required": ["k"],
            "properties": {"k": {"enum": ["a", "b"]}}}}"#,
    ];
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"name\"",
        "'age'",
        "id",
        "\"tags\"",
        "\"k\"",
        "\"a\"",
        "\"Ada\"",
        "36",
        "-1",
        "\"7\"",
        "true",
        "None",
        "\"x\"",
        " ",
        "\n",
        "Sure! ",
        "```json\n",
        "\"b\"",
        "[\"t\"]",
        "{\"name\": \"Ada\"}",
        "{\"k\": \"a\"}",
    ];
    let mut rng = Rng(0x5EED_0018);
    let (mut ok, mut refused) = (0, 0);
    for i in 0..600 {
        let schema = schemas[i % schemas.len()];
        let check = SchemaCheck::new(&serde_json::from_str(schema).unwrap()).unwrap();
        let n = 1 + rng.below(12);
        let text: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        let mut args = vec!["repair", "--schema", schema];
        if rng.below(2) == 0 {
            args.push("--salvage");
        }
        let (code, out, err) = cli(&args, &text);
        if code == 0 {
            let v: Value = serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("{text:?}: stdout is not JSON ({e}): {out}"));
            let bad = check.violations(&v, 5);
            assert!(bad.is_empty(), "{text:?} exit 0 but invalid: {v} {bad:?}");
            ok += 1;
        } else {
            assert_eq!(code, 1, "{text:?}: {err}");
            assert!(out.is_empty(), "{text:?}: printed {out} with exit {code}");
            refused += 1;
        }
    }
    println!("exit 0 (valid): {ok}, exit 1: {refused}");
    assert!(ok >= 30 && refused >= 30, "ok {ok}, refused {refused}");
}

/// `generate --fallback retry` runs on a schema the mask compiler refuses
/// (a backreference): it only validates and repairs.
#[cfg(feature = "model")]
#[test]
fn cli_fallback_runs_on_a_schema_the_compiler_refuses() {
    let model = common::tiny_model::tiny_mistral_model();
    let tok = common::tokenizer_path("mistral");
    let schema = r#"{"type": "object", "required": ["code"],
        "properties": {"code": {"type": "string", "pattern": "^(a)\\1$"}}}"#;
    let (m, t) = (model.to_str().unwrap(), tok.to_str().unwrap());
    let base = [
        "generate",
        "--model",
        m,
        "--tokenizer",
        t,
        "--schema",
        schema,
    ];
    let (code, _, err) = cli(
        &[&base[..], &["--prompt", "x", "--max-tokens", "8"]].concat(),
        "",
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("backreference"),
        "the compiler refuses it: {err}"
    );
    let args = [
        &base[..],
        &[
            "--prompt",
            "x",
            "--max-tokens",
            "8",
            "--fallback",
            "retry",
            "--retries",
            "1",
        ],
    ]
    .concat();
    let (code, out, err) = cli(&args, "");
    assert!(!err.contains("unsupported JSON Schema"), "{err}");
    assert!(
        err.contains("formwork: attempt 1"),
        "the fallback ran: {err}"
    );
    // The random model writes noise: either it was repaired into a valid
    // value, or both attempts were reported invalid.
    if code == 0 {
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["code"], "aa");
    } else {
        assert!(err.contains("attempt 2 invalid"), "{err}");
    }
}
