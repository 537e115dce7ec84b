//! Tests of `formwork::repair`: the reference cases of two repair libraries,
//! a round-trip property over generated valid JSON, and adversarial inputs.
//!
//! `cargo test --test repair -- --nocapture` prints the pass rates and the
//! failing case ids; with `REPAIR_VERBOSE=1` also each failing input and
//! what we got instead of the expected value.

use formwork::repair::{
    repair, repair_with, repair_with_schema, RepairError, RepairOptions, SchemaMode, MAX_DEPTH,
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

/// Equality of JSON values with numbers compared by value (`1e10` and
/// `10000000000.0` are one number), as the reference libraries' Python and
/// JavaScript tests compare them. serde_json keeps each number's text, so
/// `==` on values would compare spellings.
fn same(a: &Value, b: &Value) -> bool {
    use formwork::frontend::number_regex::Decimal;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (
                Decimal::parse(&x.to_string()),
                Decimal::parse(&y.to_string()),
            ) {
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

/// Pass rates at or above which the test passes (they can only go up).
const MIN_RATE_JSON_REPAIR: f64 = 0.982;
const MIN_RATE_JSONREPAIR: f64 = 0.982;

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
    for (lib, total, pass, fails) in &stats {
        let rate = *pass as f64 / *total as f64;
        println!(
            "{lib}: {pass}/{total} = {:.1}% pass; {} failing:",
            rate * 100.0,
            fails.len()
        );
        for f in fails {
            println!("  {f}");
        }
    }
    let rate = |i: usize| stats[i].2 as f64 / stats[i].1 as f64;
    assert_eq!(stats[0].1 + stats[1].1, 584, "case count");
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
// 2. property: valid JSON round-trips unchanged

/// xorshift64*: small, seeded, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn gen_string(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "é", "中", "😀", "'", "`", "“", "”",
        ",", ":", "{", "}", "[", "]", "//", "/*", "*/", "...", "+", "true", "None", "NaN", "0",
        "\u{2028}", "\u{a0}", "```",
    ];
    let n = rng.below(8);
    (0..n)
        .map(|_| PIECES[rng.below(PIECES.len() as u64) as usize])
        .collect()
}

fn gen_value(rng: &mut Rng, depth: u32) -> Value {
    let leaf = depth >= 4 || rng.below(3) == 0;
    let k = if leaf { rng.below(6) } else { 6 + rng.below(2) };
    match k {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => Value::Number(Number::from(rng.next() as i64 >> rng.below(64))),
        3 => {
            let f = (rng.next() as i64 as f64) / (1u64 << rng.below(60)) as f64;
            Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        4 => Value::Number(Number::from(rng.next())),
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

#[test]
fn random_bytes() {
    let mut rng = Rng(42);
    const ALPHABET: &[u8] = b"{}[]()\"'`:,.+-/*\\ \n\t01eE_aTfnNuI#;";
    for round in 0..3000 {
        let len = rng.below(200) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if round % 2 == 0 {
                    ALPHABET[rng.below(ALPHABET.len() as u64) as usize]
                } else {
                    rng.next() as u8
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
    assert_eq!(
        v("{\"a\": 1}\n{\"a\": 2}\n").unwrap(),
        serde_json::json!([{"a": 1}, {"a": 2}])
    );
    assert_eq!(v("\"a\" + \"b\"").unwrap(), serde_json::json!("ab"));
    assert_eq!(v("cb({\"a\": 1});").unwrap(), serde_json::json!({"a": 1}));
    assert_eq!(
        v("{\"a\": [1, 2, {\"b\": \"c").unwrap(),
        serde_json::json!({"a": [1, 2, {"b": "c"}]})
    );
    assert_eq!(
        v("{\"a\": \"x\ny\u{1}\"}").unwrap(),
        serde_json::json!({"a": "x\ny\u{1}"})
    );
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
