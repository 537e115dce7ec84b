//! Text-to-SQL with the default model: Spider dev questions answered with and
//! without `grammars/sql.pest` restricted to each question's database.
//!
//! For each question of `tests/data/spider_dev_questions.jsonl` (the first
//! dev question of each of the 20 Spider dev databases), the database's
//! `CREATE TABLE` statements are built from its Spider `tables.json` record
//! ([`spider_ddl`]) and put in the prompt. The model then answers twice,
//! greedily:
//!
//! * constrained, exactly as `formwork generate --grammar grammars/sql.pest
//!   --sql-schema DB.sql --sql-scoped --prompt ...` does (single-table
//!   `SELECT`s whose columns all belong to the table in `FROM`,
//!   [`scope_to_tables`]; `--names-only` drops `--sql-scoped`);
//! * unconstrained, on the same prompt (a code fence around the answer, if
//!   any, is taken off; nothing else is fixed up).
//!
//! Each answer is compiled by SQLite (`rusqlite`, bundled) against an empty
//! database built from the same statements, and compared with the gold query
//! after normalisation ([`normalize`]). Scoping settles names, not SQLite's
//! other checks (an aggregate inside `WHERE`), and an answer cut short by
//! `--max-tokens` is incomplete; `--retries K` then samples up to K more
//! answers (temperature 0.7, seeded) and keeps the first that compiles, and
//! the table says how many needed it.
//!
//! `cargo run --release --example spider_sql [-- --limit N --only DB --retries K --max-tokens N --names-only]`

#[path = "../tests/common/spider.rs"]
mod spider;

use formwork::generate::{GenerateOptions, Generator};
use formwork::model::fetch::{default_model, FetchConfig};
use formwork::model::{chat_prompt, GgufModel};
use formwork::sampler::SamplerConfig;
use formwork::sql::{restrict_to_schema, scope_to_tables, SqlSchema};
use formwork::{pest_grammar, CompiledGrammar};
use serde_json::Value;
use spider::spider_ddl;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// One worked example in front of every question, from a Spider *train*
/// database (department_management), so the model sees the answer's form.
const EXAMPLE: &str = "Write one SQLite query that answers the question. Answer with the query only.\n\n\
Schema:\nCREATE TABLE \"head\" (\"head_ID\" NUMERIC, \"name\" TEXT, \"born_state\" TEXT, \"age\" NUMERIC);\n\
Question: How many heads of the departments are older than 56?\n\
SQL: SELECT count(*) FROM head WHERE age > 56\n\n";

