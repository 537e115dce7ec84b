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
//! # Limits
//!
//! A table is shared, so its size limit is kept per constraint ([`Room`]):
//! each compiled grammar may add states up to the limit, all of them
//! together a few times that. A constraint past its share gets no new
//! state, and so does a step whose operation has spent its work budget
//! (see [`crate::budget`]). Either way the step gives up: it reads as
//! [`DEAD`] for the caller, but nothing is recorded, neither in the table
//! nor in the caller's caches, and the operation's meter says why, so the
//! matcher reports an error naming the lexeme instead of refusing a valid
//! token. Other constraints sharing the table go on in their own shares;
//! once a table holds one share's worth, the lexeme DFA cache drops it, so
//! that grammars compiled later start from a fresh one.

use super::classes::{class_table, refine_classes, DEAD, UNKNOWN};
use super::part::Part;
use super::rows::{Grows, Named, Room, Rows};
use crate::error::GrammarError;
use crate::hash::FxBuild;
use regex_automata::nfa::thompson::{self, State, WhichCaptures, NFA};
use regex_automata::util::primitives::StateID;
use regex_syntax::hir::{Hir, HirKind};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// A DFA built on demand from a Thompson NFA (see the module docs).
#[derive(Debug)]
pub(crate) struct LazyDfa {
    /// The pattern, to name the lexeme in errors.
    name: Box<str>,
    /// Number of byte classes.
    stride: usize,
    /// One byte per class.
    reps: Vec<u8>,
    /// Most bytes the table and the state sets may take.
    size_limit: usize,
    memory: usize,
    /// Transitions and acceptance, read without the lock.
    rows: Rows,
    inner: Mutex<Inner>,
    /// Per NFA state, the fewest bytes to a match (computed on first use:
    /// only the search for a completion needs it).
    nfa_dist: OnceLock<Vec<u32>>,
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
    /// Bytes taken by the states, by owner: their rows, and their NFA sets
    /// (kept twice: in `sets` and as `index` keys). The sets dominate when
    /// states track many NFA states (`(?:(?:\w+\s?){1,1000})?`, where a
    /// state holds every count the words read so far allow).
    room: Room,
    /// Scratch: the closure being built, and a visited mark per NFA state.
    stack: Vec<StateID>,
    found: Vec<StateID>,
    mark: Vec<u32>,
    epoch: u32,
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
    /// has look-around or an empty class (see the module docs). The NFA
    /// and, later, the DFA's table and states may take `size_limit` bytes
    /// each.
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
        let (classes, reps) = class_table(nfa.byte_classes());
        let stride = reps.len();
        let n = nfa.states().len();
        let start = nfa.start_anchored();
        let mut inner = Inner {
            nfa,
            sets: Vec::new(),
            set_at: vec![0],
            index: HashMap::default(),
            count: 0,
            room: Room::new(size_limit),
            stack: Vec::new(),
            found: Vec::new(),
            mark: vec![0; n],
            epoch: 0,
            nfa_next: Vec::new(),
            nfa_next_len: if n * stride <= NFA_NEXT_MAX {
                n * stride
            } else {
                0
            },
        };
        let rows = Rows::new(stride);
        inner.stack.push(start);
        let s = inner.close_and_intern(&rows, true);
        debug_assert_eq!(s, Some(0));
        let memory = inner.nfa.memory_usage();
        let dfa = LazyDfa {
            name: pattern.into(),
            stride,
            reps,
            size_limit,
            memory,
            rows,
            inner: Mutex::new(inner),
            nfa_dist: OnceLock::new(),
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

    /// The state after class `class` from state `s`, or [`DEAD`] (also
    /// when the running operation has to stop: see [`crate::budget`]).
    #[inline]
    pub(crate) fn next(&self, s: u32, class: u8) -> u32 {
        let class = class as usize;
        self.rows.next(s, class, &self.inner, self.named(), |g| {
            g.step(&self.rows, s, class, self.reps[class])
        })
    }

    fn named(&self) -> Named<'_> {
        Named {
            name: &self.name,
            size_limit: self.size_limit,
            outer: false,
        }
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

    /// Number of states of the NFA the DFA is built from.
    pub(crate) fn nfa_len(&self) -> usize {
        self.lock().nfa.states().len()
    }

    /// True once the DFA holds a constraint's worth of states (see
    /// [`Room`]): a new grammar should not share it.
    pub(crate) fn is_full(&self) -> bool {
        self.lock().room.is_full()
    }

    /// Builds every reachable state and returns the whole table, `(trans,
    /// accept)`, numbered as [`next`](Self::next) numbers them; `None` if
    /// the DFA outgrew its size limit or the running operation stopped
    /// (the table would miss states).
    pub(crate) fn complete(&self) -> Option<(Vec<u32>, Vec<bool>)> {
        let mut s = 0;
        while s < self.state_count() {
            for c in 0..self.stride {
                if self.rows.get(s as u32, c) == UNKNOWN {
                    self.next(s as u32, c as u8);
                    if self.rows.get(s as u32, c) == UNKNOWN {
                        return None;
                    }
                }
            }
            s += 1;
        }
        let g = self.lock();
        let mut trans = Vec::with_capacity(g.count * self.stride);
        let mut accept = Vec::with_capacity(g.count);
        for s in 0..g.count as u32 {
            trans.extend((0..self.stride).map(|c| self.rows.get(s, c)));
            accept.push(self.rows.get(s, self.stride) == 1);
        }
        Some((trans, accept))
    }

    /// Fewest bytes from state `s` to a match: the fewest over the NFA
    /// states it holds (a path in the NFA is a string the DFA reads).
    /// Remembered per state: an intersection's search asks at every step.
    #[inline]
    pub(crate) fn to_accept(&self, s: u32) -> u32 {
        match self.rows.dist(s) {
            Some(d) => d,
            None => self.to_accept_slow(s),
        }
    }

    #[cold]
    fn to_accept_slow(&self, s: u32) -> u32 {
        let dist = self.nfa_dist();
        let g = self.lock();
        let (a, b) = (g.set_at[s as usize], g.set_at[s as usize + 1]);
        let d = g.sets[a as usize..b as usize]
            .iter()
            .map(|id| dist[id.as_usize()])
            .min()
            .unwrap_or(FAR);
        self.rows.set_dist(s, d);
        d
    }

    /// Length of the shortest non-empty match.
    pub(crate) fn shortest(&self) -> u32 {
        let dist = self.nfa_dist();
        let g = self.lock();
        let (a, b) = (g.set_at[0], g.set_at[1]);
        let mut best = FAR;
        for id in &g.sets[a as usize..b as usize] {
            let mut take = |n: StateID| best = best.min(dist[n.as_usize()].saturating_add(1));
            match g.nfa.state(*id) {
                State::ByteRange { trans } => take(trans.next),
                State::Sparse(sp) => sp.transitions.iter().for_each(|t| take(t.next)),
                State::Dense(d) => d
                    .transitions
                    .iter()
                    .filter(|n| **n != StateID::ZERO)
                    .for_each(|&n| take(n)),
                _ => {}
            }
        }
        best.clamp(1, FAR)
    }

    /// Per NFA state, the fewest bytes to the match state: a breadth-first
    /// search backwards from it, where a byte move costs 1 and an epsilon
    /// move 0.
    fn nfa_dist(&self) -> &[u32] {
        self.nfa_dist.get_or_init(|| {
            let g = self.lock();
            let nfa = &g.nfa;
            let n = nfa.states().len();
            // Reverse edges: (target, source, cost).
            let mut rev: Vec<Vec<(u32, u8)>> = vec![Vec::new(); n];
            let mut matches = Vec::new();
            for (i, st) in nfa.states().iter().enumerate() {
                let mut edge = |t: StateID, w: u8| rev[t.as_usize()].push((i as u32, w));
                match st {
                    State::ByteRange { trans } => edge(trans.next, 1),
                    State::Sparse(sp) => sp.transitions.iter().for_each(|t| edge(t.next, 1)),
                    State::Dense(d) => d
                        .transitions
                        .iter()
                        .filter(|t| **t != StateID::ZERO)
                        .for_each(|&t| edge(t, 1)),
                    State::Union { alternates } => alternates.iter().for_each(|&t| edge(t, 0)),
                    State::BinaryUnion { alt1, alt2 } => {
                        edge(*alt1, 0);
                        edge(*alt2, 0);
                    }
                    State::Capture { next, .. } | State::Look { next, .. } => edge(*next, 0),
                    State::Match { .. } => matches.push(i),
                    State::Fail => {}
                }
            }
            let mut dist = vec![FAR; n];
            let mut queue = std::collections::VecDeque::new();
            for m in matches {
                dist[m] = 0;
                queue.push_back(m);
            }
            while let Some(t) = queue.pop_front() {
                for &(s, w) in &rev[t] {
                    let d = dist[t] + w as u32;
                    if d < dist[s as usize] {
                        dist[s as usize] = d;
                        if w == 0 {
                            queue.push_front(s as usize);
                        } else {
                            queue.push_back(s as usize);
                        }
                    }
                }
            }
            dist
        })
    }
}

/// "Unreachable" in distances to a match.
const FAR: u32 = u32::MAX / 4;

impl Grows for Inner {
    fn room(&self) -> &Room {
        &self.room
    }
}

impl Inner {
    /// The successor of state `s` on `byte`; `None` if it has no room or
    /// the running operation's budget is spent.
    fn step(&mut self, rows: &Rows, s: u32, class: usize, byte: u8) -> Option<u32> {
        let stride = rows.width - 2;
        if self.nfa_next.len() < self.nfa_next_len {
            self.nfa_next = vec![UNKNOWN; self.nfa_next_len];
        }
        let (a, b) = (self.set_at[s as usize], self.set_at[s as usize + 1]);
        if !crate::budget::charge(u64::from(b - a) + 1) {
            return None;
        }
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
            return Some(DEAD);
        }
        self.close_and_intern(rows, false)
    }

