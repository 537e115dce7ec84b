//! The `formwork` command line.

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use formwork::error::json_error_message;
use formwork::frontend::schema::{
    compile, compile_lenient, FormatMode, PropertyOrder, SchemaOptions, Spelling, Whitespace,
};
use formwork::{
    bench::Bench, grammar::Grammar, pest_grammar, regex_grammar, CompiledGrammar, Matcher,
    TokenTrie, Vocabulary,
};
use output::{note, Failure, Out};
use std::io::BufReader;
use std::process::ExitCode;
use std::sync::Arc;

/// Output that never panics: stdout errors become [`Failure`]s, and a reader
/// that goes away (`formwork fuzz ... | head`) ends the program quietly, as
/// ripgrep does; stderr notes are best-effort.
mod output {
    use std::io::{self, Write};

    /// How a run that did not succeed ends.
    pub enum Failure {
        /// Reported on stderr as `error: ...`, exit code 1.
        Error(String),
        /// Whoever read stdout closed it: stop quietly, exit code 0.
        StdoutClosed,
    }

    impl From<String> for Failure {
        fn from(e: String) -> Failure {
            Failure::Error(e)
        }
    }

    impl From<&str> for Failure {
        fn from(e: &str) -> Failure {
            Failure::Error(e.to_string())
        }
    }

    /// A failed write to stdout.
    pub fn stdout_error(e: io::Error) -> Failure {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::StdoutClosed
        } else {
            Failure::Error(format!("cannot write to stdout: {e}"))
        }
    }

    /// Line-buffered stdout: each line reaches the reader as it is written,
    /// so `fuzz -n 1000000 | head` sees its first lines at once.
    pub struct Out(io::LineWriter<io::StdoutLock<'static>>);

    impl Out {
        pub fn new() -> Out {
            Out(io::LineWriter::new(io::stdout().lock()))
        }

        /// Writes `line` and a newline.
        pub fn line(&mut self, line: impl std::fmt::Display) -> Result<(), Failure> {
            writeln!(self.0, "{line}").map_err(stdout_error)
        }

        pub fn flush(&mut self) -> Result<(), Failure> {
            self.0.flush().map_err(stdout_error)
        }
    }

    /// `eprintln!` without the panic when stderr is gone: a note that cannot
    /// be written has nowhere else to go.
    macro_rules! note {
        ($($arg:tt)*) => {{
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), $($arg)*);
        }};
    }
    pub(crate) use note;
}

/// The flags given on a subcommand's command line (not defaulted), so that a
/// flag that would have no effect is refused instead of silently ignored.
struct Given<'a>(Option<&'a ArgMatches>);

impl Given<'_> {
    fn has(&self, id: &str) -> bool {
        self.0.is_some_and(|m| {
            matches!(
                m.value_source(id),
                Some(clap::parser::ValueSource::CommandLine)
            )
        })
    }

    /// `Err` naming the first of `flags` (`(id, "--flag")`) that was given.
    fn refuse(&self, flags: &[(&str, &str)], why: impl Fn(&str) -> String) -> Result<(), String> {
        match flags.iter().find(|(id, _)| self.has(id)) {
            Some((_, flag)) => Err(why(flag)),
            None => Ok(()),
        }
    }
}

/// The flags of [`SchemaFlags`], as `(id, flag)`.
const SCHEMA_FLAGS: &[(&str, &str)] = &[
    ("whitespace", "--whitespace"),
    ("format", "--format"),
    ("property_order", "--property-order"),
    ("spelling", "--spelling"),
    ("max_whitespace", "--max-whitespace"),
    ("lenient", "--lenient"),
    ("remote", "--remote"),
];

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
        /// Number of strings (each line is written as it is drawn, so a
        /// large count can be cut short with `| head` or Ctrl-C).
        #[arg(short = 'n', long = "count", default_value_t = 10)]
        n: u64,
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
        #[command(flatten)]
        budget: BudgetFlags,
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
    /// Refuses flags that would have no effect with these settings.
    fn check(&self, default_ws: Whitespace) -> Result<(), String> {
        let flexible = match self.whitespace.as_deref() {
            Some(w) => w == "flexible",
            None => default_ws == Whitespace::Flexible,
        };
        if self.max_whitespace.is_some() && !flexible {
            return Err(
                "--max-whitespace limits flexible whitespace, but the whitespace here is \
                        compact; add --whitespace flexible or drop --max-whitespace"
                    .into(),
            );
        }
        match self.remote.iter().find(|r| !r.contains('=')) {
            Some(r) => Err(format!("--remote {r:?}: expected URI=FILE")),
            None => Ok(()),
        }
    }

    /// Options for checking documents (mask, bench) or for generating.
    fn options(&self, default_ws: Whitespace) -> Result<SchemaOptions, String> {
        let checking = default_ws == Whitespace::Flexible;
        let mut remote = std::collections::BTreeMap::new();
        for r in &self.remote {
            let (uri, file) = r
                .split_once('=')
                .ok_or_else(|| format!("--remote {r:?}: expected URI=FILE"))?;
            let text = read_file(file).map_err(|e| format!("--remote {file}: {e}"))?;
            let doc: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("--remote {file}: {}", json_error_message(&e)))?;
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
    #[command(flatten)]
    budget: BudgetFlags,
}

