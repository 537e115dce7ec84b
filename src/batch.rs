//! Masks of many sequences at once: [`compute_masks`] and
//! [`try_compute_masks`] run one matcher per task on rayon's thread pool
//! (every core by default), for a serving batch where each row has its own
//! matcher.
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
    matchers
        .par_iter_mut()
        .map(|m| m.borrow_mut().compute_mask())
        .collect()
}

/// The mask of each matcher or its error (as
/// [`Matcher::try_compute_mask`]), computed in parallel.
pub fn try_compute_masks<M: BorrowMut<Matcher> + Send>(
    matchers: &mut [M],
) -> Vec<Result<TokenMask, MatcherError>> {
    matchers
        .par_iter_mut()
        .map(|m| m.borrow_mut().try_compute_mask())
        .collect()
}
