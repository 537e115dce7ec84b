//! [`Generator`]: constrained generation with a real model.
//!
//! Each step asks the [`Matcher`] for the allowed tokens, masks the model's
//! logits with them, samples, and commits the token. Where the grammar
//! leaves only one way to go on (`{"name": "` after `{` in a schema), the
//! matcher's forced tokens are fed to the model in one batched forward pass
//! instead of one step each: that is the fast-forward.
//!
//! Test-time compute: `n` samples per prompt, then either the one with the
//! best mean logprob or the majority answer (outputs compared after
//! canonicalising JSON).

use crate::error::{MatcherError, ModelError};
use crate::model::{LanguageModel, SequenceFeed};
use crate::sampler::{Sampler, SamplerConfig};
use crate::{CompiledGrammar, Matcher, TokenEnv, TokenId, TokenMask, TokenTrie, Vocabulary};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Why generation stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The model chose an EOS token (under a constraint: the output is complete).
    Eos,
    /// A stop string appeared (unconstrained generation only).
    StopString(String),
    /// `max_tokens` was reached first.
    MaxTokens,
    /// The constraint allows nothing more and the output is complete.
    Complete,
    /// `max_tokens` was near, so the output was closed with its shortest
    /// completion (forced tokens) rather than cut short. See
    /// [`GenerateOptions::close_before_max_tokens`].
    Closed,
}

/// How to pick one of several samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    /// Highest mean logprob over sampled tokens.
    Best,
    /// The most frequent output (JSON compared canonically).
    Vote,
}

/// Options for one generation call.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub max_tokens: usize,
    pub sampler: SamplerConfig,
    pub stop: Vec<String>,
    /// Feed forced tokens in one forward pass (on by default).
    pub fast_forward: bool,
    /// Under a constraint, never let `max_tokens` cut the output short when
    /// a completion still fits (on by default): near the limit, each token
    /// is kept only if the shortest completion after it
    /// ([`Matcher::completion_tokens`]) still fits in the tokens left;
    /// otherwise that completion is forced and generation stops with
    /// [`StopReason::Closed`]. A model that loops (`[2.0,2.0,…`) then still
    /// ends with valid output. Off, the output is cut at `max_tokens` and
    /// [`Generation::complete`] is false.
    pub close_before_max_tokens: bool,
    /// Set from another thread to stop this generation between two forward
    /// passes (a server's client went away, or its deadline passed): the
    /// call then returns [`ModelError::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_tokens: 256,
            sampler: SamplerConfig::default(),
            stop: Vec::new(),
            fast_forward: true,
            close_before_max_tokens: true,
            cancel: None,
        }
    }
}

/// Wall-clock split of one generation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timings {
    pub prompt_ms: f64,
    pub total_ms: f64,
    /// Time in the constraint: masks, forced tokens, completion searches.
    pub mask_ms: f64,
    pub forward_ms: f64,
    pub forward_calls: usize,
}

/// The result of one generation.
#[derive(Clone, Debug)]
pub struct Generation {
    pub text: String,
    pub tokens: Vec<u32>,
    /// Logprob of each token (`None` for forced tokens, which were not sampled).
    pub logprobs: Vec<Option<f32>>,
    /// Top alternatives per sampled token (empty unless asked for).
    pub top_logprobs: Vec<Vec<(u32, f32)>>,
    pub prompt_tokens: usize,
    pub forced_tokens: usize,
    pub stop: StopReason,
    /// False if a constraint was given and the output is not complete
    /// (cut short by `max_tokens`): never silently invalid.
    pub complete: bool,
    pub timings: Timings,
}

impl Generation {
    /// Appends a forced (not sampled) token.
    fn push_forced(&mut self, t: TokenId, bytes: &mut Vec<u8>, vocab: &Vocabulary) {
        self.tokens.push(t);
        self.logprobs.push(None);
        self.top_logprobs.push(Vec::new());
        self.forced_tokens += 1;
        bytes.extend_from_slice(vocab.token_bytes(t));
    }

    /// Mean logprob over the sampled (not forced) tokens.
    pub fn mean_logprob(&self) -> f32 {
        let v: Vec<f32> = self.logprobs.iter().flatten().copied().collect();
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f32>() / v.len() as f32
        }
    }
}

