//! A small team of threads for short parallel jobs, tuned for latency.
//!
//! A decode step of a small model is a few hundred matrix products of tens
//! of microseconds each, and a serving batch's masks are a job of a few
//! hundred microseconds per step. Handing each to a general pool (rayon)
//! costs a wake-up per job (about 40 µs per batch of masks, and it left two
//! threads slower than one on the model's products). A [`Team`]
//! instead keeps its helpers spinning between jobs for a while (then
//! sleeping, so an idle model costs nothing), and the calling thread works
//! on every job itself.
//!
//! A job is a number of chunks that the threads claim one at a time from a
//! shared counter. A helper that is not running when a job starts (the
//! machine is busy with other work) therefore never holds the job up: the
//! caller claims every chunk itself, closes the job, and waits only for
//! helpers that joined it. Joining and closing are ordered so that a helper
//! that comes late never touches a closed job.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Spins of an idle helper before it sleeps (about 100 µs).
const SPINS: usize = 1 << 14;

type Job = *const (dyn Fn(usize) + Sync);

struct Shared {
    /// Bumped for every job; helpers wait for it to change.
    epoch: AtomicUsize,
    /// The current job, written only while it is closed and no helper is
    /// in it.
    job: UnsafeCell<Job>,
    /// Chunks of the current job, and the next one to claim.
    chunks: AtomicUsize,
    next: AtomicUsize,
    /// Whether helpers may still join the current job.
    open: AtomicBool,
    /// Helpers inside a job.
    active: AtomicUsize,
    /// Helpers asleep, or about to be.
    sleeping: AtomicUsize,
    panicked: AtomicBool,
    stop: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is written by the team's owner only while the job is closed
// and `active == 0`; helpers read it only after joining (`active` raised)
// and seeing the job open, which the write happens-before.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

/// `threads − 1` helper threads plus the caller.
pub(crate) struct Team {
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
}

impl Team {
    /// A team of `threads` (at least 2), its helpers named `name-1`, …;
    /// `None` if a thread cannot start.
    pub(crate) fn new(threads: usize, name: &str) -> Option<Team> {
        let noop: &(dyn Fn(usize) + Sync) = &|_| {};
        let shared = Arc::new(Shared {
            epoch: AtomicUsize::new(0),
            job: UnsafeCell::new(noop as Job),
            chunks: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            open: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let mut helpers = Vec::new();
        for index in 1..threads.max(2) {
            let s = Arc::clone(&shared);
            let h = std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || helper(&s))
                .ok()?;
            helpers.push(h);
        }
        Some(Team { shared, helpers })
    }

    /// Threads in the team, the caller included.
    pub(crate) fn threads(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Runs `f(c)` for every chunk `c` in `0..chunks`, each exactly once, on
    /// whichever threads claim them, and returns when all have finished. A
    /// panic in any of them is resumed here.
    pub(crate) fn run(&mut self, chunks: usize, f: &(dyn Fn(usize) + Sync)) {
        let s = &*self.shared;
        // SAFETY: the previous job is closed and no helper is in it (the
        // previous `run` waited), so nothing reads `job` now. The lifetime
        // is erased; `Close` below keeps `f` alive until every helper that
        // joined has left, even if the caller's share panics.
        unsafe { *s.job.get() = std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        s.chunks.store(chunks, SeqCst);
        s.next.store(0, SeqCst);
        s.open.store(true, SeqCst);
        s.epoch.fetch_add(1, SeqCst);
        if s.sleeping.load(SeqCst) > 0 {
            let _g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        struct Close<'a>(&'a Shared);
        impl Drop for Close<'_> {
            fn drop(&mut self) {
                let s = self.0;
                // No chunk is left unclaimed once the caller stops; closing
                // turns away helpers that have not joined yet.
                s.next.store(usize::MAX / 2, SeqCst);
                s.open.store(false, SeqCst);
                let mut spins = 0usize;
                while s.active.load(SeqCst) != 0 {
                    spins += 1;
                    if spins < SPINS {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }
        let close = Close(s);
        work(s, f);
        drop(close);
        if s.panicked.swap(false, SeqCst) {
            panic!("a team thread panicked");
        }
    }
}

/// Claims and runs chunks of the current job until none is left.
fn work(s: &Shared, f: &(dyn Fn(usize) + Sync)) {
    let chunks = s.chunks.load(SeqCst);
    loop {
        let c = s.next.fetch_add(1, SeqCst);
        if c >= chunks {
            return;
        }
        f(c);
    }
}

fn helper(s: &Shared) {
    let mut seen = 0usize;
    loop {
        let mut spins = 0usize;
        loop {
            if s.stop.load(Acquire) {
                return;
            }
            let e = s.epoch.load(Acquire);
            if e != seen {
                seen = e;
                break;
            }
            spins += 1;
            if spins < SPINS {
                std::hint::spin_loop();
                continue;
            }
            let g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.sleeping.fetch_add(1, SeqCst);
            if s.epoch.load(SeqCst) == seen && !s.stop.load(SeqCst) {
                // The timeout is a safety net; `run` wakes sleepers.
                let _ = s.wake.wait_timeout(g, Duration::from_millis(50));
            }
            s.sleeping.fetch_sub(1, SeqCst);
            spins = 0;
        }
        // Join, then check the job is still open: either the caller sees
        // this helper active and waits for it, or the helper sees the job
        // closed and leaves without reading it.
        s.active.fetch_add(1, SeqCst);
        if s.open.load(SeqCst) {
            // SAFETY: the job is open and this helper is counted active, so
            // the job outlives this use (see `Shared`).
            let job = unsafe { &**s.job.get() };
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(s, job))).is_err() {
                s.panicked.store(true, SeqCst);
            }
        }
        s.active.fetch_sub(1, SeqCst);
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        {
            let _g = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_runs_once_per_job() {
        let mut team = Team::new(3, "test").unwrap();
        for round in 0..3000 {
            let chunks = round % 7;
            let hits: Vec<AtomicUsize> = (0..chunks).map(|_| AtomicUsize::new(0)).collect();
            team.run(chunks, &|c| {
                hits[c].fetch_add(1, SeqCst);
            });
            assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "round {round}");
            if round % 500 == 0 {
                // Let the helpers fall asleep: waking them must work too.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    #[test]
    fn a_panic_in_a_chunk_reaches_the_caller_and_the_team_goes_on() {
        let mut team = Team::new(2, "test").unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            team.run(8, &|c| assert!(c != 5, "chunk fails"));
        }));
        assert!(r.is_err());
        let n = AtomicUsize::new(0);
        team.run(4, &|_| {
            n.fetch_add(1, SeqCst);
        });
        assert_eq!(n.load(SeqCst), 4);
    }
}
