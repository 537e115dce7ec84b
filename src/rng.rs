//! A small seeded random-number generator (SplitMix64).
//!
//! The fuzzer and the randomised tests need reproducible draws, not
//! cryptographic ones: the same seed gives the same strings on every
//! machine, so a failing case can be replayed from its seed alone. This one
//! type serves the library, its unit tests and (through `#[path]`) the
//! integration tests' support module, so no test carries a generator of its
//! own.

/// SplitMix64: one `u64` of state, every seed (0 included) is good.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

#[allow(dead_code)] // Not every user of this file calls every method.
impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den < num
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