/// Keeps a constrained output closable within `max_tokens`
/// ([`GenerateOptions::close_before_max_tokens`]).
///
/// It holds the shortest completion from the current state, in tokens. Far
/// from the limit it refreshes that every few tokens; once the tokens left
/// come within [`CLOSE_SLACK`] of its length, it checks every committed
/// token: if the completion after it no longer fits, the token is taken
/// back and the completion from before it (which fits, by the same check one
/// step earlier) is forced instead.
struct Closer {
    /// Shortest completion from the current state, if known.
    completion: Option<Vec<TokenId>>,
    /// Tokens committed since `completion` was computed.
    stale: usize,
}

/// Closer starts checking every token when this few tokens are left beyond
/// the completion's own length.
const CLOSE_SLACK: usize = 32;
/// Far from the limit, the completion is recomputed this often (in tokens).
const CLOSE_REFRESH: usize = 8;

impl Closer {
    fn new() -> Closer {
        Closer {
            completion: None,
            stale: usize::MAX,
        }
    }

    fn search_bytes(room: usize) -> usize {
        room.saturating_mul(8).clamp(64, 4096)
    }

    fn near(&self, room: usize) -> bool {
        self.completion
            .as_ref()
            .is_some_and(|c| room <= c.len() + CLOSE_SLACK)
    }

    /// Before a step with `room` tokens left: recomputes the completion if it
    /// is due, and always when the limit is near, so that what `close`
    /// forces belongs to the current state.
    fn refresh(&mut self, m: &mut Matcher, room: usize) -> Result<(), MatcherError> {
        if self.stale >= CLOSE_REFRESH || (self.stale > 0 && self.near(room)) {
            self.completion = m.try_completion_tokens(Self::search_bytes(room))?;
            self.stale = 0;
        }
        Ok(())
    }

    /// After `n` tokens were committed with `room` tokens left before them:
    /// true if they may stay. Near the limit, that means a completion still
    /// fits after them.
    fn keeps(&mut self, m: &mut Matcher, room: usize, n: usize) -> Result<bool, MatcherError> {
        if !self.near(room) {
            self.stale = self.stale.saturating_add(n);
            return Ok(true);
        }
        Ok(
            match m.try_completion_tokens(Self::search_bytes(room - n))? {
                Some(c) if c.len() <= room - n => {
                    self.completion = Some(c);
                    self.stale = 0;
                    true
                }
                _ => false,
            },
        )
    }

    /// Forces the known completion if it fits in `room` tokens (true if it
    /// did, and the output is now complete).
    fn close(
        &mut self,
        m: &mut Matcher,
        room: usize,
        out: &mut Generation,
        bytes: &mut Vec<u8>,
        vocab: &Vocabulary,
    ) -> Result<bool, ModelError> {
        let Some(c) = self.completion.take_if(|c| c.len() <= room) else {
            return Ok(false);
        };
        for &t in &c {
            m.commit(t)?;
            out.push_forced(t, bytes, vocab);
        }
        out.stop = StopReason::Closed;
        Ok(true)
    }
}

/// Builds a [`Generator`].
pub struct GeneratorBuilder<M> {
    model: M,
    vocab: Option<Vocabulary>,
    env: Option<Arc<TokenEnv>>,
}

impl<M: LanguageModel> GeneratorBuilder<M> {
    /// Uses this vocabulary (else the caller must give one: see [`Generator::builder`]).
    pub fn vocabulary(mut self, v: Vocabulary) -> Self {
        self.vocab = Some(v);
        self
    }

    /// The model being built around.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Uses this token environment, shared with other generators of the
    /// same model (several copies of a model serving requests side by side
    /// then share one trie, one lexeme cache and every compiled grammar's
    /// first mask). It must be another generator's [`Generator::env`] for
    /// the same model file.
    pub fn env(mut self, env: Arc<TokenEnv>) -> Self {
        self.env = Some(env);
        self
    }

