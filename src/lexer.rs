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

mod lazy;
mod literal;
mod repeat;
mod strings;

use crate::error::GrammarError;
use crate::hash::FxBuild;
use lazy::{Lazy, LazyDfa, LazyProduct};
use regex_automata::{
    dfa::{dense, Automaton, StartKind},
    nfa::thompson,
    util::{start, syntax},
    Anchored, MatchKind,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Index of a lexeme in its grammar.
pub(crate) type LexemeId = u32;

/// The dead state (in [`LexemeDfa`] tables and in the product cache).
pub(crate) const DEAD: u32 = u32::MAX;
/// A product transition not computed yet.
pub(crate) const UNKNOWN: u32 = u32::MAX - 1;

/// Size of the process-wide DFA cache of [`LexemeDfa::new`], in bytes of
/// tables (see [`DfaCache`]).
pub(crate) const CACHE_BYTES: usize = 256 << 20;

/// The process-wide DFA cache: two generations, each holding at most half
/// of [`CACHE_BYTES`]. A lazily built DFA that holds a constraint's worth
/// of states (see `lazy::Room`) is dropped at its next lookup, so that the
/// next grammar using the lexeme starts from a fresh one. New DFAs go into the young one; when it is full it
/// becomes the old one, and the old one is dropped. A hit in the old
/// generation moves the DFA back to the young one. So the lexemes every
/// schema uses (a JSON string, a number, an integer in any spelling) stay,
/// however many one-off property names pass through; emptying the whole
/// cache would rebuild them at the next schema, for milliseconds.
struct DfaCache {
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

impl DfaCache {
    fn new(budget: usize) -> DfaCache {
        DfaCache {
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

fn dfa_cache() -> &'static Mutex<DfaCache> {
    static CACHE: OnceLock<Mutex<DfaCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(DfaCache::new(CACHE_BYTES)))
}

/// Empties the cache of [`LexemeDfa::new`] (for cold-start measurements).
pub(crate) fn clear_cache() {
    if let Ok(mut c) = dfa_cache().lock() {
        *c = DfaCache::new(CACHE_BYTES);
    }
}

/// Most (lexer state, slice state) pairs [`LexerCache::slice_allowed`]
/// explores before answering "no": a state whose pairs do not close up by
/// then (a count that changes with every byte) would only waste the work,
/// once per lexer state.
const SLICE_CHECK_PAIRS: usize = 4_096;

/// The class of each byte under `bc`, and the first byte of each class.
pub(crate) fn class_table(
    bc: &regex_automata::util::alphabet::ByteClasses,
) -> ([u8; 256], Vec<u8>) {
    let mut classes = [0u8; 256];
    let mut reps: Vec<u8> = Vec::new();
    for b in 0..=255u8 {
        let c = bc.get(b);
        classes[b as usize] = c;
        if c as usize >= reps.len() {
            reps.resize(c as usize + 1, b);
            reps[c as usize] = b;
        }
    }
    (classes, reps)
}

/// Refines the byte classes `class_of` by each of `tables` in turn, by
/// partition refinement: two bytes stay in one class only if every table
/// puts them in one class too. No key per byte over all tables (a schema has
/// thousands of lexemes). Returns the first byte of each class.
pub(crate) fn refine_classes<'t>(
    class_of: &mut [u8; 256],
    tables: impl Iterator<Item = &'t [u8; 256]>,
) -> Vec<u8> {
    // (class so far, table's class) -> stamp << 8 | new class. Stamps are
    // unique per table across calls, so the buffer is never cleared
    // (products call this for a handful of parts, often).
    thread_local! {
        static PAIRS: std::cell::RefCell<(Vec<u64>, u64)> =
            const { std::cell::RefCell::new((Vec::new(), 0)) };
    }
    PAIRS.with(|cell| {
        let (pairs, stamp) = &mut *cell.borrow_mut();
        if pairs.is_empty() {
            pairs.resize(1 << 16, 0);
        }
        let mut last: Option<&[u8; 256]> = None;
        for t in tables {
            // Runs of equal tables refine nothing new.
            if last.is_some_and(|c| c == t) {
                continue;
            }
            last = Some(t);
            *stamp += 1;
            let tag = *stamp << 8;
            let mut n = 0u64;
            for (c, &tc) in class_of.iter_mut().zip(t) {
                let e = &mut pairs[(*c as usize) << 8 | tc as usize];
                if *e & !0xff != tag {
                    *e = tag | n;
                    n += 1;
                }
                *c = *e as u8;
            }
        }
    });
    let mut class_rep = Vec::new();
    for b in 0..=255u8 {
        if class_of[b as usize] as usize == class_rep.len() {
            class_rep.push(b);
        }
    }
    class_rep
}

/// Size limit for one lexeme's DFA, in bytes of transition table.
const DFA_SIZE_LIMIT: usize = 64 << 20;

/// One lexeme's DFA, restricted to live states.
#[derive(Clone, Debug)]
pub(crate) struct LexemeDfa {
    classes: [u8; 256],
    stride: usize,
    // Shared, so that a clone (from the process-wide cache) is cheap.
    trans: Arc<[u32]>,
    accept: Arc<[bool]>,
    pub(crate) start: u32,
    /// The regex matches the empty string (the lexeme itself never does).
    pub(crate) nullable: bool,
    /// Distances to acceptance, computed on first use (only the search for
    /// a completion needs them; compiling does not pay for them).
    // Shared by the clones, like the tables they are computed from.
    distances: Arc<std::sync::OnceLock<Distances>>,
    /// Set for a long counted repetition (see [`Counted`]): then the states
    /// are computed, not stored, and `trans` and `accept` are empty.
    counted: Option<Arc<Counted>>,
    /// Set when the states are built on first use (see [`lazy`]): then
    /// `trans` and `accept` are empty.
    lazy: Option<Arc<Lazy>>,
}

/// Repetition bounds from which [`LexemeDfa::new`] builds a [`Counted`]
/// lexeme instead of a dense table.
const COUNTED_FROM: u32 = 100;

/// A lexeme of the form `A B{min,max} C` with a large bound, where a dense
/// DFA would hold a copy of B's states per count: a JSON string of at most
/// 32,767 code points is half a million states, seconds to build.
///
/// Instead the states are numbered arithmetically: A's states, then
/// `(count, B state)` pairs, then C's states, and each transition is
/// computed from the three small DFAs. Nothing is built per count, and the
/// lexer's product states (built lazily anyway) only ever reach the counts
/// a sequence actually writes.
///
/// The split must keep the lexeme deterministic, so it is only made when
/// A and B are *prefix-free* (no match of either goes on to a longer
/// match: a unit ends exactly where its DFA accepts), B's start state is
/// never re-entered, and no byte can both start a B and start C. Otherwise
/// the pattern gets a dense DFA as usual.
#[derive(Debug)]
struct Counted {
    a: Option<LexemeDfa>,
    b: LexemeDfa,
    c: Option<LexemeDfa>,
    min: u32,
    /// `max`, or `min` when unbounded (counts saturate there).
    cap: u32,
    bounded: bool,
    a_n: u32,
    b_n: u32,
    c_base: u32,
}

impl Counted {
    #[inline]
    fn unit(&self, count: u32, s: u32) -> u32 {
        self.a_n + count * self.b_n + s
    }

    #[inline]
    fn boundary(&self, count: u32) -> u32 {
        self.unit(count, self.b.start)
    }

    #[inline]
    fn next_count(&self, count: u32) -> u32 {
        if self.bounded {
            count + 1
        } else {
            (count + 1).min(self.cap)
        }
    }

    /// A state's phase: `Ok((count, B state))` inside the repetition,
    /// `Err(None)` in A, `Err(Some(C state))` in C.
    #[inline]
    fn split(&self, s: u32) -> Result<(u32, u32), Option<u32>> {
        if s < self.a_n {
            Err(None)
        } else if s < self.c_base {
            let k = s - self.a_n;
            Ok((k / self.b_n, k % self.b_n))
        } else {
            Err(Some(s - self.c_base))
        }
    }

    fn next(&self, s: u32, byte: u8) -> u32 {
        match self.split(s) {
            Err(None) => {
                let a = self.a.as_ref().expect("A states exist only with A");
                match a.next(s, byte) {
                    DEAD => DEAD,
                    t if a.is_accepting(t) => self.boundary(0),
                    t => t,
                }
            }
            Ok((count, q)) => {
                let at_boundary = q == self.b.start;
                if !at_boundary || !self.bounded || count < self.cap {
                    match self.b.next(q, byte) {
                        DEAD => {}
                        t if self.b.is_accepting(t) => {
                            return self.boundary(self.next_count(count))
                        }
                        t => return self.unit(count, t),
                    }
                }
                if at_boundary && count >= self.min {
                    if let Some(c) = &self.c {
                        let t = c.next(c.start, byte);
                        if t != DEAD {
                            return self.c_base + t;
                        }
                    }
                }
                DEAD
            }
            Err(Some(q)) => {
                let c = self.c.as_ref().expect("C states exist only with C");
                match c.next(q, byte) {
                    DEAD => DEAD,
                    t => self.c_base + t,
                }
            }
        }
    }

    fn is_accepting(&self, s: u32) -> bool {
        match self.split(s) {
            Err(None) => false,
            Ok((count, q)) => {
                q == self.b.start
                    && count >= self.min
                    && self.c.as_ref().is_none_or(|c| c.is_accepting(c.start))
            }
            Err(Some(q)) => self.c.as_ref().is_some_and(|c| c.is_accepting(q)),
        }
    }

    /// Fewest bytes from `s` to acceptance.
    fn to_accept(&self, s: u32) -> u32 {
        let far = u32::MAX / 4;
        let tail = match &self.c {
            None => 0,
            Some(c) => c.distances().to_accept[c.start as usize],
        };
        let unit = self.b.distances().shortest;
        let from_boundary = |count: u32| {
            (self.min.saturating_sub(count))
                .saturating_mul(unit)
                .saturating_add(tail)
                .min(far)
        };
        match self.split(s) {
            Err(None) => {
                let a = self.a.as_ref().expect("A states exist only with A");
                a.distances().to_accept[s as usize]
                    .saturating_add(from_boundary(0))
                    .min(far)
            }
            Ok((count, q)) if q == self.b.start => from_boundary(count),
            Ok((count, q)) => self.b.distances().to_accept[q as usize]
                .saturating_add(from_boundary(self.next_count(count)))
                .min(far),
            Err(Some(q)) => self
                .c
                .as_ref()
                .map_or(far, |c| c.distances().to_accept[q as usize]),
        }
    }
}

/// See [`LexemeDfa::distances`].
#[derive(Clone, Debug)]
pub(crate) struct Distances {
    /// For each state, the fewest bytes to an accepting state.
    pub(crate) to_accept: Vec<u32>,
    /// Length of the shortest lexeme (at least 1).
    pub(crate) shortest: u32,
}

impl LexemeDfa {
    /// Compiles `pattern`, which must match a whole lexeme (it is anchored at
    /// both ends).
    ///
    /// DFAs are kept in a process-wide cache keyed by the pattern (bounded:
    /// see [`CACHE_BYTES`]): the same lexemes come back in schema after
    /// schema (a JSON string, an integer in any spelling, whose DFA takes
    /// tens of milliseconds to build), and a server compiles many schemas.
    pub(crate) fn new(pattern: &str) -> Result<LexemeDfa, GrammarError> {
        Self::cached(pattern, || {
            let dfa = match literal::spelled_literal(pattern) {
                Some(s) => literal::literal_dfa(&s),
                None => match Self::counted(pattern)? {
                    Some(d) => d,
                    None => match Self::lazy(pattern)? {
                        Some(d) => d,
                        None => Self::build(pattern)?,
                    },
                },
            };
            Ok(dfa)
        })
    }

    /// The DFA cached under `key` in the process-wide cache, else `build`'s
    /// (cached if it succeeds). Keys are patterns, or any text that cannot
    /// be one (see [`crate::compiled`]'s intersections).
    pub(crate) fn cached(
        key: &str,
        build: impl FnOnce() -> Result<LexemeDfa, GrammarError>,
    ) -> Result<LexemeDfa, GrammarError> {
        let cache = dfa_cache();
        let hash = pattern_hash(key);
        if let Some(d) = cache.lock().ok().and_then(|mut c| c.get(hash, key)) {
            return Ok(d);
        }
        let dfa = build()?;
        // A build cut short by the running operation's budget may be wrong
        // (see `crate::budget`); the operation fails, and the DFA is not kept.
        if crate::budget::stopped() {
            return Ok(dfa);
        }
        if let Ok(mut c) = cache.lock() {
            let size = dfa.trans.len() * 4
                + dfa.accept.len()
                + key.len()
                + dfa.lazy.as_ref().map_or(0, |l| l.memory_usage());
            c.insert(hash, (key.into(), dfa.clone(), size));
        }
        Ok(dfa)
    }

    /// The lexeme matching any one of the JSON strings `values` (quotes
    /// included) in every JSON spelling: a trie (see [`strings`]).
    pub(crate) fn strings(values: &[String]) -> Result<LexemeDfa, GrammarError> {
        strings::string_set_dfa(values)
    }

    /// `pattern` as a lazily built DFA (see [`lazy`]), if it qualifies
    /// (`None`: build it densely; that also reports a syntax error).
    fn lazy(pattern: &str) -> Result<Option<LexemeDfa>, GrammarError> {
        let config = syntax::Config::new().utf8(true).unicode(true);
        let Ok(hir) = syntax::parse_with(pattern, &config) else {
            return Ok(None);
        };
        let Some((dfa, classes)) = LazyDfa::new(&hir, pattern, DFA_SIZE_LIMIT)? else {
            return Ok(None);
        };
        Ok(Some(LexemeDfa {
            classes,
            stride: dfa.stride(),
            trans: Arc::from(Vec::new()),
            accept: Arc::from(Vec::new()),
            start: 0,
            nullable: dfa.is_accepting(0),
            distances: Default::default(),
            counted: None,
            lazy: Some(Arc::new(Lazy::Regex(dfa))),
        }))
    }

    /// This DFA with every state built: a lazy DFA is explored in full
    /// (an error if it is too large); any other is returned as is. For the
    /// analyses that look at every state.
    pub(crate) fn to_dense(&self, pattern: &str) -> Result<LexemeDfa, GrammarError> {
        let Some(l) = &self.lazy else {
            return Ok(self.clone());
        };
        let (trans, accept) = l.complete().ok_or_else(|| GrammarError::RegexTooLarge {
            pattern: pattern.to_string(),
            message: format!("the DFA has more than {} states", l.state_count()),
        })?;
        Ok(LexemeDfa {
            classes: self.classes,
            stride: self.stride,
            trans: trans.into(),
            accept: accept.into(),
            start: 0,
            nullable: self.nullable,
            distances: Default::default(),
            counted: None,
            lazy: None,
        })
    }

    /// `pattern` as a [`Counted`] lexeme, if it has the shape one needs
    /// (`None`: build it densely).
    fn counted(pattern: &str) -> Result<Option<LexemeDfa>, GrammarError> {
        use regex_syntax::hir::{Hir, HirKind};
        // Cheap test first: only patterns with a large bound are worth it.
        let large = pattern.split('{').skip(1).any(|p| {
            let digits: String = p
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .collect();
            digits
                .split(',')
                .any(|d| d.parse::<u64>().is_ok_and(|n| n >= COUNTED_FROM as u64))
        });
        if !large {
            return Ok(None);
        }
        let Ok(hir) = regex_syntax::ParserBuilder::new()
            .utf8(true)
            .unicode(true)
            .build()
            .parse(pattern)
        else {
            return Ok(None); // the dense build reports the error
        };
        if !hir.properties().look_set().is_empty() {
            return Ok(None);
        }
        let unwrap = |h: &Hir| -> Hir {
            let mut h = h.clone();
            while let HirKind::Capture(c) = h.kind() {
                h = (*c.sub).clone();
            }
            h
        };
        let items: Vec<Hir> = match unwrap(&hir).kind() {
            HirKind::Concat(v) => v.iter().map(unwrap).collect(),
            _ => vec![unwrap(&hir)],
        };
        let Some(at) = items.iter().position(|h| {
            matches!(h.kind(), HirKind::Repetition(r)
                if r.greedy && r.max.map_or(r.min, |m| m.max(r.min)) >= COUNTED_FROM)
        }) else {
            return Ok(None);
        };
        let HirKind::Repetition(rep) = items[at].kind() else {
            return Ok(None);
        };
        let (min, max) = (rep.min, rep.max);
        let cap = max.unwrap_or(min);
        let part = |hs: &[Hir]| -> Result<Option<LexemeDfa>, GrammarError> {
            if hs.is_empty() {
                return Ok(None);
            }
            let p = Hir::concat(hs.to_vec()).to_string();
            let d = LexemeDfa::new(&p)?.to_dense(&p)?;
            // Matching only "" is no part at all.
            let empty_only =
                d.is_accepting(d.start) && (0..=255u8).all(|b| d.next(d.start, b) == DEAD);
            Ok((!empty_only).then_some(d))
        };
        let a = part(&items[..at])?;
        let c = part(&items[at + 1..])?;
        let b_pattern = rep.sub.to_string();
        let b = LexemeDfa::new(&b_pattern)?.to_dense(&b_pattern)?;
        let terminal = |d: &LexemeDfa, s: u32| (0..=255u8).all(|x| d.next(s, x) == DEAD);
        let prefix_free = |d: &LexemeDfa| {
            !d.is_accepting(d.start)
                && d.counted.is_none()
                && (0..d.state_count() as u32).all(|s| !d.is_accepting(s) || terminal(d, s))
        };
        let splits = a.as_ref().is_none_or(prefix_free) && prefix_free(&b) && {
            let reenters =
                (0..b.state_count() as u32).any(|s| (0..=255u8).any(|x| b.next(s, x) == b.start));
            let overlap = c.as_ref().is_some_and(|c| {
                c.counted.is_some()
                    || (0..=255u8).any(|x| b.next(b.start, x) != DEAD && c.next(c.start, x) != DEAD)
            });
            !reenters && !overlap
        };
        if !splits {
            // Units that overlap (`\w+\s?`) or parts that run into each
            // other: counts kept as sets (see `repeat`), unless a unit may be
            // empty, which a subset construction handles as well.
            if b.is_accepting(b.start) {
                return Ok(None);
            }
            let (r, classes) = repeat::LazyRepeat::new(pattern, a, b, c, min, max, DFA_SIZE_LIMIT);
            return Ok(Some(LexemeDfa {
                classes,
                stride: r.stride(),
                trans: Arc::from(Vec::new()),
                accept: Arc::from(Vec::new()),
                start: 0,
                nullable: r.is_accepting(0),
                distances: Default::default(),
                counted: None,
                lazy: Some(Arc::new(Lazy::Repeat(Box::new(r)))),
            }));
        }
        let a_n = a.as_ref().map_or(0, |a| a.state_count() as u64);
        let b_n = b.state_count() as u64;
        let c_n = c.as_ref().map_or(0, |c| c.state_count() as u64);
        let total = a_n + (cap as u64 + 1) * b_n + c_n;
        // Two more runs of B states name the count classes (`count_class`).
        if total + 2 * b_n >= (UNKNOWN - 1) as u64 {
            return Err(GrammarError::RegexTooLarge {
                pattern: pattern.to_string(),
                message: format!("{total} states: the repetition bound is too large"),
            });
        }
        // Joint byte classes of the three parts.
        let mut key_to_class: HashMap<(u8, u8, u8), u8> = HashMap::new();
        let mut classes = [0u8; 256];
        for x in 0..=255u8 {
            let key = (
                a.as_ref().map_or(0, |d| d.class(x)),
                b.class(x),
                c.as_ref().map_or(0, |d| d.class(x)),
            );
            let n = key_to_class.len() as u8;
            classes[x as usize] = *key_to_class.entry(key).or_insert(n);
        }
        let counted = Counted {
            a_n: a_n as u32,
            b_n: b_n as u32,
            c_base: (a_n + (cap as u64 + 1) * b_n) as u32,
            a,
            b,
            c,
            min,
            cap,
            bounded: max.is_some(),
        };
        let start = if counted.a.is_some() {
            0
        } else {
            counted.boundary(0)
        };
        let nullable = counted.is_accepting(start);
        Ok(Some(LexemeDfa {
            classes,
            stride: key_to_class.len(),
            trans: Arc::from(Vec::new()),
            accept: Arc::from(Vec::new()),
            start,
            nullable,
            distances: Default::default(),
            counted: Some(Arc::new(counted)),
            lazy: None,
        }))
    }

    fn build(pattern: &str) -> Result<LexemeDfa, GrammarError> {
        let dfa = dense::Builder::new()
            .syntax(syntax::Config::new().utf8(true).unicode(true))
            .thompson(thompson::Config::new().utf8(true))
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .start_kind(StartKind::Anchored)
                    .minimize(false)
                    .dfa_size_limit(Some(DFA_SIZE_LIMIT))
                    .determinize_size_limit(Some(DFA_SIZE_LIMIT)),
            )
            .build(pattern)
            .map_err(|e| {
                let message = e.to_string();
                let detail = std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                let full = if detail.is_empty() {
                    message.clone()
                } else {
                    format!("{message}: {detail}")
                };
                if full.contains("limit") || full.contains("too big") || full.contains("exceeded") {
                    GrammarError::RegexTooLarge {
                        pattern: pattern.to_string(),
                        message: full,
                    }
                } else {
                    GrammarError::InvalidRegex {
                        pattern: pattern.to_string(),
                        message: full,
                    }
                }
            })?;
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .map_err(|e| GrammarError::InvalidRegex {
                pattern: pattern.to_string(),
                message: e.to_string(),
            })?;

        // Byte classes of this DFA, and one representative byte per class.
        let (classes, reps) = class_table(dfa.byte_classes());
        let stride = reps.len();

        // Explore every reachable state.
        let mut ids: HashMap<regex_automata::util::primitives::StateID, u32> = HashMap::new();
        let mut order = vec![start];
        ids.insert(start, 0);
        let mut raw_trans: Vec<u32> = Vec::new();
        let mut accept = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let s = order[i];
            let eoi = dfa.next_eoi_state(s);
            accept.push(dfa.is_match_state(eoi));
            for &rep in &reps {
                let t = dfa.next_state(s, rep);
                if dfa.is_dead_state(t) || dfa.is_quit_state(t) {
                    raw_trans.push(DEAD);
                    continue;
                }
                let n = ids.len() as u32;
                let id = *ids.entry(t).or_insert_with(|| {
                    order.push(t);
                    n
                });
                raw_trans.push(id);
            }
            i += 1;
        }
        LexemeDfa::from_raw(classes, stride, raw_trans, accept, pattern)
    }

    /// The lexeme matching every regex of `all` and none of `except`: a
    /// product of their DFAs, built on first use and restricted to live
    /// states (see [`LazyProduct`]).
    ///
    /// The grammar IR has no intersection or complement in its regex syntax,
    /// yet JSON Schema needs both (a `pattern` together with `maxLength`, a
    /// property name that is none of the known keys), so they are built here
    /// on the DFAs, where they are cheap.
    ///
    /// An empty intersection is an [`GrammarError::EmptyRegex`] error with
    /// no pattern; the caller names it.
    /// `name` says what the lexeme is in errors.
    pub(crate) fn intersect(
        all: &[LexemeDfa],
        except: &[LexemeDfa],
        name: &str,
    ) -> Result<LexemeDfa, GrammarError> {
        assert!(!all.is_empty(), "an intersection needs a positive member");
        let Some((p, classes)) = LazyProduct::new(all, except, DFA_SIZE_LIMIT, name) else {
            return Err(GrammarError::EmptyRegex {
                pattern: String::new(),
            });
        };
        Ok(LexemeDfa {
            classes,
            stride: p.stride(),
            trans: Arc::from(Vec::new()),
            accept: Arc::from(Vec::new()),
            start: 0,
            nullable: p.is_accepting(0),
            distances: Default::default(),
            counted: None,
            lazy: Some(Arc::new(Lazy::Product(p))),
        })
    }

    /// Keeps the live states of a raw table (state 0 is the start).
    fn from_raw(
        classes: [u8; 256],
        stride: usize,
        raw_trans: Vec<u32>,
        accept: Vec<bool>,
        pattern: &str,
    ) -> Result<LexemeDfa, GrammarError> {
        let n = accept.len();
        // Liveness: states from which an accepting state is reachable.
        // Reverse edges in one flat array (offsets per target state).
        let mut start_of = vec![0u32; n + 1];
        for &t in &raw_trans {
            if t != DEAD {
                start_of[t as usize + 1] += 1;
            }
        }
        for s in 0..n {
            start_of[s + 1] += start_of[s];
        }
        let mut fill = start_of.clone();
        let mut rev = vec![0u32; start_of[n] as usize];
        for (e, &t) in raw_trans.iter().enumerate() {
            if t != DEAD {
                rev[fill[t as usize] as usize] = (e / stride) as u32;
                fill[t as usize] += 1;
            }
        }
        let mut live = accept.clone();
        let mut work: Vec<u32> = (0..n as u32).filter(|&s| accept[s as usize]).collect();
        while let Some(t) = work.pop() {
            let (a, b) = (start_of[t as usize], start_of[t as usize + 1]);
            for &s in &rev[a as usize..b as usize] {
                if !live[s as usize] {
                    live[s as usize] = true;
                    work.push(s);
                }
            }
        }
        if !live[0] {
            return Err(GrammarError::EmptyRegex {
                pattern: pattern.to_string(),
            });
        }
        // Renumber live states densely.
        let mut renum = vec![DEAD; n];
        let mut k = 0u32;
        for s in 0..n {
            if live[s] {
                renum[s] = k;
                k += 1;
            }
        }
        let mut trans = Vec::with_capacity(k as usize * stride);
        let mut acc = Vec::with_capacity(k as usize);
        for s in 0..n {
            if !live[s] {
                continue;
            }
            acc.push(accept[s]);
            for c in 0..stride {
                let t = raw_trans[s * stride + c];
                trans.push(if t == DEAD { DEAD } else { renum[t as usize] });
            }
        }
        Ok(LexemeDfa {
            classes,
            stride,
            trans: trans.into(),
            nullable: acc[0],
            accept: acc.into(),
            start: 0,
            distances: Default::default(),
            counted: None,
            lazy: None,
        })
    }

    /// Fewest bytes to acceptance from each state, and the shortest lexeme
    /// (breadth first over the table, backwards from the accepting states,
    /// then one step forwards from the start).
    pub(crate) fn distances(&self) -> &Distances {
        self.distances.get_or_init(|| self.compute_distances())
    }

    /// For a counted lexeme: a stand-in for state `s` shared by every count
    /// that behaves the same for the next `depth` bytes, whatever they are
    /// (the count stays above `min`, or below it, and away from `max`).
    /// `None` if `s` has no such class (the lexeme is dense, or the count
    /// is within `depth` of a bound).
    pub(crate) fn count_class(&self, s: u32, depth: u32) -> Option<u32> {
        let c = self.counted.as_ref()?;
        let (count, q) = c.split(s).ok()?;
        let classes = c.c_base + c.c.as_ref().map_or(0, |d| d.state_count() as u32);
        let far_from_cap = !c.bounded || c.cap - count > depth;
        if count >= c.min && far_from_cap {
            Some(classes + q)
        } else if count < c.min && c.min - count > depth {
            Some(classes + c.b_n + q)
        } else {
            None
        }
    }

    /// Fewest bytes from state `s` to an accepting state (for an
    /// intersection, a lower bound: see [`lazy::LazyProduct::to_accept`]).
    pub(crate) fn to_accept(&self, s: u32) -> u32 {
        if let Some(t) = self.string_set() {
            return t.to_accept(s);
        }
        if let Some(c) = &self.counted {
            return c.to_accept(s);
        }
        if let Some(d) = self.lazy.as_ref().and_then(|l| l.to_accept(s)) {
            return d;
        }
        self.distances().to_accept[s as usize]
    }

    /// True if this is a lazily built DFA that stopped growing for lack of
    /// room (see [`lazy`]).
    pub(crate) fn is_full(&self) -> bool {
        self.lazy.as_ref().is_some_and(|l| l.is_full())
    }

    fn string_set(&self) -> Option<&strings::StringSetDfa> {
        match self.lazy.as_deref() {
            Some(Lazy::Strings(t)) => Some(t),
            _ => None,
        }
    }

    fn compute_distances(&self) -> Distances {
        if let Some(c) = &self.counted {
            return Distances {
                to_accept: Vec::new(),
                shortest: c.to_accept(self.start).max(1),
            };
        }
        if let Some(t) = self.string_set() {
            return Distances {
                to_accept: Vec::new(),
                shortest: t.shortest(),
            };
        }
        // A lazy DFA answers from its NFA or parts, without being built.
        if let Some(shortest) = self.lazy.as_ref().and_then(|l| l.shortest()) {
            return Distances {
                to_accept: Vec::new(),
                shortest,
            };
        }
        let full;
        let (trans, accept): (&[u32], &[bool]) = match &self.lazy {
            Some(l) => {
                full = l.complete().unwrap_or_default();
                (&full.0, &full.1)
            }
            None => (&self.trans, &self.accept),
        };
        let n = accept.len();
        let mut preds: Vec<Vec<u32>> = vec![Vec::new(); n];
        for s in 0..n {
            for c in 0..self.stride {
                let t = trans[s * self.stride + c];
                if t != DEAD {
                    preds[t as usize].push(s as u32);
                }
            }
        }
        let mut dist = vec![u32::MAX / 4; n];
        let mut queue = std::collections::VecDeque::new();
        for (s, d) in dist.iter_mut().enumerate() {
            if accept[s] {
                *d = 0;
                queue.push_back(s);
            }
        }
        while let Some(s) = queue.pop_front() {
            for &p in &preds[s] {
                if dist[p as usize] > dist[s] + 1 {
                    dist[p as usize] = dist[s] + 1;
                    queue.push_back(p as usize);
                }
            }
        }
        let start = self.start as usize;
        let shortest = (0..self.stride)
            .filter_map(|c| {
                let t = trans.get(start * self.stride + c).copied()?;
                (t != DEAD).then(|| dist[t as usize].saturating_add(1))
            })
            .min()
            .unwrap_or(u32::MAX / 4)
            .max(1);
        Distances {
            to_accept: dist,
            shortest,
        }
    }

    #[inline]
    pub(crate) fn next(&self, s: u32, byte: u8) -> u32 {
        if let Some(c) = &self.counted {
            return c.next(s, byte);
        }
        if let Some(l) = &self.lazy {
            return l.next(s, self.classes[byte as usize]);
        }
        self.trans[s as usize * self.stride + self.classes[byte as usize] as usize]
    }

    #[inline]
    pub(crate) fn is_accepting(&self, s: u32) -> bool {
        if let Some(c) = &self.counted {
            return c.is_accepting(s);
        }
        if let Some(l) = &self.lazy {
            return l.is_accepting(s);
        }
        self.accept[s as usize]
    }

    /// Number of live states.
    pub(crate) fn state_count(&self) -> usize {
        match &self.counted {
            Some(c) => c.c_base as usize + c.c.as_ref().map_or(0, |d| d.state_count()),
            None => self
                .lazy
                .as_ref()
                .map_or(self.accept.len(), |l| l.state_count()),
        }
    }

    /// Byte class of `b` in this DFA.
    pub(crate) fn class(&self, b: u8) -> u8 {
        self.classes[b as usize]
    }
}

