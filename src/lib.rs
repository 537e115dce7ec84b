//! formwork: token masks for structured LLM output.
//!
//! Data flows one way:
//!
//! ```text
//! frontend (regex | JSON | JSON Schema) ─► Grammar (IR) ─► CompiledGrammar ─┐
//! tokenizer.json ─► TokenEnv (Vocabulary, TokenTrie, DfaCache) ─────────────┴─► Matcher
//! ```
//!
//! * [`Grammar`](grammar::Grammar): lexemes (regexes) under context-free rules.
//! * [`CompiledGrammar`]: one byte DFA per lexeme plus Earley tables; immutable.
//! * [`TokenEnv`]: per tokenizer, shared by `Arc`: the [`Vocabulary`] (every
//!   token's exact bytes), its [`TokenTrie`], and the [`DfaCache`] of lexeme
//!   DFAs that [`TokenEnv::compile`] shares across grammars.
//! * [`Matcher`]: one sequence's state; computes masks, commits and rolls
//!   back tokens, reports forced bytes and tokens.
//!
//! ```
//! use std::sync::Arc;
//! use formwork::{json_grammar, Matcher, TokenEnv};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
//! let env = Arc::new(TokenEnv::from_file(path)?);
//! let grammar = env.compile(&json_grammar())?;
//! let mut m = Matcher::new(grammar, &env);
//! for t in env.vocab().encode(r#"{"a": [1, 2.5e3, "x"]}"#)? {
//!     assert!(m.compute_mask().contains(t));
//!     m.commit(t)?;
//! }
//! assert!(m.is_accepting());
//! # Ok(()) }
//! ```

pub mod batch;
pub mod budget;
pub mod compiled;
pub mod error;
pub mod fallback;
pub mod frontend;
pub mod fuzzer;
#[cfg(feature = "model")]
pub mod generate;
pub mod grammar;
mod hash;
mod json_value;
mod lexer;
pub mod mask;
pub mod matcher;
#[cfg(feature = "model")]
pub mod model;
mod parser;
pub mod repair;
mod rng;
pub mod sampler;
mod token_env;
pub mod trie;
pub mod vocab;

pub use batch::{compute_masks, try_compute_masks};
pub use compiled::{CompileBuilder, CompiledGrammar};
pub use error::{GrammarError, MatcherError, ModelError, VocabError};
pub use frontend::json::json_grammar;
pub use frontend::pest::pest_grammar;
pub use frontend::regex::regex_grammar;
pub use frontend::schema::{
    compile as json_schema, compile_lenient as json_schema_lenient, FormatMode, PropertyOrder,
    SchemaOptions, SchemaWarning, Spelling, Whitespace,
};
pub use lexer::DfaCache;
pub use mask::TokenMask;
pub use matcher::Matcher;
pub use token_env::TokenEnv;
pub use trie::TokenTrie;
pub use vocab::{TokenId, Vocabulary};

/// The README's code blocks, compiled and run as doctests (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
