//! The lexer: one byte DFA per lexeme, combined lazily into product states.
//!
//! Each lexeme's regex is compiled once, with `regex-automata`, into a dense
//! anchored DFA. That DFA is then re-encoded into a compact table
//! ([`LexemeDfa`]) whose states are exactly the *live* ones (from which a
//! match can still be reached); every other state becomes [`DEAD`]. This makes
//! "can this lexeme still match?" a comparison with one constant.
//!
//! At run time the parser says which lexemes may come next, and the lexer runs
//! all of them in parallel: a lexer state ([`LexerCache`]) is the set of
//! `(lexeme, DFA state)` pairs still alive. These product states are built
//! lazily, interned, and their transitions cached in one flat table indexed by
//! `state * classes + class(byte)`, so the matcher's inner loop is one load per
//! byte. The bytes are grouped into equivalence classes that no lexeme
//! distinguishes, which keeps the table small.
//!
//! The cache belongs to a matcher, not to the compiled grammar, so the grammar
//! stays immutable and shareable without locks.
//!
//! Not every lexeme DFA is a dense table: large ones are built on first use
//! ([`lazy`]), long counted repetitions are numbered arithmetically
//! ([`Counted`]) or, when their units overlap, keep their counts as sets
//! ([`repeat`]).

mod build;
mod cache;
mod classes;
mod dfa;
mod lazy;
mod literal;
mod part;
mod product;
mod repeat;
mod rows;
mod strings;
#[cfg(test)]
mod tests;

pub use cache::DfaCache;
pub(crate) use classes::{DEAD, UNKNOWN};
#[cfg(test)]
pub(crate) use dfa::dense_builder;
pub(crate) use dfa::LexemeDfa;
pub(crate) use product::{CountClassKey, EndFlags, LexerCache, LexerSpec, SHORT_REST};
