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
//! Every public item has exactly one path. **The crate root holds the
//! pipeline**, in the order a caller meets it:
//!
//! * constraints: [`json_grammar`], [`regex_grammar`], [`pest_grammar`],
//!   [`json_schema`] and [`json_schema_lenient`] (with [`SchemaOptions`],
//!   [`Whitespace`], [`FormatMode`], [`PropertyOrder`], [`Spelling`],
//!   [`SchemaWarning`]);
//! * per tokenizer: [`TokenEnv`], [`Vocabulary`], [`TokenId`], [`TokenTrie`],
//!   [`DfaCache`];
//! * per constraint and sequence: [`CompiledGrammar`], [`CompileBuilder`],
//!   [`Matcher`], [`TokenMask`], [`Budget`], [`Stage`], and for a batch
//!   [`compute_masks`], [`try_compute_masks`], [`try_compute_masks_into`]
//!   and [`try_compute_masks_with`] (in parallel, with rayon);
//! * errors: [`GrammarError`], [`MatcherError`], [`VocabError`],
//!   [`ModelError`], [`json_error_message`].
//!
//! **Subsystems are namespaced modules**, not re-exported at the root:
//! [`grammar`] (the IR), [`sql`] (schema scoping of the SQL grammar),
//! [`repair`], [`fallback`], [`fuzzer`], [`sampler`], and with the `model`
//! feature `generate` and `model`.
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

mod batch;
mod budget;
mod compiled;
mod error;
pub mod fallback;
mod frontend;
pub mod fuzzer;
#[cfg(feature = "model")]
pub mod generate;
pub mod grammar;
mod hash;
mod json_value;
mod lexer;
mod mask;
mod matcher;
#[cfg(feature = "model")]
pub mod model;
mod parser;
pub mod repair;
mod rng;
pub mod sampler;
mod state_mask;
mod team;
mod token_env;
mod trie;
mod vocab;

pub use batch::{compute_masks, try_compute_masks, try_compute_masks_into, try_compute_masks_with};
pub use budget::{Budget, Stage};
pub use compiled::{CompileBuilder, CompiledGrammar};
pub use error::{json_error_message, GrammarError, MatcherError, ModelError, VocabError};
pub use frontend::gbnf::{ebnf_grammar, gbnf_grammar, gbnf_grammar_rooted};
pub use frontend::json::json_grammar;
pub use frontend::lark::lark_grammar;
pub use frontend::pest::pest_grammar;
pub use frontend::pest::sql;
pub use frontend::regex::regex_grammar;
pub use frontend::schema::{
    compile as json_schema, compile_lenient as json_schema_lenient, FormatMode, PropertyOrder,
    SchemaOptions, SchemaWarning, Spelling, Whitespace,
};
pub use frontend::structural::structural_tag_grammar;
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
