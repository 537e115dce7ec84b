//! Masks of many sequences at once: [`compute_masks`] and
//! [`try_compute_masks`] compute each matcher's mask on one of several
//! threads, for a serving batch where each row has its own matcher.
//!
//! A batch step is short (64 rows of JSON are about 250 µs of work on one
//! core), so the cost of starting threads matters as much as the work. The
//! rows therefore go to a process-wide team of helper threads (one fewer
//! than rayon's thread count, which follows `RAYON_NUM_THREADS`) that spin
//! for about 100 µs after a batch before they sleep, and the calling
//! thread claims rows too: it starts at once, and a helper that wakes late
//! only takes fewer rows. On rayon's pool the caller waited for a wake-up
//! at the start and another at the end of each step, about 40 µs, which
//! left two cores 1.2× faster than one instead of nearly 2×. While another
//! thread's batch holds the team, a batch runs on rayon's pool instead.
//!
//! [`try_compute_masks_into`] writes into masks the caller keeps
//! from step to step: a step then allocates nothing, which matters more than
//! it seems, since a mask of a 128k-token vocabulary is 16 KB and masks
//! allocated on one thread and freed on another make the allocator a point
//! of contention between the cores.
//!
//! ```
//! use std::sync::Arc;
//! use formwork::{compute_masks, json_grammar, regex_grammar, Matcher, TokenEnv};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
//! let env = Arc::new(TokenEnv::from_file(path)?);
//! let json = env.compile(&json_grammar())?;
//! let digits = env.compile(&regex_grammar("[0-9]+")?)?;
//! let mut batch = vec![Matcher::new(json, &env), Matcher::new(digits, &env)];
//! let masks = compute_masks(&mut batch);
//! // Row by row, the same masks as one call per matcher.
//! for (m, mask) in batch.iter_mut().zip(&masks) {
//!     assert_eq!(&m.compute_mask(), mask);
//! }
//! # Ok(()) }
//! ```

use crate::error::MatcherError;
use crate::mask::TokenMask;
use crate::matcher::Matcher;
use crate::team::Team;
use rayon::prelude::*;
use std::borrow::BorrowMut;
use std::sync::{Mutex, OnceLock, TryLockError};

/// The mask of each matcher (as [`Matcher::compute_mask`]: empty where the
/// budget ran out, with [`Matcher::last_error`] set), computed in parallel.
/// Takes matchers by value or by `&mut`.
pub fn compute_masks<M: BorrowMut<Matcher> + Send>(matchers: &mut [M]) -> Vec<TokenMask> {
    let mut out = new_masks(matchers);
    let mut rows: Vec<(&mut M, &mut TokenMask)> = matchers.iter_mut().zip(&mut out).collect();
    for_each_row(&mut rows, |(m, o)| (*m).borrow_mut().compute_mask_into(o));
    out
}

/// The mask of each matcher or its error (as
/// [`Matcher::try_compute_mask`]), computed in parallel.
pub fn try_compute_masks<M: BorrowMut<Matcher> + Send>(
    matchers: &mut [M],
) -> Vec<Result<TokenMask, MatcherError>> {
    let mut out = new_masks(matchers);
    let status = try_compute_masks_into(matchers, &mut out);
    status
        .into_iter()
        .zip(out)
        .map(|(r, mask)| r.map(|()| mask))
        .collect()
}

/// Writes the mask of `matchers[i]` into `out[i]` (as
/// [`Matcher::try_compute_mask_into`]), in parallel, and returns each
/// one's status. Masks of another width than their matcher's vocabulary
/// are resized.
///
/// # Panics
/// If `out` and `matchers` differ in length.
pub fn try_compute_masks_into<M: BorrowMut<Matcher> + Send>(
    matchers: &mut [M],
    out: &mut [TokenMask],
) -> Vec<Result<(), MatcherError>> {
    assert_eq!(matchers.len(), out.len(), "one mask per matcher");
    let mut rows: Vec<(&mut M, &mut TokenMask, Result<(), MatcherError>)> = matchers
        .iter_mut()
        .zip(out)
        .map(|(m, o)| (m, o, Ok(())))
        .collect();
    for_each_row(&mut rows, |(m, o, status)| {
        let m = (*m).borrow_mut();
        let width = m.vocabulary().logits_width();
        if o.width() != width {
            **o = TokenMask::new(width);
        }
        *status = m.try_compute_mask_into(o);
    });
    rows.into_iter().map(|(_, _, status)| status).collect()
}

