//! A lexeme `A B{min,max} C` with a large bound whose units can overlap,
//! built on first use with the counts kept as sets.
//!
//! [`super::dfa::Counted`] numbers the states of such a lexeme arithmetically,
//! which needs every unit B to end exactly where its DFA accepts. A unit
//! like `\w+\s?` does not: after `ab`, one unit or two were read, and after
//! 500 words, any count from 500 up to the number of letters. A subset
//! construction over the Thompson NFA then makes a state per set of counts,
//! each holding hundreds of NFA states: `(\w+\s?){1,1000}` on 500 words
//! fills 64 MiB.
//!
//! Here a state is a set of *threads*, one per way the text so far can be
//! read:
//!
//! * `A(q)`: inside the prefix A, in A's state `q`;
//! * `B(q, R)`: inside a unit, in B's state `q`;
//! * `Bd(R)`: between units;
//! * `C(q)`: inside the suffix C.
//!
//! A count is never stored. `R` is what the count means for the future:
//! the numbers of further units after which C may start (for a boundary
//! after `k` units, `min - k ..= max - k`, clipped at 0). Two readings with
//! different counts but the same `R` have the same future, so threads of
//! one B state merge by uniting their `R`s, kept as a few disjoint ranges.
//! For `(\w+\s?){1,1000}` every count from 1 up gives `R = 0..=1000 - k`,
//! and the union over the counts possible is the range of the smallest: a
//! word read leaves the state as it was, and the lexeme has about three
//! states per word of the bound.
//!
//! Every thread can still reach a match (B's and C's states are live, and
//! a thread's `R` is never empty), so a state is dead only when it has no
//! thread. States are interned as they are reached, like [`super::lazy`]'s,
//! under the same size limit and work budget.

use super::classes::{refine_classes, DEAD, UNKNOWN};
use super::part::Part;
use super::rows::{Grows, Named, Room, Rows};
use crate::hash::FxBuild;
use std::collections::HashMap;
use std::sync::Mutex;

/// "No upper bound" in a range of [`Counts`].
const INF: u32 = u32::MAX;
/// In a key: no A thread.
const NO_A: u32 = u32::MAX;

/// A set of unit counts still to come, as sorted, disjoint, non-adjacent
/// inclusive ranges.
type Counts = Vec<(u32, u32)>;

/// Adds range `(lo, hi)` to `r`.
fn add_range(r: &mut Counts, lo: u32, hi: u32) {
    r.push((lo, hi));
    r.sort_unstable();
    let mut out: Counts = Vec::with_capacity(r.len());
    for &(a, b) in r.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *r = out;
}

fn union(r: &mut Counts, other: &[(u32, u32)]) {
    for &(lo, hi) in other {
        add_range(r, lo, hi);
    }
}

/// The counts left after one more unit: `{j - 1 : j in r, j >= 1}`.
fn after_unit(r: &[(u32, u32)]) -> Counts {
    r.iter()
        .filter(|&&(_, hi)| hi >= 1)
        .map(|&(lo, hi)| (lo.saturating_sub(1), if hi == INF { INF } else { hi - 1 }))
        .collect()
}

/// The threads of a state, decoded from its key.
#[derive(Debug, Default)]
struct Threads {
    a: Option<u32>,
    /// By B state.
    b: std::collections::BTreeMap<u32, Counts>,
    /// Between units (empty: no such thread).
    at: Counts,
    c: Vec<u32>,
}

impl Threads {
    /// The key: `[a or NO_A, #b, (q, #ranges, lo, hi, ...)*, #at ranges,
    /// lo, hi, ..., #c, c states...]`.
    fn encode(&self, out: &mut Vec<u32>) {
        out.clear();
        out.push(self.a.unwrap_or(NO_A));
        out.push(self.b.len() as u32);
        for (&q, r) in &self.b {
            out.extend([q, r.len() as u32]);
            out.extend(r.iter().flat_map(|&(lo, hi)| [lo, hi]));
        }
        out.push(self.at.len() as u32);
        out.extend(self.at.iter().flat_map(|&(lo, hi)| [lo, hi]));
        out.push(self.c.len() as u32);
        out.extend_from_slice(&self.c);
    }

    fn decode(key: &[u32]) -> Threads {
        let mut t = Threads::default();
        let mut i = 0;
        let mut take = || {
            i += 1;
            key[i - 1]
        };
        let a = take();
        t.a = (a != NO_A).then_some(a);
        for _ in 0..take() {
            let q = take();
            let n = take();
            let r = (0..n).map(|_| (take(), take())).collect();
            t.b.insert(q, r);
        }
        let n = take();
        t.at = (0..n).map(|_| (take(), take())).collect();
        let n = take();
        t.c = (0..n).map(|_| take()).collect();
        t
    }

