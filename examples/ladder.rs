//! The structured-output ladder on the model prompt set: how many of the 52
//! (prompt, schema) pairs of `tests/data/prompts.jsonl` give valid output with
//! each technique, and the time per valid output.
//!
//! Rungs, each including the ones above it:
//!
//! 1. plain: unconstrained greedy output, parsed strictly;
//! 2. + repair: syntax repair (`formwork::repair`);
//! 3. + schema-guided repair (`formwork::repair::repair_with_schema`);
//! 4. + 1, 2, 3 retries with the validation errors in the prompt.
//!
//! All four come from one `formwork::fallback::Fallback` run per prompt; and,
//! separately, constrained decoding (token masks from the schema).
//! Validity is always checked with the `jsonschema` crate.
//!
//! "Time per valid output" is all generation and checking time spent on the
//! rung (a prompt that became valid on an earlier rung stops there) divided by
//! the number of valid outputs.
//!
//! `cargo run --release --example ladder [-- --limit N --max-tokens N --out F.jsonl]`

use formwork::fallback::{Fallback, FallbackError, ModelBackend, Stage};
use formwork::generate::{GenerateOptions, Generator};
use formwork::model::fetch::{default_model, FetchConfig};
use formwork::model::{chat_prompt, GgufModel};
use formwork::{json_schema, CompiledGrammar, SchemaOptions, Spelling};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

const RETRIES: usize = 3;

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

/// Per rung: valid count and seconds spent.
#[derive(Default, Clone, Copy)]
struct Rung {
    valid: usize,
    secs: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let limit: Option<usize> = arg(&args, "--limit");
    let max_tokens: usize = arg(&args, "--max-tokens").unwrap_or(200);
    let out_path: Option<String> = arg(&args, "--out");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/prompts.jsonl");
    let cases: Vec<serde_json::Value> = std::fs::read_to_string(data)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let cases = &cases[..limit.unwrap_or(cases.len()).min(cases.len())];
    let model = GgufModel::load(default_model(&FetchConfig::from_env())?)?;
    let template = model.chat()?;
    let vocab = model.vocabulary()?;
    let generator = Generator::builder(model).vocabulary(vocab).build()?;
    let options = GenerateOptions {
        max_tokens,
        ..Default::default()
    };
    let mut backend = ModelBackend {
        generator,
        template: template.clone(),
        system: None,
        options: options.clone(),
        tokens: 0,
    };
    let mut out = match &out_path {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => None,
    };
    // rungs: 0 plain, 1 +repair, 2 +schema repair, 3..=5 +1..3 retries.
    let mut rungs = [Rung::default(); 3 + RETRIES];
    let mut constrained = Rung::default();
    let mut unsupported = 0;
    for (i, c) in cases.iter().enumerate() {
        let schema = &c["schema"];
        let prompt = c["prompt"].as_str().unwrap_or_default();
        let fb = Fallback::new(schema)?.retries(RETRIES);
        let history = match fb.run(&mut backend, prompt) {
            Ok(s) => s.history,
            Err(FallbackError::Exhausted { history }) => history,
            Err(e) => return Err(e.into()),
        };
        // Seconds spent up to and including attempt k.
        let secs_to = |k: usize| -> f64 {
            history[..k.min(history.len())]
                .iter()
                .map(|a| a.elapsed.as_secs_f64())
                .sum()
        };
        let first = history[0].stage;
        let last = history.last().and_then(|a| a.stage);
        let ok_first = |max: Stage| first.is_some_and(|s| s <= max);
        for (r, rung) in rungs.iter_mut().enumerate() {
            let (ok, attempts) = match r {
                0 => (ok_first(Stage::Strict), 1),
                1 => (ok_first(Stage::Repair), 1),
                2 => (ok_first(Stage::SchemaRepair), 1),
                _ => {
                    let k = r - 1; // attempts allowed: 2, 3, 4
                    (history.len() <= k && last.is_some(), k)
                }
            };
            rung.valid += ok as usize;
            rung.secs += secs_to(attempts);
        }
        // Constrained decoding.
        let t = Instant::now();
        let schema_opts = SchemaOptions {
            spelling: Spelling::Canonical,
            ..SchemaOptions::default()
        };
        let con_ok = match json_schema(schema, &schema_opts).and_then(|g| CompiledGrammar::new(&g))
        {
            Ok(g) => {
                let p = chat_prompt(template.as_ref(), None, prompt)?;
                let g = backend
                    .generator
                    .generate(&p, Some(Arc::new(g)), &options)?;
                g.complete
                    && serde_json::from_str::<serde_json::Value>(g.text.trim())
                        .ok()
                        .is_some_and(|v| jsonschema::is_valid(schema, &v))
            }
            Err(e) => {
                eprintln!(
                    "{}: schema not supported by the constraint compiler: {e}",
                    c["id"]
                );
                unsupported += 1;
                false
            }
        };
        constrained.valid += con_ok as usize;
        constrained.secs += t.elapsed().as_secs_f64();
        let stages: Vec<String> = history
            .iter()
            .map(|a| a.stage.map_or("invalid".into(), |s| s.to_string()))
            .collect();
        eprintln!(
            "[{}/{}] {} attempts={:?} constrained={}",
            i + 1,
            cases.len(),
            c["id"],
            stages,
            con_ok
        );
        if let Some(w) = out.as_mut() {
            let rec = serde_json::json!({
                "id": c["id"],
                "attempts": history.iter().map(|a| serde_json::json!({
                    "text": a.text, "stage": a.stage.map(|s| s.to_string()),
                    "errors": a.errors, "secs": a.elapsed.as_secs_f64(),
                })).collect::<Vec<_>>(),
                "constrained_valid": con_ok,
                "constrained_secs": t.elapsed().as_secs_f64(),
            });
            writeln!(w, "{rec}")?;
            w.flush()?;
        }
        // The table so far: the run can be stopped at any prompt.
        eprintln!("{}", table(&rungs, constrained, i + 1));
    }
    let table = table(&rungs, constrained, cases.len());
    println!("{table}");
    println!(
        "{} prompts, greedy, max {max_tokens} tokens per generation; {} tokens generated \
         unconstrained; {unsupported} schemas not supported by the constraint compiler",
        cases.len(),
        backend.tokens
    );
    Ok(())
}

/// The ladder as a Markdown table, for `n` prompts.
fn table(rungs: &[Rung], constrained: Rung, n: usize) -> String {
    let row = |name: &str, r: Rung| {
        format!(
            "| {name} | {}/{n} ({:.0}%) | {} |\n",
            r.valid,
            100.0 * r.valid as f64 / n.max(1) as f64,
            if r.valid == 0 {
                "—".to_string()
            } else {
                format!("{:.1} s", r.secs / r.valid as f64)
            }
        )
    };
    let mut t = String::from("| rung | valid | time per valid output |\n|---|---:|---:|\n");
    t += &row("plain output (strict parse)", rungs[0]);
    t += &row("+ repair", rungs[1]);
    t += &row("+ schema-guided repair", rungs[2]);
    for k in 1..=RETRIES {
        let name = format!("+ {k} retr{}", if k == 1 { "y" } else { "ies" });
        t += &row(&name, rungs[2 + k]);
    }
    t += &row("constrained decoding", constrained);
    t
}
