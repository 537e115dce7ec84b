//! Inputs whose cost grew faster than their size: each runs under the
//! bounds of `tests/common` (2 GiB of address space, 10 s), and its result
//! is checked, not only its running time.
//!
//! * fuzzing an object of 5,000 properties, and a `oneOf` of 50
//!   overlapping patterns (every output validated by the `jsonschema`
//!   crate);
//! * compiling and walking a `oneOf` of 50 patterns `^a.*X0` … `^a.*X49`
//!   (exactly one must match) and an `enum` of 50,000 strings;
//! * `uniqueItems` over 2,000 and 10,000 integers, committed token by
//!   token, with a repeated item refused at the end.

mod common;

use common::{bounded, run_cli_bounded};
use formwork::{json_schema, CompiledGrammar, Matcher, SchemaOptions, TokenEnv, Vocabulary};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// Writes `schema` to a file of its own for the CLI.
fn schema_file(name: &str, schema: &Value) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("formwork-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, schema.to_string()).unwrap();
    path
}

/// `formwork fuzz --schema S -n 5 --seed 1` under the bounds; every string
/// it prints must validate against `schema`. Returns the documents.
fn fuzz_validates(name: &str, schema: &Value) -> Vec<Value> {
    let path = schema_file(name, schema);
    let out = run_cli_bounded(
        &[
            "fuzz",
            "--schema",
            path.to_str().unwrap(),
            "-n",
            "5",
            "--seed",
            "1",
        ],
        b"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let validator = jsonschema::validator_for(schema).unwrap();
    let docs: Vec<Value> = stdout
        .lines()
        .map(|line| {
            let text: String = serde_json::from_str(line).unwrap();
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {text}: {e}"))
        })
        .collect();
    assert_eq!(docs.len(), 5, "{name}: {stdout}");
    for d in &docs {
        assert!(validator.is_valid(d), "{name}: {d} does not validate");
    }
    docs
}

/// 5,000 properties of mixed types. Schema order (fuzz's default) lays
/// them out as a chain of optional rules, so each completion ran through
/// thousands of rules, each scanning a row of thousands of items.
#[test]
fn fuzz_an_object_of_5000_properties() {
    let types = [
        json!({"type": "string"}),
        json!({"type": "integer"}),
        json!({"type": "number"}),
        json!({"type": "boolean"}),
        json!({"type": "array", "items": {"type": "integer"}}),
        json!({"type": "string", "maxLength": 10}),
        json!({"type": "null"}),
    ];
    let props: serde_json::Map<String, Value> = (0..5000)
        .map(|i| (format!("p{i}"), types[i % types.len()].clone()))
        .collect();
    let open = json!({"type": "object", "properties": props});
    fuzz_validates("props5000", &open);
    // Closed: every key written is one of the 5,000.
    let closed = json!({"type": "object", "properties": props, "additionalProperties": false});
    let docs = fuzz_validates("props5000-closed", &closed);
    assert!(
        docs.iter()
            .any(|d| d.as_object().is_some_and(|o| !o.is_empty())),
        "only empty objects: {docs:?}"
    );
}

/// `oneOf` branches that overlap: each is the string that matches its own
/// pattern and none of the 49 others.
fn overlapping_patterns() -> Vec<Value> {
    let letters: Vec<char> = ('A'..='Z').chain('b'..='y').collect();
    vec![
        json!({"oneOf": (0..50)
            .map(|i| json!({"type": "string", "pattern": format!("^a.*X{i}")}))
            .collect::<Vec<_>>()}),
        json!({"oneOf": letters.iter()
            .map(|c| json!({"type": "string", "pattern": format!("^a.*{c}")}))
            .collect::<Vec<_>>()}),
        json!({"oneOf": (0..50)
            .map(|i| json!({"type": "string",
                "pattern": format!("^[a-z]{{{},}}[0-9]*{}?$", i % 5 + 1, (b'A' + (i % 26) as u8) as char)}))
            .collect::<Vec<_>>()}),
    ]
}

#[test]
fn fuzz_a_oneof_of_50_overlapping_patterns() {
    for (i, schema) in overlapping_patterns().into_iter().enumerate() {
        fuzz_validates(&format!("oneof{i}"), &schema);
        // The same as a property, next to another one.
        let object = json!({"type": "object", "properties": {"name": schema, "n": {"type": "integer"}},
            "required": ["name", "n"], "additionalProperties": false});
        fuzz_validates(&format!("oneof{i}-object"), &object);
    }
}

/// Commits `text` token by token, checking each token against the mask;
/// false at the first token the mask refuses.
fn walk(m: &mut Matcher, vocab: &Vocabulary, text: &str) -> bool {
    for t in vocab.encode(text).unwrap() {
        if !m.compute_mask().contains(t) {
            return false;
        }
        m.commit(t).unwrap();
    }
    true
}

/// Whether `text` is a complete document of `g`, token by token.
fn accepts(g: &Arc<CompiledGrammar>, env: &Arc<TokenEnv>, text: &str) -> bool {
    let vocab = env.vocab();
    let mut m = Matcher::new(g.clone(), env);
    walk(&mut m, vocab, text)
        && vocab
            .eos_tokens()
            .iter()
            .any(|&e| m.compute_mask().contains(e))
}

/// Compiling a `oneOf` of 50 overlapping patterns: proving a state dead
/// once a second pattern matched searched every combination of the others.
#[test]
fn compile_a_oneof_of_50_overlapping_patterns() {
    bounded("compile_a_oneof_of_50_overlapping_patterns", || {
        let env = common::gpt2();
        let schemas = overlapping_patterns();
        let g = Arc::new(
            CompiledGrammar::new(&json_schema(&schemas[0], &SchemaOptions::default()).unwrap())
                .unwrap(),
        );
        let validator = jsonschema::validator_for(&schemas[0]).unwrap();
        for text in [
            "aX7",
            "abc X49 d",
            "aX1",
            "a\\u0058 X3",
            "aX10",
            "aX7X8",
            "aX1X1",
            "bX7",
            "a",
        ] {
            let doc = json!(serde_json::from_str::<String>(&format!("\"{text}\"")).unwrap());
            let json_text = format!("\"{text}\"");
            assert_eq!(
                accepts(&g, &env, &json_text),
                validator.is_valid(&doc),
                "{json_text}"
            );
        }
        let g = Arc::new(
            CompiledGrammar::new(&json_schema(&schemas[1], &SchemaOptions::default()).unwrap())
                .unwrap(),
        );
        let validator = jsonschema::validator_for(&schemas[1]).unwrap();
        for text in ["aY", "a12 Q", "aYY", "aYZ", "abz", "a", "aY z"] {
            let json_text = format!("\"{text}\"");
            assert_eq!(
                accepts(&g, &env, &json_text),
                validator.is_valid(&json!(text)),
                "{json_text}"
            );
        }
        // Fifty copies of one pattern: a string matching one matches all.
        let same = json!({"oneOf": vec![json!({"type": "string", "pattern": "^a.*X"}); 50]});
        assert!(
            CompiledGrammar::new(&json_schema(&same, &SchemaOptions::default()).unwrap()).is_err()
        );
    });
}

/// An `enum` of 50,000 strings is one lexeme, a trie; it was one lexeme
/// per value, with duplicates found by comparing every pair.
#[test]
fn compile_an_enum_of_50000_strings() {
    bounded("compile_an_enum_of_50000_strings", || {
        let env = common::gpt2();
        let vocab = env.vocab().clone();
        let values: Vec<String> = (0..50_000)
            .map(|i| format!("value-{i:05}-{}", (i * 7919) % 100_003))
            .collect();
        let mut listed: Vec<Value> = values.iter().map(|v| json!(v)).collect();
        // Repeated values and other types among them.
        listed.extend([
            json!("value-00007-55433"),
            json!(7),
            json!(7.0),
            json!(null),
        ]);
        let schema = json!({ "enum": listed });
        let g = Arc::new(
            CompiledGrammar::new(&json_schema(&schema, &SchemaOptions::default()).unwrap())
                .unwrap(),
        );
        for v in ["value-00000-0", "value-49999-30204", "value-12345-57124"] {
            assert!(values.iter().any(|x| x == v), "{v} is not in the list");
            assert!(accepts(&g, &env, &format!("\"{v}\"")), "{v}");
        }
        // Any JSON spelling of a value.
        assert!(accepts(&g, &env, "\"\\u0076alue-00000-0\""));
        assert!(accepts(&g, &env, "7"));
        assert!(accepts(&g, &env, "7.0"));
        assert!(accepts(&g, &env, "null"));
        for bad in [
            "\"value-00000-1\"",
            "\"value-50000-0\"",
            "\"value-0000\"",
            "8",
            "\"\"",
        ] {
            assert!(!accepts(&g, &env, bad), "{bad}");
        }
        // A prefix allows exactly the tokens that go on to a value: after
        // `"value-49999-3020` only the digit 4, not 3 nor the closing quote.
        let mut m = Matcher::new(g.clone(), &env);
        assert!(walk(&mut m, &vocab, "\"value-49999-3020"));
        let mask = m.compute_mask();
        let tok = |s: &str| vocab.encode(s).unwrap()[0];
        assert!(mask.contains(tok("4")) && !mask.contains(tok("3")) && !mask.contains(tok("\"")));
    });
}

/// A negated `enum` of 5,000 strings excludes them as one trie; as 5,000
/// parts of one intersection, the intersection outgrew its size limit and
/// refused strings that are not in the list.
#[test]
fn exclude_an_enum_of_5000_strings() {
    bounded("exclude_an_enum_of_5000_strings", || {
        let env = common::gpt2();
        let values: Vec<String> = (0..5000)
            .map(|i| format!("value-{i:05}-{}", (i * 7919) % 100_003))
            .collect();
        for schema in [
            json!({"type": "string", "not": {"enum": values}}),
            json!({"type": "object", "propertyNames": {"enum": values}, "additionalProperties": {"type": "integer"}}),
        ] {
            let g = Arc::new(
                CompiledGrammar::new(&json_schema(&schema, &SchemaOptions::default()).unwrap())
                    .unwrap(),
            );
            let validator = jsonschema::validator_for(&schema).unwrap();
            let object = schema["type"] == "object";
            for v in [
                "value-00000-0",
                "value-00000-1",
                "value-0000",
                "value-04999-85896",
                "",
                "x",
            ] {
                let text = if object {
                    format!("{{\"{v}\":1}}")
                } else {
                    format!("\"{v}\"")
                };
                let doc: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    accepts(&g, &env, &text),
                    validator.is_valid(&doc),
                    "{text} in {}",
                    &schema.to_string()[..60]
                );
            }
        }
    });
}