    fn is_empty(&self) -> bool {
        self.a.is_none() && self.b.is_empty() && self.at.is_empty() && self.c.is_empty()
    }
}

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct LazyRepeat<P> {
    name: Box<str>,
    a: Option<P>,
    b: P,
    c: Option<P>,
    min: u32,
    max: Option<u32>,
    /// Per B state: no byte leads on (a thread there can only have ended
    /// its unit, which its step already recorded).
    b_terminal: Vec<bool>,
    stride: usize,
    reps: Vec<u8>,
    size_limit: usize,
    rows: Rows,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Keys, flat: state `s` is `keys[key_at[s]..key_at[s + 1]]`.
    keys: Vec<u32>,
    key_at: Vec<u32>,
    index: HashMap<Box<[u32]>, u32, FxBuild>,
    /// Bytes taken by the states (rows and keys), by owner.
    room: Room,
    scratch: Vec<u32>,
}

impl Grows for Inner {
    fn room(&self) -> &Room {
        &self.room
    }
}

impl<P: Part> LazyRepeat<P> {
    /// `a b{min,max} c` (B not nullable; A and C absent when `None`), with
    /// the joint byte classes; named `name` in errors.
    pub(crate) fn new(
        name: &str,
        a: Option<P>,
        b: P,
        c: Option<P>,
        min: u32,
        max: Option<u32>,
        size_limit: usize,
    ) -> (LazyRepeat<P>, [u8; 256]) {
        debug_assert!(!b.is_accepting(b.start()), "B must not be nullable");
        let mut classes = [0u8; 256];
        let tables = a.iter().chain([&b]).chain(c.iter()).map(|d| d.classes());
        let reps = refine_classes(&mut classes, tables);
        let b_terminal = (0..b.state_count() as u32)
            .map(|s| (0..=255u8).all(|x| b.next(s, x) == DEAD))
            .collect();
        let stride = reps.len();
        let r = LazyRepeat {
            name: name.into(),
            a,
            b,
            c,
            min,
            max,
            b_terminal,
            stride,
            reps,
            size_limit,
            rows: Rows::new(stride),
            inner: Mutex::new(Inner {
                keys: Vec::new(),
                key_at: vec![0],
                index: HashMap::default(),
                room: Room::new(size_limit),
                scratch: Vec::new(),
            }),
        };
        let mut start = Threads::default();
        match &r.a {
            Some(a) => {
                start.a = Some(a.start());
                if a.is_accepting(a.start()) {
                    start.at = r.initial();
                }
            }
            None => start.at = r.initial(),
        }
        let mut g = r.lock();
        // The first state always fits.
        let s = r.intern(&mut g, &start);
        debug_assert_eq!(s, Some(0));
        drop(g);
        (r, classes)
    }

