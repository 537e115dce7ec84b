//! A small team of threads for the model's products, tuned for latency.
//!
//! A decode step of a small model is a few hundred matrix products of tens
//! of microseconds each. Handing each to a general pool (rayon) costs a
//! wake-up per product and left two threads slower than one. A [`Team`]
//! instead keeps its helpers spinning between jobs for a while (then
//! sleeping, so an idle model costs nothing), and the calling thread takes
//! a share of every job itself. Work is split statically, one contiguous
//! range per thread: the rows of a product cost the same.

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
    /// The current job, written only while every helper is idle.
    job: UnsafeCell<Job>,
    /// Helpers still running the current job.
    running: AtomicUsize,
    /// Helpers asleep, or about to be.
    sleeping: AtomicUsize,
    panicked: AtomicBool,
    stop: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is written by the team's owner only while no helper runs
// (`running == 0`), and read by helpers only after the epoch's release.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

/// `threads − 1` helper threads plus the caller.
pub(crate) struct Team {
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
}

impl Team {
    /// A team of `threads` (at least 2); `None` if a thread cannot start.
    pub(crate) fn new(threads: usize) -> Option<Team> {
        let noop: &(dyn Fn(usize) + Sync) = &|_| {};
        let shared = Arc::new(Shared {
            epoch: AtomicUsize::new(0),
            job: UnsafeCell::new(noop as Job),
            running: AtomicUsize::new(0),
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
                .name(format!("formwork-model-{index}"))
                .spawn(move || helper(&s, index))
                .ok()?;
            helpers.push(h);
        }
        Some(Team { shared, helpers })
    }

    /// Threads in the team, the caller included.
    pub(crate) fn threads(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Runs `f(i)` for every thread index `i` (the caller runs 0) and
    /// returns when all have finished. A panic in any of them is resumed
    /// here.
    pub(crate) fn run(&mut self, f: &(dyn Fn(usize) + Sync)) {
        let s = &*self.shared;
        // SAFETY: no helper runs (the previous `run` waited for all), so
        // nothing reads `job` now. The lifetime is erased; `Wait` below
        // keeps `f` alive until every helper is done with it, even if the
        // caller's share panics.
        unsafe { *s.job.get() = std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        s.running.store(self.helpers.len(), SeqCst);
        s.epoch.fetch_add(1, SeqCst);
        if s.sleeping.load(SeqCst) > 0 {
            let _g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        struct Wait<'a>(&'a Shared);
        impl Drop for Wait<'_> {
            fn drop(&mut self) {
                let mut spins = 0usize;
                while self.0.running.load(Acquire) != 0 {
                    spins += 1;
                    if spins < SPINS {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }
        let wait = Wait(s);
        f(0);
        drop(wait);
        if s.panicked.swap(false, SeqCst) {
            panic!("a model thread panicked");
        }
    }
}

fn helper(s: &Shared, index: usize) {
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
        // SAFETY: the epoch's acquire orders this read after the write of
        // the job, which stays alive until `running` reaches 0.
        let job = unsafe { &**s.job.get() };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(index))).is_err() {
            s.panicked.store(true, SeqCst);
        }
        s.running.fetch_sub(1, Release);
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
    fn every_index_runs_once_per_job() {
        let mut team = Team::new(3).unwrap();
        for round in 0..2000 {
            let hits: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
            team.run(&|i| {
                hits[i].fetch_add(1, SeqCst);
            });
            assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "round {round}");
            if round % 500 == 0 {
                // Let the helpers fall asleep: waking them must work too.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    #[test]
    fn a_helper_panic_reaches_the_caller_and_the_team_goes_on() {
        let mut team = Team::new(2).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            team.run(&|i| assert!(i == 0, "helper fails"));
        }));
        assert!(r.is_err());
        let n = AtomicUsize::new(0);
        team.run(&|_| {
            n.fetch_add(1, SeqCst);
        });
        assert_eq!(n.load(SeqCst), 2);
    }
}
