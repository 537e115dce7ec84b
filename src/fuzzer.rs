//! Grammar-based fuzzing: random strings of a grammar's language, produced
//! through the same [`Matcher`] that constrains a model.
//!
//! A [`Fuzzer`] plays the model. At each step it draws random "logits" from a
//! seeded generator, keeps the tokens the matcher's mask allows, and commits
//! the one drawn. Every output is therefore in the language by construction
//! (the masks are exact), and a test that parses the outputs with an
//! independent parser (`pest_vm` for pest grammars, the `jsonschema` crate
//! for schemas) checks the whole pipeline: frontend, lowering and masks.
//!
//! # Length control
//!
//! Each sample draws a target length up to `max_len`. Before it, the fuzzer
//! walks freely and may stop whenever the output is complete. Once the target
//! is reached it *closes*: a breadth-first search over single-byte tokens
//! from the current state finds a shortest way to a complete output, taking
//! forced bytes (a required key, the rest of a keyword) in one step (states
//! reached by the same number of bytes are merged when their masks are
//! equal, each level keeps at most [`BEAM`] states, punctuation is tried
//! first and the search stops after [`CLOSE_BUDGET`] commits). If that search
//! fails the sample starts over with a smaller target, and after
//! [`ATTEMPTS`] failures [`Fuzzer::sample`] returns an error. Every call
//! therefore terminates.
//!
//! # Work budget
//!
//! Each step of a sample costs a mask and a commit, and how much a mask
//! costs depends on the grammar; nothing above bounds the number of steps
//! of a sample as a whole (the closing search bounds its own). So every
//! sample has a work budget ([`FuzzConfig::work_budget`]), counted in
//! masks computed plus tokens committed over all its attempts; past it
//! [`Fuzzer::sample`] returns [`FuzzError::WorkBudget`] instead of running
//! on. The default is far above what a sample of the default length needs.
//!
//! By default the vocabulary is [`byte_vocabulary`], the 256 single bytes
//! plus an EOS token, which reaches every string of the language. A real
//! tokenizer may be used instead ([`Fuzzer::with_vocabulary`]); then
//! multi-byte tokens are drawn too, and closing uses its single-byte tokens.
//!
//! ```
//! use std::sync::Arc;
//! use formwork::{fuzzer::Fuzzer, regex_grammar, CompiledGrammar};
//! let g = Arc::new(CompiledGrammar::new(&regex_grammar("[a-z]{1,5}(,[a-z]{1,5})*").unwrap()).unwrap());
//! let mut f = Fuzzer::new(g, 7, 40);
//! let re = regex::Regex::new("^[a-z]{1,5}(,[a-z]{1,5})*$").unwrap();
//! for _ in 0..20 {
//!     let s = f.sample().unwrap();
//!     assert!(re.is_match(&s), "{s:?}");
//! }
//! ```

use crate::budget::Stage;
use crate::rng::Rng;
use crate::{CompiledGrammar, Matcher, MatcherError, TokenEnv, TokenMask, Vocabulary};
use std::collections::HashSet;
use std::sync::Arc;

/// States kept per level of the closing search.
pub const BEAM: usize = 16;
/// Deepest closing search, in bytes.
pub const MAX_CLOSE: usize = 256;
/// Token commits one closing search may spend.
pub const CLOSE_BUDGET: usize = 6000;
/// Tries per sample before giving up.
pub const ATTEMPTS: usize = 8;

/// How a [`Fuzzer`] samples.
///
/// ```
/// use formwork::fuzzer::FuzzConfig;
/// let c = FuzzConfig::new().max_len(80).work_budget(10_000);
/// assert_eq!((c.get_max_len(), c.get_work_budget()), (80, 10_000));
/// ```
#[derive(Clone, Debug)]
pub struct FuzzConfig {
    max_len: usize,
    work_budget: u64,
}

impl Default for FuzzConfig {
    fn default() -> FuzzConfig {
        FuzzConfig {
            max_len: 200,
            work_budget: 1_000_000,
        }
    }
}

impl FuzzConfig {
    /// The defaults: outputs of up to 200 bytes, a budget of 1,000,000.
    pub fn new() -> FuzzConfig {
        FuzzConfig::default()
    }

    /// Aim at outputs of at most `n` bytes (at least 1).
    pub fn max_len(mut self, n: usize) -> FuzzConfig {
        self.max_len = n.max(1);
        self
    }

    /// Most work one sample may take, over all its attempts: masks
    /// computed plus tokens committed (see the module docs).
    pub fn work_budget(mut self, units: u64) -> FuzzConfig {
        self.work_budget = units;
        self
    }

    pub fn get_max_len(&self) -> usize {
        self.max_len
    }

    pub fn get_work_budget(&self) -> u64 {
        self.work_budget
    }
}

