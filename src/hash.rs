//! A fast hasher for the engine's small integer keys.
//!
//! State ids, token ids and short slices of them are the keys of every
//! memo in the lexer, the parser and the matcher. SipHash's resistance to
//! collisions buys nothing there (the keys are not chosen by an adversary:
//! they are ids the engine assigns), and costs several times FxHash's time
//! per lookup. Every module that hashes ids takes the hasher from here.

use std::hash::{BuildHasherDefault, Hasher};

/// A fast hasher for small integer keys (FxHash).
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes per step: keys are mostly slices of u32 state ids.
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.write_u64(b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // A product's low bits depend only on the input's low bits, and the
        // table picks buckets by the low bits: rotate the well-mixed high
        // bits down (as rustc-hash does).
        self.0.rotate_left(26)
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;
