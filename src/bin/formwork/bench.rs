//! `formwork bench`: the benchmark protocol shared with a peer engine's
//! harness, so that both can be run on the same case files and compared.
//!
//! Cases come in as JSON lines `{"id", "kind", "grammar", "valid", "invalid"}`
//! (kinds `regex`, `json_schema`, `pest`, `gbnf`, `lark` and `ebnf`; a
//! grammar case's `grammar` is the grammar text and an optional `start` (or
//! `root`) names its start rule);
//! results go out as one JSON line per case with the same fields as the peer
//! harness (`id`, `status`, `compile_us`, `tokens`, `mask_us{mean,p50,p99,max}`,
//! `first_mask_us`, `valid`, `invalid`, `error`; and, its own, `work`: the
//! work units of compiling and of the costliest mask, see [`formwork::Budget`],
//! the mask time's `p999`, and `budget_warnings` when preparing the grammar
//! found lexemes whose first mask needs more than the mask budget), and a
//! `SUMMARY` line goes to stderr in the peer's format, with `p999` and
//! `budget_trouble` (the number of such cases) added, so that both can be
//! compared side by side.
//!
//! Timing follows the protocol: `compile_us` covers everything from the
//! case's grammar to a matcher ready for its first mask; each instance then
//! runs on a fresh copy of that matcher (cold lexer caches) and every
//! `compute_mask` is timed on its own.

use crate::args::{BenchArgs, Given};
use crate::constraint::{self, Source, KIND_NAMES};
use crate::input::load_vocab;
use crate::output::{note, Failure};
use formwork::{
    json_error_message, CompiledGrammar, DfaCache, Matcher, SchemaOptions, TokenEnv, TokenMask,
    Whitespace,
};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::Instant;

/// Shared state for a benchmark run.
struct Bench {
    /// The tokenizer, and the lexeme DFA cache cases share.
    env: Arc<TokenEnv>,
    eos: u32,
    /// How JSON Schema cases are compiled (flexible whitespace: case files
    /// hold `json.dumps` output).
    schema_options: SchemaOptions,
    /// Compile each case with a fresh lexeme DFA cache instead of
    /// `env`'s, so that `compile_us` is what a process compiling only that
    /// grammar pays.
    cold: bool,
    /// Print every mask slower than this many microseconds (stderr).
    show_slow: Option<f64>,
    /// Work budgets of compiling and masking (see [`formwork::Budget`]); a
    /// case that runs out gets status `error`, with the error's message.
    budget: formwork::Budget,
}

#[derive(Default)]
struct Totals {
    cases: usize,
    by_status: std::collections::BTreeMap<String, usize>,
    compile_us: Vec<f64>,
    mask_us: Vec<f64>,
    valid_ok: usize,
    valid_total: usize,
    invalid_blocked: usize,
    invalid_total: usize,
    /// Cases whose grammar reported budget trouble when it was prepared
    /// (see `TokenEnv::budget_warnings`).
    budget_trouble: usize,
}

enum Drive {
    Accepted,
    Blocked {
        pos: usize,
        why: String,
    },
    /// A mask or commit failed (a budget or a DFA size limit ran out).
    Failed {
        pos: usize,
        error: String,
    },
}

/// Longest case line read: 64 MiB, far above a grammar and its strings,
/// so that a file without newlines cannot fill memory.
const MAX_LINE_BYTES: u64 = 64 << 20;

