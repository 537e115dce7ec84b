//! The lexeme DFA cache: [`DfaCache`].
//!
//! The same lexemes come back in grammar after grammar (a JSON string, an
//! integer in any spelling, whose DFA takes tens of milliseconds to build),
//! and a server compiles many grammars, so lexeme DFAs are kept by pattern.
//! The cache is a value, not a global: whoever compiles grammars owns one
//! (a [`TokenEnv`](crate::TokenEnv) holds one per tokenizer) and hands it
//! to [`CompiledGrammar::builder`](crate::CompiledGrammar::builder), in the
//! manner of `regex-automata`'s explicit caches. Grammars compiled with the
//! same cache share its DFAs; a fresh cache measures a cold start.

use super::dfa::LexemeDfa;
use crate::error::GrammarError;
use crate::hash::FxBuild;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Size of a [`DfaCache::default`], in bytes of tables.
pub(crate) const CACHE_BYTES: usize = 256 << 20;

/// A bounded cache of lexeme DFAs, keyed by pattern. A cheap handle:
/// clones share one cache, which is locked only to look a DFA up or to
/// store one, never while one is built or run.
///
/// It keeps two generations, each holding at most half of its budget. New
/// DFAs go into the young one; when it is full it becomes the old one, and
/// the old one is dropped. A hit in the old generation moves the DFA back
/// to the young one. So the lexemes every schema uses stay, however many
/// one-off property names pass through; emptying the whole cache would
/// rebuild them at the next schema, for milliseconds. A DFA larger than a
/// quarter of the budget is not kept.
///
/// A lazily built DFA is shared through the cache too, each compiled
/// grammar adding states within its own share (see `rows::Room`); one that
/// holds a constraint's worth of states is dropped at its next lookup, so
/// that the next grammar using the lexeme starts from a fresh one.
///
/// ```
/// use formwork::{regex_grammar, CompiledGrammar, DfaCache};
/// let cache = DfaCache::new(64 << 20);
/// let g = regex_grammar(r"[a-z]+@example\.com")?;
/// let first = CompiledGrammar::builder().cache(&cache).build(&g)?;
/// // The second compilation finds the lexeme's DFA in the cache.
/// let second = CompiledGrammar::builder().cache(&cache).build(&g)?;
/// assert_eq!(first.lexeme_count(), second.lexeme_count());
/// # Ok::<(), formwork::GrammarError>(())
/// ```
#[derive(Clone)]
pub struct DfaCache {
    inner: Arc<Mutex<Generations>>,
}

impl DfaCache {
    /// An empty cache holding at most `bytes` bytes of tables.
    pub fn new(bytes: usize) -> DfaCache {
        DfaCache {
            inner: Arc::new(Mutex::new(Generations::new(bytes))),
        }
    }

    /// The bytes of tables this cache holds at most.
    pub fn budget(&self) -> usize {
        self.lock().budget
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The DFA cached under `key`, else `build`'s (cached if it succeeds).
    /// Keys are patterns, or any text that cannot be one (see
    /// [`crate::compiled`]'s intersections).
    pub(crate) fn get_or_build(
        &self,
        key: &str,
        build: impl FnOnce() -> Result<LexemeDfa, GrammarError>,
    ) -> Result<LexemeDfa, GrammarError> {
        let hash = pattern_hash(key);
        if let Some(d) = self.lock().get(hash, key) {
            return Ok(d);
        }
        let dfa = build()?;
        // A build cut short by the running operation's budget may be wrong
        // (see `crate::budget`); the operation fails, and the DFA is not kept.
        if crate::budget::stopped() {
            return Ok(dfa);
        }
        let size = dfa.trans.len() * 4
            + dfa.accept.len()
            + key.len()
            + dfa.lazy.as_ref().map_or(0, |l| l.memory_usage());
        self.lock().insert(hash, (key.into(), dfa.clone(), size));
        Ok(dfa)
    }
}

impl Default for DfaCache {
    /// A cache of 256 MiB.
    fn default() -> DfaCache {
        DfaCache::new(CACHE_BYTES)
    }
}

impl std::fmt::Debug for DfaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.lock();
        f.debug_struct("DfaCache")
            .field("budget", &g.budget)
            .field("bytes", &(g.young.bytes + g.old.bytes))
            .finish()
    }
}