/// Computes the mask of `matchers[i]` and hands it to `write(&mask, &mut
/// sinks[i])` on the thread that computed it, in parallel; returns each
/// one's status (`write` is not called on error). For writing masks
/// straight into memory the caller owns, such as the rows of a bitmask
/// tensor, with a few scratch masks per call rather than one per matcher.
///
/// ```
/// use std::sync::Arc;
/// use formwork::{try_compute_masks_with, regex_grammar, Matcher, TokenEnv};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
/// let env = Arc::new(TokenEnv::from_file(path)?);
/// let digits = env.compile(&regex_grammar("[0-9]+")?)?;
/// let mut batch = vec![Matcher::new(digits.clone(), &env), Matcher::new(digits, &env)];
/// // One row of u32 words per matcher, as in an int32 bitmask tensor.
/// let words = env.vocab().logits_width().div_ceil(32);
/// let mut table = vec![0u32; 2 * words];
/// let mut rows: Vec<&mut [u32]> = table.chunks_mut(words).collect();
/// let status = try_compute_masks_with(&mut batch, &mut rows, |mask, row| {
///     row.copy_from_slice(mask.as_words())
/// });
/// assert!(status.iter().all(|s| s.is_ok()));
/// assert_eq!(&table[..words], batch[0].compute_mask().as_words());
/// # Ok(()) }
/// ```
///
/// # Panics
/// If `sinks` and `matchers` differ in length.
pub fn try_compute_masks_with<M, S, F>(
    matchers: &mut [M],
    sinks: &mut [S],
    write: F,
) -> Vec<Result<(), MatcherError>>
where
    M: BorrowMut<Matcher> + Send,
    S: Send,
    F: Fn(&TokenMask, &mut S) + Sync,
{
    assert_eq!(matchers.len(), sinks.len(), "one sink per matcher");
    // Scratch masks, taken by a row and given back: about one per thread.
    let scratch: Mutex<Vec<TokenMask>> = Mutex::new(Vec::new());
    let mut rows: Vec<(&mut M, &mut S, Result<(), MatcherError>)> = matchers
        .iter_mut()
        .zip(sinks)
        .map(|(m, sink)| (m, sink, Ok(())))
        .collect();
    for_each_row(&mut rows, |(m, sink, status)| {
        let m = (*m).borrow_mut();
        let width = m.vocabulary().logits_width();
        let taken = lock(&scratch).pop();
        let mut mask = match taken {
            Some(mask) if mask.width() == width => mask,
            _ => TokenMask::new(width),
        };
        *status = m.try_compute_mask_into(&mut mask);
        if status.is_ok() {
            write(&mask, sink);
        }
        lock(&scratch).push(mask);
    });
    rows.into_iter().map(|(_, _, status)| status).collect()
}

/// The process-wide team for batches (see the module docs); `None` on one
/// thread, or where a helper thread cannot start.
static TEAM: OnceLock<Option<Mutex<Team>>> = OnceLock::new();

/// Calls `f` on every row, spread over the threads: on the team when it is
/// free, else on rayon's pool.
fn for_each_row<T: Send>(rows: &mut [T], f: impl Fn(&mut T) + Sync + Send) {
    if rows.len() < 2 {
        rows.iter_mut().for_each(f);
        return;
    }
    let team = TEAM.get_or_init(|| {
        let threads = rayon::current_num_threads();
        (threads > 1)
            .then(|| Team::new(threads, "formwork-masks"))
            .flatten()
            .map(Mutex::new)
    });
    let team = match team.as_ref().map(Mutex::try_lock) {
        Some(Ok(team)) => Some(team),
        // A row panicked in an earlier batch; the team itself is sound.
        Some(Err(TryLockError::Poisoned(p))) => Some(p.into_inner()),
        Some(Err(TryLockError::WouldBlock)) | None => None,
    };
    match team {
        Some(mut team) => {
            // Each row behind its own lock: a row is claimed by exactly one
            // thread, so the locks are never contended.
            let cells: Vec<Mutex<&mut T>> = rows.iter_mut().map(Mutex::new).collect();
            team.run(cells.len(), &|c| f(&mut lock(&cells[c])));
        }
        None => rows.par_iter_mut().for_each(f),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Empty masks for `matchers`, allocated on the calling thread (which also
/// frees them).
fn new_masks<M: BorrowMut<Matcher>>(matchers: &mut [M]) -> Vec<TokenMask> {
    matchers
        .iter_mut()
        .map(|m| TokenMask::new(m.borrow_mut().vocabulary().logits_width()))
        .collect()
}
