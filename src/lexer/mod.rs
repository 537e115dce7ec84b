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
//! ([`lazy`]), and so are intersections of lexemes (`LazyProduct`); long
//! counted repetitions are numbered arithmetically (`dfa::Counted`) or,
//! when their units overlap, keep their counts as sets ([`repeat`]); JSON
//! strings are worked out from the string ([`literal`]) or from a trie of
//! them ([`strings`]).
//!
//! # Layering
//!
//! The files form layers, each using only those below it (no file imports
//! one above it, nor this one, so there is no cycle between them):
//!
//! 1. Leaves. `classes.rs`: state numbering ([`DEAD`], [`UNKNOWN`]), byte
//!    classes, size limits. `rows.rs`: the shared row storage and
//!    per-constraint size limit of the automata built on first use.
//!    `part.rs`: the `Part` trait, what an automaton made of other lexeme
//!    DFAs needs of them (a step, acceptance, distances to a match).
//! 2. The automaton kinds, each on leaves only: `literal.rs` and
//!    `strings.rs` (worked out from strings), `lazy.rs` (a subset
//!    construction on demand, and `LazyProduct<P: Part>`, the intersection
//!    of parts) and `repeat.rs` (`LazyRepeat<P: Part>`, a repetition of
//!    parts).
//! 3. `dfa.rs`: [`LexemeDfa`], a dense table or one of the kinds (the
//!    `Lazy` enum, and `Counted`); it implements `Part` and instantiates
//!    the composite kinds with itself as their parts.
//! 4. `cache.rs` ([`DfaCache`], lexeme DFAs by pattern), then `build.rs`
//!    (from a pattern to a [`LexemeDfa`], through the cache) and
//!    `product.rs` (the product lexer of a grammar, [`LexerCache`]).
//!
//! The recursion is in the types, not in the files: a lexeme DFA may be an
//! intersection of lexeme DFAs. The composite automata are therefore
//! generic over their parts instead of naming `LexemeDfa`, in the manner
//! of `regex-automata`, whose searches are generic over an `Automaton`
//! trait defined below every DFA kind that implements it: each automaton
//! can be read, tested and changed against the small interface it uses,
//! the enum that closes the loop is one file, and monomorphisation makes
//! the generic calls exactly the direct calls they were (no `dyn` in the
//! lexer's inner loop).

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
pub(crate) use dfa::dense_builder;
pub(crate) use dfa::LexemeDfa;
pub(crate) use product::{CountClassKey, EndFlags, LexerCache, LexerSpec, StateKey, SHORT_REST};