/// A query as a canonical string: outside quoted strings, ASCII lower case
/// and one space between tokens (none around punctuation); double-quoted
/// strings become single-quoted (SQLite reads `"x"` as the string `'x'` when
/// no column is named x, as in Spider's gold queries); one trailing `;` and
/// surrounding space dropped.
fn normalize(q: &str) -> String {
    let q = q.trim().trim_end_matches(';').trim();
    let mut out = String::new();
    let mut chars = q.chars().peekable();
    let mut pending_space = false;
    let punct = |c: char| "(),=<>!*+-/%|.".contains(c);
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space
            && !out.is_empty()
            && !punct(c)
            && !out.ends_with(|p: char| punct(p) && p != '*')
        {
            out.push(' ');
        }
        pending_space = false;
        if c == '\'' || c == '"' {
            let mut lit = String::new();
            while let Some(d) = chars.next() {
                if d == c {
                    if chars.peek() == Some(&c) {
                        chars.next();
                        lit.push(c);
                        continue;
                    }
                    break;
                }
                lit.push(d);
            }
            out.push('\'');
            out.push_str(&lit.replace('\'', "''"));
            out.push('\'');
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The answer without a surrounding code fence (unconstrained output).
fn strip_fence(text: &str) -> String {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("```") {
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let body = rest.split("```").next().unwrap_or(rest);
        return body.trim().to_string();
    }
    t.to_string()
}

/// Compiles `sql` in an empty database made from `ddl`: Ok, or SQLite's error.
fn sqlite_compiles(ddl: &str, sql: &str) -> Result<(), String> {
    let conn = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
    conn.execute_batch(ddl).map_err(|e| format!("DDL: {e}"))?;
    let sql = sql.trim();
    if sql.is_empty() {
        return Err("empty answer".into());
    }
    conn.prepare(sql).map(|_| ()).map_err(|e| e.to_string())
}

#[derive(Default)]
struct Tally {
    compiled: usize,
    matched: usize,
    tokens: usize,
    secs: f64,
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let limit: usize = arg(&args, "--limit").unwrap_or(usize::MAX);
    let retries: usize = arg(&args, "--retries").unwrap_or(0);
    let max_tokens: usize = arg(&args, "--max-tokens").unwrap_or(96);
    let scoped = !args.iter().any(|a| a == "--names-only");
    // `--only DB`: just that database's question (to recheck one answer).
    let only: Option<String> = arg(&args, "--only");
    let root = env!("CARGO_MANIFEST_DIR");
    let records: HashMap<String, Value> =
        std::fs::read_to_string(format!("{root}/tests/data/spider_schemas.jsonl"))?
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l)?;
                Ok((v["db_id"].as_str().unwrap_or_default().to_string(), v))
            })
            .collect::<Result<_, serde_json::Error>>()?;
    let questions: Vec<Value> =
        std::fs::read_to_string(format!("{root}/tests/data/spider_dev_questions.jsonl"))?
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
    let grammar_text = std::fs::read_to_string(format!("{root}/grammars/sql.pest"))?;

    let model = GgufModel::load(default_model(&FetchConfig::from_env())?)?;
    let template = model.chat()?;
    let vocab = model.vocabulary()?;
    let mut gen = Generator::builder(model).vocabulary(vocab).build()?;
    let greedy = GenerateOptions {
        max_tokens,
        ..Default::default()
    };

    let (mut con, mut plain) = (Tally::default(), Tally::default());
    let (mut n, mut first_try, mut invalid) = (0usize, 0usize, Vec::new());
    println!(
        "| db | question | constrained answer | compiles | gold match | unconstrained compiles |"
    );
    println!("|---|---|---|---|---|---|");
    let questions: Vec<_> = questions
        .iter()
        .filter(|q| {
            only.as_deref()
                .is_none_or(|db| q["db_id"].as_str() == Some(db))
        })
        .collect();
    for q in questions.into_iter().take(limit) {
        let db = q["db_id"].as_str().unwrap_or_default();
        let question = q["question"].as_str().unwrap_or_default();
        let gold = q["query"].as_str().unwrap_or_default();
        let record = records
            .get(db)
            .ok_or_else(|| format!("{db}: no schema record"))?;
        let ddl = spider_ddl(record)?;
        let mut g = pest_grammar(&grammar_text, None)?;
        let schema = SqlSchema::parse(&ddl)?;
        restrict_to_schema(&mut g, &schema)?;
        if scoped {
            scope_to_tables(&mut g, &schema)?;
        }
        let grammar = Arc::new(CompiledGrammar::new(&g)?);
        let user = format!("{EXAMPLE}Schema:\n{ddl}Question: {question}\nSQL:");
        let prompt = chat_prompt(template.as_ref(), None, &user)?;
        n += 1;

        // Constrained, then sampled retries while SQLite rejects the answer.
        let t = Instant::now();
        let mut answer = String::new();
        let mut ok = false;
        for attempt in 0..=retries {
            let opts = if attempt == 0 {
                greedy.clone()
            } else {
                GenerateOptions {
                    sampler: SamplerConfig {
                        temperature: 0.7,
                        seed: attempt as u64,
                        ..Default::default()
                    },
                    ..greedy.clone()
                }
            };
            let out = gen.generate(&prompt, Some(grammar.clone()), &opts)?;
            con.tokens += out.tokens.len();
            answer = out.text.trim().to_string();
            ok = out.complete && sqlite_compiles(&ddl, &answer).is_ok();
            if ok {
                first_try += (attempt == 0) as usize;
                break;
            }
        }
        con.secs += t.elapsed().as_secs_f64();
        let matched = normalize(&answer) == normalize(gold);
        con.compiled += ok as usize;
        con.matched += matched as usize;
        if !ok {
            invalid.push(format!(
                "{db}: {answer:?}: {}",
                sqlite_compiles(&ddl, &answer).err().unwrap_or_default()
            ));
        }

        // Unconstrained, same prompt.
        let t = Instant::now();
        let out = gen.generate(&prompt, None, &greedy)?;
        plain.secs += t.elapsed().as_secs_f64();
        plain.tokens += out.tokens.len();
        let plain_answer = strip_fence(&out.text);
        let plain_ok = sqlite_compiles(&ddl, &plain_answer).is_ok();
        plain.compiled += plain_ok as usize;
        plain.matched += (normalize(&plain_answer) == normalize(gold)) as usize;

        println!(
            "| {db} | {question} | `{}` | {} | {} | {} |",
            answer.replace('|', "\\|"),
            if ok { "yes" } else { "**no**" },
            if matched { "yes" } else { "no" },
            if plain_ok { "yes" } else { "no" },
        );
        eprintln!("[{n}] {db}: constrained {answer:?}; unconstrained {plain_answer:?}");
    }
    println!();
    println!("| mode | compiles in SQLite | matches gold (normalised) | tokens | seconds |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| constrained (sql.pest + schema) | {}/{n} ({first_try} on the first, greedy, try) | {}/{n} | {} | {:.0} |",
        con.compiled, con.matched, con.tokens, con.secs
    );
    println!(
        "| unconstrained | {}/{n} | {}/{n} | {} | {:.0} |",
        plain.compiled, plain.matched, plain.tokens, plain.secs
    );
    if !invalid.is_empty() {
        eprintln!("constrained answers SQLite rejects:");
        for i in &invalid {
            eprintln!("  {i}");
        }
        std::process::exit(1);
    }
    Ok(())
}
