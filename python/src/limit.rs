//! A token limit a matcher's output must close within: the Python
//! counterpart of the generator's `close_before_max_tokens`, for engines
//! whose decoding loop formwork does not run (transformers, llama.cpp, vLLM).
//!
//! A logits processor cannot take a sampled token back, so near the limit it
//! steers instead: it keeps the shortest completion from the current state
//! ([`formwork::Matcher::try_completion_tokens`]) and, once the tokens left
//! come within [`FORCE_SLACK`] of that completion's length, the mask allows
//! only the completion's next token. Each forced token shortens the
//! completion by one, so the output ends, complete, by the limit. Far from
//! the limit the completion is refreshed every [`REFRESH`] tokens; within
//! [`NEAR`] of it, at every step. A single free token that lengthens the
//! completion by more than the slack can still overrun; the model's own
//! choices decide everything before that.

use formwork::{MatcherError, TokenId};

/// Forcing starts when this few tokens are left beyond the completion.
const FORCE_SLACK: usize = 4;
/// The completion is refreshed at every step within this many tokens of it.
const NEAR: usize = 32;
/// Far from the limit, it is refreshed this often (in tokens).
const REFRESH: usize = 8;

#[derive(Clone, Debug)]
pub(crate) struct TokenLimit {
    max_tokens: usize,
    /// Shortest completion and the token count when it was computed.
    completion: Option<(Vec<TokenId>, usize)>,
}

impl TokenLimit {
    pub(crate) fn new(max_tokens: usize) -> TokenLimit {
        TokenLimit {
            max_tokens,
            completion: None,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.completion = None;
    }

    /// The one token the mask must allow now, or None for the grammar's
    /// whole mask. `eos` is allowed alone when the output is complete and
    /// the completion is empty.
    pub(crate) fn forced(
        &mut self,
        m: &mut formwork::Matcher,
    ) -> Result<Option<TokenId>, MatcherError> {
        let done = m.committed();
        let room = self.max_tokens.saturating_sub(done);
        let due = match &self.completion {
            None => true,
            Some((c, at)) => {
                let stale = done.saturating_sub(*at);
                // A rollback (done < at) also makes it stale.
                done < *at || stale >= REFRESH || (stale > 0 && room <= c.len() + NEAR)
            }
        };
        if due {
            let bytes = room.saturating_mul(8).clamp(64, 4096);
            self.completion = m.try_completion_tokens(bytes)?.map(|c| (c, done));
        }
        let Some((c, _)) = &self.completion else {
            return Ok(None); // none found within the search: leave it be
        };
        if room > c.len() + FORCE_SLACK {
            return Ok(None);
        }
        Ok(match c.first() {
            Some(&t) => Some(t),
            None => m.vocabulary().eos_tokens().first().copied(),
        })
    }
}