/// All lexemes of a grammar, plus the byte classes no lexeme distinguishes.
#[derive(Clone, Debug)]
pub(crate) struct LexerSpec {
    pub(crate) lexemes: Vec<LexemeDfa>,
    pub(crate) ignore: Option<LexemeId>,
    pub(crate) class_of: [u8; 256],
    pub(crate) class_rep: Vec<u8>,
    /// Word bytes, when the grammar separates words
    /// ([`Grammar::separate_words`](crate::grammar::Grammar::separate_words)):
    /// a lexeme ending in one may not be followed directly by a lexeme
    /// starting with one.
    pub(crate) word_bytes: Option<[bool; 256]>,
    /// Some lexeme is counted (see [`LexemeDfa::count_class`]).
    has_counted: bool,
}

impl LexerSpec {
    pub(crate) fn new(
        lexemes: Vec<LexemeDfa>,
        ignore: Option<LexemeId>,
        separate_words: bool,
    ) -> LexerSpec {
        let word_bytes = separate_words.then(|| {
            let mut w = [false; 256];
            for (b, w) in w.iter_mut().enumerate() {
                let b = b as u8;
                *w = b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
            }
            w
        });
        // Bytes no lexeme tells apart, by partition refinement: split the
        // classes so far by each lexeme's own classes in turn (no key per
        // byte over all lexemes: a schema has thousands of them).
        let mut class_of = [0u8; 256];
        // Word and other bytes must not share a class: the lexer remembers
        // which kind it read last.
        if let Some(w) = &word_bytes {
            for (b, c) in class_of.iter_mut().enumerate() {
                *c = w[b] as u8;
            }
        }
        let class_rep = refine_classes(&mut class_of, lexemes.iter().map(|l| &l.classes));
        LexerSpec {
            has_counted: lexemes.iter().any(|l| l.counted.is_some()),
            lexemes,
            ignore,
            class_of,
            class_rep,
            word_bytes,
        }
    }

