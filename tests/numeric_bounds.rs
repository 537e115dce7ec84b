//! Numeric bounds compared exactly, as decimal values: integers around
//! 2^64 and -2^63, and bounds whose exponent is far from 0 (10^22, 10^308,
//! 10^-30, 10^-25), with instances just inside and just outside in several
//! spellings.
//!
//! The reference is [`Exact`], an exact decimal comparison written here for
//! the test (independent of the crate's own `Decimal`). The `jsonschema`
//! crate is run on every case too: it is exact for most of them, but not all
//! (it compares some of these numbers through `f64`), so its verdicts are
//! reported where they differ from the exact one and are asserted only where
//! the instance and the bound are both exact `f64`s or both fit an `i64` /
//! `u64` (see [`jsonschema_agrees_where_exact`]).

mod common;

use formwork::{
    json_schema, CompiledGrammar, FormatMode, Matcher, SchemaOptions, TokenEnv, Vocabulary,
    Whitespace,
};
use serde_json::Value;
use std::cmp::Ordering;
use std::sync::Arc;

/// A decimal value: `-`?, significant digits `0.d₁d₂…` (no leading or
/// trailing zeros, empty for zero), and the decimal point's position.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Exact {
    neg: bool,
    digits: Vec<u8>,
    point: i64,
}

impl Exact {
    /// Parses a JSON number text (small exponents only: this is a test).
    fn parse(text: &str) -> Exact {
        let (neg, body) = match text.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, text),
        };
        let (mant, exp) = body.split_once(['e', 'E']).unwrap_or((body, "0"));
        let exp: i64 = exp.trim_start_matches('+').parse().unwrap();
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        let all: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
        let lead = all.iter().take_while(|&&d| d == 0).count();
        let mut digits = all[lead..].to_vec();
        while digits.last() == Some(&0) {
            digits.pop();
        }
        let point = int.len() as i64 - lead as i64 + exp;
        Exact::new(neg, digits, point)
    }

    fn new(neg: bool, digits: Vec<u8>, point: i64) -> Exact {
        if digits.is_empty() {
            Exact {
                neg: false,
                digits,
                point: 0,
            }
        } else {
            Exact { neg, digits, point }
        }
    }

    fn is_integer(&self) -> bool {
        self.digits.len() as i64 <= self.point || self.digits.is_empty()
    }

    fn cmp(&self, o: &Exact) -> Ordering {
        let sign = |x: &Exact| match (x.digits.is_empty(), x.neg) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        let (a, b) = (sign(self), sign(o));
        if a != b || a == 0 {
            return a.cmp(&b);
        }
        let mag = self
            .point
            .cmp(&o.point)
            .then_with(|| self.digits.cmp(&o.digits));
        if a < 0 {
            mag.reverse()
        } else {
            mag
        }
    }

    /// `|self| + 10^s` or `|self| - 10^s` (`up`), with `self`'s sign; `s`
    /// at or below the last significant digit.
    fn nudged(&self, s: i64, up: bool) -> Exact {
        let len = (self.point - s).max(0) as usize;
        let mut n: Vec<u8> = (0..len)
            .map(|i| self.digits.get(i).copied().unwrap_or(0))
            .collect();
        // n ± 1 as a digit string.
        let mut i = n.len();
        if up {
            loop {
                if i == 0 {
                    n.insert(0, 1);
                    break;
                }
                i -= 1;
                if n[i] == 9 {
                    n[i] = 0;
                } else {
                    n[i] += 1;
                    break;
                }
            }
        } else {
            while i > 0 {
                i -= 1;
                if n[i] == 0 {
                    n[i] = 9;
                } else {
                    n[i] -= 1;
                    break;
                }
            }
        }
        let text: String = n.iter().map(|d| (b'0' + d) as char).collect();
        let text = if text.is_empty() { "0".into() } else { text };
        let v = Exact::parse(&format!("{text}e{s}"));
        Exact::new(self.neg, v.digits, v.point)
    }

    /// The plain spelling of `self × 10^-e` followed by `e{e}` (none when
    /// `e` is 0 and `exp` is empty).
    fn spell(&self, e: i64, exp: &str) -> String {
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        let s: String = self.digits.iter().map(|d| (b'0' + d) as char).collect();
        let (len, p) = (s.len() as i64, self.point - e);
        if self.digits.is_empty() {
            out.push('0');
        } else if p >= len {
            out.push_str(&s);
            out.push_str(&"0".repeat((p - len) as usize));
        } else if p > 0 {
            out.push_str(&s[..p as usize]);
            out.push('.');
            out.push_str(&s[p as usize..]);
        } else {
            out.push_str("0.");
            out.push_str(&"0".repeat((-p) as usize));
            out.push_str(&s);
        }
        if e != 0 || !exp.is_empty() {
            out.push_str(exp);
            out.push_str(&e.to_string());
        }
        out
    }

    /// Several spellings: plain, `d.ddde…`, `dd.dde…`, `0.dde…`, with `E+`
    /// and a trailing `.0`.
    fn spellings(&self) -> Vec<String> {
        let top = self.point - 1;
        let mut out = vec![
            self.spell(0, ""),
            self.spell(top, "e"),
            self.spell(top - 1, "e"),
            self.spell(top + 1, "e"),
            self.spell(top, "E+").replace("E+-", "E-"),
        ];
        let sci = self.spell(top, "e");
        if !sci.contains('.') {
            out.push(sci.replacen('e', ".0e", 1));
        }
        out.retain(|s| s.len() < 400);
        out.sort();
        out.dedup();
        out
    }
}

