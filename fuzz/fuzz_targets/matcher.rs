//! Fuzzes the public `Matcher` API with GPT-2's vocabulary.
//!
//! The input is a little program: its first byte picks a grammar, then each
//! op byte (with its operands) runs one matcher operation. Errors are fine;
//! panics and broken invariants are not:
//!
//! * a mask holds no padding id and no special token but EOS; EOS is in it
//!   exactly when the matcher is accepting (and not stopped); it is empty
//!   exactly when the matcher is stopped (no dead ends: GPT-2 has a token for
//!   every byte, so every viable prefix can go on or end);
//! * a token commits if and only if it is in the mask (an out-of-range id
//!   gives `TokenOutOfRange`, anything after EOS `Stopped`);
//! * rollback restores exactly the mask seen before at that point;
//! * forced tokens spell a prefix of the forced bytes and commit in order;
//!   when bytes are forced, every allowed token agrees with them;
//! * work on a clone leaves the original alone.
//!
//! Run with `cargo +nightly fuzz run matcher` from the crate root.

#![no_main]

use formwork::{
    json_grammar, regex_grammar, Matcher, MatcherError, TokenId, TokenMask,
    TokenEnv, Vocabulary,
};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

const GPT2: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/tokenizers/gpt2/tokenizer.json.gz"
);
/// Logits width: GPT-2's 50,257 tokens padded to 50,300 (ids 50,257..50,299 are padding).
const WIDTH: usize = 50_300;
/// Upper bound on ops per input, to keep each run short.
const MAX_OPS: usize = 256;

struct Setup {
    vocab: Arc<Vocabulary>,
    eos: TokenId,
    /// One fresh matcher per grammar, cloned for each input.
    templates: Vec<Matcher>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let vocab = Vocabulary::from_file(GPT2).expect("load GPT-2").with_logits_width(WIDTH).expect("width");
        let env = Arc::new(TokenEnv::new(vocab));
        let vocab = env.vocab().clone();
        let grammars = [
            json_grammar(),
            // an ISO 8601 date-time
            regex_grammar(
                r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})",
            )
            .unwrap(),
            // an e-mail address
            regex_grammar(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,6}").unwrap(),
            // forced literals after a choice, and a bounded tail
            regex_grammar(r"(ab|cd) forced literal, \d{1,3}(!|\?)?").unwrap(),
        ];
        let templates = grammars
            .iter()
            .map(|g| Matcher::new(env.compile(g).unwrap(), &env))
            .collect();
        let eos = vocab.eos_tokens()[0];
        assert_eq!(vocab.eos_tokens(), &[eos]);
        Setup { vocab, eos, templates }
    })
}

/// Reads operands from the fuzz input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
    }
}

/// The matcher under test plus what the fuzzer knows about it.
struct State<'s> {
    s: &'s Setup,
    m: Matcher,
    /// Committed tokens (mirrors the matcher's history).
    tokens: Vec<TokenId>,
    /// The mask seen at each history depth (`tokens.len() + 1` entries).
    masks: Vec<Option<TokenMask>>,
}

