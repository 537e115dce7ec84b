//! The JSON Schema frontend: hand-written schemas with valid and invalid
//! instances, error reporting, and a soundness check over the official
//! JSON-Schema-Test-Suite (every group that compiles must accept every valid
//! instance and reject every invalid one).

mod common;

use formwork::{
    json_schema, json_schema_lenient, CompiledGrammar, FormatMode, GrammarError, Matcher,
    PropertyOrder, SchemaOptions, Spelling, TokenEnv, Vocabulary, Whitespace,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Drives `text` through a copy of `m0`: Ok if every token is in the mask
/// and EOS is allowed at the end.
fn accepts(m0: &Matcher, vocab: &Vocabulary, text: &str) -> bool {
    let mut m = m0.clone();
    for t in vocab.encode(text).unwrap() {
        if !m.compute_mask().contains(t) {
            return false;
        }
        m.commit(t).unwrap();
    }
    let eos = vocab.eos_tokens()[0];
    m.compute_mask().contains(eos) && m.is_accepting()
}

/// Flexible whitespace (test texts are `json.dumps`-style); `format` as an
/// annotation, as the test suite expects by default.
fn options() -> SchemaOptions {
    SchemaOptions {
        whitespace: Whitespace::Flexible,
        format: FormatMode::Annotate,
        property_order: PropertyOrder::Any,
        spelling: Spelling::Any,
        ..SchemaOptions::default()
    }
}

fn matcher_with(schema: &Value, opts: &SchemaOptions, env: &Arc<TokenEnv>) -> Matcher {
    let g = json_schema(schema, opts).unwrap_or_else(|e| panic!("{schema}: {e}"));
    let c = CompiledGrammar::new(&g).unwrap_or_else(|e| panic!("{schema}: {e}"));
    Matcher::new(Arc::new(c), env)
}

fn check(schema: Value, valid: &[&str], invalid: &[&str]) {
    check_with(schema, &options(), valid, invalid)
}

fn check_with(schema: Value, opts: &SchemaOptions, valid: &[&str], invalid: &[&str]) {
    let env = common::tokenizer("gpt2");
    let vocab = env.vocab().clone();
    let m = matcher_with(&schema, opts, &env);
    for v in valid {
        assert!(accepts(&m, &vocab, v), "{schema} should accept {v}");
    }
    for v in invalid {
        assert!(!accepts(&m, &vocab, v), "{schema} should reject {v}");
    }
}

#[test]
fn object_with_properties_in_schema_order() {
    let schema_order = SchemaOptions {
        property_order: PropertyOrder::Schema,
        ..options()
    };
    // In any order: required keys still enforced.
    check(
        json!({"properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
               "required": ["a", "b"], "additionalProperties": false}),
        &[r#"{"a": 1, "b": "x"}"#, r#"{"b": "x", "a": 1}"#],
        &[
            r#"{"b": "x"}"#,
            r#"{"a": 1}"#,
            r#"{"b": 1, "a": 1}"#,
            r#"{"c": 1, "a": 1, "b": "x"}"#,
        ],
    );
    check_with(
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 5},
                "age": {"type": "integer", "minimum": 0, "maximum": 150},
                "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2}
            },
            "required": ["name"],
            "additionalProperties": false
        }),
        &schema_order,
        &[
            r#"{"name": "Bob"}"#,
            r#"{"name":"Bob","age":42}"#,
            r#"{ "name" : "\u0042ob" , "age" : 150.0 , "tags" : ["a", "\u0062"] }"#,
            r#"{"name": "héé", "tags": []}"#,
            "{\n  \"name\": \"x\",\n  \"age\": 0\n}",
            r#"{"\u006eame": "x"}"#,
        ],
        &[
            r#"{}"#,
            r#"{"age": 3}"#,
            r#"{"name": ""}"#,
            r#"{"name": "toolong"}"#,
            r#"{"name": "x", "age": -1}"#,
            r#"{"name": "x", "age": 151}"#,
            r#"{"name": "x", "age": 1.5}"#,
            r#"{"name": "x", "tags": ["c"]}"#,
            r#"{"name": "x", "tags": ["a", "b", "a"]}"#,
            r#"{"name": "x", "other": 1}"#,
            r#"{"name": "x", "name": "y"}"#,
            r#"[]"#,
            r#"{"age": 3, "name": "x"}"#,
        ],
    );
}

/// 56 required keys in any order: the parser tracks the set of keys seen
/// (a rule per subset would need 2^56 rules; more than 48 keys also uses
/// the tag bits a counted list keeps for its count).
#[test]
fn many_required_properties_in_any_order() {
    let n = 56;
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    let mut props = serde_json::Map::new();
    for k in &keys {
        props.insert(k.clone(), json!({"type": "integer"}));
    }
    props.insert("opt".into(), json!({"type": "string"}));
    let schema = json!({"type": "object", "properties": props, "required": keys,
                        "additionalProperties": false});
    let env = common::tokenizer("gpt2");
    let vocab = env.vocab().clone();
    let m = matcher_with(&schema, &options(), &env);
    let render = |order: &[usize], opt_at: Option<usize>| -> String {
        let mut parts: Vec<String> = order.iter().map(|&i| format!("\"k{i}\": {i}")).collect();
        if let Some(p) = opt_at {
            parts.insert(p.min(parts.len()), r#""opt": "x""#.into());
        }
        format!("{{{}}}", parts.join(", "))
    };
    // Seeded shuffles (an LCG: no test-only dependency).
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = |bound: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % bound
    };
    for round in 0..6 {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, next(i + 1));
        }
        let opt = if round % 2 == 0 { Some(next(n)) } else { None };
        let text = render(&order, opt);
        assert!(accepts(&m, &vocab, &text), "should accept {text}");
        // A key repeated stays valid JSON Schema-wise (the last one wins).
        let mut twice = order.clone();
        twice.push(order[0]);
        assert!(accepts(&m, &vocab, &render(&twice, opt)));
        // Any one key missing: rejected, and `}` is masked out at the end.
        let missing = next(n);
        let short: Vec<usize> = order.iter().copied().filter(|&i| i != missing).collect();
        let text = render(&short, opt);
        assert!(!accepts(&m, &vocab, &text), "should reject {text}");
        let mut mm = m.clone();
        mm.commit_bytes(&text.as_bytes()[..text.len() - 1]).unwrap();
        assert!(mm.clone().commit_bytes(b"}").is_err());
        assert!(mm
            .commit_bytes(format!(", \"k{missing}\": 0}}").as_bytes())
            .is_ok());
        // A wrong value type and an unknown key are rejected.
        let bad = render(&order, opt).replacen(r#""k1": 1"#, r#""k1": "1""#, 1);
        assert!(!accepts(&m, &vocab, &bad), "should reject {bad}");
        let unknown = render(&order, opt).replacen("{", r#"{"zz": 1, "#, 1);
        assert!(!accepts(&m, &vocab, &unknown), "should reject {unknown}");
    }
    assert!(!accepts(&m, &vocab, "{}"));
}

