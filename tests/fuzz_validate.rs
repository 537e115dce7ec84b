//! Fuzzed strings checked by independent validators: schema-aware SQL must
//! compile in SQLite (`EXPLAIN`) against its Spider database's tables, and
//! JSON fuzzed from JSON Schemas must validate with the `jsonschema` crate.

mod common;

use common::spider::spider_ddl;
use formwork::fuzzer::Fuzzer;
use formwork::sql::{restrict_to_schema, scope_to_tables, sql_name, SqlSchema};
use formwork::{json_schema, pest_grammar, CompiledGrammar, SchemaOptions};
use serde_json::{json, Value};
use std::sync::Arc;

/// (database id, schema, `CREATE TABLE` statements) of every vendored Spider database.
fn schemas() -> Vec<(String, SqlSchema, String)> {
    std::fs::read_to_string(common::data_dir().join("spider_schemas.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let ddl = spider_ddl(&v).unwrap();
            let schema = SqlSchema::parse(&ddl).unwrap();
            // The DDL round-trips through our own parser.
            // (SQLite's own tables, `sqlite_sequence`, are left out.)
            let tables: Vec<&Value> = v["table_names_original"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| !t.as_str().unwrap().starts_with("sqlite_"))
                .collect();
            assert_eq!(schema.tables.len(), tables.len());
            for (t, name) in schema.tables.iter().zip(tables) {
                assert_eq!(t.name, name.as_str().unwrap());
            }
            (v["db_id"].as_str().unwrap().to_string(), schema, ddl)
        })
        .collect()
}

/// Fuzzes `per_db` queries for every fifth Spider database, restricted to its
/// names (and scoped to single tables if `scoped`), compiles them in SQLite,
/// prints the count and SQLite's error kinds, and returns the rate in percent.
fn fuzzed_sql_in_sqlite(what: &str, scoped: bool, per_db: usize) -> f64 {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/grammars/sql.pest")).unwrap();
    let all = schemas();
    let (mut total, mut ok) = (0usize, 0usize);
    let mut errors: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, (db, schema, ddl_text)) in all.iter().enumerate().step_by(5) {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(ddl_text)
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        let mut g = pest_grammar(&text, None).unwrap();
        restrict_to_schema(&mut g, schema).unwrap();
        if scoped {
            scope_to_tables(&mut g, schema).unwrap();
        }
        let g = Arc::new(CompiledGrammar::new(&g).unwrap());
        let mut f = Fuzzer::new(g, i as u64, 80);
        for _ in 0..per_db {
            let q = f
                .sample()
                .unwrap_or_else(|e| panic!("{db} (scoped: {scoped}): {e}"));
            total += 1;
            match conn.prepare(&format!("EXPLAIN {q}")) {
                Ok(_) => ok += 1,
                Err(e) => {
                    let msg = e.to_string();
                    let kind = msg.split(':').next().unwrap_or("").to_string();
                    *errors.entry(kind).or_default() += 1;
                    if total - ok <= 5 {
                        eprintln!("{db}: {q:?}: {msg}");
                    }
                }
            }
        }
    }
    let rate = 100.0 * ok as f64 / total as f64;
    println!("{what}: {ok} of {total} fuzzed queries compile in SQLite ({rate:.1}%)");
    for (k, n) in &errors {
        println!("  {n:>5}  {k}");
    }
    rate
}

#[test]
fn schema_aware_sql_compiles_in_sqlite() {
    let rate = fuzzed_sql_in_sqlite("schema-aware SQL", false, 25);
    // Far from 100%: a context-free grammar cannot see scopes (a column of
    // a table not in FROM, a qualifier that is not an alias); see the README.
    // The floor is below the rates measured since words were separated
    // (31.9%, then 28.9% once function calls got SQLite's arities: no
    // arity errors left, but longer calls hold more out-of-scope columns).
    assert!(rate >= 25.0, "{rate:.1}%");
}

/// Measured at 70.7% (145 of 205); see the README.
const FLOOR_SCOPED: f64 = 65.0;

