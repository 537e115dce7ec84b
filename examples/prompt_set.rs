//! The model prompt set: 52 (prompt, schema) pairs from JSONSchemaBench run
//! through the default model (SmolLM2-135M-Instruct), constrained and not.
//!
//! Reports, in one run: validity of constrained output (checked with the
//! `jsonschema` crate, never with formwork itself), validity of plain output
//! on the same prompts, tokens/s with and without the constraint, the mask's
//! share of the time per token, and the speed-up from fast-forward.
//! Exits non-zero if any constrained output is invalid.
//!
//! `cargo run --release --example prompt_set [-- --limit N] [--only ID-SUBSTRING]`

use formwork::generate::{GenerateOptions, Generation, Generator, StopReason};
use formwork::model::fetch::{default_model, FetchConfig};
use formwork::model::{chat_prompt, GgufModel};
use formwork::{json_schema, CompiledGrammar, SchemaOptions, Spelling};
use std::sync::Arc;

fn valid(schema: &serde_json::Value, text: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim()) else {
        return false;
    };
    jsonschema::validator_for(schema)
        .map(|val| val.is_valid(&v))
        .unwrap_or(false)
}

#[derive(Default)]
struct Tally {
    n: usize,
    valid: usize,
    tokens: usize,
    forced: usize,
    ms: f64,
    mask_ms: f64,
    forward_calls: usize,
    closed: usize,
}

impl Tally {
    fn add(&mut self, g: &Generation, ok: bool) {
        self.n += 1;
        self.valid += ok as usize;
        self.tokens += g.tokens.len();
        self.forced += g.forced_tokens;
        self.ms += g.timings.total_ms - g.timings.prompt_ms;
        self.mask_ms += g.timings.mask_ms;
        self.forward_calls += g.timings.forward_calls;
        self.closed += (g.stop == StopReason::Closed) as usize;
    }
    fn row(&self, name: &str) -> String {
        format!(
            "| {name} | {}/{} ({:.0}%) | {} | {} | {:.1} | {:.2}% |",
            self.valid,
            self.n,
            100.0 * self.valid as f64 / self.n.max(1) as f64,
            self.tokens,
            self.forced,
            self.tokens as f64 / (self.ms / 1e3),
            100.0 * self.mask_ms / self.ms.max(1e-9),
        )
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let limit = args
        .iter()
        .position(|a| a == "--limit")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/prompts.jsonl");
    let cases: Vec<serde_json::Value> = std::fs::read_to_string(data)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| {
            only.as_deref()
                .is_none_or(|o| c["id"].as_str().unwrap_or("").contains(o))
        })
        .collect();
    let cases = &cases[..limit.unwrap_or(cases.len()).min(cases.len())];
    let model = GgufModel::load(default_model(&FetchConfig::from_env())?)?;
    let template = model.chat()?;
    let vocab = model.vocabulary()?;
    let mut gen = Generator::builder(model).vocabulary(vocab).build()?;
    let opts = GenerateOptions {
        max_tokens: 200,
        ..Default::default()
    };
    let no_ff = GenerateOptions {
        fast_forward: false,
        ..opts.clone()
    };
    let (mut con, mut plain, mut con_noff) = (Tally::default(), Tally::default(), Tally::default());
    let mut invalid = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let schema = &c["schema"];
        let prompt = chat_prompt(template.as_ref(), None, c["prompt"].as_str().unwrap())?;
        // What `formwork generate` uses: compact whitespace, schema property
        // order, keys spelled the shortest way.
        let schema_opts = SchemaOptions {
            spelling: Spelling::Canonical,
            ..SchemaOptions::default()
        };
        let grammar = match json_schema(schema, &schema_opts).and_then(|g| CompiledGrammar::new(&g))
        {
            Ok(g) => Arc::new(g),
            Err(e) => {
                eprintln!("{}: schema not supported: {e}", c["id"]);
                invalid.push(c["id"].to_string());
                continue;
            }
        };
        let g = gen.generate(&prompt, Some(grammar.clone()), &opts)?;
        let ok = g.complete && valid(schema, &g.text);
        if !ok {
            invalid.push(c["id"].to_string());
            eprintln!("invalid constrained output ({:?}): {}", g.stop, g.text);
        }
        con.add(&g, ok);
        let p = gen.generate(&prompt, None, &opts)?;
        plain.add(&p, valid(schema, &p.text));
        let s = gen.generate(&prompt, Some(grammar), &no_ff)?;
        con_noff.add(&s, s.complete && valid(schema, &s.text));
        eprintln!(
            "[{}/{}] {} constrained={} plain={}",
            i + 1,
            cases.len(),
            c["id"],
            ok,
            valid(schema, &p.text)
        );
    }
    println!("| mode | valid | tokens | forced | tokens/s | mask share |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!("{}", con.row("constrained (fast-forward)"));
    println!("{}", plain.row("unconstrained"));
    println!("{}", con_noff.row("constrained, no fast-forward"));
    // Per output token: with forced tokens fed differently the model may
    // write different (longer or shorter) outputs, so totals do not compare.
    let per_token = |t: &Tally| t.ms / t.tokens.max(1) as f64;
    println!(
        "\nfast-forward speed-up per output token on the same prompts: {:.2}x \
         ({:.1} ms vs {:.1} ms per token; {:.1} s vs {:.1} s of decoding in all)",
        per_token(&con_noff) / per_token(&con).max(1e-9),
        per_token(&con),
        per_token(&con_noff),
        con.ms / 1e3,
        con_noff.ms / 1e3
    );
    println!(
        "outputs closed before max_tokens: {} with fast-forward, {} without",
        con.closed, con_noff.closed
    );
    println!(
        "\nforward calls per output token: fast-forward {:.2}, without {:.2}",
        con.forward_calls as f64 / con.tokens.max(1) as f64,
        con_noff.forward_calls as f64 / con_noff.tokens.max(1) as f64
    );
    if !invalid.is_empty() {
        eprintln!("invalid constrained outputs: {invalid:?}");
        std::process::exit(1);
    }
    Ok(())
}