    #[inline]
    fn is_word(&self, b: u8) -> bool {
        self.word_bytes.is_some_and(|w| w[b as usize])
    }

    pub(crate) fn class_count(&self) -> usize {
        self.class_rep.len()
    }
}

/// A product lexer state: the lexemes still alive and where each one is.
#[derive(Clone, Debug)]
pub(crate) struct LexState {
    pub(crate) members: Box<[(LexemeId, u32)]>,
    /// Lexemes that match the bytes read so far, the ignore lexeme left
    /// out: what the parser is handed when the lexeme ends here.
    pub(crate) accepting: Box<[LexemeId]>,
    /// The ignore lexeme matches the bytes read so far.
    pub(crate) ignorable: bool,
    pub(crate) at_start: bool,
    /// Only when the grammar separates words: in a start state, the lexeme
    /// before ended with a word byte, so no word byte may come next;
    /// otherwise, the last byte read was a word byte.
    pub(crate) word: bool,
}

impl LexState {
    /// True if a lexeme (possibly the ignore lexeme) can end here.
    #[inline]
    pub(crate) fn can_end(&self) -> bool {
        self.ignorable || !self.accepting.is_empty()
    }
}

/// Bits of [`LexerCache::end_flags`].
pub(crate) struct EndFlags;

impl EndFlags {
    /// Worked out (so never 0).
    pub(crate) const KNOWN: u8 = 1;
    /// A lexeme (maybe the ignore lexeme) can end here.
    pub(crate) const CAN_END: u8 = 2;
    /// ... and no byte can extend it.
    pub(crate) const CLOSED: u8 = 4;
    /// Inside a JSON string (every lexeme alive starts with a quote, and
    /// the quote has been read).
    pub(crate) const IN_STRING: u8 = 8;
    /// ... which ends within [`SHORT_REST`] more bytes whatever comes.
    pub(crate) const SHORT_REST: u8 = 16;
}