    /// Checks that the model and vocabulary fit together and builds the token trie.
    pub fn build(self) -> Result<Generator<M>, ModelError> {
        if let Some(env) = self.env {
            let width = self.model.logits_width();
            if env.vocab().logits_width() != width {
                return Err(ModelError::Mismatch(format!(
                    "the model has {width} logits but the shared environment's vocabulary is {} wide; \
                     share environments only between copies of one model",
                    env.vocab().logits_width()
                )));
            }
            return Ok(Generator {
                model: self.model,
                env,
            });
        }
        let vocab = self
            .vocab
            .ok_or_else(|| ModelError::Mismatch("no vocabulary given".into()))?;
        let width = self.model.logits_width();
        if width < vocab.len() {
            return Err(ModelError::Mismatch(format!(
                "the model has {width} logits but the tokenizer has {} tokens; use the model's own tokenizer",
                vocab.len()
            )));
        }
        if width > 2 * vocab.len() + 1024 {
            return Err(ModelError::Mismatch(format!(
                "the model has {width} logits but the tokenizer only {} tokens; use the model's own tokenizer",
                vocab.len()
            )));
        }
        let vocab = vocab.with_logits_width(width)?;
        Ok(Generator {
            model: self.model,
            env: Arc::new(TokenEnv::new(vocab)),
        })
    }
}

/// A model plus its vocabulary, ready to generate.
pub struct Generator<M> {
    model: M,
    env: Arc<TokenEnv>,
}

impl<M: LanguageModel> Generator<M> {
    /// Starts building a generator around `model`.
    pub fn builder(model: M) -> GeneratorBuilder<M> {
        GeneratorBuilder {
            model,
            vocab: None,
            env: None,
        }
    }

    pub fn vocabulary(&self) -> &Arc<Vocabulary> {
        self.env.vocab()
    }

    pub fn trie(&self) -> &Arc<TokenTrie> {
        self.env.trie()
    }

    /// The vocabulary, its trie and the lexeme DFA cache grammars for this
    /// generator are best compiled with ([`TokenEnv::compile`]).
    pub fn env(&self) -> &Arc<TokenEnv> {
        &self.env
    }

    /// The model this generator runs.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// A matcher for `grammar` over this generator's vocabulary.
    pub fn matcher(&self, grammar: Arc<CompiledGrammar>) -> Matcher {
        Matcher::new(grammar, &self.env)
    }

    /// Generates one continuation of `prompt` (already formatted, special
    /// tokens written out), constrained by `grammar` if given.
    pub fn generate(
        &mut self,
        prompt: &str,
        grammar: Option<Arc<CompiledGrammar>>,
        opts: &GenerateOptions,
    ) -> Result<Generation, ModelError> {
        self.generate_streaming(prompt, grammar, opts, &mut |_| {})
    }