    /// The counts of further units at the boundary before the first unit.
    fn initial(&self) -> Counts {
        match self.max {
            Some(m) if m < self.min => Vec::new(),
            m => vec![(self.min, m.unwrap_or(INF))],
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
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
        self.lock().key_at.len() - 1
    }

    pub(crate) fn is_full(&self) -> bool {
        self.lock().room.is_full()
    }

    /// The state after class `class` from `s`, or [`DEAD`] (also when the
    /// running operation has to stop: see [`crate::budget`]).
    #[inline]
    pub(crate) fn next(&self, s: u32, class: u8) -> u32 {
        let class = class as usize;
        let who = Named {
            name: &self.name,
            size_limit: self.size_limit,
            outer: false,
        };
        self.rows.next(s, class, &self.inner, who, |g| {
            self.step(g, s, self.reps[class])
        })
    }

    /// The successor of `s` on `byte` (see the module docs); `None` if it
    /// does not fit or the budget is spent.
    fn step(&self, g: &mut Inner, s: u32, byte: u8) -> Option<u32> {
        let (lo, hi) = (g.key_at[s as usize] as usize, g.key_at[s as usize + 1]);
        if !crate::budget::charge(1 + u64::from(hi) - lo as u64) {
            return None;
        }
        let from = Threads::decode(&g.keys[lo..hi as usize]);
        let mut to = Threads::default();
        if let (Some(q), Some(a)) = (from.a, &self.a) {
            let t = a.next(q, byte);
            if t != DEAD {
                to.a = Some(t);
                if a.is_accepting(t) {
                    union(&mut to.at, &self.initial());
                }
            }
        }
        for (&q, r) in &from.b {
            self.unit_step(&mut to, q, r, byte);
        }
        if !from.at.is_empty() {
            let more = after_unit(&from.at);
            if !more.is_empty() {
                self.unit_step(&mut to, self.b.start(), &more, byte);
            }
            if let Some(c) = &self.c {
                if from.at[0].0 == 0 {
                    let t = c.next(c.start(), byte);
                    if t != DEAD && !to.c.contains(&t) {
                        to.c.push(t);
                    }
                }
            }
        }
        if let Some(c) = &self.c {
            for &q in &from.c {
                let t = c.next(q, byte);
                if t != DEAD && !to.c.contains(&t) {
                    to.c.push(t);
                }
            }
        }
        to.c.sort_unstable();
        if to.is_empty() {
            return Some(DEAD);
        }
        self.intern(g, &to)
    }

    /// Adds to `to` what a thread in unit state `q` becomes on `byte`, with
    /// counts `r` left after its unit.
    fn unit_step(&self, to: &mut Threads, q: u32, r: &[(u32, u32)], byte: u8) {
        let t = self.b.next(q, byte);
        if t == DEAD {
            return;
        }
        if !self.b_terminal[t as usize] {
            union(to.b.entry(t).or_default(), r);
        }
        if self.b.is_accepting(t) {
            union(&mut to.at, r);
        }
    }

    fn intern(&self, g: &mut Inner, t: &Threads) -> Option<u32> {
        let mut key = std::mem::take(&mut g.scratch);
        t.encode(&mut key);
        let found = g.index.get(&key[..]).copied();
        let s = found.or_else(|| {
            let s = g.key_at.len() as u32 - 1;
            let cost = 4 * (self.stride + 2) + 8 * key.len() + 32;
            if s == 0 {
                g.room.take_anyway(cost);
            } else if !g.room.take(cost) {
                return None;
            }
            if !self.rows.add(s, self.accepts(t)) {
                g.room.refuse();
                return None;
            }
            g.keys.extend_from_slice(&key);
            let end = g.keys.len() as u32;
            g.key_at.push(end);
            g.index.insert(key.clone().into_boxed_slice(), s);
            Some(s)
        });
        g.scratch = key;
        s
    }

    fn accepts(&self, t: &Threads) -> bool {
        let c_empty = self.c.as_ref().is_none_or(|c| c.is_accepting(c.start()));
        (c_empty && t.at.first().is_some_and(|&(lo, _)| lo == 0))
            || self
                .c
                .as_ref()
                .is_some_and(|c| t.c.iter().any(|&q| c.is_accepting(q)))
    }

    /// Fewest bytes from `s` to a match: over the threads, what is left of
    /// the current part, plus the fewest units still needed at their
    /// shortest, plus C at its shortest.
    pub(crate) fn to_accept(&self, s: u32) -> u32 {
        if let Some(d) = self.rows.dist(s) {
            return d;
        }
        let far = u32::MAX / 4;
        let t = {
            let g = self.lock();
            let (lo, hi) = (g.key_at[s as usize] as usize, g.key_at[s as usize + 1]);
            Threads::decode(&g.keys[lo..hi as usize])
        };
        let unit = self.b.shortest();
        let tail = self.c.as_ref().map_or(0, |c| c.to_accept(c.start()));
        let from_boundary = |r: &[(u32, u32)]| -> u32 {
            r.first().map_or(far, |&(lo, _)| {
                lo.saturating_mul(unit).saturating_add(tail).min(far)
            })
        };
        let mut best = far;
        if let (Some(q), Some(a)) = (t.a, &self.a) {
            let d = a
                .to_accept(q)
                .saturating_add(from_boundary(&self.initial()));
            best = best.min(d);
        }
        for (&q, r) in &t.b {
            best = best.min(self.b.to_accept(q).saturating_add(from_boundary(r)));
        }
        best = best.min(from_boundary(&t.at));
        if let Some(c) = &self.c {
            for &q in &t.c {
                best = best.min(c.to_accept(q));
            }
        }
        let d = best.min(far);
        self.rows.set_dist(s, d);
        d
    }

    /// Every state reachable and its transitions (see
    /// [`super::lazy::LazyDfa::complete`]); `None` if that does not fit.
    pub(crate) fn complete(&self) -> Option<(Vec<u32>, Vec<bool>)> {
        let mut s = 0;
        while s < self.state_count() {
            for c in 0..self.stride {
                if self.next(s as u32, c as u8) == DEAD && self.rows.get(s as u32, c) == UNKNOWN {
                    return None;
                }
            }
            s += 1;
        }
        let n = self.state_count();
        let mut trans = Vec::with_capacity(n * self.stride);
        let mut accept = Vec::with_capacity(n);
        for s in 0..n as u32 {
            trans.extend((0..self.stride).map(|c| self.rows.get(s, c)));
            accept.push(self.is_accepting(s));
        }
        Some((trans, accept))
    }
}
