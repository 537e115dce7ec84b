//! The storage of a lazily built DFA ([`Rows`]) and its per-constraint
//! size limit ([`Room`]), shared by [`super::lazy`] and [`super::repeat`].

use super::classes::{DEAD, UNKNOWN};
use crate::hash::FxBuild;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// The rows of a lazily built DFA: per state, its transition per class
/// ([`UNKNOWN`] until computed), 1 if it accepts, and its distance to a
/// match ([`UNKNOWN`] until asked for). Rows are added and cells filled
/// under the DFA's lock, but read without it: a lexer only takes the lock
/// for a transition nobody has computed yet.
///
/// Rows live in chunks that double in size (16, 16, 32, 64, … rows), so a
/// row never moves once made and a small DFA stays small.
#[derive(Debug)]
pub(super) struct Rows {
    pub(super) width: usize,
    chunks: [OnceLock<Box<[AtomicU32]>>; 32],
}

impl Rows {
    pub(super) fn new(stride: usize) -> Rows {
        Rows {
            width: stride + 2,
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
    pub(super) fn get(&self, s: u32, col: usize) -> u32 {
        let (k, r) = Self::locate(s as usize);
        match self.chunks.get(k).and_then(OnceLock::get) {
            Some(c) => c[r * self.width + col].load(Ordering::Acquire),
            None => UNKNOWN,
        }
    }

    pub(super) fn set(&self, s: u32, col: usize, v: u32) {
        let (k, r) = Self::locate(s as usize);
        if let Some(c) = self.chunks.get(k).and_then(OnceLock::get) {
            c[r * self.width + col].store(v, Ordering::Release);
        }
    }

    /// The distance to a match remembered for state `s`, if any.
    #[inline]
    pub(super) fn dist(&self, s: u32) -> Option<u32> {
        Some(self.get(s, self.width - 1)).filter(|&d| d != UNKNOWN)
    }

    /// Remembers state `s`'s distance to a match (an idempotent fact, so
    /// no lock is needed).
    pub(super) fn set_dist(&self, s: u32, d: u32) {
        self.set(s, self.width - 1, d);
    }

    /// Cell `col` of row `s`, computed by `compute` under `lock` if still
    /// unknown once the lock is held (another thread may have filled it
    /// meanwhile). A computation that gives up (`None`: the operation's
    /// budget is spent, or the table is full) reads as [`DEAD`] for this
    /// once and leaves the cell unknown.
    fn fill<G>(
        &self,
        s: u32,
        col: usize,
        lock: &Mutex<G>,
        compute: impl FnOnce(&mut G) -> Option<u32>,
    ) -> u32 {
        let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
        let t = self.get(s, col);
        if t != UNKNOWN {
            return t;
        }
        match compute(&mut g) {
            Some(t) => {
                self.set(s, col, t);
                t
            }
            None => DEAD,
        }
    }

    /// Makes row `s` (all transitions unknown). False if there is no room.
    pub(super) fn add(&self, s: u32, accept: bool) -> bool {
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
        c[r * self.width + self.width - 2].store(accept as u32, Ordering::Release);
        true
    }
}

/// Room in a lazily built table, which many grammars may share (through
/// the lexeme DFA cache): each owner (a compiled grammar, see
/// [`crate::budget::owner`]) may add states worth the table's size limit,
/// and all together [`SHARED_ROOM`] times that. A constraint that fills its
/// share is refused further states, and another constraint using the same
/// table goes on in its own share, as it would with a table of its own.
#[derive(Debug)]
pub(super) struct Room {
    limit: usize,
    total: usize,
    by_owner: HashMap<u64, usize, FxBuild>,
    /// States refused so far.
    refusals: u64,
}

/// How many owners' worth of states a shared table holds at most.
pub(super) const SHARED_ROOM: usize = 4;

impl Room {
    pub(super) fn new(limit: usize) -> Room {
        Room {
            limit,
            total: 0,
            by_owner: HashMap::default(),
            refusals: 0,
        }
    }

    /// Takes `cost` bytes for the running operation's owner; false if they
    /// fit neither in its share nor in the table.
    pub(super) fn take(&mut self, cost: usize) -> bool {
        let mine = self.by_owner.entry(crate::budget::owner()).or_default();
        if *mine + cost > self.limit || self.total + cost > SHARED_ROOM * self.limit {
            self.refusals += 1;
            return false;
        }
        *mine += cost;
        self.total += cost;
        true
    }

    /// Takes `cost` bytes whatever the shares (a table's first state).
    pub(super) fn take_anyway(&mut self, cost: usize) {
        self.total += cost;
    }

    /// Records a state refused for another reason (no row left).
    pub(super) fn refuse(&mut self) {
        self.refusals += 1;
    }

    pub(super) fn refusals(&self) -> u64 {
        self.refusals
    }

    /// The table holds a share's worth of states: a grammar compiled now
    /// should start from a fresh one.
    pub(super) fn is_full(&self) -> bool {
        self.total >= self.limit || self.refusals > 0
    }
}

/// The state of a lazily built table that its lock guards: at least its
/// [`Room`].
pub(super) trait Grows {
    fn room(&self) -> &Room;
}

/// A lazily built table as the running operation's report names it when a
/// step gives up (see [`crate::budget::stop_full`] and
/// [`crate::budget::blame`]).
pub(super) struct Named<'a> {
    pub(super) name: &'a str,
    pub(super) size_limit: usize,
    /// Whether it is stepped on behalf of others (an intersection steps its
    /// parts): see [`crate::budget::blame`].
    pub(super) outer: bool,
}

impl Rows {
    /// The transition on class `class` from state `s`: read without the
    /// lock when known, else made by `step` under `lock`. A step that gives
    /// up (`None`) reads as [`DEAD`] for this once and leaves the cell
    /// unknown, and the operation's meter says why: the table's room is
    /// spent (a refusal), or its work budget. After a stop nothing is built,
    /// and nothing is blamed on this table.
    ///
    /// Inlined, the known case is one load; building is out of line.
    #[inline]
    pub(super) fn next<G: Grows>(
        &self,
        s: u32,
        class: usize,
        lock: &Mutex<G>,
        who: Named<'_>,
        step: impl FnOnce(&mut G) -> Option<u32>,
    ) -> u32 {
        let t = self.get(s, class);
        if t != UNKNOWN {
            return t;
        }
        self.build(s, class, lock, who, step)
    }

    #[cold]
    #[inline(never)]
    fn build<G: Grows>(
        &self,
        s: u32,
        class: usize,
        lock: &Mutex<G>,
        who: Named<'_>,
        step: impl FnOnce(&mut G) -> Option<u32>,
    ) -> u32 {
        self.fill(s, class, lock, |g| {
            if crate::budget::stopped() {
                return None;
            }
            let refusals = g.room().refusals();
            let t = step(g);
            if t.is_none() {
                if g.room().refusals() > refusals {
                    crate::budget::stop_full(who.name, who.size_limit);
                } else {
                    crate::budget::blame(who.name, who.outer);
                }
            }
            t
        })
    }
}
