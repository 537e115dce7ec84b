//! The command line's definitions (clap) and the checks that refuse flags
//! which would have no effect. Turning the flags into library values
//! (schema options, budgets, grammars) is left to the modules that use them.

use clap::{ArgMatches, Parser, Subcommand};
use formwork::Whitespace;

/// The flags given on a subcommand's command line (not defaulted), so that a
/// flag that would have no effect is refused instead of silently ignored.
pub struct Given<'a>(pub Option<&'a ArgMatches>);

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
    pub fn refuse(
        &self,
        flags: &[(&str, &str)],
        why: impl Fn(&str) -> String,
    ) -> Result<(), String> {
        match flags.iter().find(|(id, _)| self.has(id)) {
            Some((_, flag)) => Err(why(flag)),
            None => Ok(()),
        }
    }
}

/// The flags of [`SchemaFlags`], as `(id, flag)`.
pub const SCHEMA_FLAGS: &[(&str, &str)] = &[
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
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Show, token by token, how many tokens the constraint allows and whether
    /// the text's own tokens are among them.
    Mask(MaskArgs),
    /// Generate text with a GGUF model (the default model is fetched on
    /// first use), constrained by a JSON Schema (--schema), a regex (--regex)
    /// or a pest grammar (--grammar), or unconstrained.
    #[cfg(feature = "model")]
    Generate(GenerateArgs),
    /// Serve a GGUF model over HTTP with OpenAI's API (chat completions,
    /// completions, tools, response_format), every structured output
    /// constrained by formwork's masks.
    #[cfg(feature = "serve")]
    Serve(ServeArgs),
    /// Repair malformed JSON read from stdin (code fences, comments, single
    /// quotes, trailing commas, truncation, Python literals, ...) and print it.
    Repair(RepairArgs),
    /// Print N random strings of a constraint's language, one JSON string per
    /// line, drawn through the matcher with seeded random logits.
    Fuzz(FuzzArgs),
    /// Run the benchmark protocol on a case file.
    ///
    /// Compiles each case's constraint, drives its valid and invalid strings
    /// through the masks, and reports one JSON line per case and a SUMMARY
    /// line on stderr.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
pub struct MaskArgs {
    /// Hugging Face tokenizer.json (plain or .gz).
    #[arg(long)]
    pub tokenizer: String,
    #[command(flatten)]
    pub constraint: ConstraintArgs,
    /// The text to check.
    #[arg(long)]
    pub text: String,
    /// EOS token name(s) or id(s), replacing the defaults.
    #[arg(long)]
    pub eos: Vec<String>,
}

#[derive(clap::Args)]
pub struct RepairArgs {
    /// List the fixes made on stderr.
    #[arg(long)]
    pub verbose: bool,
    /// Fit the value to this JSON Schema (file path or inline JSON):
    /// coerce types where unambiguous, drop forbidden properties, fill
    /// defaults; each change is listed on stderr.
    #[arg(long)]
    pub schema: Option<String>,
    /// With --schema: also fill missing required properties and map
    /// arrays to objects (json_repair's "salvage" mode).
    #[arg(long, requires = "schema")]
    pub salvage: bool,
}

#[derive(clap::Args)]
pub struct FuzzArgs {
    #[command(flatten)]
    pub constraint: ConstraintArgs,
    /// Number of strings (each line is written as it is drawn, so a
    /// large count can be cut short with `| head` or Ctrl-C).
    #[arg(short = 'n', long = "count", default_value_t = 10)]
    pub n: u64,
    /// Seed of the random logits (the same seed draws the same strings).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Aim at strings of at most this many bytes.
    #[arg(long, default_value_t = 200)]
    pub max_len: usize,
    /// Draw tokens of this tokenizer (tokenizer.json, plain or .gz) instead
    /// of single bytes.
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// Most masks plus commits one string may take; past it the command
    /// stops with an error instead of running on.
    #[arg(long, default_value_t = formwork::fuzzer::FuzzConfig::new().get_work_budget())]
    pub work_budget: u64,
}

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Hugging Face tokenizer.json (plain or .gz) that every case's strings
    /// are tokenized with.
    #[arg(long)]
    pub tokenizer: String,
    /// Case file: one JSON object per line, `{"id", "kind", "grammar",
    /// "valid", "invalid"}` with kind regex, json_schema or pest (e.g.
    /// benches/cases/pest.jsonl).
    #[arg(long)]
    pub cases: String,
    /// Per-case results (JSON lines); default stdout.
    #[arg(long)]
    pub out: Option<String>,
    /// Run only the first N cases of the file.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// EOS token (name or id) checked at the end of each instance.
    #[arg(long)]
    pub eos: Option<String>,
    /// Compile each case with a fresh lexeme DFA cache (compile times as
    /// a process compiling one grammar sees them).
    #[arg(long)]
    pub cold: bool,
    /// Print every mask slower than US microseconds to stderr, with its
    /// work units and the text before it (to find what makes a schema slow).
    #[arg(long, value_name = "US")]
    pub show_slow: Option<f64>,
    #[command(flatten)]
    pub schema_flags: SchemaFlags,
    #[command(flatten)]
    pub budget: BudgetFlags,
}

