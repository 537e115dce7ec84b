//! Error types of the library.
//!
//! Each stage has its own enum so that a caller can tell a bad tokenizer from a
//! bad grammar without parsing strings. Every message says what was wrong and,
//! where it can, what to do about it.

use crate::budget::Stage;
use std::path::PathBuf;

/// An error while loading or configuring a [`Vocabulary`](crate::Vocabulary).
#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    /// The tokenizer file could not be read.
    #[error("cannot read tokenizer file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The tokenizer file is not a valid Hugging Face `tokenizer.json`.
    #[error("tokenizer {what} is not a valid Hugging Face tokenizer.json: {message}")]
    Corrupt { what: String, message: String },
    /// No end-of-sequence token could be found and none was given.
    #[error(
        "tokenizer has no end-of-sequence token among the usual names ({tried}); \
         name one explicitly (e.g. --eos '<|endoftext|>')"
    )]
    NoEos { tried: String },
    /// An EOS name given by the user is not in the vocabulary.
    #[error("EOS token {0:?} is not in the vocabulary")]
    UnknownEos(String),
    /// The vocabulary has no tokens at all.
    #[error("tokenizer vocabulary is empty")]
    Empty,
    /// The tokenizer file is bigger than formwork loads, or declares token
    /// ids that would need a table of that size (see
    /// `Vocabulary::MAX_FILE_BYTES`,
    /// `Vocabulary::MAX_IDS`, `Vocabulary::MAX_EXTRA_HOLES`). Raised before anything of
    /// that size is allocated.
    #[error("tokenizer {what} is refused: {message}")]
    TooLarge { what: String, message: String },
    /// A logits width smaller than the vocabulary was requested.
    #[error("logits width {width} is smaller than the vocabulary size {vocab}")]
    LogitsTooNarrow { width: usize, vocab: usize },
    /// Encoding text failed inside the tokenizer.
    #[error("tokenizer failed to encode text: {0}")]
    Encode(String),
}

/// An error while building or compiling a grammar.
#[derive(Debug, thiserror::Error)]
pub enum GrammarError {
    /// A regular expression does not parse.
    #[error("invalid regex {pattern:?}: {message}")]
    InvalidRegex { pattern: String, message: String },
    /// A regular expression compiles to an automaton bigger than the limit.
    #[error("regex {pattern:?} is too large to compile ({message}); simplify it or lower repetition bounds")]
    RegexTooLarge { pattern: String, message: String },
    /// A regular expression matches no string at all.
    #[error("regex {pattern:?} matches no string, so nothing could ever be generated")]
    EmptyRegex { pattern: String },
    /// A rule refers to a rule that was never defined.
    #[error("rule {rule:?} refers to undefined rule {undefined:?}")]
    UndefinedRule { rule: String, undefined: String },
    /// A rule can never derive a finite string.
    #[error(
        "rule {0:?} is unproductive: it can never finish (every alternative recurses forever)"
    )]
    UnproductiveRule(String),
    /// The grammar's start symbol derives no string.
    #[error("the grammar's language is empty: its start rule {0:?} derives no string")]
    EmptyLanguage(String),
    /// The grammar has no start rule.
    #[error("the grammar has no start rule")]
    NoStart,
    /// The grammar is bigger than the configured limit.
    #[error("grammar too large: {0}")]
    TooLarge(String),
    /// A JSON Schema keyword or shape that is not supported (yet).
    #[error("unsupported JSON Schema at {pointer:?}: {message}")]
    UnsupportedSchema { pointer: String, message: String },
    /// A pest grammar that pest itself rejects (syntax error, undefined rule,
    /// left recursion, ...).
    #[error("pest grammar error at line {line}, column {column}: {message}")]
    PestSyntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A pest construct that cannot be lowered into the grammar IR.
    #[error("pest rule {rule:?} at line {line}, column {column}: {message}")]
    PestUnsupported {
        rule: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A GBNF, Lark or EBNF grammar that does not parse, or that its
    /// format refuses (an undefined rule, left recursion in GBNF).
    #[error("{format} grammar error at line {line}, column {column}: {message}")]
    GrammarSyntax {
        format: &'static str,
        line: usize,
        column: usize,
        message: String,
    },
    /// The requested start rule is not defined in the pest grammar.
    #[error("start rule {rule:?} is not defined in the pest grammar; it defines: {defined}")]
    PestUnknownStart { rule: String, defined: String },
    /// SQL `CREATE TABLE` statements that cannot be read.
    #[error("cannot read the SQL schema: {0}; give SQLite CREATE TABLE statements")]
    SqlSchema(String),
    /// The JSON Schema is not valid JSON or not a schema.
    #[error("invalid JSON Schema at {pointer:?}: {message}")]
    InvalidSchema { pointer: String, message: String },
    /// Compiling took more work than the compile budget allows (see
    /// [`Budget`](crate::budget::Budget)).
    #[error(
        "compiling the grammar needed more than its compile budget of {budget} work units{}; \
         raise the budget ({}) or simplify the constraint",
        lexeme_clause(.lexeme),
        Stage::Compile.knob()
    )]
    BudgetExceeded {
        /// The lexeme being built when the budget ran out, if any.
        lexeme: Option<String>,
        budget: u64,
    },
}

/// " (while building lexeme X)", or nothing.
fn lexeme_clause(lexeme: &Option<String>) -> String {
    match lexeme {
        Some(l) => format!(" (while building the DFA of lexeme {})", lexeme_label(l)),
        None => String::new(),
    }
}

/// A lexeme's pattern quoted for a message, cut short if very long.
fn lexeme_label(l: &str) -> String {
    const MAX: usize = 200;
    if l.len() <= MAX {
        return format!("{l:?}");
    }
    let mut end = MAX;
    while !l.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}… ({} bytes)", &l[..end], l.len())
}

