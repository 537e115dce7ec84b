//! A lexeme DFA whose states are built on first use.
//!
//! Determinizing a lexeme up front costs time in proportion to its whole
//! state space, yet a decoding run visits only a sliver of it: the states
//! along the text actually written, plus those the token trie probes from
//! there (a token is a few bytes, so the probe stays shallow). A JSON string
//! of at most 300 code points, or a property name spelled in every JSON
//! escape, has hundreds of states of which a typical output touches ten.
//! Compiling a grammar therefore only compiles each lexeme's regex into a
//! Thompson NFA (`regex-automata`), and [`LazyDfa`] runs the subset
//! construction one transition at a time, when the lexer asks for it.
//!
//! States are sets of NFA states, numbered in the order they are made and
//! never forgotten, so a number handed out stays valid for the life of the
//! DFA; that lets the lexer's product states (see [`super::LexerCache`])
//! refer to them like any dense DFA state. The table is shared by every
//! matcher of every grammar that uses the lexeme, behind a mutex: a lexer
//! only consults it when its own product cache misses, which is rare once a
//! sequence is under way.
//!
//! Soundness needs every state the lexer sees to be *live* (an accepting
//! state is reachable from it). For a Thompson NFA compiled from a regex
//! without empty classes or look-around assertions every NFA state can
//! reach the match state, so every non-empty subset is live and the empty
//! subset is [`DEAD`]. [`LazyDfa::new`] declines other regexes, which are
//! built densely and pruned to their live states instead.
//!
//! A DFA that outgrows its size limit at run time stops adding states: the
//! transitions into new states read as [`DEAD`]. The mask is then smaller
//! than it should be but never unsound; the dense build would have refused
//! such a lexeme at compile time.

use super::{DEAD, UNKNOWN};
use crate::error::GrammarError;
use crate::parser::FxBuild;
use regex_automata::nfa::thompson::{self, State, WhichCaptures, NFA};
use regex_automata::util::primitives::StateID;
use regex_syntax::hir::{Hir, HirKind};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// A DFA built on demand from a Thompson NFA (see the module docs).
#[derive(Debug)]
pub(crate) struct LazyDfa {
    /// Number of byte classes.
    stride: usize,
    /// One byte per class.
    reps: Vec<u8>,
    /// Most states before the DFA stops growing.
    max_states: usize,
    memory: usize,
    /// Transitions and acceptance, read without the lock.
    rows: Rows,
    inner: Mutex<Inner>,
}

/// The rows of a lazily built DFA: per state, its transition per class
/// ([`UNKNOWN`] until computed) and, last, 1 if it accepts. Rows are
/// added and cells filled under the DFA's lock, but read without it: a
/// lexer only takes the lock for a transition nobody has computed yet.
///
/// Rows live in chunks that double in size (16, 16, 32, 64, … rows), so a
/// row never moves once made and a small DFA stays small.
#[derive(Debug)]
struct Rows {
    width: usize,
    chunks: [OnceLock<Box<[AtomicU32]>>; 32],
}

