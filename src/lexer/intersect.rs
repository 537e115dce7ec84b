//! The intersection of lexeme DFAs, minus others, built on first use
//! ([`LazyProduct`]): what JSON Schema needs where the grammar's regex
//! syntax has no `&` or complement (a `pattern` under `maxLength`, a
//! property name that is none of the known keys).
//!
//! The parts are any [`Part`]: in practice lexeme DFAs, which may
//! themselves be products; the product is one of the kinds a lexeme DFA
//! can be (see `dfa.rs`), so it knows its parts only through that trait.

use super::classes::{refine_classes, DEAD, UNKNOWN};
use super::part::Part;
use super::rows::{Grows, Named, Room, Rows};
use crate::hash::FxBuild;
use std::collections::HashMap;
use std::sync::Mutex;

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

    /// Every live state and its transitions (see [`super::lazy::LazyDfa::complete`]).
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
