//! Masks of many sequences at once: [`compute_masks`] and
//! [`try_compute_masks`] run one matcher per task on rayon's thread pool
//! (every core by default), for a serving batch where each row has its own
//! matcher. [`try_compute_masks_into`] writes into masks the caller keeps
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
use rayon::prelude::*;
use std::borrow::BorrowMut;

/// The mask of each matcher (as [`Matcher::compute_mask`]: empty where the
/// budget ran out, with [`Matcher::last_error`] set), computed in parallel.
/// Takes matchers by value or by `&mut`.
pub fn compute_masks<M: BorrowMut<Matcher> + Send>(matchers: &mut [M]) -> Vec<TokenMask> {
    let mut out = new_masks(matchers);
    matchers
        .par_iter_mut()
        .zip(out.par_iter_mut())
        .for_each(|(m, o)| m.borrow_mut().compute_mask_into(o));
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
    matchers
        .par_iter_mut()
        .zip(out.par_iter_mut())
        .map(|(m, o)| {
            let m = m.borrow_mut();
            let width = m.vocabulary().logits_width();
            if o.width() != width {
                *o = TokenMask::new(width);
            }
            m.try_compute_mask_into(o)
        })
        .collect()
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
    matchers
        .par_iter_mut()
        .zip(sinks.par_iter_mut())
        .map_init(
            || TokenMask::new(0),
            |scratch, (m, sink)| {
                let m = m.borrow_mut();
                let width = m.vocabulary().logits_width();
                if scratch.width() != width {
                    *scratch = TokenMask::new(width);
                }
                m.try_compute_mask_into(scratch)?;
                write(scratch, sink);
                Ok(())
            },
        )
        .collect()
}

/// Empty masks for `matchers`, allocated on the calling thread (which also
/// frees them).
fn new_masks<M: BorrowMut<Matcher>>(matchers: &mut [M]) -> Vec<TokenMask> {
    matchers
        .iter_mut()
        .map(|m| TokenMask::new(m.borrow_mut().vocabulary().logits_width()))
        .collect()
}
