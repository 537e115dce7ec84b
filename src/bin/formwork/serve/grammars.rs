//! A request's output constraint, and the compiled grammars kept across
//! requests.
//!
//! [`Constraint`] is what a request asks for, read from whichever field it
//! came in (`response_format`, `tools`, vLLM's `structured_outputs` or the
//! older `guided_*`); at most one may be given. Its [`key`](Constraint::key)
//! is its canonical text, and [`GrammarCache`] keeps the compiled grammar
//! under that key in a bounded LRU, so a schema a client sends with every
//! request is compiled once.

use super::api::{ApiError, Common, ResponseFormat, StructuredOutputs};
use formwork::{
    CompiledGrammar, FormatMode, GrammarError, PropertyOrder, SchemaOptions, Spelling, TokenEnv,
    Whitespace,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What constrains a request's output.
#[derive(Debug, Clone)]
pub enum Constraint {
    /// A JSON schema; not strict: keywords that cannot be enforced are left
    /// out with a warning.
    Schema {
        schema: Value,
        strict: bool,
    },
    Regex(String),
    Choice(Vec<String>),
    /// GBNF / XGrammar EBNF, Lark, or pest, told apart by their syntax.
    Grammar(String),
    /// An XGrammar structural tag (tool calls build one too).
    StructuralTag(Value),
}

/// The field a constraint came from, for error messages.
pub struct Given {
    pub param: &'static str,
    pub constraint: Constraint,
}

impl Constraint {
    /// The constraint fields of a request (tools aside). More than one is an error.
    pub fn from_request(c: &Common) -> Result<Option<Given>, ApiError> {
        let mut found: Vec<Given> = Vec::new();
        let mut push =
            |param: &'static str, constraint: Constraint| found.push(Given { param, constraint });
        match &c.response_format {
            None | Some(ResponseFormat::Text) => {}
            Some(ResponseFormat::JsonObject { schema }) => push(
                "response_format",
                Constraint::Schema {
                    schema: schema.clone().unwrap_or_else(|| json!({"type": "object"})),
                    strict: true,
                },
            ),
            Some(ResponseFormat::JsonSchema { json_schema }) => {
                let schema = json_schema.schema.clone().ok_or_else(|| {
                    ApiError::invalid(
                        "response_format.json_schema.schema",
                        "response_format json_schema needs a `schema`",
                    )
                })?;
                push(
                    "response_format",
                    Constraint::Schema {
                        schema,
                        strict: json_schema.strict.unwrap_or(false),
                    },
                )
            }
        }
        if let Some(s) = &c.structured_outputs {
            structured(s, &mut push)?;
        }
        let guided = StructuredOutputs {
            regex: c.guided_regex.clone(),
            choice: c.guided_choice.clone(),
            json: c.guided_json.clone(),
            grammar: c.guided_grammar.clone(),
            structural_tag: None,
        };
        structured(&guided, &mut push)?;
        // llama-server's top-level fields.
        if let Some(g) = &c.grammar {
            push("grammar", Constraint::Grammar(g.clone()));
        }
        if let Some(schema) = &c.json_schema {
            push(
                "json_schema",
                Constraint::Schema {
                    schema: schema.clone(),
                    strict: true,
                },
            );
        }
        if found.len() > 1 {
            let names: Vec<&str> = found.iter().map(|g| g.param).collect();
            return Err(ApiError::invalid(
                found[1].param,
                format!(
                    "give one output constraint, not several ({})",
                    names.join(", ")
                ),
            ));
        }
        Ok(found.pop())
    }

    /// The cache key: the kind and its canonical text.
    pub fn key(&self) -> String {
        match self {
            Constraint::Schema { schema, strict } => format!("schema:{strict}:{schema}"),
            Constraint::Regex(r) => format!("regex:{r}"),
            Constraint::Choice(c) => format!("choice:{}", json!(c)),
            Constraint::Grammar(g) => format!("grammar:{g}"),
            Constraint::StructuralTag(t) => format!("tag:{t}"),
        }
    }

    /// The grammar and any warnings (keywords left out of a non-strict schema).
    fn grammar(&self) -> Result<(formwork::grammar::Grammar, Vec<String>), GrammarError> {
        match self {
            Constraint::Schema { schema, strict } => {
                let opts = schema_options();
                if *strict {
                    Ok((formwork::json_schema(schema, &opts)?, Vec::new()))
                } else {
                    let (g, warnings) = formwork::json_schema_lenient(schema, &opts)?;
                    Ok((g, warnings.iter().map(ToString::to_string).collect()))
                }
            }
            Constraint::Regex(r) => Ok((formwork::regex_grammar(r)?, Vec::new())),
            Constraint::Choice(choices) => {
                let alts: Vec<String> = choices.iter().map(|c| regex_syntax::escape(c)).collect();
                Ok((formwork::regex_grammar(&alts.join("|"))?, Vec::new()))
            }
            Constraint::Grammar(text) => Ok((any_grammar(text)?, Vec::new())),
            Constraint::StructuralTag(t) => Ok((formwork::structural_tag_grammar(t)?, Vec::new())),
        }
    }
}

/// How the server compiles JSON schemas: compact, in the schema's property
/// order, one spelling per key (so fast-forward forces keys), and `format`
/// asserted.
pub fn schema_options() -> SchemaOptions {
    SchemaOptions {
        whitespace: Whitespace::Compact,
        format: FormatMode::Assert,
        property_order: PropertyOrder::Schema,
        spelling: Spelling::Canonical,
        ..SchemaOptions::default()
    }
}

fn structured(
    s: &StructuredOutputs,
    push: &mut impl FnMut(&'static str, Constraint),
) -> Result<(), ApiError> {
    if let Some(r) = &s.regex {
        push("structured_outputs.regex", Constraint::Regex(r.clone()));
    }
    if let Some(c) = &s.choice {
        if c.is_empty() {
            return Err(ApiError::invalid(
                "structured_outputs.choice",
                "choice needs at least one string",
            ));
        }
        push("structured_outputs.choice", Constraint::Choice(c.clone()));
    }
    if let Some(j) = &s.json {
        // vLLM takes the schema as an object or as its JSON text.
        let schema = match j {
            Value::String(text) => serde_json::from_str(text).map_err(|e| {
                ApiError::invalid(
                    "structured_outputs.json",
                    format!("the schema text is not JSON: {e}"),
                )
            })?,
            other => other.clone(),
        };
        push(
            "structured_outputs.json",
            Constraint::Schema {
                schema,
                strict: true,
            },
        );
    }
    if let Some(g) = &s.grammar {
        push("structured_outputs.grammar", Constraint::Grammar(g.clone()));
    }
    if let Some(t) = &s.structural_tag {
        let tag = match t {
            Value::String(text) => serde_json::from_str(text).map_err(|e| {
                ApiError::invalid(
                    "structured_outputs.structural_tag",
                    format!("the structural tag text is not JSON: {e}"),
                )
            })?,
            other => other.clone(),
        };
        push(
            "structured_outputs.structural_tag",
            Constraint::StructuralTag(tag),
        );
    }
    Ok(())
}

/// A grammar in whichever syntax it is written: `::=` rules are GBNF or
/// XGrammar EBNF (EBNF first: it reads GBNF too, plus its macros), `name:`
/// rules Lark, `name = { ... }` rules pest.
fn any_grammar(text: &str) -> Result<formwork::grammar::Grammar, GrammarError> {
    if text.contains("::=") {
        return formwork::ebnf_grammar(text, "root")
            .or_else(|e| formwork::gbnf_grammar(text).map_err(|_| e));
    }
    let pest_like = text.lines().any(|l| {
        let l = l.trim_start();
        l.split_once('=').is_some_and(|(name, rest)| {
            is_name(name.trim())
                && rest
                    .trim_start()
                    .trim_start_matches(['_', '@', '$', '!'])
                    .starts_with('{')
        })
    });
    if pest_like {
        formwork::pest_grammar(text, None)
    } else {
        formwork::lark_grammar(text)
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// A compiled grammar and the warnings of its compilation.
#[derive(Clone)]
pub struct Compiled {
    pub grammar: Arc<CompiledGrammar>,
    pub warnings: Vec<String>,
}

/// Compiled grammars by [`Constraint::key`], least recently used evicted
/// first past `capacity`.
pub struct GrammarCache {
    capacity: usize,
    inner: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<String, (Compiled, u64)>,
    clock: u64,
}

impl GrammarCache {
    pub fn new(capacity: usize) -> GrammarCache {
        GrammarCache {
            capacity,
            inner: Mutex::new(Lru::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The compiled grammar of `c`, compiling it (outside the lock) on a
    /// miss. `Ok((compiled, hit))`.
    pub fn get(&self, c: &Constraint, env: &TokenEnv) -> Result<(Compiled, bool), GrammarError> {
        let key = c.key();
        {
            let mut lru = self.lock();
            lru.clock += 1;
            let now = lru.clock;
            if let Some((compiled, used)) = lru.entries.get_mut(&key) {
                *used = now;
                return Ok((compiled.clone(), true));
            }
        }
        let (g, warnings) = c.grammar()?;
        let compiled = Compiled {
            grammar: env.compile(&g)?,
            warnings,
        };
        if self.capacity > 0 {
            let mut lru = self.lock();
            if lru.entries.len() >= self.capacity {
                // O(capacity) per eviction: the cache holds at most a few
                // hundred grammars, and a miss has just compiled one.
                if let Some(oldest) = lru
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(k, _)| k.clone())
                {
                    lru.entries.remove(&oldest);
                }
            }
            let now = lru.clock;
            lru.entries.insert(key, (compiled.clone(), now));
        }
        Ok((compiled, false))
    }
}

/// A grammar error as OpenAI's 400, naming the keyword's JSON pointer when
/// there is one.
pub fn grammar_error(param: &str, e: &GrammarError) -> ApiError {
    match e {
        GrammarError::UnsupportedSchema { pointer, message } => {
            // The library's advice for remote documents names its API and
            // the CLI's flag; over HTTP the fix is in the schema itself.
            let message = match message.split_once("; supply it in `SchemaOptions::remote`") {
                Some((head, _)) => format!(
                    "{head}; the server fetches nothing: copy that document under `$defs` and point the `$ref` there"
                ),
                None => message.clone(),
            };
            ApiError::invalid_code(
                param,
                "unsupported_schema",
                format!("unsupported JSON Schema keyword at {pointer:?}: {message}"),
            )
        }
        GrammarError::InvalidSchema { pointer, message } => ApiError::invalid_code(
            param,
            "invalid_schema",
            format!("invalid JSON Schema at {pointer:?}: {message}"),
        ),
        other => ApiError::invalid_code(param, "invalid_constraint", other.to_string()),
    }
}