/// Why a sample could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// No complete output was found within the search limits.
    #[error(
        "no complete output found after {ATTEMPTS} attempts (the grammar may need long \
         outputs to finish); raise --max-len"
    )]
    NoCompletion,
    /// The sample took more than [`FuzzConfig::work_budget`] masks and
    /// commits.
    #[error(
        "a sample needed more than {budget} masks and commits (the fuzz work budget, \
         FuzzConfig::work_budget); raise --work-budget, or lower --max-len"
    )]
    WorkBudget {
        /// The budget that ran out.
        budget: u64,
    },
    /// The matcher hit one of its own limits (a mask or completion work
    /// budget, a lexeme DFA's size): see [`MatcherError::is_limit`].
    #[error(transparent)]
    Matcher(MatcherError),
}

/// Work left for the current sample; running out stops it.
struct Budget {
    left: u64,
}

/// Why a sample stopped early: the fuzz budget ran out (see [`Budget`]),
/// or the matcher hit a limit of its own.
enum OutOfWork {
    Fuzz,
    Matcher(MatcherError),
}

impl Budget {
    #[inline]
    fn spend(&mut self) -> Result<(), OutOfWork> {
        self.left = self.left.checked_sub(1).ok_or(OutOfWork::Fuzz)?;
        Ok(())
    }
}

/// The vocabulary of the 256 single bytes (ids 0..=255) plus
/// `<|endoftext|>` (id 256) as EOS.
///
/// ```
/// let v = formwork::fuzzer::byte_vocabulary();
/// assert_eq!(v.len(), 257);
/// assert_eq!(v.token_bytes(b'a' as u32), b"a");
/// ```
pub fn byte_vocabulary() -> Vocabulary {
    byte_level_vocabulary(&[])
}

/// The 256 single bytes (ids 0..=255), then the tokens of `extra` (ids
/// from 256, in order; each of two bytes or more, no two the same), then
/// `<|endoftext|>` as EOS: a vocabulary with exactly the multi-byte tokens a
/// test needs.
///
/// ```
/// let v = formwork::fuzzer::byte_level_vocabulary(&[b"[1,", b" ]"]);
/// assert_eq!(v.len(), 259);
/// assert_eq!(v.token_bytes(257), b" ]");
/// assert!(v.is_eos(258));
/// ```
pub fn byte_level_vocabulary(extra: &[&[u8]]) -> Vocabulary {
    // GPT-2's printable spelling of each byte.
    let mut spell = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..256u32 {
        let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174;
        spell[b as usize] = if printable {
            char::from_u32(b).unwrap()
        } else {
            n += 1;
            char::from_u32(255 + n).unwrap()
        };
    }
    let mut vocab: serde_json::Map<String, serde_json::Value> = (0..256)
        .map(|b| (spell[b].to_string(), serde_json::Value::from(b)))
        .collect();
    for (i, t) in extra.iter().enumerate() {
        let s: String = t.iter().map(|&b| spell[b as usize]).collect();
        vocab.insert(s, serde_json::Value::from(256 + i));
    }
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 256 + extra.len(), "content": "<|endoftext|>", "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "vocab": vocab, "merges": []}
    });
    Vocabulary::from_json_bytes(json.to_string().as_bytes(), "byte vocabulary")
        .expect("the byte vocabulary is well formed")
}

/// Draws random strings of a compiled grammar's language through a [`Matcher`].
pub struct Fuzzer {
    grammar: Arc<CompiledGrammar>,
    env: Arc<TokenEnv>,
    rng: Rng,
    config: FuzzConfig,
    budget: Budget,
}

impl Fuzzer {
    /// A fuzzer over [`byte_vocabulary`], seeded with `seed`, aiming at
    /// outputs of at most `max_len` bytes.
    pub fn new(grammar: Arc<CompiledGrammar>, seed: u64, max_len: usize) -> Fuzzer {
        let env = Arc::new(TokenEnv::new(byte_vocabulary()));
        Fuzzer::with_vocabulary(grammar, env, seed, max_len)
    }

    /// A fuzzer over [`byte_vocabulary`] with the given configuration.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use formwork::fuzzer::{FuzzConfig, FuzzError, Fuzzer};
    /// use formwork::{regex_grammar, CompiledGrammar};
    /// let g = Arc::new(CompiledGrammar::new(&regex_grammar("[a-z]{20}").unwrap()).unwrap());
    /// // Twenty letters need more than ten masks and commits.
    /// let mut f = Fuzzer::with_config(g, 1, FuzzConfig::new().work_budget(10));
    /// assert!(matches!(f.sample(), Err(FuzzError::WorkBudget { budget: 10 })));
    /// ```
    pub fn with_config(grammar: Arc<CompiledGrammar>, seed: u64, config: FuzzConfig) -> Fuzzer {
        let env = Arc::new(TokenEnv::new(byte_vocabulary()));
        Fuzzer::with_vocabulary_config(grammar, env, seed, config)
    }

