//! The `formwork` command line.

use clap::{Parser, Subcommand};
use formwork::frontend::schema::{
    compile_lenient, compile_with, FormatMode, PropertyOrder, SchemaOptions, Spelling, Whitespace,
};
use formwork::{
    bench::Bench, grammar::Grammar, pest_grammar, regex_grammar, CompiledGrammar, Matcher,
    TokenTrie, Vocabulary,
};
use std::io::BufReader;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "formwork",
    version,
    about = "Constrained decoding: token masks from regexes, JSON and grammars"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show, token by token, how many tokens the constraint allows and whether
    /// the text's own tokens are among them.
    Mask {
        /// Hugging Face tokenizer.json (plain or .gz).
        #[arg(long)]
        tokenizer: String,
        #[command(flatten)]
        constraint: ConstraintArgs,
        /// The text to check.
        #[arg(long)]
        text: String,
        /// EOS token name(s) or id(s), replacing the defaults.
        #[arg(long)]
        eos: Vec<String>,
    },
    /// Generate text with a GGUF model (the default model is fetched on
    /// first use), constrained by a JSON Schema or a regex.
    #[cfg(feature = "model")]
    Generate(GenerateArgs),
    /// Repair malformed JSON read from stdin (code fences, comments, single
    /// quotes, trailing commas, truncation, Python literals, ...) and print it.
    Repair {
        /// List the fixes made on stderr.
        #[arg(long)]
        verbose: bool,
        /// Fit the value to this JSON Schema (file path or inline JSON):
        /// coerce types where unambiguous, drop forbidden properties, fill
        /// defaults; each change is listed on stderr.
        #[arg(long)]
        schema: Option<String>,
        /// With --schema: also fill missing required properties and map
        /// arrays to objects (json_repair's "salvage" mode).
        #[arg(long, requires = "schema")]
        salvage: bool,
    },
    /// Print N random strings of a constraint's language, one JSON string per
    /// line, drawn through the matcher with seeded random logits.
    Fuzz {
        #[command(flatten)]
        constraint: ConstraintArgs,
        /// Number of strings.
        #[arg(short = 'n', long = "count", default_value_t = 10)]
        n: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Aim at strings of at most this many bytes.
        #[arg(long, default_value_t = 200)]
        max_len: usize,
        /// Draw tokens of this tokenizer instead of single bytes.
        #[arg(long)]
        tokenizer: Option<String>,
        /// Most masks plus commits one string may take; past it the command
        /// stops with an error instead of running on.
        #[arg(long, default_value_t = formwork::fuzzer::FuzzConfig::new().get_work_budget())]
        work_budget: u64,
    },
    /// Run the shared benchmark protocol (peer-bench/README.md) on a case file.
    Bench {
        #[arg(long)]
        tokenizer: String,
        #[arg(long)]
        cases: String,
        /// Per-case results (JSON lines); default stdout.
        #[arg(long)]
        out: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
        /// EOS token (name or id) checked at the end of each instance.
        #[arg(long)]
        eos: Option<String>,
        /// Empty the process-wide lexeme DFA cache before each case (compile
        /// times as a process compiling one grammar sees them).
        #[arg(long)]
        cold: bool,
        #[command(flatten)]
        schema_flags: SchemaFlags,
    },
}

/// How JSON Schemas are compiled.
#[derive(clap::Args, Clone, Debug, Default)]
struct SchemaFlags {
    /// Whitespace between JSON tokens: compact (none) or flexible (any).
    /// Default: compact for generate, flexible for mask and bench.
    #[arg(long, value_parser = ["compact", "flexible"])]
    whitespace: Option<String>,
    /// `format`: assert (strings must be valid dates, emails, ...) or
    /// annotate (ignored, as draft 2020-12 says by default).
    #[arg(long, value_parser = ["assert", "annotate"], default_value = "assert")]
    format: String,
    /// Property order: schema (the order of `properties`) or any.
    /// Default: schema for generate, any for mask and bench.
    #[arg(long, value_parser = ["schema", "any"])]
    property_order: Option<String>,
    /// Spellings accepted: any (every JSON spelling of every value) or
    /// canonical (keys as serde_json writes them, so fast-forward can force
    /// whole keys; integers as plain digits). Default: canonical for
    /// generate, any for mask and bench.
    #[arg(long, value_parser = ["any", "canonical"])]
    spelling: Option<String>,
    /// With flexible whitespace: the longest run of whitespace between two
    /// JSON tokens (default: no limit).
    #[arg(long)]
    max_whitespace: Option<u32>,
    /// Leave out keywords that cannot be enforced (each is printed as a
    /// warning on stderr) instead of failing; the output may then not
    /// validate.
    #[arg(long)]
    lenient: bool,
    /// A remote document for `$ref`s outside the schema: `URI=FILE` (the
    /// schema at FILE stands for the absolute URI). Repeatable.
    #[arg(long, value_name = "URI=FILE")]
    remote: Vec<String>,
}