/// See [`EndFlags::SHORT_REST`].
pub(crate) const SHORT_REST: usize = 4;

/// Identity of a product state: (at a lexeme's start, [`LexState::word`],
/// live members).
type StateKey = (bool, bool, Box<[(LexemeId, u32)]>);
/// See [`LexerCache::count_class_key`].
pub(crate) type CountClassKey = StateKey;

/// Lazily built product states of a [`LexerSpec`], with a transition cache.
#[derive(Clone, Debug)]
pub(crate) struct LexerCache {
    states: Vec<LexState>,
    index: HashMap<StateKey, u32, FxBuild>,
    trans: Vec<u32>,
    ncls: usize,
    /// Start states by allowed lexemes; index bit 0: after a word byte,
    /// bit 1: after the ignore lexeme (which then may not start again).
    starts: [HashMap<Box<[LexemeId]>, u32, FxBuild>; 4],
    /// Per state and text slice `j`: bit `2j` = known, bit `2j+1` = every
    /// string of the slice stays inside the current lexeme.
    slice_ok: Vec<u16>,
    /// Per state: [`EndFlags`] bits, 0 until worked out.
    end_flags: Vec<u8>,
    /// Per lexeme: 0 not yet known, 1 if its matches may start with another
    /// byte than a quote, 2 if they all start with one (see
    /// [`EndFlags::IN_STRING`]).
    quoted: Vec<u8>,
}