/// Numbers have no trie: each is a lexeme of every spelling. Past
/// `MAX_ENUM_NUMBERS` the compiler refuses them with an error that says
/// what to do, at once, instead of building a lexeme per number (50,000
/// took gigabytes).
#[test]
fn an_enum_of_50000_numbers_is_refused_clearly() {
    bounded("an_enum_of_50000_numbers_is_refused_clearly", || {
        let tokenizer = common::data_dir().join("tokenizers/gpt2/tokenizer.json.gz");
        let many = json!({ "enum": (0..50_000).map(|i| i * 2).collect::<Vec<_>>() });
        let path = schema_file("enum-numbers", &many);
        let args = |text: &'static str| {
            vec![
                "mask".to_string(),
                "--tokenizer".into(),
                tokenizer.to_str().unwrap().into(),
                "--schema".into(),
                path.to_str().unwrap().into(),
                "--text".into(),
                text.into(),
            ]
        };
        let a = args("12");
        let out = run_cli_bounded(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains("\"/enum\"") && stderr.contains("more than 2000 numbers"),
            "{stderr}"
        );
        // Within the limit, with strings next to them: compiled, exact.
        let env = common::gpt2();
        let mut values: Vec<Value> = (0..2000).map(|i| json!(i * 2)).collect();
        values.extend((0..20_000).map(|i| json!(format!("s{i}"))));
        let g = Arc::new(
            CompiledGrammar::new(
                &json_schema(&json!({ "enum": values }), &SchemaOptions::default()).unwrap(),
            )
            .unwrap(),
        );
        for (text, ok) in [
            ("12", true),
            ("1.2e1", true),
            ("13", false),
            ("\"s19999\"", true),
            ("\"s20000\"", false),
        ] {
            assert_eq!(accepts(&g, &env, text), ok, "{text}");
        }
    });
}