impl Rows {
    fn new(stride: usize) -> Rows {
        Rows {
            width: stride + 1,
            chunks: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// Chunk and row within it of state `s`.
    #[inline]
    fn locate(s: usize) -> (usize, usize) {
        if s < 16 {
            (0, s)
        } else {
            let k = (usize::BITS - 1 - (s >> 4).leading_zeros()) as usize + 1;
            (k, s - (16 << (k - 1)))
        }
    }

    /// Cell `col` of row `s` ([`UNKNOWN`] if the row does not exist).
    #[inline]
    fn get(&self, s: u32, col: usize) -> u32 {
        let (k, r) = Self::locate(s as usize);
        match self.chunks.get(k).and_then(OnceLock::get) {
            Some(c) => c[r * self.width + col].load(Ordering::Acquire),
            None => UNKNOWN,
        }
    }

    fn set(&self, s: u32, col: usize, v: u32) {
        let (k, r) = Self::locate(s as usize);
        if let Some(c) = self.chunks.get(k).and_then(OnceLock::get) {
            c[r * self.width + col].store(v, Ordering::Release);
        }
    }

    /// Cell `col` of row `s`, computed by `compute` under `lock` if still
    /// unknown once the lock is held (another thread may have filled it
    /// meanwhile).
    fn fill<G>(
        &self,
        s: u32,
        col: usize,
        lock: &Mutex<G>,
        compute: impl FnOnce(&mut G) -> u32,
    ) -> u32 {
        let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
        let t = self.get(s, col);
        if t != UNKNOWN {
            return t;
        }
        let t = compute(&mut g);
        self.set(s, col, t);
        t
    }

    /// Makes row `s` (all transitions unknown). False if there is no room.
    fn add(&self, s: u32, accept: bool) -> bool {
        let (k, r) = Self::locate(s as usize);
        let Some(slot) = self.chunks.get(k) else {
            return false;
        };
        let len = if k == 0 { 16 } else { 16 << (k - 1) };
        let c = slot.get_or_init(|| {
            (0..len * self.width)
                .map(|_| AtomicU32::new(UNKNOWN))
                .collect()
        });
        c[r * self.width + self.width - 1].store(accept as u32, Ordering::Release);
        true
    }
}

#[derive(Debug)]
struct Inner {
    nfa: NFA,
    /// NFA state sets, flat; `set_at[s]..set_at[s + 1]` is state `s`.
    sets: Vec<StateID>,
    set_at: Vec<u32>,
    index: HashMap<Box<[StateID]>, u32, FxBuild>,
    /// States made so far.
    count: usize,
    /// Scratch: the closure being built, and a visited mark per NFA state.
    stack: Vec<StateID>,
    found: Vec<StateID>,
    mark: Vec<u32>,
    epoch: u32,
    /// A state was refused for lack of room.
    full: bool,
    /// Per NFA state and class: the NFA state it moves to, [`NO_MOVE`], or
    /// [`UNKNOWN`]; allocated at the first step (compiling does not pay
    /// for it), and never when the NFA is too large to keep this.
    nfa_next: Vec<u32>,
    nfa_next_len: usize,
}

/// In [`Inner::nfa_next`]: the NFA state has no move on the class.
const NO_MOVE: u32 = DEAD;

/// Most entries of [`Inner::nfa_next`] (16 MiB).
const NFA_NEXT_MAX: usize = 4 << 20;

impl LazyDfa {
    /// A lazy DFA for `hir` (anchored at both ends), or `None` if the regex
    /// has look-around or an empty class (see the module docs).
    pub(crate) fn new(
        hir: &Hir,
        pattern: &str,
        size_limit: usize,
    ) -> Result<Option<(LazyDfa, [u8; 256])>, GrammarError> {
        if !hir.properties().look_set().is_empty() || has_empty_class(hir) {
            return Ok(None);
        }
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(true)
                    .shrink(false)
                    .which_captures(WhichCaptures::None)
                    .nfa_size_limit(Some(size_limit)),
            )
            .build_from_hir(hir)
            .map_err(|e| GrammarError::RegexTooLarge {
                pattern: pattern.to_string(),
                message: e.to_string(),
            })?;
        let (classes, reps) = super::class_table(nfa.byte_classes());
        let stride = reps.len();
        let n = nfa.states().len();
        let start = nfa.start_anchored();
        let mut inner = Inner {
            nfa,
            sets: Vec::new(),
            set_at: vec![0],
            index: HashMap::default(),
            count: 0,
            stack: Vec::new(),
            found: Vec::new(),
            mark: vec![0; n],
            epoch: 0,
            full: false,
            nfa_next: Vec::new(),
            nfa_next_len: if n * stride <= NFA_NEXT_MAX {
                n * stride
            } else {
                0
            },
        };
        let rows = Rows::new(stride);
        inner.stack.push(start);
        let s = inner.close_and_intern(&rows, usize::MAX);
        debug_assert_eq!(s, 0);
        let memory = inner.nfa.memory_usage();
        let dfa = LazyDfa {
            stride,
            reps,
            max_states: (size_limit / (4 * stride.max(1))).max(1),
            memory,
            rows,
            inner: Mutex::new(inner),
        };
        Ok(Some((dfa, classes)))
    }

    /// Bytes held at creation (the NFA), for the cache's accounting.
    pub(crate) fn memory_usage(&self) -> usize {
        self.memory
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state after class `class` from state `s`, or [`DEAD`].
    #[inline]
    pub(crate) fn next(&self, s: u32, class: u8) -> u32 {
        let t = self.rows.get(s, class as usize);
        if t != UNKNOWN {
            return t;
        }
        self.next_slow(s, class as usize)
    }

    #[cold]
    fn next_slow(&self, s: u32, class: usize) -> u32 {
        self.rows.fill(s, class, &self.inner, |g| {
            g.step(&self.rows, s, class, self.reps[class], self.max_states)
        })
    }

    #[inline]
    pub(crate) fn is_accepting(&self, s: u32) -> bool {
        self.rows.get(s, self.stride) == 1
    }

    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    /// States built so far.
    pub(crate) fn state_count(&self) -> usize {
        self.lock().count
    }

    /// Builds every reachable state and returns the whole table, `(trans,
    /// accept)`, numbered as [`next`](Self::next) numbers them; `None` if
    /// the DFA outgrew its size limit (the table would miss states).
    pub(crate) fn complete(&self) -> Option<(Vec<u32>, Vec<bool>)> {
        let t = self.complete_anyway();
        (!self.lock().full).then_some(t)
    }

    /// [`complete`](Self::complete), returning what there is when the DFA
    /// is full.
    pub(crate) fn complete_anyway(&self) -> (Vec<u32>, Vec<bool>) {
        let mut g = self.lock();
        let mut s = 0;
        while s < g.count {
            for c in 0..self.stride {
                if self.rows.get(s as u32, c) == UNKNOWN {
                    let t = g.step(&self.rows, s as u32, c, self.reps[c], self.max_states);
                    self.rows.set(s as u32, c, t);
                }
            }
            s += 1;
        }
        let mut trans = Vec::with_capacity(g.count * self.stride);
        let mut accept = Vec::with_capacity(g.count);
        for s in 0..g.count as u32 {
            trans.extend((0..self.stride).map(|c| self.rows.get(s, c)));
            accept.push(self.rows.get(s, self.stride) == 1);
        }
        (trans, accept)
    }
}

impl Inner {
    /// The successor of state `s` on `byte`.
    fn step(&mut self, rows: &Rows, s: u32, class: usize, byte: u8, max_states: usize) -> u32 {
        let stride = rows.width - 1;
        if self.nfa_next.len() < self.nfa_next_len {
            self.nfa_next = vec![UNKNOWN; self.nfa_next_len];
        }
        let (a, b) = (self.set_at[s as usize], self.set_at[s as usize + 1]);
        for i in a..b {
            let id = self.sets[i as usize];
            // Each NFA state's move on each class is computed once: DFA
            // states share NFA states, and a large byte class (every
            // character a JSON string allows) is a long list of ranges.
            let k = id.as_usize() * stride + class;
            let cached = self.nfa_next.get(k).copied().unwrap_or(UNKNOWN);
            let next = if cached != UNKNOWN {
                (cached != NO_MOVE).then(|| StateID::new_unchecked(cached as usize))
            } else {
                let n = match self.nfa.state(id) {
                    State::ByteRange { trans } => trans.matches_byte(byte).then_some(trans.next),
                    State::Sparse(sp) => sp.matches_byte(byte),
                    State::Dense(d) => d.matches_byte(byte),
                    _ => None,
                };
                if let Some(slot) = self.nfa_next.get_mut(k) {
                    *slot = n.map_or(NO_MOVE, |n| n.as_u32());
                }
                n
            };
            if let Some(n) = next {
                self.stack.push(n);
            }
        }
        if self.stack.is_empty() {
            return DEAD;
        }
        self.close_and_intern(rows, max_states)
    }

    /// The epsilon closure of the NFA states on `stack`, as a DFA state
    /// (made if new; [`DEAD`] if empty or if the DFA is full).
    fn close_and_intern(&mut self, rows: &Rows, max_states: usize) -> u32 {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.mark.iter_mut().for_each(|m| *m = 0);
            self.epoch = 1;
        }
        self.found.clear();
        while let Some(id) = self.stack.pop() {
            let m = &mut self.mark[id.as_usize()];
            if *m == self.epoch {
                continue;
            }
            *m = self.epoch;
            match self.nfa.state(id) {
                State::ByteRange { .. }
                | State::Sparse(_)
                | State::Dense(_)
                | State::Match { .. } => self.found.push(id),
                State::Union { alternates } => self.stack.extend(alternates.iter().rev()),
                State::BinaryUnion { alt1, alt2 } => {
                    self.stack.push(*alt2);
                    self.stack.push(*alt1);
                }
                State::Capture { next, .. } => self.stack.push(*next),
                // No look-around gets here (see `LazyDfa::new`); a failing
                // state adds nothing.
                State::Look { .. } | State::Fail => {}
            }
        }
        if self.found.is_empty() {
            return DEAD;
        }
        self.found.sort_unstable();
        if let Some(&s) = self.index.get(&self.found[..]) {
            return s;
        }
        let s = self.count;
        let accept = self
            .found
            .iter()
            .any(|&id| matches!(self.nfa.state(id), State::Match { .. }));
        if s >= max_states || !rows.add(s as u32, accept) {
            self.full = true;
            return DEAD;
        }
        self.count += 1;
        self.sets.extend_from_slice(&self.found);
        self.set_at.push(self.sets.len() as u32);
        self.index
            .insert(self.found.clone().into_boxed_slice(), s as u32);
        s as u32
    }
}

/// True if some class in `hir` matches nothing (a part that can never match
/// leaves NFA states that cannot reach the match state).
fn has_empty_class(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Class(regex_syntax::hir::Class::Unicode(c)) => c.ranges().is_empty(),
        HirKind::Class(regex_syntax::hir::Class::Bytes(c)) => c.ranges().is_empty(),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Look(_) => false,
        HirKind::Repetition(r) => has_empty_class(&r.sub),
        HirKind::Capture(c) => has_empty_class(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(has_empty_class),
    }
}

/// The intersection of lexeme DFAs, minus others, built on first use: the
/// lexeme matching every DFA of `all` and none of `except` (a `pattern`
/// under `maxLength`, a property name that is none of the known keys).
///
/// States are tuples of part states. Unlike a single regex, a product has
/// states that are alive in every part yet cannot reach a joint match
/// (`[a-z]+@x` within five characters, after four letters). Each state is
/// therefore checked for liveness when a transition first leads to it: a
/// depth-first search for an accepting state, which usually succeeds within
/// a few steps. A search that runs out proves every state it reached dead,
/// and those verdicts are kept.
///
/// Proving a state dead by that search costs everything reachable from
/// it, which for many negative parts is exponential: in a `oneOf` of 50
/// patterns `^a.*X0` … `^a.*X49`, each branch excludes the other 49, and
/// once one of those has matched, the states reachable still track which
/// of the other 48 match later (2^48 tuples). So a tuple is first tested
/// for a negative part that is *certain* to match: one whose state accepts
/// every string a positive part accepts from its own state (language
/// containment, decided by a search over pairs of the two parts' states,
/// [`LazyProduct::contained`]). Such a tuple is dead without a search.
#[derive(Debug)]
pub(crate) struct LazyProduct {
    /// Positive parts, then negative ones.
    parts: Vec<super::LexemeDfa>,
    npos: usize,
    stride: usize,
    reps: Vec<u8>,
    max_states: usize,
    /// Successors handed out (live ones, or [`DEAD`]) and acceptance,
    /// read without the lock.
    rows: Rows,
    inner: Mutex<ProductInner>,
}

#[derive(Debug)]
struct ProductInner {
    /// Per product state: the positive parts' states, then `(part, state)`
    /// for each negative part still alive (most die within a few bytes:
    /// a property name that is none of hundreds of known keys); state `s`
    /// is `tuples[tuple_at[s]..tuple_at[s + 1]]`.
    tuples: Vec<u32>,
    tuple_at: Vec<u32>,
    /// Scratch for the next tuple.
    scratch: Vec<u32>,
    index: HashMap<Box<[u32]>, u32, FxBuild>,
    /// Successors before the liveness check ([`UNKNOWN`] until computed).
    raw: Vec<u32>,
    accept: Vec<bool>,
    live: Vec<Liveness>,
    full: bool,
    /// Scratch for the search.
    visited: Vec<u32>,
    stamp: Vec<u32>,
    epoch: u32,
    /// Verdicts of [`LazyProduct::contained`], by (positive part, its
    /// state, negative part, its state).
    contained: HashMap<(u32, u32, u32, u32), bool, FxBuild>,
}

/// Most pairs of states one containment test visits; past it the test
/// answers "not contained", which only leaves the liveness search to
/// decide, as without the test.
const CONTAIN_PAIRS: usize = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Liveness {
    Unknown,
    Live,
    Dead,
}

impl LazyProduct {
    /// The product of `all` and `except` with the joint byte classes;
    /// `None` if the language is empty.
    pub(crate) fn new(
        all: &[super::LexemeDfa],
        except: &[super::LexemeDfa],
        size_limit: usize,
    ) -> Option<(LazyProduct, [u8; 256])> {
        let parts: Vec<super::LexemeDfa> = all.iter().chain(except).cloned().collect();
        let mut classes = [0u8; 256];
        let reps = super::refine_classes(&mut classes, parts.iter().map(|d| &d.classes));
        let stride = reps.len();
        let p = LazyProduct {
            npos: all.len(),
            stride,
            reps,
            max_states: (size_limit / (4 * stride.max(1) + 4 * parts.len())).max(1),
            rows: Rows::new(stride),
            inner: Mutex::new(ProductInner {
                tuples: Vec::new(),
                tuple_at: vec![0],
                scratch: Vec::new(),
                index: HashMap::default(),
                raw: Vec::new(),
                accept: Vec::new(),
                live: Vec::new(),
                full: false,
                visited: Vec::new(),
                stamp: Vec::new(),
                epoch: 0,
                contained: HashMap::default(),
            }),
            parts,
        };
        let mut start: Vec<u32> = p.parts[..p.npos].iter().map(|d| d.start).collect();
        for (k, d) in p.parts.iter().enumerate().skip(p.npos) {
            start.extend([k as u32, d.start]);
        }
        let alive = {
            let mut g = p.lock();
            let s = p.intern(&mut g, &start);
            debug_assert!(s == 0 || s == DEAD);
            s != DEAD && p.resolve(&mut g, s)
        };
        alive.then_some((p, classes))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProductInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    #[inline]
    pub(crate) fn is_accepting(&self, s: u32) -> bool {
        self.rows.get(s, self.stride) == 1
    }

    pub(crate) fn state_count(&self) -> usize {
        self.lock().accept.len()
    }

    /// The live state after class `class` from state `s`, or [`DEAD`].
    #[inline]
    pub(crate) fn next(&self, s: u32, class: u8) -> u32 {
        let t = self.rows.get(s, class as usize);
        if t != UNKNOWN {
            return t;
        }
        self.next_slow(s, class as usize)
    }

    #[cold]
    fn next_slow(&self, s: u32, class: usize) -> u32 {
        self.rows.fill(s, class, &self.inner, |g| {
            let r = self.raw_next(g, s, class);
            if r != DEAD && self.resolve(g, r) {
                r
            } else {
                DEAD
            }
        })
    }

    /// Every live state and its transitions (see [`LazyDfa::complete`]).
    pub(crate) fn complete(&self) -> Option<(Vec<u32>, Vec<bool>)> {
        let t = self.complete_anyway();
        (!self.lock().full).then_some(t)
    }

    pub(crate) fn complete_anyway(&self) -> (Vec<u32>, Vec<bool>) {
        // Dead states keep their numbers (nothing leads to them).
        let mut s = 0;
        while s < self.state_count() {
            if self.lock().live[s] == Liveness::Live {
                for c in 0..self.stride {
                    self.next(s as u32, c as u8);
                }
            }
            s += 1;
        }
        let g = self.lock();
        // Rows of states never handed out stay unknown: no edge.
        let mut trans = Vec::with_capacity(g.accept.len() * self.stride);
        for s in 0..g.accept.len() as u32 {
            trans.extend((0..self.stride).map(|c| match self.rows.get(s, c) {
                UNKNOWN => DEAD,
                t => t,
            }));
        }
        (trans, g.accept.clone())
    }

    /// The product state for the part states `tuple` (made if new).
    fn intern(&self, g: &mut ProductInner, tuple: &[u32]) -> u32 {
        if let Some(&s) = g.index.get(tuple) {
            return s;
        }
        let s = g.accept.len();
        let (pos, neg) = tuple.split_at(self.npos);
        let certain_to_match = neg
            .chunks_exact(2)
            .any(|kq| (0..self.npos).any(|i| self.contained(g, i, pos[i], kq[0] as usize, kq[1])));
        if certain_to_match {
            return DEAD;
        }
        let accept = pos.iter().zip(&self.parts).all(|(&q, d)| d.is_accepting(q))
            && neg
                .chunks_exact(2)
                .all(|kq| !self.parts[kq[0] as usize].is_accepting(kq[1]));
        if s >= self.max_states || !self.rows.add(s as u32, accept) {
            g.full = true;
            return DEAD;
        }
        g.accept.push(accept);
        g.live.push(if accept {
            Liveness::Live
        } else {
            Liveness::Unknown
        });
        g.tuples.extend_from_slice(tuple);
        let end = g.tuples.len() as u32;
        g.tuple_at.push(end);
        g.raw.resize(g.raw.len() + self.stride, UNKNOWN);
        g.stamp.push(0);
        g.index.insert(tuple.into(), s as u32);
        s as u32
    }

    /// True if part `k` from state `q` accepts every string part `i`
    /// accepts from state `p` (so a product state holding both, `k`
    /// negative, is dead). A breadth-first search over pairs of states
    /// for a string that `i` accepts and `k` does not (every state of a
    /// part is live, so `k` dying while `i` lives is such a string);
    /// false also when the search outgrows [`CONTAIN_PAIRS`].
    fn contained(&self, g: &mut ProductInner, i: usize, p: u32, k: usize, q: u32) -> bool {
        let key = (i as u32, p, k as u32, q);
        if let Some(&r) = g.contained.get(&key) {
            return r;
        }
        let (a, b) = (&self.parts[i], &self.parts[k]);
        let mut seen: Vec<(u32, u32)> = vec![(p, q)];
        let mut index: HashMap<(u32, u32), (), FxBuild> = HashMap::default();
        index.insert((p, q), ());
        let mut head = 0;
        let mut result = true;
        'search: while head < seen.len() {
            let (x, y) = seen[head];
            head += 1;
            if a.is_accepting(x) && !b.is_accepting(y) {
                result = false;
                break;
            }
            for &byte in &self.reps {
                let x2 = a.next(x, byte);
                if x2 == DEAD {
                    continue;
                }
                let y2 = b.next(y, byte);
                if y2 == DEAD || seen.len() >= CONTAIN_PAIRS {
                    result = false;
                    break 'search;
                }
                if index.insert((x2, y2), ()).is_none() {
                    seen.push((x2, y2));
                }
            }
        }
        if result {
            // Containment holds from every pair reached as well.
            for &(x, y) in &seen {
                g.contained.insert((i as u32, x, k as u32, y), true);
            }
        }
        g.contained.insert(key, result);
        result
    }

