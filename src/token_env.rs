//! Per-tokenizer shared state: [`TokenEnv`].
//!
//! A matcher needs a vocabulary, the trie of its tokens, and (to compile
//! grammars cheaply) a cache of lexeme DFAs. None of these depends on the
//! grammar, all are immutable or internally synchronized, and all are
//! costly to build (a trie of 128k tokens, DFAs of tens of milliseconds),
//! so a process holds them once per tokenizer, in a `TokenEnv` behind an
//! `Arc`, and every grammar and matcher for that tokenizer shares it.
//!
//! The trie is built from the vocabulary inside the environment, so a
//! matcher can never be given a trie of another vocabulary. The DFA cache
//! is explicit: [`TokenEnv::compile`] uses the environment's, and
//! [`CompiledGrammar::builder`] takes any other (a fresh one measures a
//! cold start).
//!
//! ```
//! use std::sync::Arc;
//! use formwork::{regex_grammar, Matcher, TokenEnv};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
//! let env = Arc::new(TokenEnv::from_file(path)?);
//! let grammar = env.compile(&regex_grammar(r"[0-9]{4}-[0-9]{2}")?)?;
//! let mut m = Matcher::new(grammar, &env);
//! for t in env.vocab().encode("2024-05")? {
//!     m.commit(t)?;
//! }
//! assert!(m.is_accepting());
//! # Ok(()) }
//! ```

use crate::budget::Budget;
use crate::compiled::CompiledGrammar;
use crate::error::{GrammarError, VocabError};
use crate::grammar::Grammar;
use crate::lexer::DfaCache;
use crate::trie::TokenTrie;
use crate::vocab::Vocabulary;
use std::path::Path;
use std::sync::Arc;

/// A vocabulary, the trie of its tokens, and a lexeme DFA cache (see the
/// module docs). `Send + Sync`; share it with an `Arc` (a clone shares the
/// same parts).
#[derive(Clone, Debug)]
pub struct TokenEnv {
    vocab: Arc<Vocabulary>,
    trie: Arc<TokenTrie>,
    cache: DfaCache,
    /// Unique per environment (clones share it): a compiled grammar keeps
    /// its first mask for the environment it was compiled in.
    id: u64,
}

impl TokenEnv {
    /// The environment of `vocab`: builds its trie, with an empty
    /// [`DfaCache::default`].
    pub fn new(vocab: impl Into<Arc<Vocabulary>>) -> TokenEnv {
        Self::with_cache(vocab, DfaCache::default())
    }

    /// [`new`](Self::new) with the lexeme DFA cache `cache` (shared with
    /// whoever else holds a handle to it).
    pub fn with_cache(vocab: impl Into<Arc<Vocabulary>>, cache: DfaCache) -> TokenEnv {
        let vocab = vocab.into();
        let trie = Arc::new(TokenTrie::with_cache(&vocab, &cache));
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TokenEnv {
            vocab,
            trie,
            cache,
            id,
        }
    }

    /// The environment of the tokenizer at `path` (see
    /// [`Vocabulary::from_file`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<TokenEnv, VocabError> {
        Ok(Self::new(Vocabulary::from_file(path)?))
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Arc<Vocabulary> {
        &self.vocab
    }

    /// The trie of the vocabulary's tokens.
    pub fn trie(&self) -> &Arc<TokenTrie> {
        &self.trie
    }

    /// The lexeme DFA cache that [`compile`](Self::compile) uses.
    pub fn cache(&self) -> &DfaCache {
        &self.cache
    }

    /// This environment's identity (shared by its clones).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Compiles `grammar` with this environment's DFA cache and the
    /// default [`Budget`]s. ([`Matcher::prepare`](crate::Matcher::prepare)
    /// then computes its first mask once for every matcher of it.)
    pub fn compile(&self, grammar: &Grammar) -> Result<Arc<CompiledGrammar>, GrammarError> {
        self.compile_with_budget(grammar, Budget::new())
    }

    /// The lexemes of `grammar` whose first mask
    /// [`Matcher::prepare`](crate::Matcher::prepare) found to need more
    /// than the mask budget in this environment's vocabulary, one message
    /// each (empty if none did, or if the grammar was not prepared here). A
    /// mask that meets such a lexeme is likely to fail with a budget error:
    /// raise the mask budget ([`Budget::mask`]) or simplify the constraint
    /// the message names.
    pub fn budget_warnings<'g>(&self, grammar: &'g CompiledGrammar) -> &'g [String] {
        grammar.budget_warnings_in(self.id())
    }

    /// [`compile`](Self::compile) within `budget` (see
    /// [`CompiledGrammar::with_budget`]).
    pub fn compile_with_budget(
        &self,
        grammar: &Grammar,
        budget: Budget,
    ) -> Result<Arc<CompiledGrammar>, GrammarError> {
        CompiledGrammar::builder()
            .budget(budget)
            .cache(&self.cache)
            .build(grammar)
            .map(Arc::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<TokenEnv>();
        send_sync::<DfaCache>();
    }
}
