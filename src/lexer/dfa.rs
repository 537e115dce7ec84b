//! One lexeme's DFA: [`LexemeDfa`], its dense tables and the forms that
//! are not tables (a [`Counted`] repetition, or one of the automata of
//! [`Lazy`], worked out or built on first use). How a pattern becomes one
//! is in [`super::build`].
//!
//! This is the file that ties the automaton kinds together: they know
//! their parts only as a [`Part`], which [`LexemeDfa`] implements here, so
//! no kind refers back to this file.

use super::classes::{class_table, DEAD, DFA_SIZE_LIMIT};
use super::lazy::{LazyDfa, LazyProduct};
use super::literal::LiteralDfa;
use super::part::Part;
use super::repeat::LazyRepeat;
use super::strings::StringSetDfa;
use crate::error::GrammarError;
use regex_automata::{
    dfa::{dense, Automaton, StartKind},
    nfa::thompson,
    util::{start, syntax},
    Anchored, MatchKind,
};
use std::collections::HashMap;
use std::sync::Arc;

/// One lexeme's DFA, restricted to live states.
#[derive(Clone, Debug)]
pub(crate) struct LexemeDfa {
    pub(super) classes: [u8; 256],
    pub(super) stride: usize,
    // Shared, so that a clone (from a `DfaCache`) is cheap.
    pub(super) trans: Arc<[u32]>,
    pub(super) accept: Arc<[bool]>,
    pub(crate) start: u32,
    /// The regex matches the empty string (the lexeme itself never does).
    pub(crate) nullable: bool,
    /// Distances to acceptance, computed on first use (only the search for
    /// a completion needs them; compiling does not pay for them).
    // Shared by the clones, like the tables they are computed from.
    pub(super) distances: Arc<std::sync::OnceLock<Distances>>,
    /// Set for a long counted repetition (see [`Counted`]): then the states
    /// are computed, not stored, and `trans` and `accept` are empty.
    pub(super) counted: Option<Arc<Counted>>,
    /// Set when the states are worked out or built on first use (see
    /// [`Lazy`]): then `trans` and `accept` are empty.
    pub(super) lazy: Option<Arc<Lazy>>,
}

/// NFA states from which a lexeme built by subset construction on first
/// use counts as costly (see [`LexemeDfa::is_costly_on_first_use`]): each
/// new DFA state costs a pass over up to that many NFA states.
const COSTLY_NFA_STATES: usize = 2_000;

/// Repetition bounds from which [`LexemeDfa::new`] builds a [`Counted`]
/// lexeme instead of a dense table.
pub(super) const COUNTED_FROM: u32 = 100;

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
pub(super) struct Counted {
    pub(super) a: Option<LexemeDfa>,
    pub(super) b: LexemeDfa,
    pub(super) c: Option<LexemeDfa>,
    pub(super) min: u32,
    /// `max`, or `min` when unbounded (counts saturate there).
    pub(super) cap: u32,
    pub(super) bounded: bool,
    pub(super) a_n: u32,
    pub(super) b_n: u32,
    pub(super) c_base: u32,
}

impl Counted {
    #[inline]
    fn unit(&self, count: u32, s: u32) -> u32 {
        self.a_n + count * self.b_n + s
    }