/// The bounds under test, as written in the schema.
const BOUNDS: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "18446744073709551617",
    "-9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999",
    "100000000000000000000",
    "1e22",
    "-1e22",
    "1E+308",
    "1e-30",
    "1e-25",
];

const KEYWORDS: &[&str] = &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"];

/// Values near `b`: `b`, one unit more and less in its last digit, in the
/// next digit, 25 digits further, in the units and in the tenths; and a few
/// far ones.
fn values_near(b: &Exact) -> Vec<Exact> {
    let last = b.point - b.digits.len() as i64;
    let mut out = vec![b.clone()];
    for s in [last, last - 1, last - 25, 0, -1] {
        if s <= last {
            out.push(b.nudged(s, true));
            out.push(b.nudged(s, false));
        }
    }
    out.push(Exact::new(!b.neg, b.digits.clone(), b.point));
    out.push(Exact::new(b.neg, b.digits.clone(), b.point + 1));
    out.push(Exact::new(b.neg, b.digits.clone(), b.point - 1));
    out.push(Exact::parse("0"));
    out.push(Exact::parse("1"));
    out.push(Exact::parse("-1"));
    out
}

/// Instances for a bound: every spelling of every value near it, plus
/// spellings of zero and huge exponents.
fn instances(b: &Exact) -> Vec<String> {
    let mut out: Vec<String> = values_near(b).iter().flat_map(Exact::spellings).collect();
    for s in [
        "-0", "0.0", "-0.0e-99", "1e999", "-1e999", "1e-999", "-1e-999",
    ] {
        out.push(s.to_string());
    }
    out.sort();
    out.dedup();
    out
}

/// Whether the exact guarantee of the number regexes (`frontend::schema`'s private `number` module)
/// covers spelling `s` under a bound `b` (and `type: integer`): its
/// exponent is within 20 of 0, or (without `type: integer`) within 10 of
/// the bound's magnitude; or its mantissa has at most 10 digits on each
/// side of the point; or its value is zero.
fn promised(integer: bool, b: &Exact, s: &str) -> bool {
    let body = s.trim_start_matches('-');
    let (mant, exp) = body.split_once(['e', 'E']).unwrap_or((body, "0"));
    let e: i64 = exp.trim_start_matches('+').parse().unwrap();
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    e.abs() <= 20
        || (!integer && !b.digits.is_empty() && (e - b.point).abs() <= 10)
        || (int.len() <= 10 && frac.len() <= 10)
        || Exact::parse(s).digits.is_empty()
}

/// Whether `x` satisfies `{kw: b}` (and `type: integer` when `integer`).
fn oracle(integer: bool, kw: &str, b: &Exact, x: &Exact) -> bool {
    let o = x.cmp(b);
    let bound_ok = match kw {
        "minimum" => o != Ordering::Less,
        "maximum" => o != Ordering::Greater,
        "exclusiveMinimum" => o == Ordering::Greater,
        "exclusiveMaximum" => o == Ordering::Less,
        _ => unreachable!(),
    };
    bound_ok && (!integer || x.is_integer())
}

struct Grammar {
    matcher: Matcher,
    vocab: Arc<Vocabulary>,
}

