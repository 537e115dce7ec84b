//! Choosing the next token from logits: greedy, temperature, top-k, top-p.
//!
//! The constraint mask is applied first: disallowed tokens are removed
//! before any softmax, so probabilities (and the reported logprobs) are
//! those of the constrained distribution. A fixed seed gives the same
//! choices every run (the generator is a small SplitMix64, no OS entropy).

use crate::mask::TokenMask;

/// How to sample.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerConfig {
    /// 0 means greedy (always the most likely allowed token).
    pub temperature: f32,
    /// Keep only the k most likely tokens (after the mask).
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability reaches p.
    pub top_p: Option<f32>,
    /// Seed of the random generator.
    pub seed: u64,
    /// How many alternatives to report with their logprobs at each step.
    pub top_logprobs: usize,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.0,
            top_k: None,
            top_p: None,
            seed: 0,
            top_logprobs: 0,
        }
    }
}

/// One sampled token.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampled {
    pub token: u32,
    /// Log-probability of `token` under the (masked, temperature 1) model
    /// distribution.
    pub logprob: f32,
    /// The most likely alternatives, with their logprobs.
    pub top: Vec<(u32, f32)>,
}

/// A seeded sampler.
///
/// ```
/// use formwork::sampler::{Sampler, SamplerConfig};
/// let mut s = Sampler::new(SamplerConfig::default());
/// let picked = s.sample(&[0.1, 2.0, -1.0], None).unwrap();
/// assert_eq!(picked.token, 1);
/// ```
pub struct Sampler {
    cfg: SamplerConfig,
    state: u64,
}

impl Sampler {
    pub fn new(cfg: SamplerConfig) -> Sampler {
        let state = cfg.seed ^ 0x9E37_79B9_7F4A_7C15;
        Sampler { cfg, state }
    }

    fn next_f64(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Picks a token from `logits`, among those in `mask` (all if `None`).
    /// `None` if nothing is allowed.
    pub fn sample(&mut self, logits: &[f32], mask: Option<&TokenMask>) -> Option<Sampled> {
        let mut cand: Vec<(u32, f32)> = match mask {
            Some(m) => m
                .iter()
                .filter(|&t| (t as usize) < logits.len())
                .map(|t| (t, logits[t as usize]))
                .collect(),
            None => logits
                .iter()
                .enumerate()
                .map(|(i, &l)| (i as u32, l))
                .collect(),
        };
        cand.retain(|c| c.1.is_finite());
        if cand.is_empty() {
            return None;
        }
        let max = cand.iter().map(|c| c.1).fold(f32::NEG_INFINITY, f32::max);
        let lse = max + cand.iter().map(|c| (c.1 - max).exp()).sum::<f32>().ln();
        let logprob = |l: f32| l - lse;
        let mut top = Vec::new();
        if self.cfg.top_logprobs > 0 {
            let mut sorted = cand.clone();
            let k = self.cfg.top_logprobs.min(sorted.len());
            sorted.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
            sorted.truncate(k);
            sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
            top = sorted.into_iter().map(|(t, l)| (t, logprob(l))).collect();
        }
        let token = if self.cfg.temperature <= 0.0 {
            cand.iter()
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                .unwrap()
                .0
        } else {
            // Best first, ties by id; only as much ordering as top-k and
            // top-p need (a full sort of a 50k vocabulary costs more than a
            // small model's forward pass).
            let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
            if let Some(k) = self.cfg.top_k {
                let k = k.max(1);
                if k < cand.len() {
                    cand.select_nth_unstable_by(k - 1, order);
                    cand.truncate(k);
                }
            }
            if self.cfg.top_k.is_some() || self.cfg.top_p.is_some() {
                cand.sort_by(order);
            }
            let t = self.cfg.temperature;
            let m = max / t;
            let mut probs: Vec<f64> = cand.iter().map(|c| ((c.1 / t - m) as f64).exp()).collect();
            let total: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|p| *p /= total);
            if let Some(p) = self.cfg.top_p {
                let mut acc = 0.0;
                let mut keep = probs.len();
                for (i, q) in probs.iter().enumerate() {
                    acc += q;
                    if acc >= p as f64 {
                        keep = i + 1;
                        break;
                    }
                }
                probs.truncate(keep);
                cand.truncate(keep);
            }
            let total: f64 = probs.iter().sum();
            let mut r = self.next_f64() * total;
            let mut pick = cand.len() - 1;
            for (i, q) in probs.iter().enumerate() {
                if r < *q {
                    pick = i;
                    break;
                }
                r -= q;
            }
            cand[pick].0
        };
        let l = logits[token as usize];
        Some(Sampled {
            token,
            logprob: logprob(l),
            top,
        })
    }
}