    /// [`generate`](Generator::generate), handing the text to `on_text` in
    /// pieces as tokens are chosen. The pieces are whole UTF-8 characters
    /// and join into [`Generation::text`]; with stop strings, text that
    /// could still turn out to be the start of one is held back until it
    /// cannot.
    pub fn generate_streaming(
        &mut self,
        prompt: &str,
        grammar: Option<Arc<CompiledGrammar>>,
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation, ModelError> {
        let start = Instant::now();
        let prompt_ids = self.prompt_ids(prompt, opts)?;
        let mut run = Sequence::new(
            &self.env,
            grammar,
            opts,
            opts.sampler.seed,
            prompt_ids.len(),
        );
        let t = Instant::now();
        let mut logits = self.model.forward(&prompt_ids, 0)?;
        run.timings.prompt_ms = t.elapsed().as_secs_f64() * 1e3;
        run.timings.forward_calls = 1;
        while let Some(feed) = run.step(&logits, &self.env, opts)? {
            run.stream(opts, on_text);
            check_cancel(opts)?;
            let t = Instant::now();
            logits = self.model.forward(&feed, run.pos)?;
            run.fed(feed.len(), t.elapsed().as_secs_f64() * 1e3);
        }
        run.stream_rest(on_text);
        Ok(run.finish(start))
    }

    /// The prompt's token ids, after checking that they leave room for
    /// `max_tokens` in the context (before any forward pass: a prompt that
    /// does not fit fails now, not after minutes of prompt processing).
    fn prompt_ids(&self, prompt: &str, opts: &GenerateOptions) -> Result<Vec<u32>, ModelError> {
        let prompt_ids: Vec<u32> = self
            .env
            .vocab()
            .tokenizer()
            .encode(prompt, false)
            .map_err(|e| crate::error::VocabError::Encode(e.to_string()))?
            .get_ids()
            .to_vec();
        let ctx = self.model.context_length();
        let needed = prompt_ids.len().saturating_add(opts.max_tokens.max(1));
        if needed > ctx {
            return Err(ModelError::ContextFull {
                needed,
                context: ctx,
            });
        }
        Ok(prompt_ids)
    }

    /// `n` samples of `prompt` (seeds `opts.sampler.seed + i`) decoded
    /// together: the prompt is fed once, each sample continues from a copy
    /// of its cache, and every step feeds all unfinished samples in one
    /// pass. `None` if the model runs one sequence at a time.
    fn generate_batched(
        &mut self,
        prompt: &str,
        grammar: Option<Arc<CompiledGrammar>>,
        opts: &GenerateOptions,
        n: usize,
    ) -> Result<Option<Vec<Generation>>, ModelError> {
        let start = Instant::now();
        let prompt_ids = self.prompt_ids(prompt, opts)?;
        let t = Instant::now();
        let logits = self.model.forward(&prompt_ids, 0)?;
        let prompt_ms = t.elapsed().as_secs_f64() * 1e3;
        // Sequence 0 keeps the prompt; sample i runs as sequence i + 1.
        for i in 0..n {
            if !self.model.fork_sequence(0, i + 1) {
                return Ok(None);
            }
        }
        let mut runs: Vec<Sequence> = (0..n)
            .map(|i| {
                let seed = opts.sampler.seed.wrapping_add(i as u64);
                let mut r = Sequence::new(&self.env, grammar.clone(), opts, seed, prompt_ids.len());
                r.timings.prompt_ms = prompt_ms;
                r.timings.forward_calls = 1;
                r
            })
            .collect();
        let mut feeds: Vec<Option<Vec<u32>>> = Vec::with_capacity(n);
        for r in &mut runs {
            feeds.push(r.step(&logits, &self.env, opts)?);
        }
        loop {
            let batch: Vec<SequenceFeed> = feeds
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    f.as_deref().map(|tokens| SequenceFeed {
                        seq: i + 1,
                        tokens,
                        pos: runs[i].pos,
                    })
                })
                .collect();
            if batch.is_empty() {
                break;
            }
            check_cancel(opts)?;
            let t = Instant::now();
            let outs = self.model.forward_sequences(&batch)?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let fed: Vec<(usize, usize)> =
                batch.iter().map(|f| (f.seq - 1, f.tokens.len())).collect();
            for ((i, len), logits) in fed.into_iter().zip(outs) {
                runs[i].fed(len, ms);
                feeds[i] = runs[i].step(&logits, &self.env, opts)?;
            }
        }
        Ok(Some(runs.into_iter().map(|r| r.finish(start)).collect()))
    }

    /// Generates `n` samples (seeds `seed`, `seed + 1`, ...) and returns them
    /// with the index of the one `select` picks.
    pub fn generate_n(
        &mut self,
        prompt: &str,
        grammar: Option<Arc<CompiledGrammar>>,
        opts: &GenerateOptions,
        n: usize,
        select: Select,
    ) -> Result<(Vec<Generation>, usize), ModelError> {
        let n = n.max(1);
        let batched = if n > 1 {
            self.generate_batched(prompt, grammar.clone(), opts, n)?
        } else {
            None
        };
        let outs = match batched {
            Some(outs) => outs,
            None => {
                let mut outs = Vec::new();
                for i in 0..n {
                    let mut o = opts.clone();
                    o.sampler.seed = opts.sampler.seed.wrapping_add(i as u64);
                    outs.push(self.generate(prompt, grammar.clone(), &o)?);
                }
                outs
            }
        };
        let pick = match select {
            Select::Best => (0..outs.len())
                .filter(|&i| outs[i].complete)
                .max_by(|&a, &b| outs[a].mean_logprob().total_cmp(&outs[b].mean_logprob()))
                .unwrap_or(0),
            Select::Vote => {
                let keys: Vec<String> = outs.iter().map(|g| canonical(&g.text)).collect();
                (0..outs.len())
                    .max_by_key(|&i| {
                        (
                            keys.iter().filter(|k| **k == keys[i]).count(),
                            usize::MAX - i,
                        )
                    })
                    .unwrap_or(0)
            }
        };
        Ok((outs, pick))
    }
}