    /// The successor of `s` on class `c`, live or not.
    fn raw_next(&self, g: &mut ProductInner, s: u32, c: usize) -> u32 {
        let idx = s as usize * self.stride + c;
        if g.raw[idx] != UNKNOWN {
            return g.raw[idx];
        }
        let byte = self.reps[c];
        let (a, b) = (
            g.tuple_at[s as usize] as usize,
            g.tuple_at[s as usize + 1] as usize,
        );
        let mut next = std::mem::take(&mut g.scratch);
        next.clear();
        let mut alive = true;
        for k in 0..self.npos {
            let q2 = self.parts[k].next(g.tuples[a + k], byte);
            if q2 == DEAD {
                alive = false;
                break;
            }
            next.push(q2);
        }
        let mut i = a + self.npos;
        while alive && i < b {
            let (k, q) = (g.tuples[i], g.tuples[i + 1]);
            let q2 = self.parts[k as usize].next(q, byte);
            if q2 != DEAD {
                next.extend([k, q2]);
            }
            i += 2;
        }
        let t = if alive { self.intern(g, &next) } else { DEAD };
        g.scratch = next;
        g.raw[idx] = t;
        t
    }

    /// Whether an accepting state is reachable from `s`; settles `s` and
    /// the path found, or every state a fruitless search reached.
    ///
    /// The search is breadth first: the nearest match is usually a step or
    /// two away (close the string now), while a depth-first search would
    /// follow one byte class to the far end of a length bound, making a
    /// state per step.
    fn resolve(&self, g: &mut ProductInner, s: u32) -> bool {
        match g.live[s as usize] {
            Liveness::Live => return true,
            Liveness::Dead => return false,
            Liveness::Unknown => {}
        }
        g.epoch = g.epoch.wrapping_add(1).max(1);
        let epoch = g.epoch;
        let mut queue = std::mem::take(&mut g.visited);
        queue.clear();
        queue.push(s);
        // Edges between states of the search, in the order found.
        let mut edges: Vec<(u32, u32)> = Vec::new();
        g.stamp[s as usize] = epoch;
        let mut head = 0;
        while head < queue.len() {
            let x = queue[head];
            for c in 0..self.stride {
                let t = self.raw_next(g, x, c);
                if t == DEAD || g.live[t as usize] == Liveness::Dead {
                    continue;
                }
                if g.stamp.len() <= t as usize {
                    g.stamp.resize(t as usize + 1, 0);
                }
                if g.stamp[t as usize] == epoch {
                    edges.push((x, t));
                    continue;
                }
                if g.live[t as usize] == Liveness::Live {
                    // `t` is live, and so is every state reached that leads
                    // to it: back along the edges seen, to a fixpoint, so
                    // that later searches from nearby states end at once.
                    g.live[x as usize] = Liveness::Live;
                    loop {
                        let mut changed = false;
                        for &(from, to) in edges.iter().rev() {
                            if g.live[to as usize] == Liveness::Live
                                && g.live[from as usize] != Liveness::Live
                            {
                                g.live[from as usize] = Liveness::Live;
                                changed = true;
                            }
                        }
                        if !changed {
                            break;
                        }
                    }
                    g.visited = queue;
                    return true;
                }
                g.stamp[t as usize] = epoch;
                queue.push(t);
                edges.push((x, t));
            }
            head += 1;
        }
        // Nothing reached accepts, and everything reachable was reached;
        // unless the DFA is full, when states were left out: then nothing
        // is concluded (the transition reads as dead, which is safe).
        if !g.full {
            for &v in &queue {
                g.live[v as usize] = Liveness::Dead;
            }
        }
        g.visited = queue;
        false
    }
}

/// A DFA built on first use: from one regex, or as a product of others.
#[derive(Debug)]
pub(crate) enum Lazy {
    Regex(LazyDfa),
    Product(LazyProduct),
    /// Not built at all: worked out from the string (see [`super::literal`]).
    Literal(super::literal::LiteralDfa),
    /// Worked out from a trie of strings (see [`super::strings`]).
    Strings(super::strings::StringSetDfa),
}

impl Lazy {
    #[inline]
    pub(crate) fn next(&self, s: u32, class: u8) -> u32 {
        match self {
            Lazy::Regex(d) => d.next(s, class),
            Lazy::Product(p) => p.next(s, class),
            Lazy::Literal(l) => l.next(s, class),
            Lazy::Strings(t) => t.next(s, class),
        }
    }