/// How JSON Schemas are compiled.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SchemaFlags {
    /// Whitespace between JSON tokens: compact (none) or flexible (any).
    /// Default: compact for generate, flexible for mask and bench.
    #[arg(long, value_parser = ["compact", "flexible"])]
    pub whitespace: Option<String>,
    /// `format`: assert (strings must be valid dates, emails, ...) or
    /// annotate (ignored, as draft 2020-12 says by default).
    #[arg(long, value_parser = ["assert", "annotate"], default_value = "assert")]
    pub format: String,
    /// Property order: schema (the order of `properties`) or any.
    /// Default: schema for generate, any for mask and bench.
    #[arg(long, value_parser = ["schema", "any"])]
    pub property_order: Option<String>,
    /// Spellings accepted: any (every JSON spelling of every value) or
    /// canonical (keys as serde_json writes them, so fast-forward can force
    /// whole keys; integers as plain digits). Default: canonical for
    /// generate, any for mask and bench.
    #[arg(long, value_parser = ["any", "canonical"])]
    pub spelling: Option<String>,
    /// With flexible whitespace: the longest run of whitespace between two
    /// JSON tokens (default: no limit).
    #[arg(long)]
    pub max_whitespace: Option<u32>,
    /// Leave out keywords that cannot be enforced (each is printed as a
    /// warning on stderr) instead of failing; the output may then not
    /// validate.
    #[arg(long)]
    pub lenient: bool,
    /// A remote document for `$ref`s outside the schema: `URI=FILE` (the
    /// schema at FILE stands for the absolute URI). Repeatable.
    #[arg(long, value_name = "URI=FILE")]
    pub remote: Vec<String>,
}