impl LexerCache {
    pub(crate) fn new(spec: &LexerSpec) -> LexerCache {
        LexerCache {
            states: Vec::new(),
            index: HashMap::default(),
            trans: Vec::new(),
            ncls: spec.class_count(),
            starts: Default::default(),
            slice_ok: Vec::new(),
            end_flags: Vec::new(),
            quoted: vec![0; spec.lexemes.len()],
        }
    }

    #[inline]
    pub(crate) fn state(&self, id: u32) -> &LexState {
        &self.states[id as usize]
    }

    pub(crate) fn state_count(&self) -> usize {
        self.states.len()
    }

    /// A key shared by lexer states that differ only in the counts of
    /// counted lexemes, where those counts make no difference within the
    /// next `depth` bytes (see [`LexemeDfa::count_class`]): states with one
    /// key allow the same tokens of at most `depth` bytes. `None` if no
    /// member is counted or a count is near a bound.
    pub(crate) fn count_class_key(
        &self,
        spec: &LexerSpec,
        s: u32,
        depth: u32,
    ) -> Option<CountClassKey> {
        if !spec.has_counted {
            return None;
        }
        let st = &self.states[s as usize];
        let mut any = false;
        let mut members = Vec::with_capacity(st.members.len());
        for &(l, q) in st.members.iter() {
            let dfa = &spec.lexemes[l as usize];
            if dfa.counted.is_some() {
                members.push((l, dfa.count_class(q, depth)?));
                any = true;
            } else {
                members.push((l, q));
            }
        }
        any.then(|| (st.at_start, st.word, members.into_boxed_slice()))
    }

