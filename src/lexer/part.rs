//! What an automaton built from other lexeme DFAs needs of them: the
//! [`Part`] trait.
//!
//! An intersection ([`super::lazy::LazyProduct`]) and a repetition with
//! overlapping units ([`super::repeat::LazyRepeat`]) are made of lexeme
//! DFAs, and a lexeme DFA ([`super::dfa::LexemeDfa`]) may be either of
//! them. Naming the parts' type here, below both, keeps the files apart:
//! the composite automata are generic over their parts, `dfa.rs`
//! instantiates them with `LexemeDfa`, and nothing points back up. The
//! generics are monomorphised, so a part's step costs what a direct call
//! did.

/// One lexeme DFA seen as the part of a larger automaton. States are `u32`,
/// every state handed out is live, and [`DEAD`](super::classes::DEAD) is
/// the one state from which nothing matches.
pub(crate) trait Part: Clone {
    /// The byte classes: bytes with the same class lead to the same state
    /// from every state.
    fn classes(&self) -> &[u8; 256];

    /// The start state.
    fn start(&self) -> u32;

    /// The state after `byte` from `s`, or `DEAD`.
    fn next(&self, s: u32, byte: u8) -> u32;

    fn is_accepting(&self, s: u32) -> bool;

    /// Fewest bytes from `s` to an accepting state (or a lower bound).
    fn to_accept(&self, s: u32) -> u32;

    /// Length of the shortest match (at least 1).
    fn shortest(&self) -> u32;

    /// Number of states (built so far, for a DFA built on first use).
    fn state_count(&self) -> usize;
}