/// The next line of a case file without its newline, `None` at the end.
fn read_case_line(input: &mut impl BufRead) -> std::io::Result<Option<String>> {
    use std::io::{Error, ErrorKind, Read};
    let mut buf = Vec::new();
    let n = input
        .by_ref()
        .take(MAX_LINE_BYTES + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if n as u64 > MAX_LINE_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("a case line is longer than {} MiB", MAX_LINE_BYTES >> 20),
        ));
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| Error::new(ErrorKind::InvalidData, "a case line is not UTF-8"))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn stats_json(times: &[f64]) -> Value {
    if times.is_empty() {
        return Value::Null;
    }
    let mut s = times.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = s.iter().sum::<f64>() / s.len() as f64;
    json!({"mean": r1(mean), "p50": r1(pct(&s, 50.0)), "p99": r1(pct(&s, 99.0)),
           "p999": r1(pct(&s, 99.9)), "max": r1(*s.last().unwrap())})
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

impl Bench {
    /// Compiles a case's grammar (of the case's `kind`; `start`: the start
    /// rule of a `pest` case) into a matcher ready for its first mask.
    fn compile(&self, kind: &str, grammar: &Value, start: Option<&str>) -> Result<Matcher, String> {
        let parsed;
        let source = match kind {
            "regex" => Source::Regex(grammar.as_str().ok_or("regex grammar must be a string")?),
            "json_schema" => Source::JsonSchema {
                schema: match grammar {
                    Value::String(s) => {
                        parsed = serde_json::from_str(s)
                            .map_err(|e| format!("schema string: {}", json_error_message(&e)))?;
                        &parsed
                    }
                    v => v,
                },
                options: &self.schema_options,
                lenient: false,
            },
            "pest" => Source::Pest {
                text: grammar.as_str().ok_or("pest grammar must be a string")?,
                start,
            },
            "gbnf" => Source::Gbnf {
                text: grammar.as_str().ok_or("gbnf grammar must be a string")?,
                start,
            },
            "lark" => Source::Lark(grammar.as_str().ok_or("lark grammar must be a string")?),
            "ebnf" | "xgrammar_ebnf" => Source::Ebnf {
                text: grammar.as_str().ok_or("ebnf grammar must be a string")?,
                start,
            },
            "structural_tag" => Source::StructuralTag(match grammar {
                Value::String(s) => {
                    parsed = serde_json::from_str(s)
                        .map_err(|e| format!("structural tag: {}", json_error_message(&e)))?;
                    &parsed
                }
                v => v,
            }),
            k => {
                return Err(format!(
                    "kind {k:?} is not supported yet (supported: {KIND_NAMES})"
                ))
            }
        };
        let g = constraint::grammar(source).map_err(|e| e.to_string())?;
        let c = if self.cold {
            CompiledGrammar::builder()
                .budget(self.budget)
                .cache(&DfaCache::default())
                .build(&g)
                .map(Arc::new)
        } else {
            self.env.compile_with_budget(&g, self.budget)
        };
        // The first mask is computed here, once, and kept in the compiled
        // grammar (as a server caching compiled grammars does).
        Ok(Matcher::prepare(c.map_err(|e| e.to_string())?, &self.env))
    }

    /// Drives a copy of `template` through `tokens`; `work` keeps the most
    /// work units a mask took.
    fn drive(
        &self,
        label: &str,
        template: &Matcher,
        tokens: &[u32],
        times: &mut Vec<f64>,
        mask: &mut TokenMask,
        work: &mut u64,
    ) -> Drive {
        // Cold, as the protocol asks: nothing another instance built.
        let mut m = template.deep_clone();
        for (pos, &tok) in tokens.iter().enumerate() {
            let t0 = Instant::now();
            let r = m.try_compute_mask_into(mask);
            times.push(t0.elapsed().as_nanos() as f64 / 1000.0);
            if let Some(slow) = self.show_slow {
                let us = times[times.len() - 1];
                if us > slow {
                    let vocab = self.env.vocab();
                    let before: Vec<u8> = tokens[..pos]
                        .iter()
                        .flat_map(|&t| vocab.token_bytes(t).iter().copied())
                        .collect();
                    note!(
                        "slow mask: {label} {us:.0} µs, {} work units, after {:?}",
                        m.last_work(),
                        String::from_utf8_lossy(&before)
                    );
                }
            }
            *work = (*work).max(m.last_work());
            if let Err(e) = r {
                return Drive::Failed {
                    pos,
                    error: e.to_string(),
                };
            }
            if !mask.contains(tok) {
                return Drive::Blocked {
                    pos,
                    why: format!(
                        "token {tok} {:?} not allowed ({} allowed)",
                        String::from_utf8_lossy(self.env.vocab().token_bytes(tok)),
                        mask.count()
                    ),
                };
            }
            if let Err(e) = m.commit(tok) {
                if e.is_limit() {
                    return Drive::Failed {
                        pos,
                        error: e.to_string(),
                    };
                }
                return Drive::Blocked {
                    pos,
                    why: format!("commit error: {e}"),
                };
            }
        }
        if let Err(e) = m.try_compute_mask_into(mask) {
            return Drive::Failed {
                pos: tokens.len(),
                error: e.to_string(),
            };
        }
        let eos_ok = mask.contains(self.eos);
        let accepting = m.is_accepting();
        if eos_ok && accepting {
            Drive::Accepted
        } else {
            Drive::Blocked {
                pos: tokens.len(),
                why: format!("at end: eos_allowed={eos_ok} accepting={accepting}"),
            }
        }
    }

    fn run_case(&self, line: &str, tot: &mut Totals) -> Value {
        let case: Value = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(e) => {
                let e = json_error_message(&e);
                return json!({"id": Value::Null, "status": "error", "compile_us": Value::Null, "tokens": 0,
                              "mask_us": Value::Null, "error": format!("bad case line: {e}")});
            }
        };
        let id = match case.get("id") {
            Some(Value::String(s)) => Value::String(s.clone()),
            Some(v) => Value::String(v.to_string()),
            None => Value::Null,
        };
        let strings = |k: &str| -> Result<Vec<String>, String> {
            match case.get(k) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or(format!("{k} must hold strings"))
                    })
                    .collect(),
                _ => Err(format!("{k} must be an array")),
            }
        };
        let (valid, invalid) = match (
            strings("valid"),
            strings("invalid"),
            case.get("kind").and_then(Value::as_str),
        ) {
            (Ok(v), Ok(i), Some(_)) => (v, i),
            (Err(e), _, _) | (_, Err(e), _) => {
                return json!({"id": id, "status": "error", "compile_us": Value::Null, "tokens": 0,
                              "mask_us": Value::Null, "error": format!("bad case line: {e}")})
            }
            (_, _, None) => {
                return json!({"id": id, "status": "error", "compile_us": Value::Null, "tokens": 0,
                              "mask_us": Value::Null, "error": "bad case line: missing kind"})
            }
        };
        let kind = case["kind"].as_str().unwrap();
        let grammar = case.get("grammar").cloned().unwrap_or(Value::Null);

        let start = case
            .get("start")
            .or_else(|| case.get("root"))
            .and_then(Value::as_str);

        let t0 = Instant::now();
        let compiled = self.compile(kind, &grammar, start);
        let compile_us = t0.elapsed().as_nanos() as f64 / 1000.0;
        let template = match compiled {
            Ok(m) => m,
            // A schema no value satisfies compiles to "reject everything":
            // that is right when the case has no valid instance.
            Err(e) if e.starts_with("the grammar's language is empty") => {
                tot.compile_us.push(compile_us);
                let status = if valid.is_empty() {
                    "ok"
                } else {
                    "rejected_valid"
                };
                tot.valid_total += valid.len();
                tot.invalid_blocked += invalid.len();
                tot.invalid_total += invalid.len();
                return json!({"id": id, "status": status, "compile_us": r1(compile_us),
                              "tokens": 0, "mask_us": Value::Null,
                              "valid": [0, valid.len()], "invalid": [invalid.len(), invalid.len()],
                              "error": shorten(&e, 600)});
            }
            Err(e) => {
                return json!({"id": id, "status": "unsupported", "compile_us": r1(compile_us),
                              "tokens": 0, "mask_us": Value::Null, "error": shorten(&e, 600)})
            }
        };
        tot.compile_us.push(compile_us);
        let label = id.as_str().unwrap_or("(no id)").to_string();
        let budget_warnings = template.env().budget_warnings(template.grammar()).to_vec();
        if !budget_warnings.is_empty() {
            tot.budget_trouble += 1;
        }

        let mut mask = TokenMask::new(self.env.vocab().logits_width());
        let mut times = Vec::new();
        let mut first_error: Option<String> = None;
        let (mut rejected_valid, mut accepted_invalid, mut valid_ok, mut invalid_blocked) =
            (0, 0, 0, 0);
        let mut first_mask_us: Option<f64> = None;
        let mut failed = false;
        let mut mask_work = 0u64;
        for (i, text) in valid.iter().enumerate() {
            let toks = match self.env.vocab().encode(text) {
                Ok(t) => t,
                Err(e) => {
                    first_error.get_or_insert(format!("valid[{i}]: {e}"));
                    continue;
                }
            };
            let before = times.len();
            let r = self.drive(
                &label,
                &template,
                &toks,
                &mut times,
                &mut mask,
                &mut mask_work,
            );
            if first_mask_us.is_none() && times.len() > before {
                first_mask_us = Some(times[before]);
            }
            match r {
                Drive::Accepted => valid_ok += 1,
                Drive::Failed { pos, error } => {
                    failed = true;
                    first_error.get_or_insert(format!(
                        "valid[{i}] at token {pos}/{}: {}",
                        toks.len(),
                        shorten(&error, 600)
                    ));
                }
                Drive::Blocked { pos, why } => {
                    rejected_valid += 1;
                    first_error.get_or_insert(format!(
                        "rejected_valid: valid[{i}] at token {pos}/{}: {}",
                        toks.len(),
                        shorten(&why, 300)
                    ));
                }
            }
        }
        let mut inv_times = Vec::new();
        for (i, text) in invalid.iter().enumerate() {
            let toks = match self.env.vocab().encode(text) {
                Ok(t) => t,
                Err(e) => {
                    first_error.get_or_insert(format!("invalid[{i}]: {e}"));
                    continue;
                }
            };
            match self.drive(
                &label,
                &template,
                &toks,
                &mut inv_times,
                &mut mask,
                &mut mask_work,
            ) {
                Drive::Accepted => {
                    accepted_invalid += 1;
                    first_error.get_or_insert(format!(
                        "accepted_invalid: invalid[{i}] {}",
                        shorten(text, 200)
                    ));
                }
                Drive::Blocked { .. } => invalid_blocked += 1,
                Drive::Failed { pos, error } => {
                    failed = true;
                    first_error.get_or_insert(format!(
                        "invalid[{i}] at token {pos}/{}: {}",
                        toks.len(),
                        shorten(&error, 600)
                    ));
                }
            }
        }
        let status = if failed {
            "error"
        } else if rejected_valid > 0 {
            "rejected_valid"
        } else if accepted_invalid > 0 {
            "accepted_invalid"
        } else if first_error.is_some() {
            "error"
        } else {
            "ok"
        };
        tot.valid_ok += valid_ok;
        tot.valid_total += valid.len();
        tot.invalid_blocked += invalid_blocked;
        tot.invalid_total += invalid.len();
        tot.mask_us.extend_from_slice(&times);
        let mut out = json!({
            "id": id, "status": status, "compile_us": r1(compile_us), "tokens": times.len(),
            "mask_us": stats_json(&times), "first_mask_us": first_mask_us.map(r1),
            "valid": [valid_ok, valid.len()], "invalid": [invalid_blocked, invalid.len()],
            "work": {"compile": template.grammar().compile_work(), "mask_max": mask_work},
        });
        if !budget_warnings.is_empty() {
            out["budget_warnings"] = json!(budget_warnings);
        }
        if let Some(e) = first_error {
            out["error"] = Value::String(e);
        }
        out
    }

    /// Runs every case of `input`, writing result lines to `out` and the
    /// SUMMARY line to stderr.
    fn run(
        &self,
        input: impl BufRead,
        out: &mut dyn Write,
        limit: Option<usize>,
    ) -> std::io::Result<()> {
        // Untimed warm-up, as the peer harness does.
        if let Ok(m) = self.compile("json_schema", &json!({}), None) {
            if let Ok(toks) = self
                .env
                .vocab()
                .encode(r#"{"a": "warm up", "b": [1, 2.5]}"#)
            {
                let mut mask = TokenMask::new(self.env.vocab().logits_width());
                let _ = self.drive("warm-up", &m, &toks, &mut Vec::new(), &mut mask, &mut 0);
            }
        }
        let mut tot = Totals::default();
        let wall = Instant::now();
        let mut input = input;
        while let Some(line) = read_case_line(&mut input)? {
            if line.trim().is_empty() {
                continue;
            }
            if limit.is_some_and(|n| tot.cases >= n) {
                break;
            }
            tot.cases += 1;
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.run_case(&line, &mut tot)
            }))
            .unwrap_or_else(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                let id = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id").cloned());
                json!({"id": id, "status": "error", "compile_us": Value::Null, "tokens": 0,
                           "mask_us": Value::Null, "error": format!("panic: {msg}")})
            });
            *tot.by_status
                .entry(res["status"].as_str().unwrap_or("error").to_string())
                .or_default() += 1;
            writeln!(out, "{}", serde_json::to_string(&res)?)?;
            out.flush()?;
        }
        let mut c = tot.compile_us.clone();
        c.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let m = stats_json(&tot.mask_us);
        let g = |k: &str| tot.by_status.get(k).copied().unwrap_or(0);
        // Written like this rather than with `eprintln!`, which panics when
        // stderr is a closed pipe.
        let _ = writeln!(
            std::io::stderr(),
            "SUMMARY cases={} ok={} unsupported={} rejected_valid={} accepted_invalid={} error={} \
             valid_ok={}/{} invalid_blocked={}/{} tokens={} compile_us p50={:.1} p99={:.1} \
             mask_us mean={} p50={} p99={} p999={} max={} wall_s={:.1} budget_trouble={}",
            tot.cases,
            g("ok"),
            g("unsupported"),
            g("rejected_valid"),
            g("accepted_invalid"),
            g("error"),
            tot.valid_ok,
            tot.valid_total,
            tot.invalid_blocked,
            tot.invalid_total,
            tot.mask_us.len(),
            pct(&c, 50.0),
            pct(&c, 99.0),
            m["mean"],
            m["p50"],
            m["p99"],
            m["p999"],
            m["max"],
            wall.elapsed().as_secs_f64(),
            tot.budget_trouble
        );
        Ok(())
    }
}

