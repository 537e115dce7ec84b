//! `formwork mask`: a text's tokens against a constraint's masks, one line
//! per token.

use crate::args::{Given, MaskArgs};
use crate::input::load_vocab;
use crate::output::{Failure, Out};
use formwork::Whitespace;
use formwork::{CompiledGrammar, Matcher, TokenEnv};
use std::sync::Arc;

pub fn command(a: MaskArgs, given: &Given) -> Result<(), Failure> {
    let MaskArgs {
        tokenizer,
        constraint,
        text,
        eos,
    } = a;
    constraint.check(given, Whitespace::Flexible)?;
    let env = Arc::new(TokenEnv::new(load_vocab(&tokenizer, &eos)?));
    let vocab = env.vocab().clone();
    let g = constraint
        .grammar(Whitespace::Flexible)?
        .ok_or("give one of --regex, --schema or --grammar")?;
    let g = Arc::new(
        CompiledGrammar::with_budget(&g, constraint.budget.budget()).map_err(|e| e.to_string())?,
    );
    let mut m = Matcher::new(g, &env);
    let toks = vocab.encode(&text).map_err(|e| e.to_string())?;
    let mut out = Out::new();
    out.line(format_args!(
        "{:>5}  {:>8}  {:>7}  token",
        "step", "allowed", "ok"
    ))?;
    for (i, &t) in toks.iter().enumerate() {
        let mask = m.try_compute_mask().map_err(|e| e.to_string())?;
        let ok = mask.contains(t);
        out.line(format_args!(
            "{i:>5}  {:>8}  {:>7}  {t} {:?}",
            mask.count(),
            if ok { "yes" } else { "NO" },
            String::from_utf8_lossy(vocab.token_bytes(t))
        ))?;
        if !ok {
            return Err(format!(
                "token {i} ({t}) is not allowed; the text does not match the constraint"
            )
            .into());
        }
        m.commit(t).map_err(|e| e.to_string())?;
    }
    let mask = m.try_compute_mask().map_err(|e| e.to_string())?;
    let eos_ok = vocab.eos_tokens().iter().any(|&e| mask.contains(e));
    out.line(format_args!(
        "  end  {:>8}  {:>7}  EOS",
        mask.count(),
        if eos_ok { "yes" } else { "NO" }
    ))?;
    if !eos_ok {
        return Err("the text is a valid prefix but not complete (EOS not allowed)".into());
    }
    Ok(())
}