/// [`ModelError::Cancelled`] once `opts.cancel` is set.
fn check_cancel(opts: &GenerateOptions) -> Result<(), ModelError> {
    match &opts.cancel {
        Some(flag) if flag.load(Ordering::Relaxed) => Err(ModelError::Cancelled),
        _ => Ok(()),
    }
}

/// One output being generated: its constraint, sampler and text so far.
/// [`Sequence::step`] takes the logits after what was fed and says what to
/// feed next, so one driver runs a single sequence and another runs many
/// in one batch.
struct Sequence {
    matcher: Option<Matcher>,
    sampler: Sampler,
    out: Generation,
    bytes: Vec<u8>,
    closer: Option<Closer>,
    mask: TokenMask,
    eos: Vec<u32>,
    timings: Timings,
    /// The position the next feed starts at.
    pos: usize,
    /// Bytes of the text already handed to a stream.
    emitted: usize,
}

impl Sequence {
    fn new(
        env: &Arc<TokenEnv>,
        grammar: Option<Arc<CompiledGrammar>>,
        opts: &GenerateOptions,
        seed: u64,
        prompt_tokens: usize,
    ) -> Sequence {
        let mut sampler = opts.sampler.clone();
        sampler.seed = seed;
        Sequence {
            matcher: grammar.map(|g| Matcher::new(g, env)),
            sampler: Sampler::new(sampler),
            out: Generation {
                text: String::new(),
                tokens: Vec::new(),
                logprobs: Vec::new(),
                top_logprobs: Vec::new(),
                prompt_tokens,
                forced_tokens: 0,
                stop: StopReason::MaxTokens,
                complete: true,
                timings: Timings::default(),
            },
            bytes: Vec::new(),
            closer: opts.close_before_max_tokens.then(Closer::new),
            mask: TokenMask::new(env.vocab().logits_width()),
            eos: env.vocab().eos_tokens().to_vec(),
            timings: Timings::default(),
            pos: prompt_tokens,
            emitted: 0,
        }
    }

    /// Hands the text chosen since the last call to `on_text`: whole
    /// characters, minus what could still be the start of a stop string.
    fn stream(&mut self, opts: &GenerateOptions, on_text: &mut dyn FnMut(&str)) {
        let hold = opts.stop.iter().map(|s| s.len()).max().unwrap_or(1) - 1;
        let end = self.bytes.len().saturating_sub(hold);
        if end <= self.emitted {
            return;
        }
        let piece = match std::str::from_utf8(&self.bytes[self.emitted..end]) {
            Ok(p) => p,
            // Up to a character cut by the token boundary; a byte that can
            // never be valid is left for `stream_rest`'s lossy text.
            Err(e) => {
                let valid = e.valid_up_to();
                std::str::from_utf8(&self.bytes[self.emitted..self.emitted + valid]).unwrap_or("")
            }
        };
        if !piece.is_empty() {
            on_text(piece);
            self.emitted += piece.len();
        }
    }

    /// Hands the rest of the final text to `on_text`.
    fn stream_rest(&mut self, on_text: &mut dyn FnMut(&str)) {
        if self.emitted < self.bytes.len() {
            on_text(&String::from_utf8_lossy(&self.bytes[self.emitted..]));
            self.emitted = self.bytes.len();
        }
    }

    /// Records that `len` tokens were fed, in `ms`.
    fn fed(&mut self, len: usize, ms: f64) {
        self.pos += len;
        self.timings.forward_ms += ms;
        self.timings.forward_calls += 1;
    }