impl SchemaFlags {
    /// Refuses flags that would have no effect with these settings.
    pub fn check(&self, default_ws: Whitespace) -> Result<(), String> {
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
}

/// One constraint: a JSON Schema, a regex, a pest grammar or a GBNF grammar.
#[derive(clap::Args, Clone, Default)]
pub struct ConstraintArgs {
    /// JSON Schema the output must validate against (file path or inline JSON).
    #[arg(long, conflicts_with_all = ["regex", "grammar", "gbnf", "lark", "ebnf", "structural_tag"])]
    pub schema: Option<String>,
    #[command(flatten)]
    pub schema_flags: SchemaFlags,
    /// Regex the whole output must match.
    #[arg(long, conflicts_with_all = ["grammar", "gbnf", "lark", "ebnf", "structural_tag"])]
    pub regex: Option<String>,
    /// Pest grammar file (e.g. grammars/sql.pest).
    #[arg(long, conflicts_with_all = ["gbnf", "lark", "ebnf", "structural_tag"])]
    pub grammar: Option<String>,
    /// GBNF grammar file, as llama.cpp reads it (e.g. json.gbnf).
    #[arg(long, conflicts_with_all = ["lark", "ebnf", "structural_tag"])]
    pub gbnf: Option<String>,
    /// Lark grammar file, as llguidance reads it (start rule `start`).
    #[arg(long, conflicts_with_all = ["ebnf", "structural_tag"])]
    pub lark: Option<String>,
    /// XGrammar EBNF grammar file (start rule `root`, or --start).
    #[arg(long, conflicts_with = "structural_tag")]
    pub ebnf: Option<String>,
    /// XGrammar structural tag (file path or inline JSON): free text with
    /// tool calls whose arguments follow their schemas.
    #[arg(long)]
    pub structural_tag: Option<String>,
    /// Start rule of the pest grammar (default: its first rule) or of the
    /// GBNF or EBNF grammar (default: root).
    #[arg(long)]
    pub start: Option<String>,
    /// SQLite CREATE TABLE statements: restrict the grammar's `table_name`
    /// and `column_name` rules to this database's names.
    #[arg(long, requires = "grammar")]
    pub sql_schema: Option<String>,
    /// With --sql-schema: single-table SELECTs whose every column belongs to
    /// the table in FROM, so the query compiles as far as names go (no joins,
    /// aliases or UNION).
    #[arg(long, requires = "sql_schema")]
    pub sql_scoped: bool,
    #[command(flatten)]
    pub budget: BudgetFlags,
}

impl ConstraintArgs {
    /// Refuses flags that do not apply to the constraint given.
    pub fn check(&self, given: &Given, default_ws: Whitespace) -> Result<(), String> {
        if self.schema.is_none() {
            given.refuse(SCHEMA_FLAGS, |flag| {
                format!("{flag} applies to --schema only; drop it or give a --schema")
            })?;
        } else {
            self.schema_flags.check(default_ws)?;
        }
        if self.grammar.is_none() {
            given.refuse(&[("sql_schema", "--sql-schema")], |flag| {
                format!("{flag} applies to --grammar (a pest grammar) only; drop it or give a --grammar")
            })?;
            if self.gbnf.is_none() && self.ebnf.is_none() {
                given.refuse(&[("start", "--start")], |flag| {
                    format!(
                        "{flag} applies to --grammar, --gbnf or --ebnf only; drop it or give a grammar"
                    )
                })?;
            }
        }
        if self.sql_schema.is_none() {
            given.refuse(&[("sql_scoped", "--sql-scoped")], |flag| {
                format!("{flag} applies with --sql-schema only")
            })?;
        }
        Ok(())
    }

    /// True if a constraint was given.
    #[cfg_attr(not(feature = "model"), allow(dead_code))]
    pub fn is_some(&self) -> bool {
        self.schema.is_some()
            || self.regex.is_some()
            || self.grammar.is_some()
            || self.gbnf.is_some()
            || self.lark.is_some()
            || self.ebnf.is_some()
            || self.structural_tag.is_some()
    }
}

/// Work budgets, in work units: how much compiling, one mask and one
/// completion search may cost before they stop with an error.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct BudgetFlags {
    /// Work units compiling the constraint may use [default: 500000000].
    #[arg(long, value_name = "UNITS")]
    pub compile_budget: Option<u64>,
    /// Work units one mask or commit may use [default: 200000000].
    #[arg(long, value_name = "UNITS")]
    pub mask_budget: Option<u64>,
    /// Work units one search for a completion (closing an output before
    /// --max-tokens) may use [default: 100000000].
    #[arg(long, value_name = "UNITS")]
    pub completion_budget: Option<u64>,
}