impl State<'_> {
    fn stopped(&self) -> bool {
        self.tokens.last() == Some(&self.s.eos)
    }

    /// The current mask, computed (and checked) once per depth.
    fn mask(&mut self) -> TokenMask {
        if let Some(m) = self.masks.last().unwrap() {
            return m.clone();
        }
        let mask = self.m.compute_mask();
        self.check_mask(&mask);
        *self.masks.last_mut().unwrap() = Some(mask.clone());
        mask
    }

    fn check_mask(&mut self, mask: &TokenMask) {
        let v = &self.s.vocab;
        assert_eq!(mask.width(), WIDTH);
        assert_eq!(self.m.committed(), self.tokens.len());
        assert_eq!(self.m.is_stopped(), self.stopped());
        if self.stopped() {
            assert!(mask.is_empty(), "mask after EOS: {mask:?}");
            return;
        }
        for t in mask.iter() {
            assert!((t as usize) < v.len(), "padding id {t} allowed");
            assert!(!v.is_special(t) || v.is_eos(t), "special token {t} allowed");
        }
        let accepting = self.m.is_accepting();
        assert_eq!(
            mask.contains(self.s.eos),
            accepting,
            "EOS in mask != is_accepting"
        );
        assert!(!mask.is_empty(), "dead end after {:?}", self.text());
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.s.vocab.decode_bytes(&self.tokens)).into_owned()
    }

    /// Commits `t`, checking the result against the mask.
    fn commit(&mut self, t: TokenId) {
        let mask = self.mask();
        let r = self.m.commit(t);
        if t as usize >= WIDTH {
            assert_eq!(
                r,
                Err(MatcherError::TokenOutOfRange {
                    token: t,
                    width: WIDTH
                })
            );
        } else if self.stopped() {
            assert_eq!(r, Err(MatcherError::Stopped));
        } else if mask.contains(t) {
            assert_eq!(
                r,
                Ok(()),
                "token {t} in the mask but refused after {:?}",
                self.text()
            );
        } else {
            match r {
                Err(MatcherError::TokenNotAllowed { token, .. }) => assert_eq!(token, t),
                other => panic!(
                    "token {t} not in the mask, commit gave {other:?} after {:?}",
                    self.text()
                ),
            }
        }
        if r.is_ok() {
            self.tokens.push(t);
            self.masks.push(None);
            // Check the next mask right away (no dead end after an allowed token).
            self.mask();
        }
    }

    fn rollback(&mut self, n: usize) {
        let available = self.tokens.len();
        let r = self.m.rollback(n);
        if n > available {
            assert_eq!(
                r,
                Err(MatcherError::RollbackTooFar {
                    requested: n,
                    available
                })
            );
            return;
        }
        assert_eq!(r, Ok(()));
        self.tokens.truncate(available - n);
        self.masks.truncate(available - n + 1);
        if let Some(before) = self.masks.last().unwrap().clone() {
            let now = self.m.compute_mask();
            assert_eq!(
                now,
                before,
                "rollback({n}) to depth {} changed the mask",
                self.tokens.len()
            );
        }
    }

    /// The `idx`-th allowed token (wrapping), if any.
    fn pick(&mut self, idx: u16) -> Option<TokenId> {
        let mask = self.mask();
        let n = mask.count();
        (n > 0).then(|| mask.iter().nth(idx as usize % n).unwrap())
    }

    fn forced(&mut self) {
        let bytes = self.m.forced_bytes();
        let toks = self.m.forced_tokens();
        let v = self.s.vocab.clone();
        let joined = v.decode_bytes(&toks);
        assert!(
            bytes.starts_with(&joined),
            "forced tokens {joined:?} not a prefix of forced bytes {bytes:?}"
        );
        if self.stopped() {
            assert!(bytes.is_empty() && toks.is_empty());
            return;
        }
        let mask = self.mask();
        if !bytes.is_empty() {
            assert!(
                !mask.contains(self.s.eos),
                "bytes {bytes:?} forced but EOS allowed"
            );
            for t in mask.iter() {
                let tb = v.token_bytes(t);
                let n = tb.len().min(bytes.len());
                assert_eq!(
                    tb[..n],
                    bytes[..n],
                    "token {t} allowed against forced bytes {bytes:?}"
                );
            }
        }
        let mut probe = self.m.clone();
        for &t in &toks {
            assert!(
                probe.compute_mask().contains(t),
                "forced token {t} not allowed"
            );
            probe.commit(t).unwrap();
        }
    }

    /// Works on a clone; the original must not move.
    fn clone_check(&mut self, idx: u16) {
        let before = self.mask();
        let mut c = self.m.clone();
        if let Some(t) = self.pick(idx) {
            c.commit(t).unwrap();
            let _ = c.compute_mask();
            let _ = c.forced_tokens();
        }
        let _ = c.rollback(c.committed());
        let _ = c.compute_mask();
        assert_eq!(self.m.committed(), self.tokens.len());
        assert_eq!(
            self.m.compute_mask(),
            before,
            "work on a clone changed the original"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let mut input = Input(data);
    let Some(g) = input.u8() else { return };
    let m = s.templates[g as usize % s.templates.len()].clone();
    let mut st = State {
        s,
        m,
        tokens: Vec::new(),
        masks: vec![None],
    };
    for _ in 0..MAX_OPS {
        let Some(op) = input.u8() else { break };
        match op % 8 {
            0 => {
                // Recompute and compare with the cached mask.
                let cached = st.mask();
                assert_eq!(st.m.compute_mask(), cached, "two masks in a row differ");
            }
            1 => {
                // Any id: in range, padding, out of range, or huge.
                let Some(x) = input.u16() else { break };
                let t = if x >= 60_000 {
                    u32::MAX - (x - 60_000) as u32
                } else {
                    x as u32
                };
                st.commit(t);
            }
            2 | 3 => {
                // An allowed token (the usual case).
                let Some(x) = input.u16() else { break };
                if let Some(t) = st.pick(x) {
                    st.commit(t);
                    assert_eq!(st.tokens.last(), Some(&t));
                }
            }
            4 => {
                let Some(x) = input.u8() else { break };
                let n = match x % 8 {
                    7 => st.tokens.len() + 1 + (x as usize >> 3),
                    k => (k as usize) % 5,
                };
                st.rollback(n);
            }
            5 => st.forced(),
            6 => {
                let accepting = st.m.is_accepting();
                assert_eq!(accepting, st.stopped() || st.mask().contains(s.eos));
                st.commit(s.eos);
            }
            _ => {
                let Some(x) = input.u16() else { break };
                st.clone_check(x);
            }
        }
    }
});