    #[inline]
    pub(super) fn boundary(&self, count: u32) -> u32 {
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

    pub(super) fn is_accepting(&self, s: u32) -> bool {
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

/// The dense DFA builder of a lexeme's table: UTF-8 regex syntax, every
/// match kept ([`MatchKind::All`]: the lexer asks whether a prefix can
/// still match, not for a leftmost match), anchored starts only, no
/// minimization (the live-state re-encoding is what keeps tables small),
/// and `size_limit` bytes at most for the table and for determinization.
/// Tests that compare against the lexer's tables build theirs with it.
pub(crate) fn dense_builder(size_limit: Option<usize>) -> dense::Builder {
    let mut b = dense::Builder::new();
    b.syntax(syntax::Config::new().utf8(true).unicode(true))
        .thompson(thompson::Config::new().utf8(true))
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(StartKind::Anchored)
                .minimize(false)
                .dfa_size_limit(size_limit)
                .determinize_size_limit(size_limit),
        );
    b
}

impl LexemeDfa {
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

    pub(super) fn build(pattern: &str) -> Result<LexemeDfa, GrammarError> {
        let dfa = dense_builder(Some(DFA_SIZE_LIMIT))
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
        let (stride, nullable) = (p.stride(), p.is_accepting(0));
        Ok(LexemeDfa::with_lazy(
            classes,
            stride,
            0,
            nullable,
            Lazy::Product(p),
        ))
    }

    /// A lexeme DFA without a table: `lazy` with its byte classes, the
    /// number of them, and its start state.
    pub(super) fn with_lazy(
        classes: [u8; 256],
        stride: usize,
        start: u32,
        nullable: bool,
        lazy: Lazy,
    ) -> LexemeDfa {
        LexemeDfa {
            classes,
            stride,
            trans: Arc::from(Vec::new()),
            accept: Arc::from(Vec::new()),
            start,
            nullable,
            distances: Default::default(),
            counted: None,
            lazy: Some(Arc::new(lazy)),
        }
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
    /// intersection, a lower bound: see [`LazyProduct::to_accept`]).
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
    /// room (see [`super::lazy`]).
    pub(crate) fn is_full(&self) -> bool {
        self.lazy.as_ref().is_some_and(|l| l.is_full())
    }

    pub(super) fn string_set(&self) -> Option<&StringSetDfa> {
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
    /// True if the states a first mask needs cost much to build: an
    /// intersection of several regexes (each new state is searched for a
    /// way to a match; a string that is none of some keys is not one) or a
    /// subset construction over a large NFA (see [`COSTLY_NFA_STATES`]).
    /// [`crate::Matcher::prepare`] builds those states ahead of time.
    pub(crate) fn is_costly_on_first_use(&self) -> bool {
        match self.lazy.as_deref() {
            Some(Lazy::Product(p)) => p.positive_parts() >= 2,
            Some(Lazy::Regex(d)) => d.nfa_len() >= COSTLY_NFA_STATES,
            _ => false,
        }
    }

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

/// The parts of an intersection or a repetition are lexeme DFAs.
impl Part for LexemeDfa {
    #[inline]
    fn classes(&self) -> &[u8; 256] {
        &self.classes
    }

    #[inline]
    fn start(&self) -> u32 {
        self.start
    }

    #[inline]
    fn next(&self, s: u32, byte: u8) -> u32 {
        LexemeDfa::next(self, s, byte)
    }

    #[inline]
    fn is_accepting(&self, s: u32) -> bool {
        LexemeDfa::is_accepting(self, s)
    }

    #[inline]
    fn to_accept(&self, s: u32) -> u32 {
        LexemeDfa::to_accept(self, s)
    }

    #[inline]
    fn shortest(&self) -> u32 {
        self.distances().shortest
    }

    #[inline]
    fn state_count(&self) -> usize {
        LexemeDfa::state_count(self)
    }
}

/// A lexeme DFA that is not a table: built on first use (from one regex,
/// as a product of others, as a repetition of another), or worked out
/// from a string or a trie.
#[derive(Debug)]
pub(crate) enum Lazy {
    /// A subset construction run on demand (see [`super::lazy`]).
    Regex(LazyDfa),
    /// An intersection of lexemes, minus others (see [`LazyProduct`]).
    Product(LazyProduct<LexemeDfa>),
    /// A long counted repetition of overlapping units (see [`super::repeat`]).
    Repeat(Box<LazyRepeat<LexemeDfa>>),
    /// Not built at all: worked out from the string (see [`super::literal`]).
    Literal(LiteralDfa),
    /// Worked out from a trie of strings (see [`super::strings`]).
    Strings(StringSetDfa),
}

impl Lazy {
    #[inline]
    pub(crate) fn next(&self, s: u32, class: u8) -> u32 {
        match self {
            Lazy::Regex(d) => d.next(s, class),
            Lazy::Product(p) => p.next(s, class),
            Lazy::Repeat(r) => r.next(s, class),
            Lazy::Literal(l) => l.next(s, class),
            Lazy::Strings(t) => t.next(s, class),
        }
    }

    pub(crate) fn is_accepting(&self, s: u32) -> bool {
        match self {
            Lazy::Regex(d) => d.is_accepting(s),
            Lazy::Product(p) => p.is_accepting(s),
            Lazy::Repeat(r) => r.is_accepting(s),
            Lazy::Literal(l) => l.is_accepting(s),
            Lazy::Strings(t) => t.is_accepting(s),
        }
    }

    pub(crate) fn state_count(&self) -> usize {
        match self {
            Lazy::Regex(d) => d.state_count(),
            Lazy::Product(p) => p.state_count(),
            Lazy::Repeat(r) => r.state_count(),
            Lazy::Literal(l) => l.state_count(),
            Lazy::Strings(t) => t.state_count(),
        }
    }

    pub(crate) fn memory_usage(&self) -> usize {
        match self {
            Lazy::Regex(d) => d.memory_usage(),
            Lazy::Product(_) | Lazy::Repeat(_) => 0,
            Lazy::Literal(l) => l.memory_usage(),
            Lazy::Strings(t) => t.memory_usage(),
        }
    }

    pub(crate) fn complete(&self) -> Option<(Vec<u32>, Vec<bool>)> {
        match self {
            Lazy::Regex(d) => d.complete(),
            Lazy::Product(p) => p.complete(),
            Lazy::Repeat(r) => r.complete(),
            Lazy::Literal(l) => Some(l.complete()),
            Lazy::Strings(t) => t.complete(DFA_SIZE_LIMIT / 4),
        }
    }

    /// True once the DFA stopped growing for lack of room.
    pub(crate) fn is_full(&self) -> bool {
        match self {
            Lazy::Regex(d) => d.is_full(),
            Lazy::Product(p) => p.is_full(),
            Lazy::Repeat(r) => r.is_full(),
            Lazy::Literal(_) | Lazy::Strings(_) => false,
        }
    }

    /// Fewest bytes from `s` to a match (or a lower bound on it, for a
    /// product), worked out without building the DFA; `None` for a
    /// literal, whose table is small enough to complete.
    pub(crate) fn to_accept(&self, s: u32) -> Option<u32> {
        match self {
            Lazy::Regex(d) => Some(d.to_accept(s)),
            Lazy::Product(p) => Some(p.to_accept(s)),
            Lazy::Repeat(r) => Some(r.to_accept(s)),
            Lazy::Literal(_) | Lazy::Strings(_) => None,
        }
    }

    /// Length of the shortest match (a lower bound for a product), as
    /// [`to_accept`](Self::to_accept).
    pub(crate) fn shortest(&self) -> Option<u32> {
        match self {
            Lazy::Regex(d) => Some(d.shortest()),
            Lazy::Product(p) => Some(p.to_accept(0).max(1)),
            Lazy::Repeat(r) => Some(r.to_accept(0).max(1)),
            Lazy::Literal(_) | Lazy::Strings(_) => None,
        }
    }
}