impl BudgetFlags {
    pub fn budget(&self) -> formwork::Budget {
        let mut b = formwork::Budget::new();
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

#[cfg(feature = "model")]
#[derive(clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub constraint: ConstraintArgs,
    /// The user's prompt (the model's chat template is applied unless --raw).
    #[arg(long)]
    pub prompt: String,
    /// GGUF model file; default: SmolLM2-135M-Instruct, fetched on first use.
    #[arg(long)]
    pub model: Option<String>,
    /// tokenizer.json to use instead of the one inside the GGUF file.
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// Most tokens to generate (a constrained output nearing it is closed
    /// with its shortest completion, unless --no-close).
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Seed of the sampler (with --temperature above 0).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sampling temperature; 0 = greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Sample among the K most likely allowed tokens only (with
    /// --temperature above 0).
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Sample among the most likely allowed tokens whose probabilities add
    /// up to P, above 0 and at most 1 (nucleus sampling; with --temperature
    /// above 0).
    #[arg(long, value_name = "P")]
    pub top_p: Option<f32>,
    /// Number of samples (seeds seed, seed+1, ...).
    #[arg(long, default_value_t = 1)]
    pub n: usize,
    /// How to choose among the samples: best (mean logprob) or vote.
    #[arg(long, default_value = "best")]
    pub select: String,
    /// Stop string (unconstrained generation only); repeatable.
    #[arg(long)]
    pub stop: Vec<String>,
    /// Report this many alternatives with logprobs per token (with --json).
    #[arg(long, default_value_t = 0)]
    pub top_logprobs: usize,
    /// System message for the chat template.
    #[arg(long)]
    pub system: Option<String>,
    /// Use the prompt as it is, without the chat template.
    #[arg(long)]
    pub raw: bool,
    /// Feed forced tokens one at a time (for measuring fast-forward).
    #[arg(long)]
    pub no_fast_forward: bool,
    /// Let --max-tokens cut a constrained output short (it is then reported
    /// as incomplete) instead of closing it with its shortest completion.
    #[arg(long)]
    pub no_close: bool,
    /// Print text, logprobs, token counts and timings as JSON.
    #[arg(long)]
    pub json: bool,
    /// `retry`: generate without masks, then parse, repair and validate
    /// against --schema, retrying with the errors in the prompt (see --retries).
    #[arg(long, requires = "schema")]
    pub fallback: Option<String>,
    /// With --fallback retry: retries after the first attempt.
    #[arg(long, default_value_t = 2, requires = "fallback")]
    pub retries: usize,
    /// Threads for the model's matrix products (default: one per physical
    /// core; the same as CANDLE_NUM_THREADS=N).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[cfg(feature = "model")]
impl GenerateArgs {
    /// Refuses values out of range and flags that would have no effect.
    pub fn check(&self, given: &Given) -> Result<(), String> {
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
        if self.threads == Some(0) {
            return Err("--threads 0: give 1 or more threads".into());
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

#[cfg(feature = "serve")]
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// GGUF model file; default: SmolLM2-135M-Instruct, fetched on first use.
    #[arg(long)]
    pub model: Option<String>,
    /// tokenizer.json to use instead of the one inside the GGUF file (needed
    /// for SentencePiece models).
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// The model's name in requests and in /v1/models (default: the file's
    /// name without `.gguf`).
    #[arg(long)]
    pub served_model_name: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port, printed when the server is ready).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Requests generated at the same time; each slot holds its own copy of
    /// the model.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Requests that may wait for a slot; past that a request gets 429 with
    /// Retry-After.
    #[arg(long, default_value_t = 16)]
    pub queue: usize,
    /// Require `Authorization: Bearer KEY` on every /v1 request (also read
    /// from FORMWORK_API_KEY).
    #[arg(long, env = "FORMWORK_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Seconds a request may take, waiting included; past it the
    /// generation stops and the answer is 504.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Largest request body in bytes; a larger one gets 413.
    #[arg(long, default_value_t = 4 << 20)]
    pub max_body: usize,
    /// Compiled grammars kept across requests (least recently used first out).
    #[arg(long, default_value_t = 128)]
    pub grammar_cache: usize,
    /// Default `max_tokens` when a request gives none.
    #[arg(long, default_value_t = 512)]
    pub default_max_tokens: usize,
}