    /// The start state for the set of allowed lexemes (sorted, deduplicated)
    /// after a lexeme that ended in state `before` (`None` at the start of
    /// the output). `after_ignore`: that lexeme was the ignore lexeme, which
    /// then is left out: two ignore lexemes never touch, so a bounded one
    /// (`[ \n]{1,20}`) bounds every run of ignored bytes. (Greedy lexing
    /// never ends an unbounded one where it could go on, so for those this
    /// changes nothing.)
    pub(crate) fn start_state(
        &mut self,
        spec: &LexerSpec,
        allowed: &[LexemeId],
        before: Option<u32>,
        after_ignore: bool,
    ) -> u32 {
        let word = before.is_some_and(|s| {
            let st = &self.states[s as usize];
            !st.at_start && st.word
        });
        let slot = word as usize | (after_ignore as usize) << 1;
        if let Some(&s) = self.starts[slot].get(allowed) {
            return s;
        }
        let members: Box<[(LexemeId, u32)]> = allowed
            .iter()
            .filter(|&&l| !(after_ignore && Some(l) == spec.ignore))
            .map(|&l| (l, spec.lexemes[l as usize].start))
            .collect();
        let id = self.intern(true, word, members, spec);
        self.starts[slot].insert(allowed.into(), id);
        id
    }

    fn intern(
        &mut self,
        at_start: bool,
        word: bool,
        members: Box<[(LexemeId, u32)]>,
        spec: &LexerSpec,
    ) -> u32 {
        // A start state with no lexemes is kept: the parser may be complete
        // there (nothing may follow, but the output may end).
        if members.is_empty() && !at_start {
            return DEAD;
        }
        let key = (at_start, word, members);
        if let Some(&id) = self.index.get(&key) {
            return id;
        }
        let id = self.states.len() as u32;
        let matched = |l: LexemeId, s: u32| !at_start && spec.lexemes[l as usize].is_accepting(s);
        let accepting: Box<[LexemeId]> = key
            .2
            .iter()
            .filter(|&&(l, s)| Some(l) != spec.ignore && matched(l, s))
            .map(|&(l, _)| l)
            .collect();
        let ignorable = key
            .2
            .iter()
            .any(|&(l, s)| Some(l) == spec.ignore && matched(l, s));
        self.states.push(LexState {
            members: key.2.clone(),
            accepting,
            ignorable,
            at_start,
            word,
        });
        self.trans.resize(self.trans.len() + self.ncls, UNKNOWN);
        self.slice_ok.push(0);
        self.end_flags.push(0);
        self.index.insert(key, id);
        id
    }