impl SchemaFlags {
    /// Options for checking documents (mask, bench) or for generating.
    fn options(&self, default_ws: Whitespace) -> Result<SchemaOptions, String> {
        let checking = default_ws == Whitespace::Flexible;
        let mut remote = std::collections::BTreeMap::new();
        for r in &self.remote {
            let (uri, file) = r
                .split_once('=')
                .ok_or_else(|| format!("--remote {r:?}: expected URI=FILE"))?;
            let text =
                std::fs::read_to_string(file).map_err(|e| format!("--remote {file}: {e}"))?;
            let doc: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("--remote {file}: {e}"))?;
            remote.insert(uri.to_string(), doc);
        }
        Ok(SchemaOptions {
            remote,
            property_order: match self.property_order.as_deref() {
                Some("any") => PropertyOrder::Any,
                Some(_) => PropertyOrder::Schema,
                None if checking => PropertyOrder::Any,
                None => PropertyOrder::Schema,
            },
            whitespace: match self.whitespace.as_deref() {
                Some("compact") => Whitespace::Compact,
                Some("flexible") => Whitespace::Flexible,
                _ => default_ws,
            },
            max_whitespace: self.max_whitespace,
            spelling: match self.spelling.as_deref() {
                Some("any") => Spelling::Any,
                Some(_) => Spelling::Canonical,
                None if checking => Spelling::Any,
                None => Spelling::Canonical,
            },
            format: if self.format == "annotate" {
                FormatMode::Annotate
            } else {
                FormatMode::Assert
            },
        })
    }
}

/// One constraint: a JSON Schema, a regex or a pest grammar.
#[derive(clap::Args, Clone, Default)]
struct ConstraintArgs {
    /// JSON Schema the output must validate against (file path or inline JSON).
    #[arg(long, conflicts_with_all = ["regex", "grammar"])]
    schema: Option<String>,
    #[command(flatten)]
    schema_flags: SchemaFlags,
    /// Regex the whole output must match.
    #[arg(long, conflicts_with = "grammar")]
    regex: Option<String>,
    /// Pest grammar file (e.g. grammars/sql.pest).
    #[arg(long)]
    grammar: Option<String>,
    /// Start rule of the pest grammar (default: its first rule).
    #[arg(long, requires = "grammar")]
    start: Option<String>,
    /// SQLite CREATE TABLE statements: restrict the grammar's `table_name`
    /// and `column_name` rules to this database's names.
    #[arg(long, requires = "grammar")]
    sql_schema: Option<String>,
    /// With --sql-schema: single-table SELECTs whose every column belongs to
    /// the table in FROM, so the query compiles as far as names go (no joins,
    /// aliases or UNION; see `frontend::sql::scope_to_tables`).
    #[arg(long, requires = "sql_schema")]
    sql_scoped: bool,
}

impl ConstraintArgs {
    /// The constraint's grammar, or `None` if no constraint was given.
    /// `default_ws`: JSON whitespace unless `--whitespace` says otherwise.
    fn grammar(&self, default_ws: Whitespace) -> Result<Option<Grammar>, String> {
        let g = match (&self.schema, &self.regex, &self.grammar) {
            (Some(s), None, None) if self.schema_flags.lenient => {
                compile_lenient(&schema_arg(s)?, &self.schema_flags.options(default_ws)?).map(
                    |(g, warnings)| {
                        for w in warnings {
                            eprintln!("formwork: warning: {w}");
                        }
                        g
                    },
                )
            }
            (Some(s), None, None) => {
                compile_with(&schema_arg(s)?, &self.schema_flags.options(default_ws)?)
            }
            (None, Some(r), None) => regex_grammar(r),
            (None, None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read grammar file {path}: {e}"))?;
                let mut g = pest_grammar(&text, self.start.as_deref())
                    .map_err(|e| format!("{path}: {e}"))?;
                if let Some(ddl) = &self.sql_schema {
                    use formwork::frontend::sql::{restrict_to_schema, SqlSchema};
                    let ddl = std::fs::read_to_string(ddl)
                        .map_err(|e| format!("cannot read SQL schema file {ddl}: {e}"))?;
                    let schema = SqlSchema::parse(&ddl).map_err(|e| e.to_string())?;
                    restrict_to_schema(&mut g, &schema).map_err(|e| e.to_string())?;
                    if self.sql_scoped {
                        formwork::frontend::sql::scope_to_tables(&mut g, &schema)
                            .map_err(|e| e.to_string())?;
                    }
                }
                Ok(g)
            }
            (None, None, None) => return Ok(None),
            _ => return Err("give at most one of --schema, --regex, --grammar".into()),
        };
        g.map(Some).map_err(|e| e.to_string())
    }
}