/// The two generations of a [`DfaCache`].
struct Generations {
    /// Bytes both generations may hold together.
    budget: usize,
    young: CacheGeneration,
    old: CacheGeneration,
}

/// Entries by the hash of their key (computed once per lookup: growing the
/// table rehashes no key, and keys run to tens of kilobytes).
#[derive(Default)]
struct CacheGeneration {
    entries: HashMap<u64, Vec<CacheEntry>, FxBuild>,
    bytes: usize,
}

/// A key, its DFA, and the bytes it is counted for.
type CacheEntry = (Box<str>, LexemeDfa, usize);

impl CacheGeneration {
    fn take(&mut self, hash: u64, key: &str) -> Option<CacheEntry> {
        let list = self.entries.get_mut(&hash)?;
        let i = list.iter().position(|e| &*e.0 == key)?;
        let e = list.swap_remove(i);
        if list.is_empty() {
            self.entries.remove(&hash);
        }
        self.bytes -= e.2;
        Some(e)
    }

    fn get(&self, hash: u64, key: &str) -> Option<&LexemeDfa> {
        let list = self.entries.get(&hash)?;
        list.iter().find(|e| &*e.0 == key).map(|e| &e.1)
    }
}

impl Generations {
    fn new(budget: usize) -> Generations {
        Generations {
            budget,
            young: CacheGeneration::default(),
            old: CacheGeneration::default(),
        }
    }

    /// The DFA under `key`; a lazy DFA that is full is dropped instead.
    fn get(&mut self, hash: u64, key: &str) -> Option<LexemeDfa> {
        if let Some(d) = self.young.get(hash, key) {
            if !d.is_full() {
                return Some(d.clone());
            }
            self.young.take(hash, key);
            return None;
        }
        let e = self.old.take(hash, key)?;
        if e.1.is_full() {
            return None;
        }
        let d = e.1.clone();
        self.insert(hash, e);
        Some(d)
    }

    fn insert(&mut self, hash: u64, e: CacheEntry) {
        if e.2 > self.budget / 4 {
            return;
        }
        if self.young.bytes + e.2 > self.budget / 2 {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.bytes += e.2;
        self.young.entries.entry(hash).or_default().push(e);
    }
}

fn pattern_hash(pattern: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = FxBuild::default().build_hasher();
    h.write(pattern.as_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache keeps what is used: a hit in the old generation survives
    /// the next turnover, an entry not used since does not.
    #[test]
    fn dfa_cache_keeps_what_is_used() {
        let dfa = LexemeDfa::new("a", &DfaCache::default()).unwrap();
        let mut c = Generations::new(400);
        let put =
            |c: &mut Generations, k: &str| c.insert(pattern_hash(k), (k.into(), dfa.clone(), 60));
        put(&mut c, "hot");
        put(&mut c, "cold");
        put(&mut c, "x1");
        // Full (200 bytes a generation): the young generation turns old.
        put(&mut c, "x2");
        assert!(c.get(pattern_hash("hot"), "hot").is_some());
        put(&mut c, "x3");
        put(&mut c, "x4");
        // "hot" moved back to the young generation; "cold" was dropped.
        assert!(c.get(pattern_hash("hot"), "hot").is_some());
        assert!(c.get(pattern_hash("cold"), "cold").is_none());
        assert!(c.get(pattern_hash("x4"), "x4").is_some());
        // Too large for the cache: not kept.
        c.insert(pattern_hash("big"), ("big".into(), dfa.clone(), 101));
        assert!(c.get(pattern_hash("big"), "big").is_none());
    }
}
