//! Retry-on-invalid fallback: structured output from any text generator.
//!
//! When token masking is not available (a hosted API, a model run elsewhere,
//! or a schema the constraint compiler does not support yet), the next best
//! thing is a loop:
//!
//! 1. generate text;
//! 2. parse it strictly (`serde_json`);
//! 3. otherwise [repair] it, first for syntax, then guided by
//!    the schema ([`repair::apply_schema`]);
//! 4. validate the value with the `jsonschema` crate;
//! 5. on failure, ask again — up to `retries` more times — with the previous
//!    answer and the validation errors added to the prompt.
//!
//! The result says which [`Stage`] made the output valid and how many
//! attempts it took, and keeps every attempt (text, errors, time) so that a
//! caller can measure the ladder.
//!
//! ```
//! use formwork::fallback::{Fallback, Stage};
//! use serde_json::json;
//!
//! let schema = json!({"type": "object", "properties": {"age": {"type": "integer"}},
//!                     "required": ["age"]});
//! // Any `FnMut(&str) -> Result<String, E>` is a backend; a real one calls a model.
//! let mut answers = vec!["{'age': 'unknown'}", "Sure! {\"age\": \"36\"}"].into_iter();
//! let mut backend = |_prompt: &str| -> Result<String, std::convert::Infallible> {
//!     Ok(answers.next().unwrap_or("").to_string())
//! };
//! let ok = Fallback::new(&schema)?.retries(2).run(&mut backend, "How old is Ada?")?;
//! assert_eq!(ok.value, json!({"age": 36}));
//! assert_eq!(ok.attempts(), 2);
//! assert_eq!(ok.stage, Stage::SchemaRepair);
//! # Ok::<(), formwork::fallback::FallbackError>(())
//! ```
//!
//! # Trade-offs
//!
//! Constrained decoding makes the *first* output valid at a small cost per
//! token; this loop pays a whole generation per retry and can still fail. It
//! is the rung to use when masking is impossible, and the ladder in the README
//! measures how far each stage gets with a small model.
//!
//! Schema-guided repair only makes changes it can name (see
//! [`Change`]); a value that it had to change is
//! reported as [`Stage::SchemaRepair`], so a caller that wants only what the
//! model wrote can reject that stage.

use crate::repair::{self, Change, SchemaMode};
use serde_json::Value;
use std::fmt;
use std::time::{Duration, Instant};

/// Anything that turns a prompt into text: a local model, an HTTP client, a
/// test double. Closures `FnMut(&str) -> Result<String, E>` implement it.
pub trait TextBackend {
    /// Generates a completion of `prompt` (the user's message; the backend
    /// applies its own chat template).
    fn complete(&mut self, prompt: &str) -> Result<String, BackendError>;
}

/// An error reported by a [`TextBackend`].
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl<F, E> TextBackend for F
where
    F: FnMut(&str) -> Result<String, E>,
    E: Into<BackendError>,
{
    fn complete(&mut self, prompt: &str) -> Result<String, BackendError> {
        self(prompt).map_err(Into::into)
    }
}

/// The stage of the pipeline that made an output valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// The text was valid JSON and valid under the schema as written.
    Strict,
    /// Syntax repair made it valid.
    Repair,
    /// Schema-guided repair (type coercion, dropped properties, defaults)
    /// made it valid.
    SchemaRepair,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Strict => "strict",
            Stage::Repair => "repair",
            Stage::SchemaRepair => "schema-repair",
        })
    }
}

/// One generation and what the pipeline made of it.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The prompt sent to the backend.
    pub prompt: String,
    /// The text the backend returned.
    pub text: String,
    /// The stage at which it became valid, if it did.
    pub stage: Option<Stage>,
    /// Why it is not valid (empty when it is): validation errors as
    /// `pointer: message`, or why nothing could be parsed.
    pub errors: Vec<String>,
    /// Wall time of generation plus checking.
    pub elapsed: Duration,
}

