//! `formwork generate`: text from a GGUF model, constrained by masks or,
//! with `--fallback retry`, generated freely and then repaired and checked.

use crate::args::{GenerateArgs, Given};
use crate::input::schema_arg;
use crate::output::{note, Failure, Out};
use formwork::Whitespace;
use formwork::{CompiledGrammar, Vocabulary};
use std::sync::Arc;

/// `formwork generate`; `Ok(false)` if the output is not complete.
pub fn command(a: GenerateArgs, given: &Given) -> Result<bool, Failure> {
    use formwork::generate::{GenerateOptions, Generator, Select};
    use formwork::model::{fetch, GgufModel};
    use formwork::sampler::SamplerConfig;
    use std::time::Instant;
    a.check(given)?;
    if let Some(n) = a.threads {
        // candle sizes its thread pool from this variable on first use,
        // which comes later (the model's first matrix product).
        std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    }
    let select = match a.select.as_str() {
        "best" => Select::Best,
        "vote" => Select::Vote,
        other => return Err(format!("--select {other:?}: use best or vote").into()),
    };
    if let Some(f) = &a.fallback {
        // The fallback validates with the jsonschema crate and never compiles
        // the schema to a grammar: it is for schemas the compiler refuses.
        if f != "retry" {
            return Err(format!("--fallback {f:?}: the only fallback is `retry`").into());
        }
        let schema = schema_arg(a.constraint.schema.as_deref().unwrap_or("true"))?;
        formwork::repair::SchemaCheck::new(&schema).map_err(|e| format!("--schema: {e}"))?;
    }
    let grammar = match a.fallback {
        Some(_) => None,
        None => a.constraint.grammar(Whitespace::Compact)?,
    };
    let grammar = match grammar {
        Some(g) => Some(Arc::new(
            CompiledGrammar::with_budget(&g, a.constraint.budget.budget())
                .map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let path = match &a.model {
        Some(p) => std::path::PathBuf::from(p),
        // The default model is fetched here, at the user's request: the
        // library never fetches on its own.
        None => fetch::default_model(&fetch::FetchConfig::from_env()).map_err(|e| e.to_string())?,
    };
    let t = Instant::now();
    note!("formwork: loading {} ...", path.display());
    let model = GgufModel::load(&path).map_err(|e| e.to_string())?;
    let template = if a.raw {
        None
    } else {
        model.chat().map_err(|e| e.to_string())?
    };
    if a.system.is_some() && !a.raw && template.is_none() {
        return Err(format!(
            "--system: {} has no chat template, so a system message has no place in the \
             prompt; drop --system, or write the whole prompt out with --raw",
            path.display()
        )
        .into());
    }
    let vocab = match &a.tokenizer {
        Some(tk) => Vocabulary::from_file(tk).map_err(|e| e.to_string())?,
        None => model.vocabulary().map_err(|e| e.to_string())?,
    };
    let mut gen = Generator::builder(model)
        .vocabulary(vocab)
        .build()
        .map_err(|e| e.to_string())?;
    note!(
        "formwork: model ready in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    if a.fallback.is_some() {
        return generate_fallback(&a, gen, template);
    }
    let prompt = match &template {
        Some(t) => t
            .prompt(a.system.as_deref(), &a.prompt)
            .map_err(|e| e.to_string())?,
        None => a.prompt.clone(),
    };
    let opts = GenerateOptions {
        max_tokens: a.max_tokens,
        sampler: SamplerConfig {
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            seed: a.seed,
            top_logprobs: a.top_logprobs,
        },
        stop: a.stop.clone(),
        fast_forward: !a.no_fast_forward,
        close_before_max_tokens: !a.no_close,
        cancel: None,
    };
    // One sample in text mode streams to stdout as tokens are chosen.
    let stream = a.n <= 1 && !a.json;
    let t = std::time::Instant::now();
    let (outs, pick) = if stream {
        let mut out = Out::new();
        let mut failed = None;
        let g = gen
            .generate_streaming(&prompt, grammar, &opts, &mut |piece| {
                if failed.is_none() {
                    failed = out.piece(piece).err();
                }
            })
            .map_err(|e| e.to_string())?;
        if let Some(f) = failed {
            return Err(f);
        }
        out.line("")?;
        (vec![g], 0)
    } else {
        gen.generate_n(&prompt, grammar, &opts, a.n, select)
            .map_err(|e| e.to_string())?
    };
    let seconds = t.elapsed().as_secs_f64();
    let g = &outs[pick];
    let generated: usize = outs.iter().map(|o| o.tokens.len()).sum();
    note!(
        "formwork: {} sample{}, {generated} tokens in {seconds:.2} s ({:.1} tokens/s; prompt {} tokens in {:.0} ms)",
        outs.len(),
        if outs.len() == 1 { "" } else { "s" },
        generated as f64 / seconds.max(1e-9),
        g.prompt_tokens,
        g.timings.prompt_ms
    );
    if a.json {
        let vocab = gen.vocabulary();
        let tokens: Vec<serde_json::Value> = g
            .tokens
            .iter()
            .zip(&g.logprobs)
            .zip(&g.top_logprobs)
            .map(|((&t, lp), top)| {
                serde_json::json!({
                    "id": t,
                    "text": String::from_utf8_lossy(vocab.token_bytes(t)),
                    "logprob": lp,
                    "forced": lp.is_none(),
                    "top": top.iter().map(|(t, l)| serde_json::json!([t, l])).collect::<Vec<_>>(),
                })
            })
            .collect();
        let out = serde_json::json!({
            "text": g.text,
            "complete": g.complete,
            "stop": format!("{:?}", g.stop),
            "prompt_tokens": g.prompt_tokens,
            "completion_tokens": g.tokens.len(),
            "forced_tokens": g.forced_tokens,
            "mean_logprob": g.mean_logprob(),
            "timings_ms": {"prompt": g.timings.prompt_ms, "total": g.timings.total_ms,
                           "mask": g.timings.mask_ms, "forward": g.timings.forward_ms,
                           "forward_calls": g.timings.forward_calls},
            "samples": outs.len(),
            "chosen": pick,
            "tokens": tokens,
            "all_samples": outs.iter().zip(formwork::generate::vote_counts(&outs)).map(|(o, votes)| {
                serde_json::json!({
                    "text": o.text,
                    "complete": o.complete,
                    "stop": format!("{:?}", o.stop),
                    "completion_tokens": o.tokens.len(),
                    "mean_logprob": o.mean_logprob(),
                    "votes": votes,
                })
            }).collect::<Vec<_>>(),
        });
        Out::new().line(serde_json::to_string_pretty(&out).unwrap())?;
    } else if !stream {
        Out::new().line(&g.text)?;
    }
    if g.stop == formwork::generate::StopReason::Closed {
        note!(
            "formwork: --max-tokens {} was near, so the output was closed with its shortest completion",
            a.max_tokens
        );
    }
    if !g.complete {
        note!(
            "formwork: the output was cut short by --max-tokens {} and is NOT complete under the constraint",
            a.max_tokens
        );
    }
    Ok(g.complete)
}

/// `generate --fallback retry`: unconstrained generation through
/// [`formwork::fallback::Fallback`].
fn generate_fallback(
    a: &GenerateArgs,
    generator: formwork::generate::Generator<formwork::model::GgufModel>,
    template: Option<formwork::model::ChatTemplate>,
) -> Result<bool, Failure> {
    use formwork::fallback::{Fallback, FallbackError, ModelBackend};
    use formwork::generate::GenerateOptions;
    use formwork::sampler::SamplerConfig;
    let schema = schema_arg(a.constraint.schema.as_deref().unwrap_or("true"))?;
    let fb = Fallback::new(&schema)
        .map_err(|e| e.to_string())?
        .retries(a.retries);
    let mut backend = ModelBackend {
        generator,
        template,
        system: a.system.clone(),
        options: GenerateOptions {
            max_tokens: a.max_tokens,
            sampler: SamplerConfig {
                temperature: a.temperature,
                top_k: a.top_k,
                top_p: a.top_p,
                seed: a.seed,
                top_logprobs: 0,
            },
            stop: a.stop.clone(),
            fast_forward: true,
            close_before_max_tokens: true,
            cancel: None,
        },
        tokens: 0,
    };
    match fb.run(&mut backend, &a.prompt) {
        Ok(ok) => {
            for (i, at) in ok.history.iter().enumerate() {
                note!(
                    "formwork: attempt {} ({:.1} s): {}",
                    i + 1,
                    at.elapsed.as_secs_f64(),
                    at.stage
                        .map_or_else(|| at.errors.join("; "), |s| format!("valid ({s})"))
                );
            }
            for c in &ok.changes {
                note!("formwork: schema-guided change {c}");
            }
            if a.json {
                let out = serde_json::json!({
                    "value": ok.value,
                    "attempts": ok.attempts(),
                    "stage": ok.stage.to_string(),
                    "changes": ok.changes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                    "texts": ok.history.iter().map(|h| h.text.clone()).collect::<Vec<_>>(),
                    "completion_tokens": backend.tokens,
                });
                Out::new().line(serde_json::to_string_pretty(&out).unwrap())?;
            } else {
                Out::new().line(serde_json::to_string_pretty(&ok.value).unwrap())?;
            }
            Ok(true)
        }
        Err(FallbackError::Exhausted { history }) => {
            for (i, at) in history.iter().enumerate() {
                note!(
                    "formwork: attempt {} invalid: {}",
                    i + 1,
                    at.errors.join("; ")
                );
            }
            Err(format!(
                "no valid output after {} attempt(s); raise --retries or drop --fallback to use constrained decoding",
                history.len()
            )
            .into())
        }
        Err(e) => Err(e.to_string().into()),
    }
}