    pub(crate) fn is_accepting(&self, s: u32) -> bool {
        match self {
            Lazy::Regex(d) => d.is_accepting(s),
            Lazy::Product(p) => p.is_accepting(s),
            Lazy::Literal(l) => l.is_accepting(s),
            Lazy::Strings(t) => t.is_accepting(s),
        }
    }

    pub(crate) fn state_count(&self) -> usize {
        match self {
            Lazy::Regex(d) => d.state_count(),
            Lazy::Product(p) => p.state_count(),
            Lazy::Literal(l) => l.state_count(),
            Lazy::Strings(t) => t.state_count(),
        }
    }

    pub(crate) fn memory_usage(&self) -> usize {
        match self {
            Lazy::Regex(d) => d.memory_usage(),
            Lazy::Product(_) => 0,
            Lazy::Literal(l) => l.memory_usage(),
            Lazy::Strings(t) => t.memory_usage(),
        }
    }

    pub(crate) fn complete(&self) -> Option<(Vec<u32>, Vec<bool>)> {
        match self {
            Lazy::Regex(d) => d.complete(),
            Lazy::Product(p) => p.complete(),
            Lazy::Literal(l) => Some(l.complete()),
            Lazy::Strings(t) => t.complete(super::DFA_SIZE_LIMIT / 4),
        }
    }

    pub(crate) fn complete_anyway(&self) -> (Vec<u32>, Vec<bool>) {
        match self {
            Lazy::Regex(d) => d.complete_anyway(),
            Lazy::Product(p) => p.complete_anyway(),
            Lazy::Literal(l) => l.complete(),
            // Distances of a string set are worked out from its trie instead
            // (see `LexemeDfa::to_accept`); a table is made only if asked for.
            Lazy::Strings(t) => t.complete(usize::MAX).expect("no limit"),
        }
    }
}