#[cfg(feature = "model")]
#[derive(clap::Args)]
struct GenerateArgs {
    #[command(flatten)]
    constraint: ConstraintArgs,
    /// The user's prompt (the model's chat template is applied unless --raw).
    #[arg(long)]
    prompt: String,
    /// GGUF model file; default: SmolLM2-135M-Instruct, fetched on first use.
    #[arg(long)]
    model: Option<String>,
    /// tokenizer.json to use instead of the one inside the GGUF file.
    #[arg(long)]
    tokenizer: Option<String>,
    #[arg(long, default_value_t = 256)]
    max_tokens: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// 0 = greedy.
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    #[arg(long)]
    top_k: Option<usize>,
    #[arg(long)]
    top_p: Option<f32>,
    /// Number of samples (seeds seed, seed+1, ...).
    #[arg(long, default_value_t = 1)]
    n: usize,
    /// How to choose among the samples: best (mean logprob) or vote.
    #[arg(long, default_value = "best")]
    select: String,
    /// Stop string (unconstrained generation only); repeatable.
    #[arg(long)]
    stop: Vec<String>,
    /// Report this many alternatives with logprobs per token (with --json).
    #[arg(long, default_value_t = 0)]
    top_logprobs: usize,
    /// System message for the chat template.
    #[arg(long)]
    system: Option<String>,
    /// Use the prompt as it is, without the chat template.
    #[arg(long)]
    raw: bool,
    /// Feed forced tokens one at a time (for measuring fast-forward).
    #[arg(long)]
    no_fast_forward: bool,
    /// Let --max-tokens cut a constrained output short (it is then reported
    /// as incomplete) instead of closing it with its shortest completion.
    #[arg(long)]
    no_close: bool,
    /// Print text, logprobs, token counts and timings as JSON.
    #[arg(long)]
    json: bool,
    /// `retry`: generate without masks, then parse, repair and validate
    /// against --schema, retrying with the errors in the prompt (see --retries).
    #[arg(long, requires = "schema")]
    fallback: Option<String>,
    /// With --fallback retry: retries after the first attempt.
    #[arg(long, default_value_t = 2, requires = "fallback")]
    retries: usize,
}

