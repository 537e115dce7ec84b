//! `formwork fuzz`: random strings of a constraint's language, drawn
//! through the matcher.

use crate::args::{FuzzArgs, Given};
use crate::input::load_vocab;
use crate::output::{Failure, Out};
use formwork::Whitespace;
use formwork::{CompiledGrammar, TokenEnv};
use std::sync::Arc;

pub fn command(a: FuzzArgs, given: &Given) -> Result<(), Failure> {
    let FuzzArgs {
        constraint,
        n,
        seed,
        max_len,
        tokenizer,
        work_budget,
    } = a;
    use formwork::fuzzer::{FuzzConfig, Fuzzer};
    constraint.check(given, Whitespace::Compact)?;
    let g = constraint
        .grammar(Whitespace::Compact)?
        .ok_or("give one of --grammar, --schema or --regex")?;
    let g = Arc::new(
        CompiledGrammar::with_budget(&g, constraint.budget.budget()).map_err(|e| e.to_string())?,
    );
    let config = FuzzConfig::new().max_len(max_len).work_budget(work_budget);
    let mut f = match tokenizer {
        Some(t) => {
            let env = Arc::new(TokenEnv::new(load_vocab(&t, &[])?));
            Fuzzer::with_vocabulary_config(g, env, seed, config)
        }
        None => Fuzzer::with_config(g, seed, config),
    };
    // Each line is flushed as it is drawn: a reader sees output at
    // once, and `| head` ends the run quietly. Ctrl-C keeps its
    // default action and ends the process at once; there is
    // nothing to clean up.
    let mut out = Out::new();
    for i in 0..n {
        let s = f
            .sample()
            .map_err(|e| format!("fuzz: string {} of {n}: {e}", i + 1))?;
        out.line(serde_json::Value::String(s))?;
    }
    out.flush()
}
