//! [`TokenMask`]: the bitset of allowed tokens handed to a sampler.
//!
//! One bit per logit, packed into `u32` words (the layout serving engines and
//! llguidance use, so a mask can be copied straight into a device buffer). Bits
//! at or beyond the logits width are always zero.

use crate::vocab::TokenId;

/// A set of token ids, as a bitset over the logits width.
///
/// ```
/// use formwork::TokenMask;
/// let mut m = TokenMask::new(100);
/// m.insert(3);
/// m.insert(64);
/// assert!(m.contains(3) && m.contains(64) && !m.contains(4));
/// assert_eq!(m.count(), 2);
/// assert_eq!(m.iter().collect::<Vec<_>>(), vec![3, 64]);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenMask {
    /// The packed bits, plus one hidden word at the end that is always zero
    /// between calls: the trie walk sets a bit there for nodes that end no
    /// token, which spares it a hard-to-predict branch per node.
    words: Vec<u32>,
    width: usize,
}

impl TokenMask {
    /// An empty mask for a logits vector of `width` entries.
    pub fn new(width: usize) -> TokenMask {
        TokenMask {
            words: vec![0; width.div_ceil(32) + 1],
            width,
        }
    }

    /// The logits width this mask covers.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The packed words: bit `i % 32` of word `i / 32` is token `i`.
    pub fn as_words(&self) -> &[u32] {
        &self.words[..self.words.len() - 1]
    }

    /// Mutable access to the packed words. Callers must keep bits beyond
    /// `width` clear.
    pub(crate) fn words_mut(&mut self) -> &mut [u32] {
        let n = self.words.len() - 1;
        &mut self.words[..n]
    }

    /// All words including the hidden one, and the first bit index inside
    /// it. The caller must clear the hidden word before returning.
    pub(crate) fn words_with_sink(&mut self) -> (&mut [u32], u32) {
        let sink = (self.words.len() as u32 - 1) * 32;
        (&mut self.words, sink)
    }

    /// True if token `id` is in the set. Ids beyond the width are never in it.
    #[inline]
    pub fn contains(&self, id: TokenId) -> bool {
        let i = id as usize;
        i < self.width && self.words[i / 32] & (1 << (i % 32)) != 0
    }

    /// Adds token `id`. Panics if `id` is outside the width.
    #[inline]
    pub fn insert(&mut self, id: TokenId) {
        let i = id as usize;
        assert!(
            i < self.width,
            "token {i} outside mask width {}",
            self.width
        );
        self.words[i / 32] |= 1 << (i % 32);
    }

    /// Removes token `id` (no-op if absent or outside the width).
    #[inline]
    pub fn remove(&mut self, id: TokenId) {
        let i = id as usize;
        if i < self.width {
            self.words[i / 32] &= !(1 << (i % 32));
        }
    }

    /// Removes every token.
    pub fn clear(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
    }

    /// Adds every token of `other` (same width).
    pub fn union_with(&mut self, other: &TokenMask) {
        debug_assert_eq!(self.width, other.width);
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= *b;
        }
    }

    /// Number of tokens in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// True if no token is in the set.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The tokens in the set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = TokenId> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some((wi as u32) * 32 + b)
            })
        })
    }

    /// Copies `other` into `self` (same width), reusing the allocation.
    pub fn copy_from(&mut self, other: &TokenMask) {
        self.words.copy_from_slice(&other.words);
    }
}

impl std::fmt::Debug for TokenMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.count();
        let first: Vec<TokenId> = self.iter().take(16).collect();
        write!(
            f,
            "TokenMask(width={}, count={n}, first={first:?})",
            self.width
        )
    }
}