/// Length bounds above 10,000 on a plain string: counted without a DFA
/// state per count, still exact to the code point.
#[test]
fn long_string_length_bounds_are_exact() {
    let env = common::tokenizer("gpt2");
    let vocab = env.vocab().clone();
    let schema = json!({"type": "string", "minLength": 11000, "maxLength": 12000});
    let m = matcher_with(&schema, &options(), &env);
    // Code points written three ways: raw ASCII, raw two-byte, escaped.
    let text = |n: usize| -> String {
        let pieces = ["a", "é", "\\u00e9", " ", "\\n"];
        let body: String = (0..n).map(|i| pieces[i * 7 % pieces.len()]).collect();
        format!("\"{body}\"")
    };
    for (n, ok) in [
        (10999, false),
        (11000, true),
        (11500, true),
        (12000, true),
        (12001, false),
    ] {
        assert_eq!(accepts(&m, &vocab, &text(n)), ok, "{n} code points");
    }
    let unbounded = json!({"type": "string", "minLength": 20000});
    let m = matcher_with(&unbounded, &options(), &env);
    assert!(!accepts(&m, &vocab, &text(19999)));
    assert!(accepts(&m, &vocab, &text(20000)));
    assert!(accepts(&m, &vocab, &text(25000)));
    // With a pattern: the intersection is built lazily, so a large
    // maxLength is fine; a large minLength is refused, by name (the first
    // match is thousands of characters away).
    let with_pattern = json!({"type": "string", "maxLength": 32767, "pattern": "^a[bc]*$"});
    let m = matcher_with(&with_pattern, &options(), &env);
    let abc = |n: usize| format!("\"a{}\"", "bc".repeat(n));
    assert!(accepts(&m, &vocab, &abc(5)));
    assert!(accepts(&m, &vocab, &abc(16383)));
    assert!(!accepts(&m, &vocab, &abc(16384)), "32,769 code points");
    assert!(!accepts(&m, &vocab, r#""ab d""#));
    let long_min = json!({"type": "string", "minLength": 32767, "pattern": "^a"});
    let err = json_schema(&long_min, &options()).unwrap_err().to_string();
    assert!(
        err.contains("minLength") && err.contains("pattern"),
        "{err}"
    );
}

/// `minProperties`/`maxProperties` under any property order: the parser
/// counts members, known keys come at most once (a repeated key must not
/// stand in for a missing one), and the order is free.
#[test]
fn property_counts_in_any_order() {
    // Required keys in another order than `properties` (this used to keep the
    // schema order under a count).
    check(
        json!({"type": "object", "maxProperties": 12, "required": ["iss", "iat"],
               "properties": {"iat": {"type": "integer"}, "iss": {"type": "string"}}}),
        &[r#"{"iss": "x", "iat": 1}"#, r#"{"iat": 1, "iss": "x"}"#],
        &[r#"{"iss": "x"}"#, r#"{"iss": "x", "iss": "y"}"#],
    );
    let s = json!({"type": "object", "minProperties": 2, "maxProperties": 3,
                   "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                   "additionalProperties": {"type": "string"}});
    check(
        s.clone(),
        &[
            r#"{"b": 1, "a": 2}"#,
            r#"{"z": "x", "a": 1}"#,
            r#"{"z": "x", "y": "w", "b": 1}"#,
            r#"{"y": "w", "z": "x"}"#,
        ],
        &[
            "{}",
            r#"{"a": 1}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": 1, "b": 2, "y": "w", "z": "x"}"#,
            r#"{"a": "x", "b": 1}"#,
        ],
    );
    // More required keys than `maxProperties`: no object fits.
    check(
        json!({"type": ["object", "null"], "maxProperties": 1, "required": ["a", "b"]}),
        &["null"],
        &[r#"{"a": 1, "b": 2}"#, r#"{"a": 1}"#, "{}"],
    );
}

/// Under an older `$schema`, keywords of later drafts are annotations (as
/// the draft's validators read them); a property named like one stays.
#[test]
fn later_keywords_are_ignored_under_older_drafts() {
    let d4 = "http://json-schema.org/draft-04/schema#";
    check(
        json!({"$schema": d4, "type": "object",
               "if": {"properties": {"t": {"const": "a"}}},
               "then": {"properties": {"n": {"maxLength": 1}}},
               "properties": {"if": {"type": "integer"}}, "required": ["if"]}),
        &[r#"{"if": 1, "t": "a", "n": "long"}"#],
        &[r#"{"if": "x"}"#, r#"{"t": "a"}"#],
    );
    check(
        json!({"$schema": d4, "const": 1}),
        &["1", "2", r#""x""#],
        &[],
    );
    check(
        json!({"$schema": "http://json-schema.org/draft-06/schema#", "const": 1,
               "if": {"const": 1}, "then": false}),
        &["1"],
        &["2"],
    );
    check(
        json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
               "dependentRequired": {"a": ["b"]}, "if": {"required": ["a"]},
               "then": {"required": ["c"]}}),
        &[r#"{"a": 1, "c": 2}"#],
        &[r#"{"a": 1}"#],
    );
}

/// Branches no value satisfies are pruned, not reported as errors.
#[test]
fn unsatisfiable_branches_are_pruned() {
    // The count rules for "every member skipped" can never finish.
    check(
        json!({"type": "object", "minProperties": 1, "additionalProperties": false,
               "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}}),
        &[r#"{"a": 1}"#, r#"{"b": "x"}"#, r#"{"a": 1, "b": "x"}"#],
        &["{}", r#"{"c": 1}"#],
    );
    // An object would need an endless chain of required keys; every other
    // type is still valid (there is no `type` at the top).
    check(
        json!({"definitions": {"Foo": {"type": "object", "required": ["child"],
                                       "properties": {"child": {"$ref": "#/definitions/Foo"}}}},
               "properties": {"foo": {"$ref": "#/definitions/Foo"}}, "required": ["foo"]}),
        &["1", r#""x""#, "[]", "null"],
        &["{}", r#"{"foo": {}}"#],
    );
}

/// `not: {type: integer}`: every other type, and numbers that are not
/// `not: {format}` excludes the format's strings (it used to be read as
/// `false`, so an overlapping `oneOf` of formats accepted nothing).
#[test]
fn negated_formats() {
    let assert = SchemaOptions {
        format: FormatMode::Assert,
        ..options()
    };
    let check = |schema: Value, valid: &[&str], invalid: &[&str]| {
        check_with(schema, &assert, valid, invalid)
    };
    check(
        json!({"type": "string", "not": {"format": "ipv4"}}),
        &[r#""example.com""#, r#""1.2.3""#, r#""::1""#],
        &[r#""1.2.3.4""#, r#""10.0.0.255""#, "1"],
    );
    check(
        json!({"oneOf": [{"format": "ipv4"}, {"format": "uuid"}], "type": "string"}),
        &[r#""1.2.3.4""#, r#""123e4567-e89b-12d3-a456-426614174000""#],
        &[r#""example.com""#],
    );
    // A non-string satisfies `format`, so it fails `not: {format}`.
    check(
        json!({"not": {"format": "date"}}),
        &[r#""2024-13-01""#, r#""x""#],
        &[r#""2024-01-31""#, "1", "null"],
    );
    // A format whose regexes intersect cannot be excluded: a clear error.
    let err = json_schema(
        &json!({"type": "string", "not": {"format": "hostname"}}),
        &assert,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/not/format"), "{err}");
}

/// integers, in every spelling (draft 4: integers are the plain ones).
#[test]
fn negated_integer_type_and_excluded_numbers() {
    check(
        json!({"not": {"type": "integer"}}),
        &["1.5", r#""x""#, "null", "1e-1", "[1]", "-0.25"],
        &["1", "1.0", "10e-1", "-0", "2E2"],
    );
    check(
        json!({"type": "number", "minimum": 1, "maximum": 3, "not": {"type": "integer"}}),
        &["1.5", "2.25", "29e-1"],
        &["2", "2.0", "3.5", "0.5", "20e-1"],
    );
    check(
        json!({"not": {"not": {"type": "integer"}}}),
        &["1", "1.0", "-3"],
        &["1.5", r#""x""#, "null"],
    );
    check(
        json!({"$schema": "http://json-schema.org/draft-04/schema#", "not": {"type": "integer"}}),
        &["1.0", "1.5", "1e0"],
        &["1", "-7"],
    );
    // Excluded values also apply to a number with two bounds.
    check(
        json!({"type": "number", "minimum": 0, "maximum": 10, "not": {"const": 5}}),
        &["4", "5.5", "6", "0", "10"],
        &["5", "5.0", "50e-1", "0.5e1", "11"],
    );
    // Overlapping `oneOf` branches need the negation of `type: integer`.
    check(
        json!({"oneOf": [{"minimum": 1, "type": "integer"}, {"type": "integer"}]}),
        &["0", "-5", "0.0"],
        &["1", "2", "1.5", "0.5"],
    );
    // Negated multipleOf: numbers off the step, in every spelling.
    check(
        json!({"not": {"multipleOf": 3}}),
        &["1", "4.5", "1e1", "-2"],
        // A string satisfies `multipleOf` (it only constrains numbers).
        &["3", "6.0", "0", "30e-1", "-9", r#""x""#],
    );
    check(
        json!({"type": "number", "not": {"multipleOf": 0.5}, "maximum": 2}),
        &["0.25", "1.75", "-0.1"],
        &["0.5", "1", "2", "2.25", "1.5"],
    );
    check(
        json!({"type": "number", "allOf": [{"not": {"multipleOf": 2}}, {"not": {"type": "integer"}}]}),
        &["1.5", "2.5"],
        &["1", "2", "4.0"],
    );
    check(
        json!({"not": {"not": {"multipleOf": 4}}}),
        &["8", "4.0", r#""x""#],
        &["2", "6"],
    );
    // Numbers far from 1 keep their scientific spellings.
    check(
        json!({"enum": [1e308, 1.5e-300]}),
        &["1e+308", "1E308", "10e307", "1.5e-300", "15E-301"],
        &["2e308", "1e307", "1.5e-301"],
    );
    // enum strings under a pattern: checked against the pattern.
    check(
        json!({"enum": ["ab", "cd", "a9"], "pattern": "^a"}),
        &[r#""ab""#, r#""a9""#, r#""\u0061b""#],
        &[r#""cd""#, r#""a""#],
    );
    check(
        json!({"enum": [1, 1.5, 2.0, "a"], "not": {"type": "integer"}}),
        &["1.5", r#""a""#],
        &["1", "2.0", "2"],
    );
}

#[test]
fn lenient_mode_drops_unsupported_keywords_with_warnings() {
    let schema = json!({
        "type": "object",
        "properties": {
            "a": {"type": "string", "pattern": "(?<=x)a"},
            "b": {"type": "array", "items": {"type": "integer"}, "contains": {"minimum": 5},
                  "uniqueItems": true}
        },
        "required": ["a", "b"]
    });
    assert!(json_schema(&schema, &options()).is_err());
    let (g, warnings) = json_schema_lenient(&schema, &options()).unwrap();
    let mut ptrs: Vec<&str> = warnings.iter().map(|w| w.pointer.as_str()).collect();
    ptrs.sort();
    assert_eq!(
        ptrs,
        ["/properties/a/pattern", "/properties/b/contains"],
        "{warnings:?}"
    );
    let env = common::tokenizer("gpt2");
    let vocab = env.vocab().clone();
    let m = Matcher::new(Arc::new(CompiledGrammar::new(&g).unwrap()), &env);
    // The dropped keywords no longer constrain; the others still do.
    assert!(accepts(&m, &vocab, r#"{"a": "y", "b": [1, 2]}"#));
    assert!(!accepts(&m, &vocab, r#"{"a": "y", "b": [1, 1]}"#));
    assert!(!accepts(&m, &vocab, r#"{"a": "y", "b": ["1"]}"#));
    assert!(!accepts(&m, &vocab, r#"{"a": "y"}"#));
    // A malformed schema is still an error.
    assert!(json_schema_lenient(&json!({"type": 5}), &options()).is_err());
}

#[test]
fn whitespace_runs_can_be_bounded() {
    let opts = SchemaOptions {
        max_whitespace: Some(3),
        ..options()
    };
    check_with(
        json!({"type": "object", "properties": {"a": {"type": "array"}}}),
        &opts,
        &["{\"a\": [1, 2]}", "{ \"a\" :\n  [ ] }", "\n\t {}"],
        &["{\"a\":    []}", "{\"a\": [1,\n\n\n\n2]}", "{}    "],
    );
}

#[test]
fn canonical_spelling_forces_whole_keys() {
    let schema = json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "a\"b": {"type": "integer"}},
        "required": ["name", "a\"b"],
        "additionalProperties": {"type": "integer"}
    });
    let opts = SchemaOptions {
        spelling: Spelling::Canonical,
        ..SchemaOptions::default()
    };
    check_with(
        schema.clone(),
        &opts,
        &[r#"{"name":"x","a\"b":1}"#, r#"{"name":"x","a\"b":1,"c":2}"#],
        &[
            r#"{"\u006eame":"x","a\"b":1}"#,
            r#"{"name":"x","a\u0022b":1}"#,
            r#"{"name":"x","a\"b":1.0}"#,
            r#"{"name":"x","a\"b":1e0}"#,
            // An escaped known key is not an additional property either.
            r#"{"name":"x","a\"b":1,"n\u0061me":2}"#,
        ],
    );
    // The first key's bytes are forced, and so are its tokens but the last
    // (`":"`: GPT-2 has longer tokens that start with it and may follow).
    let env = common::tokenizer("gpt2");
    let vocab = env.vocab().clone();
    let mut m = matcher_with(&schema, &opts, &env);
    assert_eq!(m.forced_bytes(), br#"{"name":""#);
    let forced = m.forced_tokens();
    assert_eq!(vocab.decode_bytes(&forced), br#"{"name"#);
    // Under every spelling, only `{"` is forced.
    let mut m = matcher_with(&schema, &SchemaOptions::default(), &env);
    assert_eq!(m.forced_bytes(), br#"{""#);
}

#[test]
fn additional_properties_schema_excludes_known_keys() {
    check(
        json!({
            "properties": {"a": {"type": "boolean"}},
            "additionalProperties": {"type": "integer"}
        }),
        &[
            r#"{}"#,
            r#"{"a": true}"#,
            r#"{"a": true, "b": 1, "c": 2e3}"#,
            r#"{"aa": 1}"#,
            r#""not an object""#,
        ],
        &[
            r#"{"a": 1}"#,
            r#"{"\u0061": 1}"#,
            r#"{"b": "x"}"#,
            r#"{"a": true, "b": 1.5}"#,
        ],
    );
}

#[test]
fn integers_in_every_spelling() {
    check(
        json!({"type": "integer"}),
        &["0", "-0", "7", "1.0", "1e2", "1.5e1", "100e-2", "-3E+0"],
        &["1.5", "1e-1", "\"1\"", "null", "0.1e0"],
    );
    check(
        json!({"type": "integer", "exclusiveMinimum": -10, "maximum": 20}),
        &["-9", "0", "20", "20.0", "-0"],
        &["-10", "21", "-11", "5.5", "100"],
    );
    check(
        json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer", "minimum": 3, "exclusiveMinimum": true}),
        &["4", "100"],
        &["3", "2"],
    );
}

#[test]
fn const_and_enum_in_every_spelling() {
    check(
        json!({"enum": [1, "a", null, [true], {"x": 1, "y": "z"}]}),
        &[
            "1",
            "1.0",
            "1e0",
            "10e-1",
            r#""a""#,
            r#""\u0061""#,
            "null",
            "[ true ]",
            r#"{"x": 1, "y": "z"}"#,
            r#"{"y": "z", "x": 1.0}"#,
        ],
        &["2", r#""b""#, "[]", r#"{"x": 1}"#, "true", "0.1e1e1"],
    );
    check(
        json!({"const": 2.5}),
        &["2.5", "25e-1", "0.25E1"],
        &["2", "2.50001"],
    );
}

#[test]
fn enum_values_next_to_object_and_array_keywords() {
    // Each member and item of an enum value is checked against the schemas
    // the object/array keywords give it (through $ref, anyOf, oneOf, not).
    check(
        json!({
            "$defs": {"small": {"type": "integer", "maximum": 5}},
            "type": "object",
            "properties": {"n": {"$ref": "#/$defs/small"}, "tag": {"oneOf": [{"const": "a"}, {"type": "string", "maxLength": 1}]}},
            "additionalProperties": {"type": "boolean"},
            "propertyNames": {"maxLength": 3},
            "minProperties": 1,
            "enum": [{"n": 3}, {"n": 9}, {"tag": "b"}, {"tag": "a"}, {"x": true}, {"x": 1}, {"long": true}, {}]
        }),
        &[
            r#"{"n": 3}"#,
            r#"{"n": 3.0}"#,
            r#"{"tag": "b"}"#,
            r#"{"x": true}"#,
        ],
        &[
            r#"{"n": 9}"#,
            r#"{"tag": "a"}"#,
            r#"{"x": 1}"#,
            r#"{"long": true}"#,
            "{}",
            r#"{"n": 4}"#,
        ],
    );
    check(
        json!({
            "type": "array",
            "prefixItems": [{"type": "string"}],
            "items": {"type": "integer"},
            "contains": {"const": 7},
            "uniqueItems": true,
            "enum": [["a", 7], ["a", 7, 7], [7], ["a", 1], ["a", 1, 7], ["b", 7, 8]]
        }),
        &[r#"["a", 7]"#, r#"["a",1,7]"#, r#"["b", 7, 8.0]"#],
        &[r#"["a", 7, 7]"#, "[7]", r#"["a", 1]"#, r#"["a"]"#],
    );
    // An object constant with more keys than are spelled as permutations:
    // every key exactly once, in any order.
    let big: serde_json::Map<String, Value> = (0..9).map(|i| (format!("k{i}"), json!(i))).collect();
    let in_order = serde_json::to_string(&big).unwrap();
    let mut rev: Vec<String> = (0..9).rev().map(|i| format!("\"k{i}\":{i}")).collect();
    let reversed = format!("{{{}}}", rev.join(","));
    rev.pop();
    let missing = format!("{{{}}}", rev.join(","));
    let doubled = format!("{{\"k0\":0,{}}}", &reversed[1..reversed.len() - 1]);
    check(
        json!({"const": Value::Object(big)}),
        &[&in_order, &reversed],
        &[&missing, &doubled, "{}"],
    );
}

#[test]
fn many_conditionals_on_one_discriminator() {
    // allOf of 16 if/then on one property: 2^16 combinations of branches,
    // of which only those with at most one `kind` (or none) are satisfiable;
    // the others are pruned as soon as they contradict.
    let conds: Vec<Value> = (0..16)
        .map(|i| {
            json!({
                "if": {"properties": {"kind": {"const": format!("k{i}")}}},
                "then": {"properties": {format!("f{i}"): {"type": "integer"}}, "required": [format!("f{i}")]}
            })
        })
        .collect();
    check(
        json!({"type": "object", "allOf": conds}),
        &[
            r#"{"kind": "k3", "f3": 1}"#,
            r#"{"kind": "other"}"#,
            r#"{"kind": "k15", "f15": 2, "f3": "x"}"#,
        ],
        &[
            r#"{"kind": "k3"}"#,
            r#"{"kind": "k3", "f3": "x"}"#,
            "{}",
            "[]",
        ],
    );
}

#[test]
fn contains_with_prefix_items_and_several_contains() {
    check(
        json!({"prefixItems": [{"type": "string"}, {"type": "boolean"}], "items": {"type": "integer"},
               "contains": {"type": "integer", "minimum": 10}, "maxContains": 2}),
        &[
            r#"["a", true, 10]"#,
            r#"["a", false, 1, 12, 3, 11]"#,
            r#"["x", true, 5, 10]"#,
        ],
        &[
            r#"["a", true]"#,
            r#"["a", true, 10, 11, 12]"#,
            r#"[10, true, 11]"#,
            r#"["a", 10, 11]"#,
            "[]",
        ],
    );
    check(
        json!({"type": "array", "allOf": [
            {"contains": {"const": 1}},
            {"contains": {"const": 2}, "minContains": 2, "maxContains": 3}
        ], "maxItems": 5}),
        &["[1, 2, 2]", "[2, 1, 2, 2]", "[2, 2, 1, 0, 0]"],
        &["[2, 2]", "[1, 2]", "[1, 2, 2, 2, 2]", "[1, 2, 2, 0, 0, 0]"],
    );
}

#[test]
fn leading_lookaheads_in_patterns() {
    check(
        json!({"type": "string", "pattern": "^(?!io\\.)(?=[a-z])[a-z.]+$"}),
        &[r#""com.x""#, r#""i.o""#, r#""io""#],
        &[r#""io.x""#, r#"".io""#, r#""Ab""#, r#""""#],
    );
    check(
        json!({"type": "string", "pattern": "^(?=[^=]+$)(?!\\s+$)(.|\\n)+$"}),
        &[r#""a b""#, r#"" x""#],
        &[r#""a=b""#, r#""  ""#, r#""""#],
    );
    // A lookahead ending an unanchored pattern: a match only has to exist.
    check(
        json!({"type": "string", "pattern": "[^/]*/(?=\\.(yaml|json))"}),
        &[r#""a/.json""#, r#""x/y/.yaml.bak""#],
        &[r#""a.json""#, r#""a/.txt""#],
    );
    check(
        json!({"type": "string", "not": {"pattern": "b(?=c)"}}),
        &[r#""bd""#, r#""cb""#],
        &[r#""abcd""#],
    );
    // Under `not`: one of the parts fails.
    check(
        json!({"type": "string", "not": {"pattern": "^(?!x)[a-z]+$"}}),
        &[r#""xa""#, r#""A""#, r#""""#],
        &[r#""ab""#],
    );
}

#[test]
fn pattern_properties_with_leading_lookaheads() {
    check(
        json!({"type": "object",
               "patternProperties": {"^(?!@@)[@a-z]+$": {"type": "string"}, "^x": {"maxLength": 2}},
               "additionalProperties": {"type": "integer"}}),
        &[
            r#"{"ab": "s", "@@x": 1, "A": 2}"#,
            r#"{"xy": "ab"}"#,
            r#"{"@a": "q", "x1": 5}"#,
        ],
        &[
            r#"{"ab": 1}"#,
            r#"{"@@x": "s"}"#,
            r#"{"xy": "abc"}"#,
            r#"{"A": "s"}"#,
            r#"{"x1": "sss"}"#,
        ],
    );
    // Under a negation (an overlapping oneOf): some key breaks it.
    check(
        json!({"type": "object", "not": {"patternProperties": {"^(?=a)[a-z]+$": {"type": "integer"}}}}),
        &[r#"{"ab": "s"}"#, r#"{"b": 1, "ac": true}"#],
        &["{}", r#"{"ab": 1}"#, r#"{"b": "s"}"#],
    );
}

#[test]
fn negated_object_and_array_constants() {
    check(
        json!({"not": {"enum": [{"a": 1, "b": [true, {"c": null}]}, [1, "x"], 3]}}),
        &[
            r#"{"a": 1}"#,
            r#"{"a": 1, "b": [true, {"c": null}], "d": 0}"#,
            r#"{"a": 2, "b": [true, {"c": null}]}"#,
            r#"{"a": 1, "b": [true, {"c": 0}]}"#,
            r#"[1]"#,
            r#"[1, "x", 2]"#,
            r#"["x", 1]"#,
            "4",
            "null",
        ],
        &[
            r#"{"b": [true, {"c": null}], "a": 1.0}"#,
            r#"[1, "x"]"#,
            "3",
            "3.0",
        ],
    );
    check(
        json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "not": {"enum": [{"k": "v"}]}}),
        &["{}", r#"{"k": "w"}"#],
        &[r#"{"k": "v"}"#],
    );
}

#[test]
fn dynamic_refs_that_do_not_depend_on_the_path() {
    // The root carries the anchor: it is always the outermost scope.
    check(
        json!({
            "$id": "https://example.com/root", "$dynamicAnchor": "node",
            "type": "object", "properties": {"kids": {"$ref": "tree"}},
            "$defs": {"tree": {"$id": "tree", "$dynamicAnchor": "node",
                               "type": "array", "items": {"$dynamicRef": "#node"}}}
        }),
        &[r#"{"kids": [{}, {"kids": []}]}"#],
        &[r#"{"kids": [1]}"#, r#"{"kids": [{"kids": [2]}]}"#],
    );
    // Only one resource carries it: a plain $ref.
    check(
        json!({"$defs": {"s": {"$dynamicAnchor": "s", "type": "string"}},
               "items": {"$dynamicRef": "#s"}, "type": "array"}),
        &[r#"["a"]"#],
        &["[1]"],
    );
    // Two resources besides the root: the target depends on the path.
    let (p, m) = unsupported_pointer(json!({
        "$id": "https://example.com/r",
        "anyOf": [{"$ref": "a"}, {"$ref": "b"}],
        "$defs": {
            "a": {"$id": "a", "$dynamicAnchor": "x", "type": "array", "items": {"$dynamicRef": "#x"}},
            "b": {"$id": "b", "$dynamicAnchor": "x", "type": "array", "items": {"$ref": "a"}}
        }
    }));
    assert!(p.ends_with("/$dynamicRef"), "{p}");
    assert!(m.contains("evaluation path"), "{m}");
}

#[test]
fn several_multiple_of_are_their_lcm() {
    check(
        json!({"allOf": [{"multipleOf": 0.4}, {"multipleOf": 1.5}, {"type": "number"}]}),
        &["6", "12", "0", "-18", "6.0", "1.2e1"],
        &["3", "2", "1.2", "0.4", "1.5", "7"],
    );
}

#[test]
fn unique_items_over_enum_values() {
    check(
        json!({"type": "array", "items": {"enum": ["a", "b", 1, {"x": null}]}, "uniqueItems": true, "minItems": 1}),
        &[
            r#"["a"]"#,
            r#"["b", "a"]"#,
            r#"["a", 1, "b", {"x": null}]"#,
            r#"[1, "\u0061"]"#,
        ],
        &[
            "[]",
            r#"["a", "a"]"#,
            r#"["a", "\u0061"]"#,
            r#"[1, 1.0]"#,
            r#"[{"x": null}, {"x": null}]"#,
            r#"["c"]"#,
        ],
    );
    check(
        json!({"type": "array", "items": {"enum": [1, 2, 3]}, "uniqueItems": true, "maxItems": 2}),
        &["[]", "[3, 1]"],
        &["[1, 2, 3]", "[2, 2]"],
    );
    // More items required than there are distinct values: nothing validates.
    assert!(formwork::json_schema(
        &json!({"items": {"enum": [1, 2]}, "uniqueItems": true, "minItems": 3, "type": "array"}),
        &SchemaOptions::default()
    )
    .is_err());
}

#[test]
fn arrays_refs_and_combinators() {
    check(
        json!({
            "$defs": {"node": {"type": "object", "properties": {
                "v": {"type": "integer"},
                "next": {"$ref": "#/$defs/node"}
            }, "required": ["v"], "additionalProperties": false}},
            "$ref": "#/$defs/node"
        }),
        &[
            r#"{"v": 1}"#,
            r#"{"v": 1, "next": {"v": 2, "next": {"v": 3}}}"#,
        ],
        &[r#"{"v": 1, "next": {}}"#, r#"{"next": {"v": 1}}"#],
    );
    check(
        json!({"prefixItems": [{"type": "string"}, {"type": "number"}], "items": false, "minItems": 1}),
        &[r#"["a"]"#, r#"["a", 1.5]"#],
        &["[]", r#"[1]"#, r#"["a", 1, 2]"#],
    );
    check(
        json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
        &[r#""x""#, "3"],
        &["3.5", "null"],
    );
    check(
        json!({"anyOf": [{"type": "string", "maxLength": 1}, {"type": "string", "minLength": 3}]}),
        &[r#""x""#, r#""xyz""#, r#""""#],
        &[r#""xy""#],
    );
    check(
        json!({"allOf": [{"type": ["string", "null"]}, {"type": ["string", "number"]}]}),
        &[r#""x""#],
        &["null", "1"],
    );
}

fn unsupported_pointer(schema: Value) -> (String, String) {
    match json_schema(&schema, &SchemaOptions::default()) {
        Err(GrammarError::UnsupportedSchema { pointer, message }) => (pointer, message),
        other => panic!("{schema}: expected UnsupportedSchema, got {other:?}"),
    }
}

#[test]
fn errors_name_keyword_and_pointer() {
    let (p, m) = unsupported_pointer(
        json!({"properties": {"a": {"contains": {"type": "string"}, "uniqueItems": true}}}),
    );
    assert_eq!(p, "/properties/a/contains");
    assert!(m.contains("uniqueItems"), "{m}");
    let (p, m) = unsupported_pointer(json!({"items": {"pattern": "(?<=a)b"}}));
    assert_eq!(p, "/items/pattern");
    assert!(m.contains("pattern"), "{m}");
    let (p, m) = unsupported_pointer(json!({"$ref": "http://example.com/s.json"}));
    assert_eq!(p, "/$ref");
    assert!(m.contains("example.com"), "{m}");
    let (p, _) = unsupported_pointer(json!({"oneOf": [
        {"type": "object", "unevaluatedProperties": false},
        {"type": "object", "properties": {"a": {}}}
    ]}));
    assert_eq!(p, "/oneOf");
    assert!(matches!(
        json_schema(&json!(false), &SchemaOptions::default()),
        Err(GrammarError::EmptyLanguage(_))
    ));
    assert!(matches!(
        json_schema(&json!({"type": 3}), &SchemaOptions::default()),
        Err(GrammarError::InvalidSchema { .. })
    ));
    // Annotations and unknown keywords are ignored.
    assert!(json_schema(
        &json!({"title": "t", "x-foo": 1, "format": "email"}),
        &SchemaOptions::default()
    )
    .is_ok());
}

/// True if some order of the top-level keys of `data` (an object with at
/// most 5 keys) is accepted: the grammar wants properties in schema order.
fn reordered_accepted(m: &Matcher, vocab: &Vocabulary, data: &Value) -> bool {
    let Value::Object(obj) = data else {
        return false;
    };
    let keys: Vec<&String> = obj.keys().collect();
    if keys.len() < 2 || keys.len() > 5 {
        return false;
    }
    fn perms(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in perms(n - 1) {
            for i in 0..=p.len() {
                let mut q = p.clone();
                q.insert(i, n - 1);
                out.push(q);
            }
        }
        out
    }
    perms(keys.len()).into_iter().any(|p| {
        let mut o = serde_json::Map::new();
        for i in p {
            o.insert(keys[i].clone(), obj[keys[i]].clone());
        }
        accepts(m, vocab, &serde_json::to_string(&Value::Object(o)).unwrap())
    })
}

/// The vendored JSON-Schema-Test-Suite's `tests/` (see `tests/data/README.md`).
fn suite_dir() -> PathBuf {
    common::data_dir().join("json-schema-test-suite/tests")
}

/// Every file of the suite's `remotes/` (which the suite serves at
/// `http://localhost:1234/`), keyed by that URI.
fn remotes(dir: &Path) -> BTreeMap<String, Value> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Value>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let rel = format!("{rel}{name}");
            if p.is_dir() {
                walk(&p, &format!("{rel}/"), out);
            } else if name.ends_with(".json") {
                let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                out.insert(format!("http://localhost:1234/{rel}"), v);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// Compiles every group of one draft; returns (groups, compiled, failures).
fn run_draft(draft: &str, schema_uri: &str) -> (usize, usize, Vec<String>) {
    let env = common::tokenizer("gpt2");
    let vocab = env.vocab().clone();
    let dir = suite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(draft))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let opts = SchemaOptions {
        remote: remotes(&dir.join("../remotes")),
        ..options()
    };
    assert!(opts.remote.len() > 30, "remotes/ not found");
    let (mut groups, mut compiled, mut checked, mut order_only) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let (mut fg, mut fc) = (0, 0);
        for (gi, case) in cases.iter().enumerate() {
            fg += 1;
            let mut schema = case["schema"].clone();
            if let Value::Object(m) = &mut schema {
                if !m.contains_key("$schema") {
                    m.insert("$schema".into(), json!(schema_uri));
                }
            }
            let c = match json_schema(&schema, &opts).and_then(|g| CompiledGrammar::new(&g)) {
                Ok(c) => c,
                // A schema no value satisfies is reported as such: right
                // exactly when the group has no valid instance (as in bench).
                Err(GrammarError::EmptyLanguage(_)) => {
                    fc += 1;
                    for t in case["tests"].as_array().unwrap() {
                        checked += 1;
                        if t["valid"].as_bool().unwrap() {
                            failures.push(format!(
                                "{draft}/{name}#{gi}: empty language, but {} is valid",
                                t["data"]
                            ));
                        }
                    }
                    continue;
                }
                Err(_) => continue,
            };
            fc += 1;
            let m = Matcher::new(Arc::new(c), &env);
            for t in case["tests"].as_array().unwrap() {
                let inst = serde_json::to_string(&t["data"]).unwrap();
                let want = t["valid"].as_bool().unwrap();
                checked += 1;
                let got = accepts(&m, &vocab, &inst);
                if want && !got && reordered_accepted(&m, &vocab, &t["data"]) {
                    // property_order: schema — the keys came in another order.
                    order_only += 1;
                    println!(
                        "ORDER {draft}/{name}#{gi}: {inst} accepted with keys in schema order"
                    );
                    continue;
                }
                if got != want {
                    failures.push(format!(
                        "{draft}/{name}#{gi} ({}): {} {inst} — {}",
                        case["description"].as_str().unwrap_or(""),
                        if want {
                            "rejected valid"
                        } else {
                            "accepted invalid"
                        },
                        t["description"].as_str().unwrap_or("")
                    ));
                }
            }
        }
        println!("{draft}/{name}: groups {fg}, compiled {fc}");
        groups += fg;
        compiled += fc;
    }
    println!(
        "{draft} TOTAL: groups {groups}, compiled {compiled} ({:.1}%), instances checked {checked}, valid only in another key order {order_only}, failures {}",
        100.0 * compiled as f64 / groups.max(1) as f64,
        failures.len()
    );
    (groups, compiled, failures)
}

fn suite(draft: &str, uri: &str, min_compiled: usize) {
    let (groups, compiled, failures) = run_draft(draft, uri);
    assert!(groups > 200, "{groups} groups in {draft}");
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(failures.is_empty(), "{} soundness failures", failures.len());
    assert!(
        compiled >= min_compiled,
        "coverage went down: {compiled} groups compile, expected at least {min_compiled}"
    );
}

#[test]
fn test_suite_draft2020_12() {
    suite(
        "draft2020-12",
        "https://json-schema.org/draft/2020-12/schema",
        368,
    );
}

#[test]
fn test_suite_draft7() {
    suite("draft7", "http://json-schema.org/draft-07/schema#", 254);
}

/// A keyword about one type holds for every other type, so its negation holds
/// for that type only.
#[test]
fn negation_of_type_specific_keywords() {
    check(
        json!({"not": {"required": ["a"]}}),
        &[r#"{"b": 1}"#, "{}"],
        &[r#"{"a": 1}"#, "5", "[]", r#""s""#, "null"],
    );
    check(
        json!({"not": {"minLength": 3}}),
        &[r#""ab""#, r#""""#],
        &[r#""abc""#, "5", "{}", "[]"],
    );
    check(
        json!({"not": {"anyOf": [{"type": "string"}, {"minimum": 10}]}}),
        // `minimum` holds for every non-number, so only small numbers remain.
        &["9", "-1.5"],
        &["10", "10.5", r#""x""#, "null", "{}", "[1]"],
    );
    check(
        json!({"if": {"properties": {"a": {"const": 1}}, "required": ["a"]},
               "then": {"required": ["b"]}, "else": {"maxProperties": 1}}),
        &[r#"{"a": 1, "b": 2}"#, r#"{"a": 2}"#, "[]", "7"],
        &[r#"{"a": 1}"#, r#"{"a": 2, "c": 3}"#],
    );
}

/// Negated `additionalProperties`, `patternProperties` and `propertyNames`:
/// an object with a member that breaks them (a witness member), alone and
/// through `oneOf` branches that may overlap (each branch with the negation
/// of the others), in both property orders.
#[test]
fn negation_of_object_member_keywords() {
    let schema_order = SchemaOptions {
        property_order: PropertyOrder::Schema,
        ..options()
    };
    // (Valid instances in schema order: the other order is rejected there.)
    let both = |schema: Value, valid: &[&str], invalid: &[&str]| {
        check(schema.clone(), valid, invalid);
        check_with(schema, &schema_order, valid, invalid);
    };
    both(
        json!({"not": {"properties": {"a": {}}, "additionalProperties": false}}),
        &[r#"{"b": 1}"#, r#"{"a": 1, "b": 2}"#],
        &["{}", r#"{"a": 1}"#, "5", "[]", r#""b""#],
    );
    check(
        json!({"not": {"properties": {"a": {}}, "additionalProperties": false}}),
        &[r#"{"b": 2, "a": 1}"#],
        &[],
    );
    both(
        json!({"not": {"properties": {"a": {}}, "patternProperties": {"^x": {}},
                       "additionalProperties": {"type": "string"}}}),
        &[
            r#"{"b": 1}"#,
            r#"{"a": 1, "b": null}"#,
            r#"{"a": 2, "x1": "s", "c": []}"#,
        ],
        &[
            "{}",
            r#"{"b": "s"}"#,
            r#"{"x1": 5}"#,
            r#"{"a": 5}"#,
            r#""s""#,
        ],
    );
    both(
        json!({"not": {"patternProperties": {"^a": {"type": "integer"}, "b$": {"maxLength": 1}}}}),
        &[r#"{"ab": "x"}"#, r#"{"c": 1, "a": 1.5}"#, r#"{"b": "xy"}"#],
        &[
            r#"{"ab": 1}"#,
            r#"{"b": "x", "a": 2}"#,
            r#"{"c": "x"}"#,
            "{}",
            "[]",
        ],
    );
    both(
        json!({"not": {"propertyNames": {"maxLength": 2}}}),
        &[r#"{"abc": 1}"#, r#"{"a": 1, "bcd": 2}"#],
        &[r#"{"ab": 1}"#, "{}", r#""abc""#],
    );
    // A key schema with two keywords: its negation is a union of two.
    both(
        json!({"type": "object", "properties": {"ab": {}},
               "not": {"propertyNames": {"maxLength": 3, "pattern": "^a"}}}),
        &[r#"{"abcd": 1}"#, r#"{"b": 1}"#, r#"{"ab": 1, "b": 2}"#],
        &[r#"{"ab": 1}"#, r#"{"a": 1, "abc": 2}"#, "{}"],
    );
    // Branches that overlap on `{}` and `{"b": …}`: exactly one must hold.
    both(
        json!({"oneOf": [
            {"type": "object", "properties": {"a": {}, "b": {}}, "additionalProperties": false},
            {"required": ["b"]}
        ]}),
        // `required` holds for every non-object.
        &["{}", r#"{"a": 1}"#, r#"{"b": 1, "c": 2}"#, "5"],
        &[r#"{"b": 1}"#, r#"{"a": 1, "b": 2}"#, r#"{"c": 1}"#],
    );
    // Three closed objects: one member can witness both negations.
    both(
        json!({"oneOf": [
            {"type": "object", "properties": {"a": {}}, "additionalProperties": false},
            {"type": "object", "properties": {"b": {}}, "additionalProperties": false},
            {"type": "object", "properties": {"c": {}}, "additionalProperties": false}
        ]}),
        &[r#"{"a": 1}"#, r#"{"b": 1}"#, r#"{"c": []}"#],
        &["{}", r#"{"a": 1, "b": 1}"#, r#"{"d": 1}"#, "1"],
    );
    // Two witnesses that one member or two different members satisfy.
    both(
        json!({"oneOf": [
            {"type": "object"},
            {"propertyNames": {"pattern": "^x"}},
            {"additionalProperties": {"type": "integer"}}
        ]}),
        &[
            r#"{"y": "s"}"#,
            r#"{"y": 1, "x": "s"}"#,
            r#"{"x": "s", "y": 1}"#,
        ],
        &[r#"{"y": 1}"#, r#"{"x": "s"}"#, "{}", "5", r#""y""#],
    );
    // A required key as the only witness: one member, counted once.
    both(
        json!({"oneOf": [
            {"properties": {"a": {}}, "required": ["a", "c"]},
            {"properties": {"b": {}}, "additionalProperties": false}
        ]}),
        &[r#"{"a": 1, "c": 2}"#, r#"{"b": 1}"#, "{}"],
        &[r#"{"a": 1}"#, r#"{"a": 1, "b": 2}"#],
    );
    both(
        json!({"required": ["c"], "minProperties": 1,
               "not": {"properties": {"b": {}}, "additionalProperties": false}}),
        &[r#"{"c": 1}"#, r#"{"c": 1, "b": 2}"#],
        &[r#"{"b": 1}"#, "{}"],
    );
    // Six closed objects: each branch with the negation of five others is
    // 6 × 5^5 combinations, unless those no object satisfies (a key that a
    // closed branch forbids made required) are skipped early.
    let closed: Vec<Value> = (1..=6)
        .map(|i| {
            json!({"type": "object", "required": [format!("k{i}")], "additionalProperties": false,
                   "properties": {format!("k{i}"): {}, format!("x{i}"): {"type": "string"},
                                  format!("y{i}"): {"type": "integer"}}})
        })
        .collect();
    both(
        json!({ "oneOf": closed }),
        &[
            r#"{"k1": 1}"#,
            r#"{"k2": 1, "x2": "s"}"#,
            r#"{"k6": [], "y6": 2}"#,
        ],
        &[
            r#"{"k1": 1, "k2": 2}"#,
            "{}",
            r#"{"k1": 1, "x1": 5}"#,
            r#"{"x1": "s"}"#,
        ],
    );
    // A negated `if`, and a recursive negation (built lazily).
    both(
        json!({"if": {"properties": {"a": {}}, "additionalProperties": false},
               "then": {"required": ["a"]}, "else": {"maxProperties": 1}}),
        &[r#"{"a": 1}"#, r#"{"b": 1}"#, "3"],
        &["{}", r#"{"b": 1, "c": 2}"#],
    );
    both(
        json!({"$defs": {"t": {"type": "object", "properties": {"k": {"$ref": "#/$defs/t"}},
                               "additionalProperties": false}},
               "not": {"$ref": "#/$defs/t"}}),
        &[
            r#"{"x": 1}"#,
            r#"{"k": {"x": 1}}"#,
            r#"{"k": 5}"#,
            r#"{"k": {"k": {"y": []}}}"#,
        ],
        &["{}", r#"{"k": {}}"#, r#"{"k": {"k": {}}}"#],
    );
    // Enum objects are checked for a witness member.
    both(
        json!({"enum": [{"a": 1, "q": 2}, {"a": 1, "q": true}, {"a": 1}, 3],
               "not": {"properties": {"a": {}}, "additionalProperties": {"type": "boolean"}}}),
        &[r#"{"a": 1, "q": 2}"#],
        &[r#"{"a": 1, "q": true}"#, r#"{"a": 1}"#, "3"],
    );
    // Counted members: the witness is one of them.
    both(
        json!({"minProperties": 2,
               "not": {"properties": {"a": {}}, "additionalProperties": false}}),
        &[r#"{"a": 1, "b": 2}"#, r#"{"b": 1, "c": 2}"#],
        &[r#"{"b": 1}"#, r#"{"a": 1}"#, "{}"],
    );
    // Key schemas with oneOf: keys of exactly one branch fail `not`.
    both(
        json!({"not": {"propertyNames": {"not": {"oneOf": [{"maxLength": 2}, {"pattern": "^a"}]}}}}),
        &[r#"{"b": 1}"#, r#"{"abc": 1}"#, r#"{"ab": 1, "abc": 2}"#],
        &[r#"{"ab": 1}"#, r#"{"bcd": 1}"#, "{}"],
    );
    // Still unsupported: unevaluatedProperties.
    let (p, _) = unsupported_pointer(json!({"not": {"unevaluatedProperties": false}}));
    assert_eq!(p, "/not/unevaluatedProperties");
}

/// `SchemaOptions::remote`: a `$ref` into a supplied document, with a pointer
/// fragment, an anchor, a relative reference between two remotes (resolved
/// against the remote's `$id`), recursion through a remote, and the error for
/// a document that was not supplied.
#[test]
fn remote_documents() {
    let mut opts = options();
    opts.remote.insert(
        "http://example.com/defs.json".into(),
        json!({"$defs": {
            "pos": {"type": "integer", "minimum": 1},
            "name": {"$ref": "names/name.json#short"},
            "tree": {"type": "object", "properties": {
                "v": {"$ref": "#/$defs/pos"},
                "kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}}
            }, "additionalProperties": false}
        }}),
    );
    opts.remote.insert(
        "http://example.com/names/name.json".into(),
        json!({"$id": "http://example.com/names/name.json",
               "$defs": {"s": {"$anchor": "short", "type": "string", "maxLength": 3}}}),
    );
    check_with(
        json!({"$ref": "http://example.com/defs.json#/$defs/pos"}),
        &opts,
        &["1", "42"],
        &["0", "-3", "\"1\""],
    );
    check_with(
        json!({"$ref": "http://example.com/defs.json#/$defs/name"}),
        &opts,
        &[r#""abc""#, r#""""#],
        &[r#""abcd""#, "1"],
    );
    check_with(
        json!({"$ref": "http://example.com/defs.json#/$defs/tree"}),
        &opts,
        &[r#"{"v": 1, "kids": [{"v": 2}, {"kids": []}]}"#],
        &[r#"{"v": 0}"#, r#"{"kids": [{"v": 0}]}"#, r#"{"w": 1}"#],
    );
    // A relative `$ref` is resolved against the main document's `$id`.
    check_with(
        json!({"$id": "http://example.com/main.json", "$ref": "defs.json#/$defs/pos"}),
        &opts,
        &["3"],
        &["0"],
    );
    let err = json_schema(
        &json!({"properties": {"a": {"$ref": "http://example.com/missing.json#/x"}}}),
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/properties/a/$ref"), "{err}");
    assert!(err.contains("http://example.com/missing.json"), "{err}");
    assert!(err.contains("SchemaOptions::remote"), "{err}");
    // A pointer that does not resolve inside a supplied document.
    assert!(json_schema(
        &json!({"$ref": "http://example.com/defs.json#/$defs/nope"}),
        &opts
    )
    .is_err());
}

/// A `oneOf` whose object branches each pin a required property to values
/// the others exclude is read as an `anyOf` (no negations built); where the
/// pins overlap, or nothing makes the instance an object, the exact
/// construction still applies.
#[test]
fn one_of_with_a_discriminator() {
    let noun = |kind: &str, extra: Value| {
        let mut props = json!({"kind": {"enum": [kind]}, "to": {"type": "string"}});
        props
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"type": "object", "properties": props, "required": ["kind", "to"],
               "additionalProperties": false})
    };
    check(
        json!({"type": "array", "items": {"type": "object", "oneOf": [
            {"$ref": "#/$defs/number"}, {"$ref": "#/$defs/client"}]},
            "$defs": {"number": noun("number", json!({"digits": {"type": "string"}})),
                      "client": noun("client", json!({}))}}),
        &[
            r#"[{"kind": "number", "to": "x", "digits": "1"}]"#,
            r#"[{"to": "y", "kind": "client"}, {"kind": "number", "to": "z"}]"#,
        ],
        &[
            r#"[{"kind": "client", "to": "x", "digits": "1"}]"#,
            r#"[{"kind": "other", "to": "x"}]"#,
            r#"[{"to": "x"}]"#,
        ],
    );
    // The property is required by the conjunction, not by the branches.
    check(
        json!({"type": "object", "required": ["k"], "properties": {"k": {"enum": ["a", "b"]}},
               "oneOf": [{"properties": {"k": {"const": "a"}, "x": {"type": "integer"}}},
                         {"properties": {"k": {"const": "b"}, "x": {"type": "string"}}}]}),
        &[
            r#"{"k": "a", "x": 1}"#,
            r#"{"k": "b", "x": "s"}"#,
            r#"{"k": "a"}"#,
        ],
        &[r#"{"k": "a", "x": "s"}"#, r#"{"x": 1}"#],
    );
    // A property one branch requires and the other closes out.
    check(
        json!({"oneOf": [
            {"type": "object", "properties": {"sdk": {"type": "string"}}, "required": ["sdk"],
             "additionalProperties": false},
            {"type": "object", "properties": {"path": {"type": "string"}},
             "additionalProperties": false},
            {"type": "object", "properties": {"sdk": {}, "git": {}}, "required": ["git"]}]}),
        &[
            r#"{"sdk": "x"}"#,
            r#"{"path": "p"}"#,
            "{}",
            r#"{"git": 1, "path": 2}"#,
            r#"{"sdk": "x", "git": 1}"#,
        ],
        &[
            r#"{"sdk": 1}"#,
            r#"{"path": 1}"#,
            r#"{"sdk": "x", "path": "p"}"#,
            r#""s""#,
        ],
    );
    // Not required anywhere: {} matches both branches.
    check(
        json!({"type": "object", "oneOf": [{"properties": {"k": {"const": "a"}}},
                                           {"properties": {"k": {"const": "b"}}}]}),
        &[r#"{"k": "a"}"#, r#"{"k": "b"}"#],
        &["{}", r#"{"j": 1}"#],
    );
    // Overlapping pins: {"k": "b"} matches both branches.
    check(
        json!({"type": "object", "oneOf": [
            {"required": ["k"], "properties": {"k": {"enum": ["a", "b"]}}},
            {"required": ["k"], "properties": {"k": {"const": "b"}}}]}),
        &[r#"{"k": "a"}"#],
        &[r#"{"k": "b"}"#, r#"{"k": "c"}"#],
    );
    // No `type: object`: a string satisfies both branches, so no branch
    // exactly.
    check(
        json!({"oneOf": [
            {"required": ["k"], "properties": {"k": {"const": 1}}},
            {"required": ["k"], "properties": {"k": {"const": 2}}}]}),
        &[r#"{"k": 1}"#, r#"{"k": 2}"#],
        &[r#""s""#, "3", r#"{"k": 3}"#],
    );
}

/// `uniqueItems` over items from an open set: the parser compares each item,
/// as a JSON value, with the ones before it where the item completes.
#[test]
fn unique_items_over_open_item_sets() {
    check(
        json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true}),
        &[
            r#"["a", "b"]"#,
            r#"["ab", "a", "b"]"#,
            "[]",
            r#"["a", "A"]"#,
        ],
        &[
            r#"["a", "a"]"#,
            r#"["a", "b", "a"]"#,
            r#"["a", "\u0061"]"#,
            r#"["\/", "/"]"#,
        ],
    );
    check(
        json!({"type": "array", "items": {"type": "number"}, "uniqueItems": true, "maxItems": 3}),
        &["[1, 2, 3]", "[1, 10, 100]", "[0.5, 5]", "[-1, 1]"],
        &[
            "[1, 1.0]",
            "[1, 2, 1e0]",
            "[100, 1e2]",
            "[0, -0]",
            "[1, 2, 3, 4]",
        ],
    );
    // Objects equal whatever their key order; arrays compared item by item.
    check(
        json!({"type": "array", "uniqueItems": true, "items": {"type": "object",
               "properties": {"a": {"type": "integer"}, "b": {"type": "array"}}}}),
        &[
            r#"[{"a": 1}, {"a": 2}]"#,
            r#"[{"a": 1}, {"a": 1, "b": []}]"#,
            r#"[{"b": [1, 2]}, {"b": [2, 1]}]"#,
        ],
        &[
            r#"[{"a": 1, "b": [1]}, {"b": [1.0], "a": 1}]"#,
            r#"[{}, {}]"#,
        ],
    );
    // Any JSON value, mixed types: `1` and `"1"` and `true` and `1.0`.
    check(
        json!({"uniqueItems": true}),
        &[
            r#"[1, "1", true, [1], {"1": 1}, null, false]"#,
            r#"[[1, 2], [2, 1]]"#,
        ],
        &[
            r#"[[1, 2], [1, 2.0]]"#,
            "[null, null]",
            "[true, 1, true]",
            r#"[{"a": [1]}, {"a": [1e0]}]"#,
        ],
    );
    // prefixItems, then items; the prefix counts among the items compared.
    check(
        json!({"prefixItems": [{"type": "string"}, {"type": "integer"}],
               "items": {"type": ["string", "integer"]}, "uniqueItems": true, "minItems": 2}),
        &[r#"["a", 1]"#, r#"["a", 1, "b", 2]"#],
        &[
            r#"["a", 1, "a"]"#,
            r#"["a", 1, 1]"#,
            r#"["a"]"#,
            r#"[1, "a"]"#,
        ],
    );
    // Without `items`, at most the prefix.
    check(
        json!({"prefixItems": [{"type": "boolean"}, {"type": "boolean"}], "items": false,
               "uniqueItems": true}),
        &["[true, false]", "[true]", "[]"],
        &["[true, true]", "[true, false, true]"],
    );
    // Booleans are a finite set: three items cannot all differ.
    check(
        json!({"type": "array", "items": {"type": "boolean"}, "uniqueItems": true}),
        &["[true, false]"],
        &["[true, true]", "[false, true, false]"],
    );
    assert!(matches!(
        json_schema(
            &json!({"type": "array", "items": {"type": "boolean"},
                                    "uniqueItems": true, "minItems": 3}),
            &SchemaOptions::default()
        ),
        Err(GrammarError::EmptyLanguage(_))
    ));
}

/// The token that closes a duplicate item is masked out (not only the `,`
/// or `]` after it), and every token the mask allows can still be completed
/// into a document that validates.
#[test]
fn unique_items_masks_refuse_the_closing_token() {
    let env = common::tokenizer("gpt2");
    let vocab = env.vocab().clone();
    let cases = [
        (
            json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true}),
            r#"["ab", "a", "a"#,
        ),
        (
            json!({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9},
                   "uniqueItems": true}),
            "[5, ",
        ),
        (
            json!({"type": "array", "uniqueItems": true, "items": {"type": "object",
                   "properties": {"k": {"enum": ["x", "y"]}}, "additionalProperties": false}}),
            r#"[{"k": "x"}, {"k": "x""#,
        ),
        (
            json!({"type": "array", "uniqueItems": true}),
            "[true, [1], [1",
        ),
    ];
    for (schema, prefix) in cases {
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut m = matcher_with(&schema, &options(), &env);
        m.commit_bytes(prefix.as_bytes()).unwrap();
        let mask = m.compute_mask();
        let mut checked = 0;
        for t in mask.iter() {
            let bytes = vocab.token_bytes(t);
            // The tokens that can end an item; the others stay inside one.
            if vocab.eos_tokens().contains(&t)
                || !bytes.iter().any(|b| b"\"]}e0123456789,".contains(b))
            {
                continue;
            }
            let mut n = m.clone();
            n.commit(t).unwrap();
            let tail = n.shortest_completion(64).unwrap_or_else(|| {
                panic!(
                    "{schema}: {prefix}{:?} allowed but cannot be completed",
                    String::from_utf8_lossy(bytes)
                )
            });
            let mut doc = prefix.as_bytes().to_vec();
            doc.extend_from_slice(bytes);
            doc.extend_from_slice(&tail);
            let text = String::from_utf8(doc).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            assert!(validator.is_valid(&v), "{schema}: {text} allowed");
            checked += 1;
        }
        assert!(checked > 0, "{schema}: no token checked");
        // The duplicate's own closing token is among the refused ones.
        let closing: &[&str] = match prefix.as_bytes().last() {
            Some(b'a') => &["\"", "\",", "\"]"],
            Some(b' ') => &["5", "5,", "5]"],
            Some(b'"') => &["}", "},", "}]"],
            _ => &["]", "],", "]]"],
        };
        for c in closing {
            if let Ok(ts) = vocab.encode(c) {
                if ts.len() == 1 {
                    assert!(!mask.contains(ts[0]), "{schema}: {prefix}{c} allowed");
                }
            }
        }
        // And something that is no duplicate is allowed.
        let fresh = match prefix.as_bytes().last() {
            Some(b'a') => "c",
            Some(b' ') => "6",
            Some(b'"') => ",",
            _ => "2",
        };
        let ts = vocab.encode(fresh).unwrap();
        assert!(mask.contains(ts[0]), "{schema}: {prefix}{fresh} refused");
    }
    // Inside a number or a literal, a prefix that can only become a
    // duplicate is refused already.
    let schema = json!({"type": "array", "uniqueItems": true,
                        "items": {"type": ["boolean", "integer"], "maximum": 9}});
    let m = matcher_with(&schema, &options(), &env);
    for (text, ok) in [
        ("[true, tr", false),
        ("[true, fa", true),
        ("[5, 50", false),
        ("[5, 5", false),
        ("[5, 6", true),
        ("[-5, 5", true),
    ] {
        assert_eq!(
            m.clone().commit_bytes(text.as_bytes()).is_ok(),
            ok,
            "{text}"
        );
    }
    // So is one inside a string that ends within a few bytes whatever comes.
    let schema = json!({"type": "array", "uniqueItems": true,
                        "items": {"type": "string", "pattern": "^[A-Z]{2}$"}});
    let m = matcher_with(&schema, &options(), &env);
    for (text, ok) in [
        (r#"["US", "US"#, false),
        (r#"["US", "U"#, true),
        (r#"["US", "UK"#, true),
        (r#"["US", "UK", "U"#, true),
        (r#"["US", "\u0055S"#, false),
    ] {
        assert_eq!(
            m.clone().commit_bytes(text.as_bytes()).is_ok(),
            ok,
            "{text}"
        );
    }
    let mut n = m.clone();
    n.commit_bytes(br#"["US", "U"#).unwrap();
    let mask = n.compute_mask();
    for (t, ok) in [("S", false), ("K", true), ("S\"", false), ("K\"", true)] {
        if let [id] = vocab.encode(t).unwrap()[..] {
            assert_eq!(mask.contains(id), ok, "{t}");
        }
    }
}

/// The mask of a `uniqueItems` array, computed by the trie walk with its
/// caches (lexeme ends shared between trie nodes, whitespace and lexemes of
/// different lengths reaching the same parser row), allows exactly the
/// tokens that commit one by one.
#[test]
fn unique_items_mask_agrees_with_commit() {
    let env = common::tokenizer("gpt2");
    let vocab = env.vocab().clone();
    let cases = [
        (
            json!({"type": "array", "uniqueItems": true, "items": {"type": "array",
                   "items": {"type": ["integer", "string"]}}}),
            vec![
                "[ [1, \"a\"],  [",
                "[[1],[2], [1",
                "[[\"ab\"], [\"a",
                "[[], [ 1], [",
            ],
        ),
        (
            json!({"type": "array", "uniqueItems": true, "items": {"type": "object",
                   "additionalProperties": {"type": "number"}}}),
            vec![
                "[{\"a\": 1}, {\"a\": 1",
                "[ {\"a\":1.5 } ,{ \"a\" : 1",
                "[{}, {\"b\": 2}, {",
            ],
        ),
        (
            json!({"type": "array", "uniqueItems": true, "items": {"type": "number", "maximum": 20}}),
            vec!["[1, 2, ", "[1,1", "[ 10 , 1"],
        ),
    ];
    for (schema, prefixes) in cases {
        let m0 = matcher_with(&schema, &options(), &env);
        for prefix in prefixes {
            let mut m = m0.clone();
            m.commit_bytes(prefix.as_bytes()).unwrap();
            let mask = m.compute_mask();
            let mut allowed = 0;
            for t in 0..vocab.len() as u32 {
                if vocab.eos_tokens().contains(&t) || vocab.is_special(t) {
                    continue;
                }
                let ok = m.clone().commit(t).is_ok();
                assert_eq!(
                    mask.contains(t),
                    ok,
                    "{schema}: {prefix:?} + {:?}",
                    String::from_utf8_lossy(vocab.token_bytes(t))
                );
                allowed += ok as usize;
            }
            assert!(allowed > 0, "{schema}: {prefix:?}: nothing allowed");
        }
    }
}

/// One trie walk reaches the row after an array's `[` through tokens that
/// put different whitespace before it, and completes items inside the same
/// tokens: each item's text must be read from where the item starts in that
/// token, not where another token's walk left the shared row.
#[test]
fn unique_items_in_tokens_with_whitespace_before_the_array() {
    let extra = [
        "[1,1]", " [1,1]", "  [1,1]", "[1,2]", " [1,2]", "  [1,2]", "[ 1,1]", " [ 1, 2]",
    ];
    let bytes: Vec<&[u8]> = extra.iter().map(|t| t.as_bytes()).collect();
    let vocab = Arc::new(formwork::fuzzer::byte_level_vocabulary(&bytes));
    let env = Arc::new(formwork::TokenEnv::new(vocab.clone()));
    let schema = json!({"type": "object", "properties": {"a": {"type": "array",
                        "items": {"type": "integer"}, "uniqueItems": true}}});
    let mut m = matcher_with(&schema, &options(), &env);
    m.commit_bytes(br#"{"a":"#).unwrap();
    let mask = m.compute_mask();
    for (i, t) in extra.iter().enumerate() {
        let id = 256 + i as u32;
        assert_eq!(vocab.token_bytes(id), t.as_bytes());
        let fresh = !t.contains("1,1") && !t.contains("1, 1");
        assert_eq!(mask.contains(id), fresh, "{t:?}");
        assert_eq!(m.clone().commit(id).is_ok(), fresh, "{t:?}");
    }
}