/// A valid value and how it was obtained.
#[derive(Debug, Clone)]
pub struct Success {
    /// The value; valid under the schema.
    pub value: Value,
    /// The stage that made it valid.
    pub stage: Stage,
    /// Schema-guided changes, if `stage` is [`Stage::SchemaRepair`].
    pub changes: Vec<Change>,
    /// Every attempt, the last one valid.
    pub history: Vec<Attempt>,
}

impl Success {
    /// Number of generations (1 = no retry).
    pub fn attempts(&self) -> usize {
        self.history.len()
    }
}

/// Why the fallback gave no valid value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FallbackError {
    /// The schema itself is not a valid JSON Schema.
    #[error("the JSON Schema is not valid: {0}; fix the schema (the fallback validates with the jsonschema crate)")]
    InvalidSchema(String),
    /// The backend failed.
    #[error("the text backend failed on attempt {attempt}: {source}")]
    Backend {
        attempt: usize,
        #[source]
        source: BackendError,
    },
    /// Every attempt was invalid.
    #[error(
        "no valid output after {} attempt(s); last errors: {}; raise the retry count, \
         simplify the schema or use constrained decoding",
        history.len(),
        history.last().map(|a| a.errors.join("; ")).unwrap_or_default()
    )]
    Exhausted {
        /// Every attempt, none valid.
        history: Vec<Attempt>,
    },
}

/// What the pipeline makes of one text (stages 2–4, no generation).
#[derive(Debug, Clone)]
pub struct Checked {
    /// The best value obtained (after schema-guided repair), if any.
    pub value: Option<Value>,
    /// The stage at which it became valid.
    pub stage: Option<Stage>,
    /// Schema-guided changes made.
    pub changes: Vec<Change>,
    /// Why it is not valid (empty when it is).
    pub errors: Vec<String>,
}

/// The retry-on-invalid pipeline for one schema. See the [module
/// documentation](self).
pub struct Fallback {
    check: repair::SchemaCheck,
    schema: Value,
    retries: usize,
    mode: SchemaMode,
    repair: bool,
    max_errors: usize,
}

impl fmt::Debug for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("retries", &self.retries)
            .field("mode", &self.mode)
            .field("repair", &self.repair)
            .finish_non_exhaustive()
    }
}

/// Longest previous answer quoted back in a retry prompt (characters).
const MAX_QUOTED: usize = 2000;

impl Fallback {
    /// A pipeline for `schema`, with no retries, repair on.
    pub fn new(schema: &Value) -> Result<Fallback, FallbackError> {
        let check =
            repair::SchemaCheck::new(schema).map_err(|e| FallbackError::InvalidSchema(e.0))?;
        Ok(Fallback {
            check,
            schema: schema.clone(),
            retries: 0,
            mode: SchemaMode::Standard,
            repair: true,
            max_errors: 5,
        })
    }

    /// Retry up to `n` times after the first attempt.
    pub fn retries(mut self, n: usize) -> Self {
        self.retries = n;
        self
    }

    /// How far schema-guided repair goes (default [`SchemaMode::Standard`]).
    pub fn schema_mode(mut self, mode: SchemaMode) -> Self {
        self.mode = mode;
        self
    }

    /// Turn repair off: only strictly valid output counts (stages 3 and its
    /// schema-guided part are skipped).
    pub fn repair(mut self, on: bool) -> Self {
        self.repair = on;
        self
    }

