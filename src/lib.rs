//! formwork: token masks for structured LLM output.
//!
//! Data flows one way:
//!
//! ```text
//! frontend (regex | JSON | JSON Schema) ─► Grammar (IR) ─► CompiledGrammar ─┐
//! tokenizer.json ─► Vocabulary ─► TokenTrie ─────────────────────────────────┴─► Matcher
//! ```
//!
//! * [`Grammar`](grammar::Grammar): lexemes (regexes) under context-free rules.
//! * [`CompiledGrammar`]: one byte DFA per lexeme plus Earley tables; immutable.
//! * [`Vocabulary`] and [`TokenTrie`]: every token's exact bytes; immutable.
//! * [`Matcher`]: one sequence's state; computes masks, commits and rolls
//!   back tokens, reports forced bytes and tokens.
//!
//! ```
//! use std::sync::Arc;
//! use formwork::{json_grammar, CompiledGrammar, Matcher, TokenTrie, Vocabulary};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
//! let vocab = Arc::new(Vocabulary::from_file(path)?);
//! let trie = Arc::new(TokenTrie::new(&vocab));
//! let grammar = Arc::new(CompiledGrammar::new(&json_grammar())?);
//! let mut m = Matcher::new(grammar, vocab.clone(), trie);
//! for t in vocab.encode(r#"{"a": [1, 2.5e3, "x"]}"#)? {
//!     assert!(m.compute_mask().contains(t));
//!     m.commit(t)?;
//! }
//! assert!(m.is_accepting());
//! # Ok(()) }
//! ```

pub mod bench;
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
pub mod trie;
pub mod vocab;

pub use compiled::CompiledGrammar;
pub use error::{GrammarError, MatcherError, ModelError, VocabError};
pub use frontend::json::json_grammar;
pub use frontend::pest::pest_grammar;
pub use frontend::regex::regex_grammar;
pub use frontend::schema::{
    compile as json_schema, compile_lenient as json_schema_lenient, FormatMode, PropertyOrder,
    SchemaOptions, SchemaWarning, Spelling, Whitespace,
};
pub use mask::TokenMask;
pub use matcher::Matcher;
pub use trie::TokenTrie;
pub use vocab::{TokenId, Vocabulary};