impl Grammar {
    fn new(schema: &Value, env: &Arc<TokenEnv>) -> Grammar {
        let opts = SchemaOptions {
            whitespace: Whitespace::Flexible,
            format: FormatMode::Annotate,
            ..SchemaOptions::default()
        };
        let g = json_schema(schema, &opts).unwrap_or_else(|e| panic!("{schema}: {e}"));
        let c = CompiledGrammar::new(&g).unwrap_or_else(|e| panic!("{schema}: {e}"));
        Grammar {
            matcher: Matcher::new(Arc::new(c), env),
            vocab: env.vocab().clone(),
        }
    }

    /// The whole text is in the grammar's language.
    fn matches(&self, text: &str) -> bool {
        let mut m = self.matcher.clone();
        m.commit_bytes(text.as_bytes()).is_ok() && m.is_accepting()
    }

    /// Every token of the text's tokenization is in the mask, and EOS at
    /// the end.
    fn masks_allow(&self, text: &str) -> bool {
        let mut m = self.matcher.clone();
        for t in self.vocab.encode(text).unwrap() {
            if !m.compute_mask().contains(t) {
                return false;
            }
            m.commit(t).unwrap();
        }
        let eos = self.vocab.eos_tokens()[0];
        m.compute_mask().contains(eos) && m.is_accepting()
    }
}