    /// Validation errors of `value`, at most `max_errors`, as `pointer: message`.
    fn errors(&self, value: &Value) -> Vec<String> {
        self.check
            .violations(value, self.max_errors)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Runs stages 2–4 on `text`.
    pub fn check(&self, text: &str) -> Checked {
        let mut out = Checked {
            value: None,
            stage: None,
            changes: Vec::new(),
            errors: Vec::new(),
        };
        if let Ok(v) = serde_json::from_str::<Value>(text.trim()) {
            let errs = self.errors(&v);
            if errs.is_empty() {
                out.value = Some(v);
                out.stage = Some(Stage::Strict);
                return out;
            }
            out.errors = errs;
            out.value = Some(v);
        }
        if !self.repair {
            if out.value.is_none() {
                out.errors = vec!["the answer is not valid JSON".into()];
            }
            return out;
        }
        let r = match repair::repair(text) {
            Ok(r) => r,
            Err(e) => {
                out.errors = vec![format!("the answer is not JSON: {e}")];
                return out;
            }
        };
        let errs = self.errors(&r.value);
        if errs.is_empty() {
            out.value = Some(r.value);
            out.stage = Some(Stage::Repair);
            return out;
        }
        let (v, changes) = repair::apply_schema(r.value, &self.schema, self.mode);
        let errs2 = self.errors(&v);
        out.value = Some(v);
        if errs2.is_empty() {
            out.stage = Some(Stage::SchemaRepair);
            out.changes = changes;
            out.errors.clear();
        } else {
            // Report the errors of the value before schema-guided changes:
            // they describe what the model wrote.
            out.errors = errs;
        }
        out
    }

    /// The prompt for the next attempt: the original, the previous answer and
    /// what is wrong with it.
    pub(crate) fn retry_prompt(prompt: &str, previous: &str, errors: &[String]) -> String {
        let mut quoted: String = previous.trim().chars().take(MAX_QUOTED).collect();
        if quoted.len() < previous.trim().len() {
            quoted.push_str(" …");
        }
        let mut p = format!(
            "{prompt}\n\nYour previous answer was:\n{quoted}\n\nIt is not valid against the JSON Schema:\n"
        );
        for e in errors {
            p.push_str("- ");
            p.push_str(e);
            p.push('\n');
        }
        p.push_str("Answer again with only the corrected JSON.");
        p
    }

    /// Runs the whole loop with `backend`.
    pub fn run<B: TextBackend + ?Sized>(
        &self,
        backend: &mut B,
        prompt: &str,
    ) -> Result<Success, FallbackError> {
        let mut history: Vec<Attempt> = Vec::new();
        let mut next_prompt = prompt.to_string();
        for attempt in 1..=self.retries + 1 {
            let t = Instant::now();
            let text = backend
                .complete(&next_prompt)
                .map_err(|source| FallbackError::Backend { attempt, source })?;
            let c = self.check(&text);
            let a = Attempt {
                prompt: std::mem::take(&mut next_prompt),
                text,
                stage: c.stage,
                errors: c.errors,
                elapsed: t.elapsed(),
            };
            if let (Some(stage), Some(value)) = (c.stage, c.value) {
                history.push(a);
                return Ok(Success {
                    value,
                    stage,
                    changes: c.changes,
                    history,
                });
            }
            next_prompt = Self::retry_prompt(prompt, &a.text, &a.errors);
            history.push(a);
        }
        Err(FallbackError::Exhausted { history })
    }
}

/// A formwork model as a [`TextBackend`]: unconstrained generation with the
/// model's chat template.
#[cfg(feature = "model")]
pub struct ModelBackend<M> {
    /// The generator.
    pub generator: crate::generate::Generator<M>,
    /// The model's chat template (see [`GgufModel::chat`](crate::model::GgufModel::chat));
    /// without one the prompt is fed as it is.
    pub template: Option<crate::model::ChatTemplate>,
    /// System message.
    pub system: Option<String>,
    /// Generation options (greedy by default).
    pub options: crate::generate::GenerateOptions,
    /// Tokens generated so far, over all calls.
    pub tokens: usize,
}

#[cfg(feature = "model")]
impl<M: crate::model::LanguageModel> TextBackend for ModelBackend<M> {
    fn complete(&mut self, prompt: &str) -> Result<String, BackendError> {
        let p = match &self.template {
            Some(t) => t
                .prompt(self.system.as_deref(), prompt)
                .map_err(|e| -> BackendError { Box::new(e) })?,
            None => prompt.to_string(),
        };
        let g = self.generator.generate(&p, None, &self.options)?;
        self.tokens += g.tokens.len();
        Ok(g.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scripted(answers: &[&str]) -> impl FnMut(&str) -> Result<String, BackendError> {
        let mut v: Vec<String> = answers.iter().rev().map(|s| s.to_string()).collect();
        move |_p: &str| Ok(v.pop().unwrap_or_default())
    }

    #[test]
    fn stages() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}},
                            "required": ["a"], "additionalProperties": false});
        let f = Fallback::new(&schema).unwrap();
        assert_eq!(f.check("{\"a\": 1}").stage, Some(Stage::Strict));
        assert_eq!(f.check("{a: 1,}").stage, Some(Stage::Repair));
        assert_eq!(f.check("{\"a\": \"1\"}").stage, Some(Stage::SchemaRepair));
        assert_eq!(
            f.check("{\"a\": 1, \"b\": 2}").stage,
            Some(Stage::SchemaRepair)
        );
        let c = f.check("{\"a\": \"one\"}");
        assert_eq!(c.stage, None);
        assert!(c.errors[0].starts_with("/a: "), "{:?}", c.errors);
        assert_eq!(f.check("no json here").stage, None);
    }

    #[test]
    fn retries_feed_errors_back() {
        let schema = json!({"type": "array", "items": {"type": "string"}, "minItems": 2});
        let mut prompts = Vec::new();
        let mut answers = scripted(&["[\"x\"]", "nope", "[\"x\", \"y\"]"]);
        let mut backend = |p: &str| {
            prompts.push(p.to_string());
            answers(p)
        };
        let ok = Fallback::new(&schema)
            .unwrap()
            .retries(3)
            .run(&mut backend, "Two names.")
            .unwrap();
        assert_eq!(ok.attempts(), 3);
        assert_eq!(ok.stage, Stage::Strict);
        assert!(prompts[1].contains("(root): "), "{}", prompts[1]);
        assert!(prompts[1].starts_with("Two names."));
    }

    #[test]
    fn exhausted() {
        let schema = json!({"type": "integer"});
        let mut b = scripted(&["x", "y"]);
        match Fallback::new(&schema).unwrap().retries(1).run(&mut b, "n") {
            Err(FallbackError::Exhausted { history }) => assert_eq!(history.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    /// A schema the mask compiler refuses (a backreference) is exactly what
    /// the fallback is for: it needs only validation and repair.
    #[test]
    fn schema_the_compiler_refuses() {
        let schema = json!({"type": "object", "required": ["code"],
                            "properties": {"code": {"type": "string", "pattern": "^(ab)-\\1$"}}});
        assert!(crate::json_schema(&schema, &crate::SchemaOptions::default()).is_err());
        let f = Fallback::new(&schema).unwrap();
        assert_eq!(f.check("{\"code\": \"ab-ab\"}").stage, Some(Stage::Strict));
        assert_eq!(f.check("Sure: {code: 'ab-ab'}").stage, Some(Stage::Repair));
        let c = f.check("{\"code\": \"ab-ba\"}");
        assert_eq!(c.stage, None);
        assert!(c.errors[0].starts_with("/code: "), "{:?}", c.errors);
        let mut b = scripted(&["{\"code\": \"ab-ba\"}", "{\"code\": \"ab-ab\"}"]);
        let ok = f.retries(1).run(&mut b, "code?").unwrap();
        assert_eq!(ok.attempts(), 2);
        assert_eq!(ok.value, json!({"code": "ab-ab"}));
    }

    #[test]
    fn invalid_schema() {
        assert!(matches!(
            Fallback::new(&json!({"type": 12})),
            Err(FallbackError::InvalidSchema(_))
        ));
    }
}
