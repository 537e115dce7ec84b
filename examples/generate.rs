//! Constrained generation from the library: the default model (fetched on
//! first use), a JSON Schema, and greedy decoding.
//!
//! `cargo run --release --example generate`

use formwork::generate::{GenerateOptions, Generator};
use formwork::model::fetch::{default_model, FetchConfig};
use formwork::model::{chat_prompt, GgufModel};
use formwork::{json_schema, CompiledGrammar, SchemaOptions};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = GgufModel::load(default_model(&FetchConfig::from_env())?)?;
    let template = model.chat()?;
    let vocab = model.vocabulary()?;
    let mut generator = Generator::builder(model).vocabulary(vocab).build()?;

    let schema: serde_json::Value = serde_json::from_str(include_str!("person.schema.json"))?;
    let grammar = Arc::new(CompiledGrammar::new(&json_schema(
        &schema,
        &SchemaOptions::default(),
    )?)?);
    let prompt = chat_prompt(
        template.as_ref(),
        None,
        "Describe Ada Lovelace as a JSON object with name, age, city and languages.",
    )?;
    let out = generator.generate(&prompt, Some(grammar), &GenerateOptions::default())?;
    println!("{}", out.text);
    eprintln!(
        "{} tokens ({} forced), {:.0} ms, complete: {}",
        out.tokens.len(),
        out.forced_tokens,
        out.timings.total_ms,
        out.complete
    );
    Ok(())
}