/// Work budgets (see `formwork::budget`), in work units.
#[derive(clap::Args, Clone, Debug, Default)]
struct BudgetFlags {
    /// Work units compiling the constraint may use [default: 500000000].
    #[arg(long, value_name = "UNITS")]
    compile_budget: Option<u64>,
    /// Work units one mask or commit may use [default: 200000000].
    #[arg(long, value_name = "UNITS")]
    mask_budget: Option<u64>,
    /// Work units one search for a completion (closing an output before
    /// --max-tokens) may use [default: 100000000].
    #[arg(long, value_name = "UNITS")]
    completion_budget: Option<u64>,
}

impl BudgetFlags {
    fn budget(&self) -> formwork::budget::Budget {
        let mut b = formwork::budget::Budget::new();
        if let Some(u) = self.compile_budget {
            b = b.compile(u);
        }
        if let Some(u) = self.mask_budget {
            b = b.mask(u);
        }
        if let Some(u) = self.completion_budget {
            b = b.completion(u);
        }
        b
    }
}

impl ConstraintArgs {
    /// Refuses flags that do not apply to the constraint given.
    fn check(&self, given: &Given, default_ws: Whitespace) -> Result<(), String> {
        if self.schema.is_none() {
            given.refuse(SCHEMA_FLAGS, |flag| {
                format!("{flag} applies to --schema only; drop it or give a --schema")
            })?;
        } else {
            self.schema_flags.check(default_ws)?;
        }
        if self.grammar.is_none() {
            given.refuse(
                &[("start", "--start"), ("sql_schema", "--sql-schema")],
                |flag| format!("{flag} applies to --grammar (a pest grammar) only; drop it or give a --grammar"),
            )?;
        }
        if self.sql_schema.is_none() {
            given.refuse(&[("sql_scoped", "--sql-scoped")], |flag| {
                format!("{flag} applies with --sql-schema only")
            })?;
        }
        Ok(())
    }

    /// True if a constraint was given.
    fn is_some(&self) -> bool {
        self.schema.is_some() || self.regex.is_some() || self.grammar.is_some()
    }