/// A schema `{"type": t, kw: b}` with the bound spelled exactly as `b`.
fn schema(integer: bool, kw: &str, b: &str) -> Value {
    let t = if integer { "integer" } else { "number" };
    serde_json::from_str(&format!(r#"{{"type": "{t}", "{kw}": {b}}}"#)).unwrap()
}

#[test]
fn bounds_are_exact_decimal_comparisons() {
    let env = common::gpt2();
    let (mut checked, mut masked, mut sound_only, mut refused) = (0, 0, 0, 0);
    let mut js_disagree = Vec::new();
    for b_text in BOUNDS {
        let b = Exact::parse(b_text);
        let insts = instances(&b);
        for integer in [false, true] {
            for kw in KEYWORDS {
                let s = schema(integer, kw, b_text);
                let g = Grammar::new(&s, &env);
                let js = jsonschema::validator_for(&s).unwrap();
                for inst in &insts {
                    let x = Exact::parse(inst);
                    let want = oracle(integer, kw, &b, &x);
                    let got = g.matches(inst);
                    if promised(integer, &b, inst) {
                        assert_eq!(got, want, "{s}: {inst}");
                    } else {
                        assert!(!got || want, "{s}: false accept of {inst}");
                        sound_only += 1;
                        if got != want {
                            refused += 1;
                            println!("  outside the guarantee, refused: {s} {inst}");
                        }
                    }
                    if inst.len() <= 32 {
                        assert_eq!(g.masks_allow(inst), got, "{s}: masks for {inst}");
                        masked += 1;
                    }
                    let v: Value = serde_json::from_str(inst).unwrap();
                    if js.is_valid(&v) != want {
                        js_disagree.push(format!("{s} {inst}: exact {want}"));
                    }
                    checked += 1;
                }
            }
        }
    }
    println!(
        "{checked} instances checked ({masked} through the masks as well); \
         {sound_only} outside the exact guarantee, checked for false accepts only \
         (of which {refused} valid ones refused)"
    );
    println!(
        "jsonschema differs from the exact verdict on {}:",
        js_disagree.len()
    );
    for d in &js_disagree {
        println!("  {d}");
    }
    assert!(checked > 5000 && masked > 1000, "{checked} {masked}");
    assert!(sound_only * 20 < checked, "{sound_only} of {checked}");
}

/// `0 < x <= 1e-25` and `minimum: 1e-30` next to each other, and the
/// draft-04 boolean forms of the exclusive bounds.
#[test]
fn combined_and_draft4_bounds() {
    let env = common::gpt2();
    let cases: Vec<(Value, Vec<&str>, Vec<&str>)> = vec![
        (
            serde_json::from_str(r#"{"exclusiveMinimum": 0, "maximum": 1e-25}"#).unwrap(),
            vec!["1e-26", "1e-25", "0.1e-24", "1E-025", "9.99e-26", "1e-999"],
            vec!["0", "-0", "-1e-26", "1.0000001e-25", "1e-24", "2e-25", "1"],
        ),
        (
            serde_json::from_str(r#"{"type": "number", "minimum": 1e-30, "maximum": 1e308}"#)
                .unwrap(),
            vec!["1e-29", "1e-30", "1e307", "1e308", "1.5e200", "1"],
            vec!["1e-31", "0", "1.0000000001e308", "1e309", "-1"],
        ),
        (
            serde_json::from_str(
                r#"{"$schema": "http://json-schema.org/draft-04/schema#",
                    "type": "integer", "maximum": 18446744073709551616, "exclusiveMaximum": true}"#,
            )
            .unwrap(),
            vec!["18446744073709551615", "0", "-18446744073709551616"],
            vec!["18446744073709551616", "18446744073709551617", "1e20"],
        ),
        (
            serde_json::from_str(
                r#"{"$schema": "http://json-schema.org/draft-04/schema#",
                    "minimum": -9223372036854775809, "exclusiveMinimum": true}"#,
            )
            .unwrap(),
            vec![
                "-9223372036854775808",
                "-9223372036854775808.5",
                "0",
                "1e300",
            ],
            vec!["-9223372036854775809", "-9223372036854775810", "-1e19"],
        ),
    ];
    for (s, valid, invalid) in cases {
        let g = Grammar::new(&s, &env);
        for v in valid {
            assert!(g.matches(v) && g.masks_allow(v), "{s} should accept {v}");
        }
        for v in invalid {
            assert!(!g.matches(v) && !g.masks_allow(v), "{s} should reject {v}");
        }
    }
}

/// Where the bound and the instance are both integers that fit an `i64` or
/// a `u64`, or both are exactly representable `f64`s, `jsonschema` agrees
/// with the exact verdict (a check of the reference itself).
#[test]
fn jsonschema_agrees_where_exact() {
    let fits_int = |t: &str| t.parse::<i64>().is_ok() || t.parse::<u64>().is_ok();
    let exact_f64 = |t: &str| {
        t.parse::<f64>()
            .is_ok_and(|f| f.is_finite() && Exact::parse(&format!("{f:e}")) == Exact::parse(t))
    };
    let mut n = 0;
    for b_text in BOUNDS {
        let b = Exact::parse(b_text);
        for kw in KEYWORDS {
            let s = schema(false, kw, b_text);
            let js = jsonschema::validator_for(&s).unwrap();
            for inst in instances(&b) {
                let both_int = fits_int(b_text) && fits_int(&inst);
                let both_f64 = exact_f64(b_text) && exact_f64(&inst);
                if !(both_int || both_f64) {
                    continue;
                }
                let want = oracle(false, kw, &b, &Exact::parse(&inst));
                let v: Value = serde_json::from_str(&inst).unwrap();
                assert_eq!(js.is_valid(&v), want, "jsonschema: {s} {inst}");
                n += 1;
            }
        }
    }
    assert!(n > 300, "{n}");
}

/// The numeric keywords keep their exact text: `multipleOf`, `const` and
/// `enum` numbers beyond `f64` precision or range.
#[test]
fn other_numeric_keywords_are_exact() {
    let env = common::gpt2();
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        (
            r#"{"const": 18446744073709551617}"#,
            vec!["18446744073709551617", "1.8446744073709551617e19"],
            vec![
                "18446744073709551616",
                "18446744073709551618",
                "1.8446744073709552e19",
            ],
        ),
        (
            r#"{"enum": [1e22, 0.1]}"#,
            vec!["1e22", "10000000000000000000000", "0.1", "1E-1"],
            vec!["1e21", "0.1000000000000000055511151231257827"],
        ),
        (
            r#"{"const": 1e400}"#,
            vec!["1e400", "10e399", "1.0E+400"],
            vec!["1e399", "1.7976931348623157e308"],
        ),
        (
            r#"{"multipleOf": 1e-30, "maximum": 1e-28}"#,
            vec!["1e-29", "3e-30", "0", "-1e-29"],
            vec!["1e-31", "1.5e-30", "2e-28"],
        ),
        (
            r#"{"type": "integer", "multipleOf": 1e30}"#,
            vec!["1e30", "3e31", "0", "-1000000000000000000000000000000"],
            vec!["1e29", "1.5e30"],
        ),
        (
            r#"{"type": "array", "minItems": 2.0, "maxItems": 0.3e1}"#,
            vec!["[1, 2]", "[1, 2, 3]"],
            vec!["[1]", "[1, 2, 3, 4]"],
        ),
    ];
    for (text, valid, invalid) in cases {
        let s: Value = serde_json::from_str(text).unwrap();
        let g = Grammar::new(&s, &env);
        for v in valid {
            assert!(g.matches(v), "{s} should accept {v}");
        }
        for v in invalid {
            assert!(!g.matches(v), "{s} should reject {v}");
        }
    }
}

/// Numbers beyond what can be decided exactly are errors that name the
/// keyword, never a grammar that refuses valid instances; hostile exponents
/// stay bounded.
#[test]
fn out_of_range_numbers_are_clear_errors() {
    common::bounded("out_of_range_numbers_are_clear_errors", || {
        for (text, pointer) in [
            (r#"{"maximum": 1e2000}"#, "/maximum"),
            (r#"{"minimum": 1e-99999999999}"#, "/minimum"),
            (r#"{"multipleOf": 1e-5000}"#, "/multipleOf"),
            (r#"{"multipleOf": 1e999999999}"#, "/multipleOf"),
            (r#"{"const": 1e999999999}"#, "/const"),
            (r#"{"enum": [1, 1e-5000]}"#, "/enum"),
            (r#"{"maximum": 1e99999999999999999999}"#, "/maximum"),
            (r#"{"maxLength": 1e99999999999999999999}"#, "/maxLength"),
        ] {
            let s: Value = serde_json::from_str(text).unwrap();
            let err = json_schema(&s, &SchemaOptions::default())
                .expect_err(text)
                .to_string();
            assert!(
                err.contains(&format!("unsupported JSON Schema at \"{pointer}\"")),
                "{text}: {err}"
            );
        }
    });
}

/// The issue's command: the CLI refuses `10^20` under `maximum:
/// 99999999999999999999` and allows the bound itself.
#[test]
fn cli_mask_refuses_a_number_past_a_big_bound() {
    let tok = common::data_dir().join("tokenizers/gpt2/tokenizer.json.gz");
    let tok = tok.to_str().unwrap();
    let schema = r#"{"type":"integer","minimum":0,"maximum":99999999999999999999}"#;
    let run = |text: &str| {
        common::run_cli_bounded(
            &[
                "mask",
                "--tokenizer",
                tok,
                "--schema",
                schema,
                "--text",
                text,
            ],
            b"",
        )
    };
    let out = run("100000000000000000000");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not allowed"), "{stderr}");
    let out = run("99999999999999999999");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON-Schema-Test-Suite's optional big-number groups
/// (`optional/bignum.json` and `optional/float-overflow.json`, MIT; copied
/// here with their numbers as written, as the main suite run leaves
/// `optional/` out): every group compiles and every instance gets the
/// suite's verdict.
#[test]
fn test_suite_bignum_and_float_overflow() {
    #[rustfmt::skip]
    let groups: &[(&str, &[(&str, bool)])] = &[
        (r#"{"type": "integer"}"#, &[("12345678910111213141516171819202122232425262728293031", true), ("-12345678910111213141516171819202122232425262728293031", true)]),
        (r#"{"type": "number"}"#, &[("98249283749234923498293171823948729348710298301928331", true), ("-98249283749234923498293171823948729348710298301928331", true)]),
        (r#"{"type": "string"}"#, &[("98249283749234923498293171823948729348710298301928331", false)]),
        (r#"{"maximum": 18446744073709551615}"#, &[("18446744073709551600", true)]),
        (r#"{"exclusiveMaximum": 972783798187987123879878123.18878137}"#, &[("972783798187987123879878123.188781371", false)]),
        (r#"{"minimum": -18446744073709551615}"#, &[("-18446744073709551600", true)]),
        (r#"{"exclusiveMinimum": -972783798187987123879878123.18878137}"#, &[("-972783798187987123879878123.188781371", false)]),
        (r#"{"type": "integer", "multipleOf": 0.5}"#, &[("1e308", true)]),
    ];
    let env = common::gpt2();
    for (schema, tests) in groups {
        let s: Value = serde_json::from_str(schema).unwrap();
        let g = Grammar::new(&s, &env);
        for (inst, want) in *tests {
            assert_eq!(g.matches(inst), *want, "{schema}: {inst}");
            assert_eq!(g.masks_allow(inst), *want, "{schema}: masks for {inst}");
        }
    }
}