#[cfg(feature = "model")]
fn generate(a: GenerateArgs) -> Result<bool, String> {
    use formwork::generate::{GenerateOptions, Generator, Select};
    use formwork::model::{apply_chat_template, default_model_path, GgufModel};
    use formwork::sampler::SamplerConfig;
    use std::time::Instant;
    let select = match a.select.as_str() {
        "best" => Select::Best,
        "vote" => Select::Vote,
        other => return Err(format!("--select {other:?}: use best or vote")),
    };
    let grammar = a.constraint.grammar(Whitespace::Compact)?;
    let grammar = match grammar {
        Some(g) => Some(Arc::new(
            CompiledGrammar::new(&g).map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let path = match &a.model {
        Some(p) => std::path::PathBuf::from(p),
        None => default_model_path().map_err(|e| e.to_string())?,
    };
    let t = Instant::now();
    eprintln!("formwork: loading {} ...", path.display());
    let model = GgufModel::load(&path).map_err(|e| e.to_string())?;
    let template = model.chat_template().map(str::to_string);
    let vocab = match &a.tokenizer {
        Some(tk) => Vocabulary::from_file(tk).map_err(|e| e.to_string())?,
        None => model.vocabulary().map_err(|e| e.to_string())?,
    };
    let mut gen = Generator::builder(model)
        .vocabulary(vocab)
        .build()
        .map_err(|e| e.to_string())?;
    eprintln!(
        "formwork: model ready in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    if let Some(f) = &a.fallback {
        if f != "retry" {
            return Err(format!("--fallback {f:?}: the only fallback is `retry`"));
        }
        return generate_fallback(&a, gen, template);
    }
    let prompt = if a.raw {
        a.prompt.clone()
    } else {
        apply_chat_template(template.as_deref(), a.system.as_deref(), &a.prompt)
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
    };
    let (outs, pick) = gen
        .generate_n(&prompt, grammar, &opts, a.n, select)
        .map_err(|e| e.to_string())?;
    let g = &outs[pick];
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
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
    } else {
        println!("{}", g.text);
    }
    if g.stop == formwork::generate::StopReason::Closed {
        eprintln!(
            "formwork: --max-tokens {} was near, so the output was closed with its shortest completion",
            a.max_tokens
        );
    }
    if !g.complete {
        eprintln!(
            "formwork: the output was cut short by --max-tokens {} and is NOT complete under the constraint",
            a.max_tokens
        );
    }
    Ok(g.complete)
}

/// `generate --fallback retry`: unconstrained generation through
/// [`formwork::fallback::Fallback`].
#[cfg(feature = "model")]
fn generate_fallback(
    a: &GenerateArgs,
    generator: formwork::generate::Generator<formwork::model::GgufModel>,
    template: Option<String>,
) -> Result<bool, String> {
    use formwork::fallback::{Fallback, FallbackError, ModelBackend};
    use formwork::generate::GenerateOptions;
    use formwork::sampler::SamplerConfig;
    let schema = schema_arg(a.constraint.schema.as_deref().unwrap_or("true"))?;
    let fb = Fallback::new(&schema)
        .map_err(|e| e.to_string())?
        .retries(a.retries);
    let mut backend = ModelBackend {
        generator,
        template: if a.raw { None } else { template },
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
        },
        tokens: 0,
    };
    match fb.run(&mut backend, &a.prompt) {
        Ok(ok) => {
            for (i, at) in ok.history.iter().enumerate() {
                eprintln!(
                    "formwork: attempt {} ({:.1} s): {}",
                    i + 1,
                    at.elapsed.as_secs_f64(),
                    at.stage
                        .map_or_else(|| at.errors.join("; "), |s| format!("valid ({s})"))
                );
            }
            for c in &ok.changes {
                eprintln!("formwork: schema-guided change {c}");
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
                println!("{}", serde_json::to_string_pretty(&out).unwrap());
            } else {
                println!("{}", serde_json::to_string_pretty(&ok.value).unwrap());
            }
            Ok(true)
        }
        Err(FallbackError::Exhausted { history }) => {
            for (i, at) in history.iter().enumerate() {
                eprintln!(
                    "formwork: attempt {} invalid: {}",
                    i + 1,
                    at.errors.join("; ")
                );
            }
            Err(format!(
                "no valid output after {} attempt(s); raise --retries or drop --fallback to use constrained decoding",
                history.len()
            ))
        }
        Err(e) => Err(e.to_string()),
    }
}

fn load_vocab(path: &str, eos: &[String]) -> Result<Vocabulary, String> {
    let v = Vocabulary::from_file(path).map_err(|e| e.to_string())?;
    if eos.is_empty() {
        Ok(v)
    } else {
        let names: Vec<&str> = eos.iter().map(String::as_str).collect();
        v.with_eos(&names).map_err(|e| e.to_string())
    }
}

fn schema_arg(s: &str) -> Result<serde_json::Value, String> {
    let text =
        if s.trim_start().starts_with(['{', '[']) || s.trim() == "true" || s.trim() == "false" {
            s.to_string()
        } else {
            std::fs::read_to_string(s).map_err(|e| format!("cannot read schema file {s}: {e}"))?
        };
    serde_json::from_str(&text).map_err(|e| format!("schema {s} is not valid JSON: {e}"))
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Repair {
            verbose,
            schema,
            salvage,
        } => {
            use formwork::repair::{repair_with_schema, SchemaMode};
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            let nothing = |e| format!("nothing to recover: {e}");
            let (value, fixes, changes, mismatches) = match schema {
                Some(s) => {
                    let mode = if salvage {
                        SchemaMode::Salvage
                    } else {
                        SchemaMode::Standard
                    };
                    let r = repair_with_schema(&text, &schema_arg(&s)?, mode).map_err(nothing)?;
                    (r.value, r.fixes, r.changes, r.mismatches)
                }
                None => {
                    let r = formwork::repair::repair(&text).map_err(nothing)?;
                    (r.value, r.fixes, Vec::new(), Vec::new())
                }
            };
            if verbose {
                for f in &fixes {
                    eprintln!("fix: {f:?}");
                }
            }
            for c in &changes {
                eprintln!("schema: {c}");
            }
            for m in &mismatches {
                eprintln!("warning: does not fit the schema: {m}");
            }
            println!("{}", serde_json::to_string_pretty(&value).unwrap());
            Ok(())
        }
        #[cfg(feature = "model")]
        Cmd::Generate(a) => match generate(a)? {
            true => Ok(()),
            false => Err("incomplete output (raise --max-tokens)".into()),
        },
        Cmd::Mask {
            tokenizer,
            constraint,
            text,
            eos,
        } => {
            let vocab = Arc::new(load_vocab(&tokenizer, &eos)?);
            let trie = Arc::new(TokenTrie::new(&vocab));
            let g = constraint
                .grammar(Whitespace::Flexible)?
                .ok_or("give one of --regex, --schema or --grammar")?;
            let g = Arc::new(CompiledGrammar::new(&g).map_err(|e| e.to_string())?);
            let mut m = Matcher::new(g, vocab.clone(), trie);
            let toks = vocab.encode(&text).map_err(|e| e.to_string())?;
            println!("{:>5}  {:>8}  {:>7}  token", "step", "allowed", "ok");
            for (i, &t) in toks.iter().enumerate() {
                let mask = m.compute_mask();
                let ok = mask.contains(t);
                println!(
                    "{i:>5}  {:>8}  {:>7}  {t} {:?}",
                    mask.count(),
                    if ok { "yes" } else { "NO" },
                    String::from_utf8_lossy(vocab.token_bytes(t))
                );
                if !ok {
                    return Err(format!(
                        "token {i} ({t}) is not allowed; the text does not match the constraint"
                    ));
                }
                m.commit(t).map_err(|e| e.to_string())?;
            }
            let mask = m.compute_mask();
            let eos_ok = vocab.eos_tokens().iter().any(|&e| mask.contains(e));
            println!(
                "  end  {:>8}  {:>7}  EOS",
                mask.count(),
                if eos_ok { "yes" } else { "NO" }
            );
            if !eos_ok {
                return Err("the text is a valid prefix but not complete (EOS not allowed)".into());
            }
            Ok(())
        }
        Cmd::Fuzz {
            constraint,
            n,
            seed,
            max_len,
            tokenizer,
            work_budget,
        } => {
            use formwork::fuzzer::{FuzzConfig, Fuzzer};
            use std::io::Write;
            let g = constraint
                .grammar(Whitespace::Compact)?
                .ok_or("give one of --grammar, --schema or --regex")?;
            let g = Arc::new(CompiledGrammar::new(&g).map_err(|e| e.to_string())?);
            let config = FuzzConfig::new().max_len(max_len).work_budget(work_budget);
            let mut f = match tokenizer {
                Some(t) => {
                    let vocab = Arc::new(load_vocab(&t, &[])?);
                    let trie = Arc::new(TokenTrie::new(&vocab));
                    Fuzzer::with_vocabulary_config(g, vocab, trie, seed, config)
                }
                None => Fuzzer::with_config(g, seed, config),
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for i in 0..n {
                let s = f
                    .sample()
                    .map_err(|e| format!("fuzz: string {} of {n}: {e}", i + 1))?;
                writeln!(out, "{}", serde_json::Value::String(s))
                    .map_err(|e| format!("cannot write: {e}"))?;
            }
            out.flush().map_err(|e| format!("cannot write: {e}"))
        }
        Cmd::Bench {
            tokenizer,
            cases,
            out,
            limit,
            eos,
            cold,
            schema_flags,
        } => {
            let vocab = load_vocab(&tokenizer, &eos.iter().cloned().collect::<Vec<_>>())?;
            let eos_id = vocab.eos_tokens()[0];
            let vocab = Arc::new(vocab);
            let trie = Arc::new(TokenTrie::new(&vocab));
            eprintln!(
                "formwork bench | tokenizer {tokenizer} vocab={} eos={eos_id} {:?} | trie nodes={}",
                vocab.len(),
                vocab.token_name(eos_id),
                trie.node_count()
            );
            let bench = Bench {
                vocab,
                trie,
                eos: eos_id,
                schema_options: schema_flags.options(Whitespace::Flexible)?,
                cold,
            };
            let input = BufReader::new(
                std::fs::File::open(&cases).map_err(|e| format!("open {cases}: {e}"))?,
            );
            let mut w: Box<dyn std::io::Write> = match out {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(&p).map_err(|e| format!("create {p}: {e}"))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            bench.run(input, &mut *w, limit).map_err(|e| e.to_string())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