    /// The constraint's grammar, or `None` if no constraint was given.
    /// `default_ws`: JSON whitespace unless `--whitespace` says otherwise.
    fn grammar(&self, default_ws: Whitespace) -> Result<Option<Grammar>, String> {
        let g = match (&self.schema, &self.regex, &self.grammar) {
            (Some(s), None, None) if self.schema_flags.lenient => {
                compile_lenient(&schema_arg(s)?, &self.schema_flags.options(default_ws)?).map(
                    |(g, warnings)| {
                        for w in warnings {
                            note!("formwork: warning: {w}");
                        }
                        g
                    },
                )
            }
            (Some(s), None, None) => {
                compile(&schema_arg(s)?, &self.schema_flags.options(default_ws)?)
            }
            (None, Some(r), None) => regex_grammar(r),
            (None, None, Some(path)) => {
                let text =
                    read_file(path).map_err(|e| format!("cannot read grammar file {path}: {e}"))?;
                let mut g = pest_grammar(&text, self.start.as_deref())
                    .map_err(|e| format!("{path}: {e}"))?;
                if let Some(ddl) = &self.sql_schema {
                    use formwork::frontend::sql::{restrict_to_schema, SqlSchema};
                    let ddl = read_file(ddl)
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
impl GenerateArgs {
    /// Refuses values out of range and flags that would have no effect.
    fn check(&self, given: &Given) -> Result<(), String> {
        self.constraint.check(given, Whitespace::Compact)?;
        let t = self.temperature;
        if !(t.is_finite() && t >= 0.0) {
            return Err(format!(
                "--temperature {t}: give a finite number, 0 (greedy) or more"
            ));
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(format!("--top-p {p}: give a number above 0 and at most 1"));
            }
        }
        if self.top_k == Some(0) {
            return Err("--top-k 0 would allow no token; give 1 or more".into());
        }
        if self.max_tokens == 0 {
            return Err("--max-tokens 0 would generate nothing; give 1 or more".into());
        }
        if self.n == 0 {
            return Err("--n 0 would generate nothing; give 1 or more samples".into());
        }
        if t == 0.0 {
            given.refuse(
                &[("top_k", "--top-k"), ("top_p", "--top-p"), ("seed", "--seed")],
                |flag| {
                    format!(
                        "{flag} applies when sampling, but --temperature 0 (the default) is greedy; \
                         add --temperature T above 0, or drop {flag}"
                    )
                },
            )?;
            if self.n > 1 {
                return Err(format!(
                    "--n {} with greedy decoding (--temperature 0, the default) gives {} identical \
                     samples; add --temperature T above 0",
                    self.n, self.n
                ));
            }
        }
        if self.top_logprobs > 0 && !self.json {
            return Err("--top-logprobs are reported in the --json output only; add --json".into());
        }
        if self.raw {
            given.refuse(&[("system", "--system")], |_| {
                "--system goes into the chat template, which --raw leaves out; drop one of them"
                    .into()
            })?;
        }
        if self.fallback.is_some() {
            let mut flags = vec![
                ("n", "--n"),
                ("select", "--select"),
                ("top_logprobs", "--top-logprobs"),
                ("no_fast_forward", "--no-fast-forward"),
                ("no_close", "--no-close"),
            ];
            flags.extend_from_slice(SCHEMA_FLAGS);
            return given.refuse(&flags, |flag| {
                format!(
                    "{flag} does not apply to --fallback retry (one unconstrained output, checked \
                     against --schema); drop {flag} or --fallback"
                )
            });
        }
        if !self.constraint.is_some() {
            given.refuse(
                &[
                    ("no_fast_forward", "--no-fast-forward"),
                    ("no_close", "--no-close"),
                ],
                |flag| {
                    format!(
                        "{flag} applies to constrained generation only (--schema, --regex or \
                         --grammar); drop it"
                    )
                },
            )?;
        }
        if self.n < 2 {
            given.refuse(&[("select", "--select")], |_| {
                "--select chooses among samples; add --n 2 or more".into()
            })?;
        }
        if self.constraint.is_some() && !self.stop.is_empty() {
            return Err(
                "--stop applies to unconstrained generation only: a constrained output \
                        ends where its constraint does; drop --stop or the constraint"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(feature = "model")]
fn generate(a: GenerateArgs, given: &Given) -> Result<bool, Failure> {
    use formwork::generate::{GenerateOptions, Generator, Select};
    use formwork::model::{
        apply_chat_template, chat_template_is_known, default_model_path, GgufModel,
    };
    use formwork::sampler::SamplerConfig;
    use std::time::Instant;
    a.check(given)?;
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
        None => default_model_path().map_err(|e| e.to_string())?,
    };
    let t = Instant::now();
    note!("formwork: loading {} ...", path.display());
    let model = GgufModel::load(&path).map_err(|e| e.to_string())?;
    let template = model.chat_template().map(str::to_string);
    if a.system.is_some() && !a.raw && !chat_template_is_known(template.as_deref()) {
        return Err(format!(
            "--system: the chat template of {} is missing or not recognised (ChatML and \
             Llama-2 [INST] are), so a system message has no place in the prompt; drop \
             --system, or write the whole prompt out with --raw",
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
        Out::new().line(serde_json::to_string_pretty(&out).unwrap())?;
    } else {
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
#[cfg(feature = "model")]
fn generate_fallback(
    a: &GenerateArgs,
    generator: formwork::generate::Generator<formwork::model::GgufModel>,
    template: Option<String>,
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

fn load_vocab(path: &str, eos: &[String]) -> Result<Vocabulary, String> {
    let v = Vocabulary::from_file(path).map_err(|e| e.to_string())?;
    if eos.is_empty() {
        Ok(v)
    } else {
        let names: Vec<&str> = eos.iter().map(String::as_str).collect();
        v.with_eos(&names).map_err(|e| e.to_string())
    }
}

/// The most read from one input file or stdin: 64 MiB, far above any real
/// schema, grammar or document to repair, and well within memory once parsed
/// (about ten times the text).
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Reads UTF-8 text of at most [`MAX_INPUT_BYTES`], through a bound rather
/// than by a reported size (`/dev/zero` and pipes have none).
fn read_text(r: impl std::io::Read) -> Result<String, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    r.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(format!(
            "larger than {} MiB, the most formwork reads",
            MAX_INPUT_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))
}

fn read_file(path: &str) -> Result<String, String> {
    read_text(std::fs::File::open(path).map_err(|e| e.to_string())?)
}

fn schema_arg(s: &str) -> Result<serde_json::Value, String> {
    let inline =
        s.trim_start().starts_with(['{', '[']) || s.trim() == "true" || s.trim() == "false";
    let (text, what) = if inline {
        (s.to_string(), "the --schema JSON".to_string())
    } else {
        let text = read_file(s).map_err(|e| format!("cannot read schema file {s}: {e}"))?;
        (text, format!("schema file {s}"))
    };
    serde_json::from_str(&text).map_err(|e| format!("{what}: {}", json_error_message(&e)))
}

/// Runs one subcommand; `given` holds its command-line matches.
fn run(cli: Cli, given: &Given) -> Result<(), Failure> {
    match cli.cmd {
        Cmd::Repair {
            verbose,
            schema,
            salvage,
        } => {
            use formwork::repair::{repair_with_schema, SchemaMode};
            let text = read_text(std::io::stdin().lock())
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            let nothing = |e| format!("cannot repair: {e}");
            let (value, fixes, changes, violations) = match schema {
                Some(s) => {
                    let mode = if salvage {
                        SchemaMode::Salvage
                    } else {
                        SchemaMode::Standard
                    };
                    let schema = schema_arg(&s)?;
                    let check = formwork::repair::SchemaCheck::new(&schema)
                        .map_err(|e| format!("--schema {s}: {e}"))?;
                    let r = repair_with_schema(&text, &schema, mode).map_err(nothing)?;
                    let violations = check.violations(&r.value, 20);
                    (r.value, r.fixes, r.changes, violations)
                }
                None => {
                    let r = formwork::repair::repair(&text).map_err(nothing)?;
                    (r.value, r.fixes, Vec::new(), Vec::new())
                }
            };
            if verbose {
                for f in formwork::repair::describe(&fixes, &text) {
                    note!("fix: {f}");
                }
            }
            for c in &changes {
                note!("schema: {c}");
            }
            if !violations.is_empty() {
                for v in &violations {
                    note!("does not fit the schema: {v}");
                }
                let hint = if salvage {
                    ""
                } else {
                    " (--salvage fills missing required properties that have a default, const or enum)"
                };
                return Err(format!(
                    "the repaired value still does not fit the schema, so it is not printed; \
                     fix the input or the schema{hint}"
                )
                .into());
            }
            let mut out = Out::new();
            out.line(serde_json::to_string_pretty(&value).unwrap())?;
            out.flush()
        }
        #[cfg(feature = "model")]
        Cmd::Generate(a) => match generate(a, given)? {
            true => Ok(()),
            false => Err("incomplete output (raise --max-tokens)".into()),
        },
        Cmd::Mask {
            tokenizer,
            constraint,
            text,
            eos,
        } => {
            constraint.check(given, Whitespace::Flexible)?;
            let vocab = Arc::new(load_vocab(&tokenizer, &eos)?);
            let trie = Arc::new(TokenTrie::new(&vocab));
            let g = constraint
                .grammar(Whitespace::Flexible)?
                .ok_or("give one of --regex, --schema or --grammar")?;
            let g = Arc::new(
                CompiledGrammar::with_budget(&g, constraint.budget.budget())
                    .map_err(|e| e.to_string())?,
            );
            let mut m = Matcher::new(g, vocab.clone(), trie);
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
        Cmd::Fuzz {
            constraint,
            n,
            seed,
            max_len,
            tokenizer,
            work_budget,
        } => {
            use formwork::fuzzer::{FuzzConfig, Fuzzer};
            constraint.check(given, Whitespace::Compact)?;
            let g = constraint
                .grammar(Whitespace::Compact)?
                .ok_or("give one of --grammar, --schema or --regex")?;
            let g = Arc::new(
                CompiledGrammar::with_budget(&g, constraint.budget.budget())
                    .map_err(|e| e.to_string())?,
            );
            let config = FuzzConfig::new().max_len(max_len).work_budget(work_budget);
            let mut f = match tokenizer {
                Some(t) => {
                    let vocab = Arc::new(load_vocab(&t, &[])?);
                    let trie = Arc::new(TokenTrie::new(&vocab));
                    Fuzzer::with_vocabulary_config(g, vocab, trie, seed, config)
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
        Cmd::Bench {
            tokenizer,
            cases,
            out,
            limit,
            eos,
            cold,
            schema_flags,
            budget,
        } => {
            given.refuse(&[("lenient", "--lenient")], |_| {
                "--lenient does not apply to bench: every case is compiled strictly, and a \
                 schema that cannot be enforced is reported as unsupported"
                    .into()
            })?;
            schema_flags.check(Whitespace::Flexible)?;
            let vocab = load_vocab(&tokenizer, &eos.iter().cloned().collect::<Vec<_>>())?;
            let eos_id = vocab.eos_tokens()[0];
            let vocab = Arc::new(vocab);
            let trie = Arc::new(TokenTrie::new(&vocab));
            note!(
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
                budget: budget.budget(),
            };
            let input = BufReader::new(
                std::fs::File::open(&cases).map_err(|e| format!("open {cases}: {e}"))?,
            );
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
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let given = Given(matches.subcommand().map(|(_, m)| m));
    match run(cli, &given) {
        Ok(()) | Err(Failure::StdoutClosed) => ExitCode::SUCCESS,
        Err(Failure::Error(e)) => {
            note!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