/// `formwork bench`: checks the flags, loads the tokenizer and runs the case
/// file.
pub fn command(a: BenchArgs, given: &Given) -> Result<(), Failure> {
    let BenchArgs {
        tokenizer,
        cases,
        out,
        limit,
        eos,
        cold,
        show_slow,
        schema_flags,
        budget,
    } = a;
    given.refuse(&[("lenient", "--lenient")], |_| {
        "--lenient does not apply to bench: every case is compiled strictly, and a \
         schema that cannot be enforced is reported as unsupported"
            .into()
    })?;
    schema_flags.check(Whitespace::Flexible)?;
    let vocab = load_vocab(&tokenizer, &eos.iter().cloned().collect::<Vec<_>>())?;
    let eos_id = vocab.eos_tokens()[0];
    let env = Arc::new(TokenEnv::new(vocab));
    let (vocab, trie) = (env.vocab(), env.trie());
    note!(
        "formwork bench | tokenizer {tokenizer} vocab={} eos={eos_id} {:?} | trie nodes={}",
        vocab.len(),
        vocab.token_name(eos_id),
        trie.node_count()
    );
    let bench = Bench {
        env: env.clone(),
        eos: eos_id,
        schema_options: schema_flags.options(Whitespace::Flexible)?,
        cold,
        show_slow,
        budget: budget.budget(),
    };
    let input =
        BufReader::new(std::fs::File::open(&cases).map_err(|e| format!("open {cases}: {e}"))?);
    match out {
        Some(p) => {
            let mut w = std::io::BufWriter::new(
                std::fs::File::create(&p).map_err(|e| format!("create {p}: {e}"))?,
            );
            bench
                .run(input, &mut w, limit)
                .map_err(|e| format!("bench ({cases} to {p}): {e}").into())
        }
        None => {
            let mut w = std::io::stdout().lock();
            bench.run(input, &mut w, limit).map_err(|e| {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    Failure::StdoutClosed
                } else {
                    Failure::Error(format!("bench ({cases}): {e}"))
                }
            })
        }
    }
}