    /// True if every string of `slice` keeps state `s` alive without ending
    /// its lexeme: then every token of the slice is allowed in `s`, whatever
    /// the parser says. Checked once per state by exploring the product of
    /// the lexer and the slice's DFA; a product too large to explore counts
    /// as "no" (the mask is then computed token by token, still exactly).
    pub(crate) fn slice_allowed(
        &mut self,
        spec: &LexerSpec,
        s: u32,
        j: usize,
        slice: &LexemeDfa,
        max_len: usize,
    ) -> bool {
        let flags = self.slice_ok[s as usize] >> (2 * j);
        if flags & 1 != 0 {
            return flags & 2 != 0;
        }
        // Bytes that neither the lexer nor the slice tell apart behave alike:
        // one representative per joint class is enough.
        let mut reps: Vec<u8> = Vec::new();
        let mut seen_class = std::collections::HashSet::new();
        for b in 0..=255u8 {
            if seen_class.insert((spec.class_of[b as usize], slice.class(b))) {
                reps.push(b);
            }
        }
        // Breadth first, so that each pair is reached at its least depth;
        // tokens are at most `max_len` bytes long, so deeper pairs never matter.
        let mut seen: std::collections::HashSet<(u32, u32), FxBuild> =
            std::collections::HashSet::default();
        let mut queue = std::collections::VecDeque::from([(s, slice.start, 0usize)]);
        seen.insert((s, slice.start));
        let mut ok = true;
        'outer: while let Some((ls, q, depth)) = queue.pop_front() {
            if depth >= max_len {
                continue;
            }
            for &b in &reps {
                let q2 = slice.next(q, b);
                if q2 == DEAD {
                    continue;
                }
                let l2 = self.next(spec, ls, b);
                if l2 == DEAD || seen.len() > SLICE_CHECK_PAIRS {
                    ok = false;
                    break 'outer;
                }
                if seen.insert((l2, q2)) {
                    queue.push_back((l2, q2, depth + 1));
                }
            }
        }
        if crate::budget::stopped() {
            return false;
        }
        self.slice_ok[s as usize] |= (1 | if ok { 2 } else { 0 }) << (2 * j);
        ok
    }

    /// How state `s` stands to the end of its lexeme (see [`EndFlags`]),
    /// worked out on first use.
    #[inline]
    pub(crate) fn end_flags(&mut self, spec: &LexerSpec, s: u32) -> u8 {
        let f = self.end_flags[s as usize];
        if f != 0 {
            return f;
        }
        self.end_flags_slow(spec, s)
    }

    #[cold]
    fn end_flags_slow(&mut self, spec: &LexerSpec, s: u32) -> u8 {
        let mut f = EndFlags::KNOWN;
        if self.states[s as usize].can_end() {
            f |= EndFlags::CAN_END;
            if (0..self.ncls).all(|c| self.next(spec, s, spec.class_rep[c]) == DEAD) {
                f |= EndFlags::CLOSED;
            }
        }
        if self.in_string_slow(spec, s) {
            f |= EndFlags::IN_STRING;
            if self.rest_within(spec, s, SHORT_REST) {
                f |= EndFlags::SHORT_REST;
            }
        }
        if !crate::budget::stopped() {
            self.end_flags[s as usize] = f;
        }
        f
    }

    /// True if no byte string longer than `k` keeps state `s` alive: the
    /// lexeme ends within `k` more bytes whatever comes.
    ///
    /// Asked of each member lexeme's own DFA: stepping the lexer instead
    /// would make a lexer state for every string within reach (inside an
    /// `enum` of thousands of strings, thousands of them).
    fn rest_within(&mut self, spec: &LexerSpec, s: u32, k: usize) -> bool {
        let mut level: Vec<u32> = Vec::new();
        let mut next: Vec<u32> = Vec::new();
        let mut seen: std::collections::HashSet<u32, FxBuild> = Default::default();
        self.states[s as usize].members.iter().all(|&(l, q)| {
            let dfa = &spec.lexemes[l as usize];
            level.clear();
            level.push(q);
            for _ in 0..=k {
                next.clear();
                seen.clear();
                for &x in &level {
                    for &b in &spec.class_rep {
                        let t = dfa.next(x, b);
                        if t != DEAD && seen.insert(t) {
                            next.push(t);
                        }
                    }
                }
                if next.is_empty() {
                    return true;
                }
                std::mem::swap(&mut level, &mut next);
            }
            false
        })
    }

    /// True if a lexeme ends in state `s` and no byte can extend it (a string
    /// after its closing quote, `}`, `true`): the lexeme is over here, not
    /// only at the next byte.
    pub(crate) fn is_closed(&mut self, spec: &LexerSpec, s: u32) -> bool {
        self.end_flags(spec, s) & EndFlags::CLOSED != 0
    }

    /// True if state `s` is inside a JSON string: past the first byte of a
    /// lexeme, and every lexeme still alive starts with a quote.
    fn in_string_slow(&mut self, spec: &LexerSpec, s: u32) -> bool {
        if self.states[s as usize].at_start {
            return false;
        }
        for i in 0..self.states[s as usize].members.len() {
            let l = self.states[s as usize].members[i].0 as usize;
            if self.quoted[l] == 0 {
                let dfa = &spec.lexemes[l];
                let only_quote =
                    (0..=255u8).all(|b| (b == b'"') == (dfa.next(dfa.start, b) != DEAD));
                if crate::budget::stopped() {
                    return false;
                }
                self.quoted[l] = if only_quote { 2 } else { 1 };
            }
            if self.quoted[l] != 2 {
                return false;
            }
        }
        true
    }

    /// Builds every state reachable from `s` and all their transitions, up
    /// to `limit` states in all. Done at compile time from the grammar's
    /// first lexer state, so that matchers start with the lexer they will
    /// need most already in place.
    pub(crate) fn explore(&mut self, spec: &LexerSpec, s: u32, limit: usize) {
        let mut work = vec![s];
        let mut seen: std::collections::HashSet<u32, FxBuild> =
            std::collections::HashSet::default();
        seen.insert(s);
        while let Some(x) = work.pop() {
            for c in 0..self.ncls {
                if self.states.len() >= limit {
                    return;
                }
                let t = self.next(spec, x, spec.class_rep[c]);
                if t != DEAD && seen.insert(t) {
                    work.push(t);
                }
            }
        }
    }

    /// The cached transition from `s` on byte class `class` (may be
    /// [`UNKNOWN`]: then call [`next`](Self::next)).
    #[inline(always)]
    pub(crate) fn cached(&self, s: u32, class: usize) -> u32 {
        self.trans[s as usize * self.ncls + class]
    }

    /// The state after reading `byte` in state `s` (or [`DEAD`]).
    #[inline]
    pub(crate) fn next(&mut self, spec: &LexerSpec, s: u32, byte: u8) -> u32 {
        let idx = s as usize * self.ncls + spec.class_of[byte as usize] as usize;
        let t = self.trans[idx];
        if t != UNKNOWN {
            return t;
        }
        self.next_slow(spec, s, byte, idx)
    }

    #[cold]
    fn next_slow(&mut self, spec: &LexerSpec, s: u32, byte: u8, idx: usize) -> u32 {
        let word = spec.is_word(byte);
        let from = &self.states[s as usize];
        if from.at_start && from.word && word {
            self.trans[idx] = DEAD;
            return DEAD;
        }
        let members: Box<[(LexemeId, u32)]> = self.states[s as usize]
            .members
            .iter()
            .filter_map(|&(l, st)| {
                let t = spec.lexemes[l as usize].next(st, byte);
                (t != DEAD).then_some((l, t))
            })
            .collect();
        // A lexeme's step that gave up (see `crate::budget`) reads as dead:
        // then this state is not the real one, and nothing is kept.
        if crate::budget::stopped() {
            return DEAD;
        }
        let t = self.intern(false, word, members, spec);
        self.trans[idx] = t;
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `text` through `d`: (alive, accepting, bytes to acceptance).
    /// A reproducible source of numbers below `n` for random test texts
    /// (a linear congruential generator).
    pub(crate) fn seeded_rand(mut seed: u64) -> impl FnMut(usize) -> usize {
        move |n| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        }
    }

    /// Walks `text` through `a` and `b`: on every prefix they are dead
    /// together and, while alive, accepting together.
    pub(crate) fn assert_same_walk(a: &LexemeDfa, b: &LexemeDfa, text: &str, what: &str) {
        let (mut p, mut q) = (a.start, b.start);
        for &byte in text.as_bytes() {
            p = a.next(p, byte);
            q = b.next(q, byte);
            assert_eq!(p == DEAD, q == DEAD, "{what} on {text:?}");
            if p == DEAD {
                return;
            }
            assert_eq!(a.is_accepting(p), b.is_accepting(q), "{what} on {text:?}");
        }
    }

    fn run(d: &LexemeDfa, text: &[u8]) -> Option<(bool, u32)> {
        let mut s = d.start;
        for &b in text {
            s = d.next(s, b);
            if s == DEAD {
                return None;
            }
        }
        Some((d.is_accepting(s), d.to_accept(s)))
    }

    /// Counted lexemes behave exactly like the dense DFA of the same
    /// pattern, on every prefix of random texts made of the pattern's own
    /// pieces (so that they get deep into the repetition).
    #[test]
    fn counted_lexemes_match_dense_dfas() {
        // (pattern, pieces that keep it alive, pieces that may kill it)
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                r#""(?:[^"\\\x00-\x1F]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})){3,120}""#,
                &["a", "é", "\\n", "\\u00e9", "\u{1F600}"],
                &["\"", "\\", "\\q", "\n"],
            ),
            (r"[a-z]{100,130}", &["a", "b"], &["A", "ab"]),
            (r"x(?:ab|c){0,150}y+", &["ab", "c"], &["a", "y", "x", "b"]),
            (r"(?:ab|c){100,}z?", &["ab", "c"], &["z", "a"]),
        ];
        let mut rand = seeded_rand(7);
        let mut deepest = 0;
        for (pattern, pieces, bad) in cases {
            let counted = LexemeDfa::counted(pattern).unwrap().expect("splits");
            let dense = LexemeDfa::build(pattern).unwrap();
            assert_eq!(counted.nullable, dense.nullable, "{pattern}");
            for round in 0..300 {
                let mut text: Vec<u8> = Vec::new();
                if pattern.starts_with('x') && round % 5 != 0 {
                    text.push(b'x');
                }
                if pattern.starts_with('"') && round % 7 != 0 {
                    text.push(b'"');
                }
                let len = rand(200);
                for _ in 0..len {
                    text.extend_from_slice(pieces[rand(pieces.len())].as_bytes());
                    if rand(60) == 0 {
                        text.extend_from_slice(bad[rand(bad.len())].as_bytes());
                    }
                }
                for end in 0..=text.len() {
                    let (c, d) = (run(&counted, &text[..end]), run(&dense, &text[..end]));
                    assert_eq!(
                        c.map(|x| x.0),
                        d.map(|x| x.0),
                        "{pattern} on {:?}",
                        String::from_utf8_lossy(&text[..end])
                    );
                    if let (Some(c), Some(d)) = (c, d) {
                        assert_eq!(c.1, d.1, "distance, {pattern} on {:?}", &text[..end]);
                    }
                    if d.is_none() {
                        break;
                    }
                    deepest = deepest.max(end);
                }
            }
            assert_eq!(counted.distances().shortest, dense.distances().shortest);
        }
        assert!(deepest > 150, "the texts never got deep into a repetition");
    }

    /// Shapes the arithmetic split cannot take keep their counts as sets
    /// (see [`repeat`]), and behave exactly like the dense DFA of the same
    /// pattern: alive, accepting and as far from a match on every prefix of
    /// random texts that go past the bounds.
    #[test]
    fn overlapping_repetitions_match_dense_dfas() {
        // (pattern, pieces that keep it alive, pieces that may kill it)
        let cases: &[(&str, &[&str], &[&str])] = &[
            (r"a{0,200}a", &["a", "aa"], &["b"]),
            (r"(?:a|ab){0,150}", &["a", "ab"], &["b"]),
            (r"[a-z]{100,200}[a-z]", &["a", "zz"], &["0"]),
            (r"(?:[a-c]+ ?){1,120}", &["a ", "bc ", "a"], &[" ", "x"]),
            (r"x(?:ab|a){3,110}b?c", &["ab", "a"], &["b", "c"]),
            (r"(?:[0-9]+,?){100,}\.", &["1,", "23"], &[",", ".", "1,."]),
        ];
        let mut rand = seeded_rand(5);
        let mut deepest = 0;
        for (pattern, pieces, bad) in cases {
            let rep = LexemeDfa::counted(pattern).unwrap().expect("builds");
            assert!(
                matches!(rep.lazy.as_deref(), Some(Lazy::Repeat(_))),
                "{pattern}"
            );
            let dense = LexemeDfa::build(pattern).unwrap();
            assert_eq!(rep.nullable, dense.nullable, "{pattern}");
            assert_eq!(
                rep.distances().shortest,
                dense.distances().shortest,
                "{pattern}"
            );
            for _ in 0..150 {
                let mut text: Vec<u8> = Vec::new();
                if pattern.starts_with('x') {
                    text.push(b'x');
                }
                for _ in 0..rand(320) {
                    text.extend_from_slice(pieces[rand(pieces.len())].as_bytes());
                    if rand(80) == 0 {
                        text.extend_from_slice(bad[rand(bad.len())].as_bytes());
                    }
                }
                for end in 0..=text.len() {
                    let (r, d) = (run(&rep, &text[..end]), run(&dense, &text[..end]));
                    assert_eq!(
                        r,
                        d,
                        "{pattern} on {:?}",
                        String::from_utf8_lossy(&text[..end])
                    );
                    if d.is_none() {
                        break;
                    }
                    deepest = deepest.max(end);
                }
            }
        }
        assert!(deepest > 250, "the texts never got past a bound");
        // Not counted at all: a unit that may be empty, or look-around.
        for p in [r"(?:a?){0,150}", r"\b[a-z]{0,300}"] {
            assert!(LexemeDfa::counted(p).unwrap().is_none(), "{p}");
        }
        assert!(LexemeDfa::counted(r"[a-z]{0,3}").unwrap().is_none());
    }

    /// Lazily built DFAs agree with dense ones on every prefix of random
    /// texts: alive in the same places, accepting in the same places.
    #[test]
    fn lazy_dfas_match_dense_dfas() {
        let cases: &[(&str, &[&str])] = &[
            (
                r#""(?:[^"\\\x00-\x1F]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*""#,
                &[
                    "a",
                    "é",
                    "\\n",
                    "\\u00e9",
                    "\u{1F600}",
                    "\"",
                    "\\",
                    "\n",
                    "\\q",
                ],
            ),
            (
                r"-?(?:0|[1-9][0-9]{0,3})(?:\.[0-9]+)?",
                &["-", "0", "7", ".", "5", "e"],
            ),
            (r"(?:ab|a)(?:bc)*|x{2,4}", &["a", "b", "c", "x"]),
            (
                r"[a-z]+@[a-z]+\.(?:com|org)",
                &["a", "z", "@", ".", "com", "org", "co"],
            ),
        ];
        let mut rand = seeded_rand(11);
        for (pattern, pieces) in cases {
            let lazy = LexemeDfa::lazy(pattern).unwrap().expect("qualifies");
            let dense = LexemeDfa::build(pattern).unwrap();
            assert_eq!(lazy.nullable, dense.nullable, "{pattern}");
            for _ in 0..300 {
                let mut text = String::new();
                for _ in 0..rand(8) {
                    text.push_str(pieces[rand(pieces.len())]);
                }
                assert_same_walk(&lazy, &dense, &text, pattern);
            }
        }
    }

    /// The cache keeps what is used: a hit in the old generation survives
    /// the next turnover, an entry not used since does not.
    #[test]
    fn dfa_cache_keeps_what_is_used() {
        let dfa = LexemeDfa::new("a").unwrap();
        let mut c = DfaCache::new(400);
        let put =
            |c: &mut DfaCache, k: &str| c.insert(pattern_hash(k), (k.into(), dfa.clone(), 60));
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

    /// An intersection hands out live states only: a prefix with no
    /// completion inside every part is dead at once.
    #[test]
    fn intersections_keep_only_live_states() {
        let email = LexemeDfa::new(r"[a-z]+@x").unwrap();
        let short = LexemeDfa::new(r".{0,5}").unwrap();
        let both = LexemeDfa::intersect(&[email, short], &[], "test").unwrap();
        assert!(run(&both, b"abc").is_some());
        assert!(run(&both, b"abcd").is_none(), "abcd@x is too long");
        assert!(run(&both, b"abc@x").is_some_and(|(acc, _)| acc));
        assert_eq!(run(&both, b"ab@x"), Some((true, 0)));

        let word = LexemeDfa::new(r"[a-z]+").unwrap();
        let keywords = LexemeDfa::new(r"if|else").unwrap();
        let ident = LexemeDfa::intersect(std::slice::from_ref(&word), &[keywords], "test").unwrap();
        assert_eq!(run(&ident, b"if").map(|r| r.0), Some(false));
        assert_eq!(run(&ident, b"iff").map(|r| r.0), Some(true));
        assert_eq!(run(&ident, b"els").map(|r| r.0), Some(true));

        let digits = LexemeDfa::new(r"[0-9]+").unwrap();
        assert!(matches!(
            LexemeDfa::intersect(&[word, digits], &[], "test"),
            Err(GrammarError::EmptyRegex { .. })
        ));
    }
}
