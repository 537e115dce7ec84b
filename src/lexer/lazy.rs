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

use super::classes::{class_table, DEAD, UNKNOWN};
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