/// Commits `[0,1,…,n-1` token by token (masks checked every `every`
/// tokens), then checks that a repeated item is refused where it closes
/// and a new one is accepted.
fn unique_integers(n: usize, every: usize) {
    let env = common::gpt2();
    let vocab = env.vocab().clone();
    let schema = json!({"type": "array", "items": {"type": "integer"}, "uniqueItems": true});
    let g = Arc::new(
        CompiledGrammar::new(&json_schema(&schema, &SchemaOptions::default()).unwrap()).unwrap(),
    );
    let mut m = Matcher::new(g, &env);
    let text = format!(
        "[{},",
        (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
    for (i, t) in vocab.encode(&text).unwrap().into_iter().enumerate() {
        if i % every == 0 {
            assert!(m.compute_mask().contains(t), "token {i} of {text:.40}…");
        }
        m.commit(t).unwrap();
    }
    let tok = |s: &str| {
        let t = vocab.encode(s).unwrap();
        assert_eq!(t.len(), 1, "{s:?} is one token");
        t[0]
    };
    // `[…,5` may still become 5000000; `]` or `,` would repeat 5.
    let mut dup = m.clone();
    assert!(dup.compute_mask().contains(tok("5")));
    dup.commit(tok("5")).unwrap();
    let mask = dup.compute_mask();
    assert!(!mask.contains(tok("]")) && !mask.contains(tok(",")));
    assert!(dup.commit(tok("]")).is_err());
    // The last item again, spelled as a float: refused too.
    let last = format!("{}.0]", n - 1);
    let mut again = m.clone();
    assert!(!walk(&mut again, &vocab, &last), "{last}");
    // A new item closes the array.
    let new = format!("{n}]");
    assert!(walk(&mut m, &vocab, &new), "{new}");
    assert!(m.is_accepting());
}

#[test]
fn unique_items_over_2000_integers() {
    bounded("unique_items_over_2000_integers", || {
        unique_integers(2000, 7)
    });
}

#[test]
fn unique_items_over_10000_integers() {
    bounded("unique_items_over_10000_integers", || {
        unique_integers(10_000, 60)
    });
}