    /// Given the logits after everything fed so far, the tokens to feed
    /// next (forced ones, or one sampled), or `None` when the output is
    /// finished.
    fn step(
        &mut self,
        logits: &[f32],
        env: &TokenEnv,
        opts: &GenerateOptions,
    ) -> Result<Option<Vec<u32>>, ModelError> {
        let max_tokens = opts.max_tokens;
        let vocab = env.vocab();
        let (out, bytes, timings) = (&mut self.out, &mut self.bytes, &mut self.timings);
        if out.tokens.len() >= max_tokens {
            return Ok(None);
        }
        if let Some(m) = self.matcher.as_mut() {
            let t = Instant::now();
            let forced = if opts.fast_forward {
                m.forced_tokens()
            } else {
                Vec::new()
            };
            timings.mask_ms += t.elapsed().as_secs_f64() * 1e3;
            let room = max_tokens - out.tokens.len();
            if let Some(c) = self.closer.as_mut() {
                let t = Instant::now();
                c.refresh(m, room)?;
                timings.mask_ms += t.elapsed().as_secs_f64() * 1e3;
            }
            if !forced.is_empty() && forced.len() <= room {
                for &f in &forced {
                    m.commit(f)?;
                }
                if let Some(c) = self.closer.as_mut() {
                    let t = Instant::now();
                    let fits = c.keeps(m, room, forced.len())?;
                    timings.mask_ms += t.elapsed().as_secs_f64() * 1e3;
                    if !fits {
                        m.rollback(forced.len())?;
                        if c.close(m, room, out, bytes, vocab)? {
                            return Ok(None);
                        }
                        for &f in &forced {
                            m.commit(f)?;
                        }
                    }
                }
                for &f in &forced {
                    out.push_forced(f, bytes, vocab);
                }
                return Ok(Some(forced));
            }
            let t = Instant::now();
            m.try_compute_mask_into(&mut self.mask)?;
            timings.mask_ms += t.elapsed().as_secs_f64() * 1e3;
        }
        let mask = self.matcher.as_ref().map(|_| &self.mask);
        let Some(s) = self.sampler.sample(logits, mask) else {
            // Nothing allowed: the constraint is complete (EOS not in this vocabulary's set).
            out.stop = StopReason::Complete;
            return Ok(None);
        };
        if self.eos.contains(&s.token) {
            if let Some(m) = self.matcher.as_mut() {
                m.commit(s.token)?;
            }
            out.stop = StopReason::Eos;
            return Ok(None);
        }
        if let Some(m) = self.matcher.as_mut() {
            m.commit(s.token)?;
            if let Some(c) = self.closer.as_mut() {
                let room = max_tokens - out.tokens.len();
                let t = Instant::now();
                let fits = c.keeps(m, room, 1)?;
                timings.mask_ms += t.elapsed().as_secs_f64() * 1e3;
                if !fits {
                    m.rollback(1)?;
                    if c.close(m, room, out, bytes, vocab)? {
                        return Ok(None);
                    }
                    m.commit(s.token)?;
                }
            }
        }
        out.tokens.push(s.token);
        out.logprobs.push(Some(s.logprob));
        out.top_logprobs.push(s.top);
        bytes.extend_from_slice(vocab.token_bytes(s.token));
        if self.matcher.is_none() {
            let text = String::from_utf8_lossy(bytes);
            if let Some(stop) = opts
                .stop
                .iter()
                .find(|st| !st.is_empty() && text.ends_with(st.as_str()))
            {
                bytes.truncate(bytes.len() - stop.len());
                out.stop = StopReason::StopString(stop.clone());
                return Ok(None);
            }
        }
        if out.tokens.len() >= max_tokens {
            return Ok(None);
        }
        Ok(Some(vec![s.token]))
    }

    fn finish(mut self, start: Instant) -> Generation {
        if let Some(m) = self.matcher.as_mut() {
            self.out.complete = m.is_accepting();
        }
        self.out.text = String::from_utf8_lossy(&self.bytes).into_owned();
        self.timings.total_ms = start.elapsed().as_secs_f64() * 1e3;
        self.out.timings = self.timings;
        self.out
    }
}

/// For each sample, how many of the samples (itself included) give the same
/// answer: JSON compared after canonicalising (keys sorted, compact), other
/// text after trimming. [`Select::Vote`] picks the sample with the most.
pub fn vote_counts(samples: &[Generation]) -> Vec<usize> {
    let keys: Vec<String> = samples.iter().map(|g| canonical(&g.text)).collect();
    keys.iter()
        .map(|k| keys.iter().filter(|o| *o == k).count())
        .collect()
}

/// JSON text canonicalised (keys sorted, compact), or the trimmed text.
fn canonical(text: &str) -> String {
    fn sort(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut entries: Vec<_> = m.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sort(v))).collect())
            }
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.into_iter().map(sort).collect())
            }
            other => other,
        }
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => sort(v).to_string(),
        Err(_) => text.trim().to_string(),
    }
}