    /// A fuzzer over a real tokenizer's vocabulary.
    pub fn with_vocabulary(
        grammar: Arc<CompiledGrammar>,
        env: Arc<TokenEnv>,
        seed: u64,
        max_len: usize,
    ) -> Fuzzer {
        let config = FuzzConfig::new().max_len(max_len);
        Fuzzer::with_vocabulary_config(grammar, env, seed, config)
    }

    /// A fuzzer over a real tokenizer's vocabulary, with the given
    /// configuration.
    pub fn with_vocabulary_config(
        grammar: Arc<CompiledGrammar>,
        env: Arc<TokenEnv>,
        seed: u64,
        config: FuzzConfig,
    ) -> Fuzzer {
        Fuzzer {
            grammar,
            env,
            rng: Rng(seed ^ 0x5EED_F0F0_1234_5678),
            budget: Budget {
                left: config.work_budget,
            },
            config,
        }
    }

    /// How likely a token is drawn: mostly printable ASCII, some spaces, a
    /// little of everything else.
    fn weight(&self, id: u32) -> f64 {
        let b = self.env.vocab().token_bytes(id);
        let w = match b.first() {
            Some(b' ') => 0.3,
            Some(b'\n' | b'\t' | b'\r') => 0.05,
            Some(0x21..=0x7E) => 1.0,
            Some(0x80..) => 0.05,
            _ => 0.01,
        };
        // Prefer short tokens so that long ones do not overshoot the target.
        w / b.len().max(1) as f64
    }

    /// One random complete output of the language.
    pub fn sample(&mut self) -> Result<String, FuzzError> {
        self.budget.left = self.config.work_budget;
        let out_of_work = FuzzError::WorkBudget {
            budget: self.config.work_budget,
        };
        for attempt in 0..ATTEMPTS {
            let cap = (self.config.max_len >> attempt).max(1);
            let target = 1 + self.rng.below(cap);
            match self.try_sample(target) {
                Ok(Some(bytes)) => {
                    if let Ok(s) = String::from_utf8(bytes) {
                        return Ok(s);
                    }
                }
                Ok(None) => {}
                Err(OutOfWork::Fuzz) => return Err(out_of_work),
                Err(OutOfWork::Matcher(e)) => return Err(FuzzError::Matcher(e)),
            }
        }
        Err(FuzzError::NoCompletion)
    }

    /// A mask for `m`, paid for from the budget.
    fn mask(&mut self, m: &mut Matcher, mask: &mut TokenMask) -> Result<(), OutOfWork> {
        self.budget.spend()?;
        m.try_compute_mask_into(mask).map_err(OutOfWork::Matcher)
    }

    /// Commits `t`, paid for from the budget; `Ok(false)` if not allowed.
    fn commit(&mut self, m: &mut Matcher, t: u32) -> Result<bool, OutOfWork> {
        self.budget.spend()?;
        match m.commit(t) {
            Ok(()) => Ok(true),
            Err(e) if e.is_limit() => Err(OutOfWork::Matcher(e)),
            Err(_) => Ok(false),
        }
    }

