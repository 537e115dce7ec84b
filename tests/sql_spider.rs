//! `grammars/sql.pest` on the Spider gold queries (SQLite): at least 99% of
//! the distinct queries must be accepted, byte by byte (always) and token by
//! token with the Llama-3 tokenizer (when `../shared/models` is present;
//! the test is ignored otherwise).
//! Also: schema-aware SQL restricted to each query's database.

mod common;

use formwork::fuzzer::byte_vocabulary;
use formwork::sql::{restrict_to_schema, SqlSchema, SqlTable};
use formwork::{pest_grammar, CompiledGrammar, Matcher, Vocabulary};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

fn sql_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/grammars/sql.pest")).unwrap()
}

fn sql_grammar() -> Arc<CompiledGrammar> {
    let g = pest_grammar(&sql_text(), None).unwrap();
    Arc::new(CompiledGrammar::new(&g).unwrap())
}

/// (db_id, query) of every distinct Spider query.
fn queries() -> Vec<(String, String)> {
    std::fs::read_to_string(common::data_dir().join("spider_queries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["db_id"].as_str().unwrap().to_string(),
                v["query"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every Spider database's tables and columns.
pub fn schemas() -> HashMap<String, SqlSchema> {
    std::fs::read_to_string(common::data_dir().join("spider_schemas.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let names: Vec<String> = v["table_names_original"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect();
            let mut tables: Vec<SqlTable> = names
                .iter()
                .map(|n| SqlTable {
                    name: n.clone(),
                    columns: Vec::new(),
                })
                .collect();
            for c in v["column_names_original"].as_array().unwrap() {
                let t = c[0].as_i64().unwrap();
                if t >= 0 {
                    tables[t as usize]
                        .columns
                        .push(c[1].as_str().unwrap().to_string());
                }
            }
            (
                v["db_id"].as_str().unwrap().to_string(),
                SqlSchema { tables },
            )
        })
        .collect()
}

fn report(what: &str, total: usize, rejected: &[String]) {
    let rate = 100.0 * (total - rejected.len()) as f64 / total as f64;
    println!(
        "{what}: {} of {total} Spider queries accepted ({rate:.2}%)",
        total - rejected.len()
    );
    for q in rejected {
        println!("  rejected: {q}");
    }
    assert!(rate >= 99.0, "{what}: only {rate:.2}% accepted");
}

#[test]
fn spider_queries_accepted_byte_by_byte() {
    let g = sql_grammar();
    let vocab = Arc::new(byte_vocabulary());
    let env = Arc::new(formwork::TokenEnv::new(vocab.clone()));
    let qs = queries();
    let mut rejected = Vec::new();
    for (_, q) in &qs {
        let mut m = Matcher::new(g.clone(), &env);
        if !(m.commit_bytes(q.as_bytes()).is_ok() && m.is_accepting()) {
            rejected.push(q.clone());
        }
    }
    report("bytes", qs.len(), &rejected);
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-3 tokenizer from ../shared/models (not vendored: Llama 3 licence)"
)]
fn spider_queries_accepted_token_by_token_llama3() {
    let env = common::tokenizer("llama3");
    let vocab = env.vocab().clone();
    let g = sql_grammar();
    let qs = queries();
    let mut rejected = Vec::new();
    let mut masks = 0;
    for (i, (_, q)) in qs.iter().enumerate() {
        let mut m = Matcher::new(g.clone(), &env);
        let toks = vocab.encode(q).unwrap();
        // Masks on every 8th query (commits check every token on all).
        let with_masks = i % 8 == 0;
        let ok = toks.iter().all(|&t| {
            if with_masks {
                masks += 1;
                if !m.compute_mask().contains(t) {
                    return false;
                }
            }
            m.commit(t).is_ok()
        }) && m.is_accepting()
            && vocab.eos_tokens().iter().any(|&e| m.commit(e).is_ok());
        if !ok {
            rejected.push(q.clone());
        }
    }
    println!("llama3: {masks} masks computed");
    report("llama3 tokens", qs.len(), &rejected);
}

#[test]
fn spider_queries_accepted_with_their_schema() {
    // Schema-aware grammars accept the queries written for their database
    // (every 10th database, to keep the test short).
    let schemas = schemas();
    let text = sql_text();
    let vocab = Arc::new(byte_vocabulary());
    let env = Arc::new(formwork::TokenEnv::new(vocab.clone()));
    let mut by_db: HashMap<&str, Vec<&str>> = HashMap::new();
    let qs = queries();
    for (db, q) in &qs {
        by_db.entry(db.as_str()).or_default().push(q.as_str());
    }
    let mut dbs: Vec<&str> = by_db.keys().copied().collect();
    dbs.sort();
    let (mut total, mut ok) = (0, 0);
    for db in dbs.iter().step_by(10) {
        let mut g = pest_grammar(&text, None).unwrap();
        restrict_to_schema(&mut g, &schemas[*db]).unwrap();
        let g = Arc::new(CompiledGrammar::new(&g).unwrap());
        for q in &by_db[db] {
            total += 1;
            let mut m = Matcher::new(g.clone(), &env);
            if m.commit_bytes(q.as_bytes()).is_ok() && m.is_accepting() {
                ok += 1;
            }
        }
    }
    println!("schema-aware: {ok} of {total} queries accepted by their database's grammar");
    assert!(ok * 100 >= total * 95, "{ok} of {total}");
}

#[allow(dead_code)]
fn _types(_: &Vocabulary) {}

#[test]
fn a_spider_record_becomes_create_table_statements() {
    let record = serde_json::json!({
        "table_names_original": ["singer", "sqlite_sequence"],
        "column_names_original": [[-1, "*"], [0, "Singer_ID"], [0, "Name"], [1, "name"]],
        "column_types": ["text", "number", "text", "text"],
    });
    let ddl = common::spider::spider_ddl(&record).unwrap();
    assert_eq!(
        ddl,
        "CREATE TABLE \"singer\" (\"Singer_ID\" NUMERIC, \"Name\" TEXT);\n"
    );
}