/// An error from a [`Matcher`](crate::Matcher) operation.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum MatcherError {
    /// A token id at or beyond the logits width was passed in.
    #[error("token id {token} is outside the logits width {width}")]
    TokenOutOfRange { token: u32, width: usize },
    /// The token is not allowed in the current state.
    #[error("token {token} ({text:?}) is not allowed here")]
    TokenNotAllowed { token: u32, text: String },
    /// Raw bytes given to `commit_bytes` leave the grammar at `offset`.
    #[error("the text {text:?} leaves the grammar at byte {offset}")]
    BytesNotAllowed { offset: usize, text: String },
    /// More tokens were rolled back than were committed.
    #[error("cannot roll back {requested} tokens: only {available} committed")]
    RollbackTooFar { requested: usize, available: usize },
    /// The matcher already accepted EOS and takes no more tokens.
    #[error("the matcher is stopped (EOS was committed); roll back to continue")]
    Stopped,
    /// An operation needed more work than its budget allows (see
    /// [`Budget`](crate::budget::Budget)); the matcher is where it was
    /// before the operation.
    #[error(
        "the {stage} work budget of {budget} units ran out{}; raise it ({}) or simplify \
         the constraint",
        lexeme_clause(.lexeme),
        .stage.knob()
    )]
    BudgetExceeded {
        stage: Stage,
        /// The lexeme being built when the budget ran out, if any.
        lexeme: Option<String>,
        budget: u64,
    },
    /// A lazily built lexeme DFA reached its size limit: the constraint
    /// needs more states of it than the limit allows, and cannot go on.
    #[error(
        "the DFA of lexeme {} reached its size limit of {} MiB, so the output cannot go on \
         under this constraint; simplify the pattern (a large counted repetition costs \
         least at the top level of a pattern, as in x(?:\\w+\\s?){{1,1000}}y, and most \
         nested inside a group)",
        lexeme_label(.lexeme),
        .limit >> 20
    )]
    LexemeTooLarge {
        lexeme: String,
        /// The limit, in bytes.
        limit: usize,
    },
}

impl MatcherError {
    /// True for the errors of a limit (a work budget, a DFA's size), as
    /// opposed to a token the constraint refuses.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            MatcherError::BudgetExceeded { .. } | MatcherError::LexemeTooLarge { .. }
        )
    }

    /// The error for an operation of `stage` that stopped (see
    /// [`crate::budget`]).
    pub(crate) fn from_stop(stop: crate::budget::Stop, stage: Stage, budget: u64) -> MatcherError {
        match stop {
            crate::budget::Stop::Budget { lexeme } => MatcherError::BudgetExceeded {
                stage,
                lexeme,
                budget,
            },
            crate::budget::Stop::Full { lexeme, limit } => {
                MatcherError::LexemeTooLarge { lexeme, limit }
            }
        }
    }
}

/// An error from the model runtime or the generator.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model file could not be loaded.
    #[error("cannot load model {path}: {message}")]
    Load { path: PathBuf, message: String },
    /// The default model could not be fetched.
    #[error("cannot fetch the default model: {0}")]
    Fetch(String),
    /// The prompt plus the tokens to generate (`max_tokens`) do not fit the
    /// context; checked before any work is done.
    #[error(
        "{needed} tokens (the prompt's and --max-tokens together) do not fit the model's \
         context of {context}; shorten the prompt or lower --max-tokens"
    )]
    ContextFull { needed: usize, context: usize },
    /// The model and the tokenizer disagree.
    #[error("tokenizer and model do not match: {0}")]
    Mismatch(String),
    /// The generation was stopped through
    /// [`GenerateOptions::cancel`](crate::generate::GenerateOptions::cancel).
    #[error("the generation was cancelled")]
    Cancelled,
    /// A forward pass failed.
    #[error("inference failed: {0}")]
    Inference(String),
    /// A chat template that does not parse, or that raised an error (its
    /// message is kept).
    #[error("chat template: {0}")]
    Template(String),
    /// A vocabulary problem.
    #[error(transparent)]
    Vocab(#[from] VocabError),
    /// A constraint problem.
    #[error(transparent)]
    Grammar(#[from] GrammarError),
    /// The matcher refused a token the sampler picked (a bug if it happens).
    #[error(transparent)]
    Matcher(#[from] MatcherError),
}

/// The deepest nesting of arrays and objects that serde_json reads: its
/// recursion limit (128) refuses the 128th level, which keeps a hostile
/// document from overflowing the stack.
pub(crate) const JSON_MAX_DEPTH: usize = 127;

/// Says what is wrong with a JSON text that serde_json refused, for a
/// message that begins with the document's name.
///
/// A document nested past 127 levels (serde_json's recursion limit) may well be valid JSON, so it
/// is not called invalid: the message says how deep is too deep.
///
/// ```
/// let nest = |n| "[".repeat(n) + &"]".repeat(n);
/// assert!(serde_json::from_str::<serde_json::Value>(&nest(127)).is_ok());
/// let e = serde_json::from_str::<serde_json::Value>(&nest(128)).unwrap_err();
/// let m = formwork::json_error_message(&e);
/// assert!(m.starts_with("nested deeper than 127 levels"), "{m}");
/// ```
pub fn json_error_message(e: &serde_json::Error) -> String {
    // serde_json has no error category for its recursion limit; its
    // message is the stable way to tell.
    if e.to_string().starts_with("recursion limit exceeded") {
        format!(
            "nested deeper than {JSON_MAX_DEPTH} levels (at line {}, column {}); formwork reads \
             JSON nested up to {JSON_MAX_DEPTH} levels deep",
            e.line(),
            e.column()
        )
    } else {
        format!("not valid JSON: {e}")
    }
}