/// Slow (a scoped grammar has one SELECT per table; about 9 minutes on a
/// loaded 2-core machine), so not in the default run:
/// `cargo test --release --test fuzz_validate -- --ignored`.
#[test]
#[ignore = "slow (minutes): run with --ignored"]
fn scoped_fuzzed_sql_compiles_in_sqlite() {
    let rate = fuzzed_sql_in_sqlite("scoped SQL", true, 5);
    // Names are settled by scoping; what is left is SQLite's other checks.
    assert!(rate >= FLOOR_SCOPED, "{rate:.1}%");
}

/// Single-table scoping on Spider gold queries: each single-table gold
/// query, and the same query with its table swapped for every other table of
/// its database, is run through the scoped grammar; whatever the grammar
/// accepts must compile in SQLite (soundness as far as names go), and most
/// single-table gold queries must be accepted (completeness).
#[test]
fn scoped_sql_accepts_only_queries_that_compile() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/grammars/sql.pest")).unwrap();
    let queries: Vec<Value> =
        std::fs::read_to_string(common::data_dir().join("spider_queries.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let vocab = Arc::new(formwork::fuzzer::byte_vocabulary());
    let env = Arc::new(formwork::TokenEnv::new(vocab.clone()));
    let from = regex::Regex::new(r"(?i)\bfrom\s+([A-Za-z_][A-Za-z0-9_]*)").unwrap();
    let (mut gold, mut gold_ok, mut swapped, mut swapped_accepted) = (0, 0, 0, 0);
    for (db, schema, ddl_text) in schemas().iter().step_by(4) {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(ddl_text).unwrap();
        let mut g = pest_grammar(&text, None).unwrap();
        restrict_to_schema(&mut g, schema).unwrap();
        scope_to_tables(&mut g, schema).unwrap();
        let c = Arc::new(CompiledGrammar::new(&g).unwrap());
        let m0 = formwork::Matcher::new(c, &env);
        let accepts = |q: &str| {
            let mut m = m0.clone();
            m.commit_bytes(q.as_bytes()).is_ok() && m.is_accepting()
        };
        for q in queries.iter().filter(|q| q["db_id"] == db.as_str()) {
            let q = q["query"].as_str().unwrap();
            let lower = q.to_ascii_lowercase();
            // Single-table queries: one FROM, no join, no alias, no compound.
            if from.find_iter(q).count() != 1
                || [" join ", " as ", "union", "intersect", "except", ","]
                    .iter()
                    .any(|w| lower.split(" from ").nth(1).unwrap_or("").contains(w))
            {
                continue;
            }
            gold += 1;
            gold_ok += accepts(q) as usize;
            let cap = from.captures(q).unwrap().get(1).unwrap();
            for t in &schema.tables {
                let q2 = format!(
                    "{}{}{}",
                    &q[..cap.start()],
                    sql_name(&t.name),
                    &q[cap.end()..]
                );
                swapped += 1;
                if accepts(&q2) {
                    swapped_accepted += 1;
                    if let Err(e) = conn.prepare(&q2) {
                        panic!(
                            "{db}: the scoped grammar accepts {q2:?}, which SQLite rejects: {e}"
                        );
                    }
                }
            }
        }
    }
    println!(
        "scoped SQL: {gold_ok} of {gold} single-table gold queries accepted; \
         {swapped_accepted} of {swapped} table-swapped queries accepted, all compile"
    );
    assert!(gold > 100 && swapped_accepted < swapped);
    assert!(gold_ok * 10 >= gold * 9, "{gold_ok} of {gold}");
}

#[test]
fn json_schema_fuzz_validates() {
    let schemas = [
        json!({"type": "object", "properties": {"name": {"type": "string", "maxLength": 10},
               "age": {"type": "integer", "minimum": 0, "maximum": 150},
               "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3}},
               "required": ["name", "age"], "additionalProperties": false}),
        json!({"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 4}),
        json!({"anyOf": [{"type": "string", "pattern": "^[a-z]{2,4}$"}, {"type": "boolean"}, {"type": "null"}]}),
        json!({"type": "object", "properties": {"id": {"type": "string", "format": "uuid"},
               "when": {"type": "string", "format": "date"}}, "required": ["id"]}),
        json!({}),
        // Keys in any order (compiled with `PropertyOrder::Any` below): the
        // parser tracks the required keys seen.
        json!({"type": "object", "properties": (0..15).map(|i| (format!("k{i}"),
                   if i % 3 == 0 { json!({"type": "integer"}) } else { json!({"type": "string", "maxLength": 3}) }))
                   .chain([("opt".to_string(), json!({"type": "boolean"}))])
                   .collect::<serde_json::Map<String, Value>>(),
               "required": (0..15).map(|i| format!("k{i}")).collect::<Vec<_>>(),
               "patternProperties": {"^x": {"type": "null"}},
               "additionalProperties": {"type": "integer"}}),
        // A long string bound, counted without a DFA state per count.
        json!({"type": "array", "items": {"type": "string", "minLength": 2, "maxLength": 32767},
               "maxItems": 3}),
        // Negated object keywords (witness members), in schema order.
        json!({"oneOf": [
            {"type": "object", "properties": {"a": {"type": "boolean"}}, "additionalProperties": false},
            {"type": "object", "properties": {"b": {}}, "required": ["b"], "additionalProperties": false},
            {"type": "object", "properties": {"a": {}, "c": {"type": "string"}}, "additionalProperties": false}
        ]}),
        // uniqueItems over open item sets: with seven strings (in many
        // spellings) or six integers to choose from, most items drawn would
        // repeat one, and the masks must refuse them without dead ends.
        json!({"type": "array", "items": {"type": "string", "pattern": "^[ab]{0,2}$"},
               "uniqueItems": true, "minItems": 5}),
        json!({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 5},
               "uniqueItems": true, "minItems": 4}),
        json!({"type": "array", "uniqueItems": true, "items": {"anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 12},
            {"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"enum": [1, [2]]}},
             "additionalProperties": false},
            {"type": "array", "items": {"type": "boolean"}, "maxItems": 2}]}}),
        json!({"type": "object", "properties": {"p": {"type": "boolean"}}, "oneOf": [
            {"propertyNames": {"pattern": "^x"}},
            {"patternProperties": {"^x": {"type": "integer"}}, "additionalProperties": {"type": "null"}}
        ]}),
    ];
    for (k, schema) in schemas.iter().enumerate() {
        let any_order = formwork::SchemaOptions {
            property_order: formwork::PropertyOrder::Any,
            ..Default::default()
        };
        let grammar = if (5..7).contains(&k) {
            formwork::json_schema(schema, &any_order)
        } else {
            json_schema(schema, &SchemaOptions::default())
        };
        let g = match grammar.and_then(|g| CompiledGrammar::new(&g)) {
            Ok(g) => Arc::new(g),
            Err(e) => {
                println!("schema {k}: not supported by the JSON Schema frontend: {e}");
                continue;
            }
        };
        let validator = jsonschema::validator_for(schema).unwrap();
        let mut f = Fuzzer::new(g, k as u64, if (5..7).contains(&k) { 600 } else { 120 });
        let n = 300;
        let mut bad = 0;
        for _ in 0..n {
            let s = f.sample().unwrap();
            // JSON allows lone surrogate escapes (RFC 8259, 8.2); serde_json
            // does not.
            let v: Value = match serde_json::from_str(&s) {
                Ok(v) => v,
                Err(e)
                    if e.to_string().contains("surrogate")
                        || e.to_string().contains("hex escape") =>
                {
                    continue
                }
                Err(e) => panic!("schema {k}: {s:?}: {e}"),
            };
            // serde_json keeps such numbers' text, but `jsonschema` reads
            // them through `f64` and calls `8E710534547` no integer.
            if beyond_f64(&v) {
                continue;
            }
            if !validator.is_valid(&v) {
                bad += 1;
                eprintln!("schema {k}: {s} does not validate");
            }
        }
        println!("schema {k}: {n} fuzzed instances, {bad} invalid");
        assert_eq!(bad, 0);
    }
}

/// Whether `v` holds a number beyond the range of `f64` (`1e400`).
fn beyond_f64(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_f64().is_none_or(f64::is_infinite),
        Value::Array(a) => a.iter().any(beyond_f64),
        Value::Object(m) => m.values().any(beyond_f64),
        _ => false,
    }
}