    /// The epsilon closure of the NFA states on `stack`, as a DFA state
    /// (made if new; [`DEAD`] if empty), or `None` if it is new and has no
    /// [`Room`] (unless it is the `first`), or the budget is spent.
    fn close_and_intern(&mut self, rows: &Rows, first: bool) -> Option<u32> {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.mark.iter_mut().for_each(|m| *m = 0);
            self.epoch = 1;
        }
        self.found.clear();
        let mut visited = 0u64;
        while let Some(id) = self.stack.pop() {
            let m = &mut self.mark[id.as_usize()];
            if *m == self.epoch {
                continue;
            }
            *m = self.epoch;
            visited += 1;
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
        if !crate::budget::charge(visited) {
            return None;
        }
        if self.found.is_empty() {
            return Some(DEAD);
        }
        self.found.sort_unstable();
        if let Some(&s) = self.index.get(&self.found[..]) {
            return Some(s);
        }
        let s = self.count;
        let accept = self
            .found
            .iter()
            .any(|&id| matches!(self.nfa.state(id), State::Match { .. }));
        // A row, the set twice (list and key), and the index's overhead.
        let cost = 4 * rows.width + 8 * self.found.len() + 32;
        if first {
            self.room.take_anyway(cost);
        } else if !self.room.take(cost) {
            return None;
        }
        if !rows.add(s as u32, accept) {
            self.room.refuse();
            return None;
        }
        self.count += 1;
        self.sets.extend_from_slice(&self.found);
        self.set_at.push(self.sets.len() as u32);
        self.index
            .insert(self.found.clone().into_boxed_slice(), s as u32);
        Some(s as u32)
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
/// breadth-first search for an accepting state, which usually succeeds
/// within a few steps. A search that runs out proves every state it reached dead,
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
///
/// The same holds between positive parts: a tuple in which two of them
/// share no match from their states is dead, whatever the others hold
/// ([`LazyProduct::disjoint`]). A number under `minimum`, `maximum` and
/// `type: integer` is five parts whose counters multiply in the product
/// (tens of thousands of tuples reachable from a dead `999`), while the
/// conflict that kills a tuple lies between two of them; the pair's
/// verdicts are kept and serve every tuple holding that pair.
#[derive(Debug)]
pub(crate) struct LazyProduct<P> {
    /// What the lexeme is, for errors.
    name: Box<str>,
    /// Positive parts, then negative ones.
    parts: Vec<P>,
    npos: usize,
    stride: usize,
    reps: Vec<u8>,
    size_limit: usize,
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
    room: Room,
    /// Scratch for the search.
    visited: Vec<u32>,
    queue: EdgeQueue,
    stamp: Vec<u32>,
    epoch: u32,
    /// Verdicts of [`LazyProduct::contained`], by (positive part, its
    /// state, negative part, its state).
    contained: HashMap<(u32, u32, u32, u32), bool, FxBuild>,
    /// Verdicts of [`LazyProduct::disjoint`], by (positive part, its
    /// state, a later positive part, its state).
    disjoint: HashMap<(u32, u32, u32, u32), bool, FxBuild>,
}

/// The queue of [`LazyProduct::resolve`]: edges by priority, a small
/// number, so a list per priority (last in, first out within one: any path
/// will do) instead of a heap.
#[derive(Debug, Default)]
struct EdgeQueue {
    by_priority: Vec<Vec<(u32, u32, u32)>>,
    /// No list below this one holds an edge.
    lowest: usize,
}

/// Priorities above this share the last list.
const MAX_PRIORITY: u32 = 1 << 12;

impl EdgeQueue {
    fn clear(&mut self) {
        self.by_priority.iter_mut().for_each(Vec::clear);
        self.lowest = 0;
    }

    fn push(&mut self, priority: u32, edge: (u32, u32, u32)) {
        let p = priority.min(MAX_PRIORITY) as usize;
        if self.by_priority.len() <= p {
            self.by_priority.resize_with(p + 1, Vec::new);
        }
        self.by_priority[p].push(edge);
        self.lowest = self.lowest.min(p);
    }

    fn pop(&mut self) -> Option<(u32, u32, u32)> {
        while let Some(list) = self.by_priority.get_mut(self.lowest) {
            if let Some(e) = list.pop() {
                return Some(e);
            }
            self.lowest += 1;
        }
        None
    }
}

/// Most pairs of states one containment test visits; past it the test
/// answers "not contained", which only leaves the liveness search to
/// decide, as without the test.
const CONTAIN_PAIRS: usize = 2048;

/// Most pairs of states one disjointness test visits; past it the test
/// answers "not disjoint", which leaves the product's own search to decide.
const DISJOINT_PAIRS: usize = 65536;

/// Most pair verdicts a product keeps (about 32 bytes each).
const DISJOINT_VERDICTS: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Liveness {
    Unknown,
    Live,
    Dead,
}

impl Grows for ProductInner {
    fn room(&self) -> &Room {
        &self.room
    }
}

impl<P: Part> LazyProduct<P> {
    /// The product of `all` and `except` with the joint byte classes,
    /// named `name` in errors; `None` if the language is empty, or if the
    /// running operation stopped before that was known (see
    /// [`crate::budget`]).
    pub(crate) fn new(
        all: &[P],
        except: &[P],
        size_limit: usize,
        name: &str,
    ) -> Option<(LazyProduct<P>, [u8; 256])> {
        let parts: Vec<P> = all.iter().chain(except).cloned().collect();
        let mut classes = [0u8; 256];
        let reps = refine_classes(&mut classes, parts.iter().map(|d| d.classes()));
        let stride = reps.len();
        let p = LazyProduct {
            name: name.into(),
            npos: all.len(),
            stride,
            reps,
            size_limit,
            rows: Rows::new(stride),
            inner: Mutex::new(ProductInner {
                tuples: Vec::new(),
                tuple_at: vec![0],
                scratch: Vec::new(),
                index: HashMap::default(),
                raw: Vec::new(),
                accept: Vec::new(),
                live: Vec::new(),
                room: Room::new(size_limit),
                visited: Vec::new(),
                queue: EdgeQueue::default(),
                stamp: Vec::new(),
                epoch: 0,
                contained: HashMap::default(),
                disjoint: HashMap::default(),
            }),
            parts,
        };
        let mut start: Vec<u32> = p.parts[..p.npos].iter().map(|d| d.start()).collect();
        for (k, d) in p.parts.iter().enumerate().skip(p.npos) {
            start.extend([k as u32, d.start()]);
        }
        let (alive, full) = {
            let mut g = p.lock();
            let s = p.intern(&mut g, &start);
            debug_assert!(s == Some(0) || s == Some(DEAD));
            let alive = match s {
                // A negative part is certain to match from the start.
                Some(DEAD) => Some(false),
                s => s.and_then(|s| p.resolve(&mut g, s)),
            };
            (alive, g.room.refusals() > 0)
        };
        match alive {
            Some(true) => Some((p, classes)),
            Some(false) => None,
            // Not known: the operation fails, and says why.
            None if full => {
                crate::budget::stop_full(name, size_limit);
                None
            }
            None => {
                crate::budget::blame(name, true);
                None
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProductInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    /// Number of positive parts (regexes the lexeme must match).
    pub(crate) fn positive_parts(&self) -> usize {
        self.npos
    }

    #[inline]
    pub(crate) fn is_accepting(&self, s: u32) -> bool {
        self.rows.get(s, self.stride) == 1
    }

    pub(crate) fn state_count(&self) -> usize {
        self.lock().accept.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.lock().room.is_full()
    }

    /// The live state after class `class` from state `s`, or [`DEAD`].
    #[inline]
    pub(crate) fn next(&self, s: u32, class: u8) -> u32 {
        let class = class as usize;
        let who = Named {
            name: &self.name,
            size_limit: self.size_limit,
            outer: true,
        };
        self.rows.next(s, class, &self.inner, who, |g| {
            let r = self.raw_next(g, s, class)?;
            if r == DEAD {
                return Some(DEAD);
            }
            Some(if self.resolve(g, r)? { r } else { DEAD })
        })
    }

    /// Fewest bytes from state `s` to a match, or less: the most any
    /// positive part needs (the parts' own distances are exact or lower
    /// bounds; a product's joint match may lie further).
    pub(crate) fn to_accept(&self, s: u32) -> u32 {
        let g = self.lock();
        self.bound(&g, s)
    }

    /// Every live state and its transitions (see [`LazyDfa::complete`]).
    pub(crate) fn complete(&self) -> Option<(Vec<u32>, Vec<bool>)> {
        // Dead states keep their numbers (nothing leads to them).
        let mut s = 0;
        while s < self.state_count() {
            if self.lock().live[s] == Liveness::Live {
                for c in 0..self.stride {
                    self.next(s as u32, c as u8);
                    if self.rows.get(s as u32, c) == UNKNOWN {
                        return None;
                    }
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
        Some((trans, g.accept.clone()))
    }

    /// The product state for the part states `tuple` (made if new), or
    /// `None` if it is new and has no [`Room`] (the first state always has).
    fn intern(&self, g: &mut ProductInner, tuple: &[u32]) -> Option<u32> {
        if let Some(&s) = g.index.get(tuple) {
            return Some(s);
        }
        let s = g.accept.len();
        let (pos, neg) = tuple.split_at(self.npos);
        let certain_to_match = neg
            .chunks_exact(2)
            .any(|kq| (0..self.npos).any(|i| self.contained(g, i, pos[i], kq[0] as usize, kq[1])));
        if certain_to_match {
            return Some(DEAD);
        }
        let accept = pos.iter().zip(&self.parts).all(|(&q, d)| d.is_accepting(q))
            && neg
                .chunks_exact(2)
                .all(|kq| !self.parts[kq[0] as usize].is_accepting(kq[1]));
        // A row's transitions and the tuple.
        let cost = 4 * self.stride + 4 * tuple.len();
        if s == 0 {
            g.room.take_anyway(cost);
        } else if !g.room.take(cost) {
            return None;
        }
        if !self.rows.add(s as u32, accept) {
            g.room.refuse();
            return None;
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
        Some(s as u32)
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
            if !crate::budget::charge(1) {
                break;
            }
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
        // A part's step that gave up (budget or room) read as dead and was
        // skipped: the search proves nothing, and nothing is kept.
        if crate::budget::stopped() {
            return false;
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

    /// True if positive parts `i` and `j` have no match in common from
    /// states `p` and `q`, so that a product state holding both is dead
    /// whatever its other parts hold. A best-first search over pairs of
    /// the two parts' states for a joint match; false when one is found,
    /// and also when the search outgrows [`DISJOINT_PAIRS`] (unknown: the
    /// product's own search decides).
    ///
    /// Proving a product state dead costs its search everything reachable
    /// from it, the product of every part's counters (a number under
    /// `minimum`, `maximum` and `type: integer` spelled with exponents:
    /// tens of thousands of states). The conflict that kills it is
    /// usually between two parts (`999` exceeds the maximum and no
    /// exponent makes it smaller yet whole), and a pair's space is the
    /// product of two counters only; its verdicts are shared by every
    /// tuple holding that pair.
    fn disjoint(&self, g: &mut ProductInner, i: usize, p: u32, j: usize, q: u32) -> bool {
        let key = (i as u32, p, j as u32, q);
        if let Some(&r) = g.disjoint.get(&key) {
            return r;
        }
        let (a, b) = (&self.parts[i], &self.parts[j]);
        let mut seen: Vec<(u32, u32)> = vec![(p, q)];
        let mut index: HashMap<(u32, u32), (), FxBuild> = HashMap::default();
        index.insert((p, q), ());
        let mut queue = EdgeQueue::default();
        queue.push(0, (p, q, 0));
        let mut result = true;
        'search: while let Some((x, y, depth)) = queue.pop() {
            // A step of both parts per class.
            if !crate::budget::charge(1 + self.reps.len() as u64) {
                break;
            }
            if a.is_accepting(x) && b.is_accepting(y) {
                result = false;
                break;
            }
            for &byte in &self.reps {
                let x2 = a.next(x, byte);
                if x2 == DEAD {
                    continue;
                }
                let y2 = b.next(y, byte);
                if y2 == DEAD {
                    continue;
                }
                // A pair already proven disjoint leads to no joint match.
                if g.disjoint.get(&(i as u32, x2, j as u32, y2)) == Some(&true) {
                    continue;
                }
                if index.insert((x2, y2), ()).is_none() {
                    if seen.len() >= DISJOINT_PAIRS {
                        result = false;
                        break 'search;
                    }
                    seen.push((x2, y2));
                    let h = a.to_accept(x2).saturating_add(b.to_accept(y2));
                    queue.push(h.saturating_add(depth + 1), (x2, y2, depth + 1));
                }
            }
        }
        // A part's step that gave up (budget or room) read as dead and was
        // skipped: the search proves nothing, and nothing is kept.
        if crate::budget::stopped() {
            return false;
        }
        // No joint match from any pair reached either; kept while the
        // verdicts stay within bounds (they are not counted as states).
        if result && g.disjoint.len() + seen.len() <= DISJOINT_VERDICTS {
            for &(x, y) in &seen {
                g.disjoint.insert((i as u32, x, j as u32, y), true);
            }
        }
        g.disjoint.insert(key, result);
        result
    }

    /// The successor of `s` on class `c`, live or not; `None` if the
    /// product is full or the running operation stopped (a part's step
    /// that gave up reads as dead, which proves nothing).
    fn raw_next(&self, g: &mut ProductInner, s: u32, c: usize) -> Option<u32> {
        let idx = s as usize * self.stride + c;
        if g.raw[idx] != UNKNOWN {
            return Some(g.raw[idx]);
        }
        if !crate::budget::charge(1 + self.parts.len() as u64) {
            return None;
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
        let t = if crate::budget::stopped() {
            None
        } else if alive {
            self.intern(g, &next)
        } else {
            Some(DEAD)
        };
        g.scratch = next;
        if let Some(t) = t {
            g.raw[idx] = t;
        }
        t
    }

    /// Whether an accepting state is reachable from `s`; settles `s` and
    /// the path found, or every state a fruitless search reached.
    ///
    /// The search is best first (A*): it takes the edge whose path so far
    /// plus the positive parts' own distances to a match from its end is
    /// least. Any path will do, so the estimate need not be a lower bound:
    /// it is the sum of the parts' distances, which steers towards what
    /// every part still wants (`a1` for one pattern, `z` for another, ten
    /// characters for a length), where the largest alone would wander among
    /// the states that satisfy one part. Where the parts agree, the search
    /// walks straight to a joint match; where the estimate says little, the
    /// length of the path keeps it near, as a breadth-first search would.
    /// Edges wait in the queue as (state, class) and their targets are only
    /// made when taken: a state has as many edges as byte classes, and all
    /// but one usually stay untaken.
    ///
    /// `None` if the running operation stopped first (nothing is settled
    /// then but the states found live).
    fn resolve(&self, g: &mut ProductInner, s: u32) -> Option<bool> {
        match g.live[s as usize] {
            Liveness::Live => return Some(true),
            Liveness::Dead => return Some(false),
            Liveness::Unknown => {}
        }
        if self.npos >= 3 || (self.npos == 2 && self.parts.len() > 2) {
            let a = g.tuple_at[s as usize] as usize;
            let pos: Vec<u32> = g.tuples[a..a + self.npos].to_vec();
            for i in 0..self.npos {
                for j in i + 1..self.npos {
                    if self.disjoint(g, i, pos[i], j, pos[j]) {
                        g.live[s as usize] = Liveness::Dead;
                        return Some(false);
                    }
                }
            }
            if crate::budget::stopped() {
                return None;
            }
        }
        g.epoch = g.epoch.wrapping_add(1).max(1);
        let epoch = g.epoch;
        // Every state reached, to settle them if the search fails.
        let mut reached = std::mem::take(&mut g.visited);
        reached.clear();
        reached.push(s);
        // Edges between states of the search, in the order found.
        let mut edges: Vec<(u32, u32)> = Vec::new();
        g.stamp[s as usize] = epoch;
        // Edges (depth after it, state, class) by the depth after the edge
        // plus the estimate from there.
        let mut queue = std::mem::take(&mut g.queue);
        queue.clear();
        let expand = |g: &mut ProductInner, x: u32, depth: u32, queue: &mut EdgeQueue| {
            self.edges_by_bound(g, x, &mut |h, c| {
                queue.push(h.saturating_add(depth + 1), (depth + 1, x, c));
            })
        };
        let mut ok = expand(g, s, 0, &mut queue);
        while ok {
            let Some((depth, x, c)) = queue.pop() else {
                break;
            };
            let Some(t) = self.raw_next(g, x, c as usize) else {
                ok = false;
                break;
            };
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
                g.visited = reached;
                g.queue = queue;
                return Some(true);
            }
            g.stamp[t as usize] = epoch;
            reached.push(t);
            edges.push((x, t));
            ok = expand(g, t, depth, &mut queue);
        }
        g.queue = queue;
        if !ok {
            g.visited = reached;
            return None;
        }
        // Nothing reached accepts, and everything reachable was reached
        // (a state refused for lack of room ends the search above).
        for &v in &reached {
            g.live[v as usize] = Liveness::Dead;
        }
        g.visited = reached;
        Some(false)
    }

    /// Calls `edge(estimate, class)` for each class on which some successor
    /// of `x` may live, with the sum of the positive parts' distances to a
    /// match from that successor, worked out from the parts without making
    /// it. A class that kills a positive part is recorded as dead. False if
    /// the running operation stopped.
    fn edges_by_bound(
        &self,
        g: &mut ProductInner,
        x: u32,
        edge: &mut impl FnMut(u32, u32),
    ) -> bool {
        // A step of every positive part per class, and its distance.
        if !crate::budget::charge((self.stride * (self.npos + 1)) as u64) {
            return false;
        }
        let a = g.tuple_at[x as usize] as usize;
        for c in 0..self.stride {
            let idx = x as usize * self.stride + c;
            match g.raw[idx] {
                DEAD => continue,
                UNKNOWN => {}
                t => {
                    let a = g.tuple_at[t as usize] as usize;
                    let h = g.tuples[a..a + self.npos]
                        .iter()
                        .zip(&self.parts)
                        .fold(0u32, |h, (&q, d)| h.saturating_add(d.to_accept(q)));
                    edge(h, c as u32);
                    continue;
                }
            }
            let byte = self.reps[c];
            let mut h = 0u32;
            let mut dead = false;
            for k in 0..self.npos {
                let q = self.parts[k].next(g.tuples[a + k], byte);
                if q == DEAD {
                    dead = true;
                    break;
                }
                h = h.saturating_add(self.parts[k].to_accept(q));
            }
            if crate::budget::stopped() {
                return false;
            }
            if dead {
                g.raw[idx] = DEAD;
            } else {
                edge(h, c as u32);
            }
        }
        true
    }

    /// The most bytes any positive part of state `s` needs to a match: a
    /// lower bound on the product's own distance.
    fn bound(&self, g: &ProductInner, s: u32) -> u32 {
        if let Some(d) = self.rows.dist(s) {
            return d;
        }
        let a = g.tuple_at[s as usize] as usize;
        let d = g.tuples[a..a + self.npos]
            .iter()
            .zip(&self.parts)
            .map(|(&q, d)| d.to_accept(q))
            .max()
            .unwrap_or(0);
        self.rows.set_dist(s, d);
        d
    }
}