    /// One output aiming at `target` bytes; `Ok(None)` if this attempt
    /// found no way to finish.
    fn try_sample(&mut self, target: usize) -> Result<Option<Vec<u8>>, OutOfWork> {
        let mut m = Matcher::new(self.grammar.clone(), &self.env);
        let mut out = Vec::new();
        let mut mask = TokenMask::new(self.env.vocab().logits_width());
        loop {
            self.mask(&mut m, &mut mask)?;
            let accepting = self
                .env
                .vocab()
                .eos_tokens()
                .iter()
                .any(|&e| mask.contains(e));
            if accepting {
                // Only trailing whitespace left: usually stop.
                let only_space = mask.iter().all(|t| {
                    self.env.vocab().is_eos(t)
                        || self
                            .env
                            .vocab()
                            .token_bytes(t)
                            .iter()
                            .all(|b| b.is_ascii_whitespace())
                });
                let stop = if only_space { 0.8 } else { 0.03 };
                if out.len() >= target || self.rng.unit() < stop {
                    return Ok(Some(out));
                }
            }
            if out.len() >= target {
                match self.close(&m)? {
                    Some(path) => {
                        for t in path {
                            out.extend_from_slice(self.env.vocab().token_bytes(t));
                        }
                    }
                    // The random beam found nothing (long keywords and names
                    // to finish, as in scoped SQL): take the matcher's own
                    // shortest completion (its search has its own bound).
                    // A search that runs out of its budget only fails this
                    // attempt (the next aims at a shorter output); other
                    // limits end the sample.
                    None => match m.clone().try_shortest_completion(MAX_CLOSE) {
                        Ok(Some(rest)) => out.extend(rest),
                        Ok(None) => return Ok(None),
                        Err(MatcherError::BudgetExceeded {
                            stage: Stage::Completion,
                            ..
                        }) => return Ok(None),
                        Err(e) => return Err(OutOfWork::Matcher(e)),
                    },
                }
                return Ok(Some(out));
            }
            // Like a writer, often put a space after a word where one may go
            // (SQL needs one between a keyword and a name).
            if out.last().is_some_and(|b| b.is_ascii_alphanumeric()) && self.rng.unit() < 0.5 {
                if let Some(sp) = self
                    .env
                    .vocab()
                    .byte_token(b' ')
                    .filter(|&t| mask.contains(t))
                {
                    if !self.commit(&mut m, sp)? {
                        return Ok(None);
                    }
                    out.push(b' ');
                    continue;
                }
            }
            // Random logits: pick among allowed tokens by weight.
            let mut total = 0.0;
            let mut choice = None;
            for t in mask.iter() {
                if self.env.vocab().is_eos(t) {
                    continue;
                }
                let w = self.weight(t);
                total += w;
                if self.rng.unit() * total < w {
                    choice = Some(t);
                }
            }
            let t = match choice {
                Some(t) => t,
                None if accepting => return Ok(Some(out)),
                None => return Ok(None),
            };
            if !self.commit(&mut m, t)? {
                return Ok(None);
            }
            out.extend_from_slice(self.env.vocab().token_bytes(t));
        }
    }

    /// A shortest sequence of single-byte tokens that completes `m`'s output
    /// (`Ok(None)` if the search finds none within its limits).
    fn close(&mut self, m: &Matcher) -> Result<Option<Vec<u32>>, OutOfWork> {
        let mut work = m.clone();
        let base = work.committed();
        let mut frontier: Vec<Vec<u32>> = vec![Vec::new()];
        let mut mask = TokenMask::new(self.env.vocab().logits_width());
        let mut budget = CLOSE_BUDGET;
        // A step that cannot be taken or undone ends the search.
        macro_rules! must {
            ($e:expr) => {
                match $e {
                    Some(x) => x,
                    None => return Ok(None),
                }
            };
        }
        for _depth in 0..MAX_CLOSE {
            let mut next: Vec<Vec<u32>> = Vec::new();
            let mut seen: HashSet<Vec<u32>> = HashSet::new();
            for path in &frontier {
                must!(work.rollback(work.committed() - base).ok());
                for &t in path {
                    must!(self.commit(&mut work, t)?.then_some(()));
                }
                // Bytes every completion starts with (a required key, a
                // keyword's rest) are taken at once.
                let mut path = path.clone();
                for b in work.forced_bytes() {
                    let t = must!(self.env.vocab().byte_token(b));
                    must!(self.commit(&mut work, t)?.then_some(()));
                    path.push(t);
                }
                if work.is_accepting() {
                    return Ok(Some(path));
                }
                let path = &path;
                self.mask(&mut work, &mut mask)?;
                let mut cands: Vec<u32> = (0..=255u8)
                    .filter_map(|b| self.env.vocab().byte_token(b))
                    .filter(|&t| mask.contains(t))
                    .collect();
                // Random order, so that equal-length completions vary, but
                // punctuation (which closes brackets and strings) first.
                for i in (1..cands.len()).rev() {
                    cands.swap(i, self.rng.below(i + 1));
                }
                cands.sort_by_key(|&t| {
                    let b = self.env.vocab().token_bytes(t)[0];
                    !(b.is_ascii_punctuation() || b == b' ')
                });
                // A few letters and digits stand for all of them (they
                // rarely close anything), and other bytes are left out.
                let mut alnum = 0;
                cands.retain(|&t| {
                    let b = self.env.vocab().token_bytes(t)[0];
                    if b.is_ascii_alphanumeric() || b == b'_' {
                        alnum += 1;
                        alnum <= 6
                    } else {
                        b.is_ascii_punctuation() || b == b' '
                    }
                });
                for t in cands {
                    budget = must!(budget.checked_sub(1));
                    if !self.commit(&mut work, t)? {
                        continue;
                    }
                    let mut p = path.clone();
                    p.push(t);
                    if work.is_accepting() {
                        return Ok(Some(p));
                    }
                    self.mask(&mut work, &mut mask)?;
                    if next.len() < BEAM && seen.insert(mask.as_words().to_vec()) {
                        next.push(p);
                    }
                    must!(work.rollback(1).ok());
                }
            }
            if next.is_empty() {
                return Ok(None);
            }
            frontier = next;
        }
        Ok(None)
    }
}
