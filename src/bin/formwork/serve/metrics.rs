//! `GET /metrics`: counters and histograms in Prometheus' text format.
//!
//! Plain atomics and a mutex around the histograms: a request touches them
//! a few times, so nothing here is on a hot path.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// A Prometheus histogram.
#[derive(Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; SECONDS.len()];
        }
        for (i, b) in SECONDS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in SECONDS.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

/// The server's measurements.
#[derive(Default)]
pub struct Metrics {
    /// Requests answered, by (endpoint, status).
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    forced_tokens: AtomicU64,
    latency: Mutex<Histogram>,
    mask: Mutex<Histogram>,
    generation: Mutex<Histogram>,
    compile: Mutex<Histogram>,
    grammar_cache_hits: AtomicU64,
    grammar_cache_misses: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    /// One answered request and how long it took.
    pub fn request(&self, endpoint: &str, status: u16, seconds: f64) {
        *lock(&self.requests)
            .entry((endpoint.to_string(), status))
            .or_default() += 1;
        lock(&self.latency).observe(seconds);
    }

    /// Tokens of one finished generation, and its time in the constraint.
    pub fn tokens(&self, prompt: usize, completion: usize, forced: usize, mask_seconds: f64) {
        self.prompt_tokens
            .fetch_add(prompt as u64, Ordering::Relaxed);
        self.completion_tokens
            .fetch_add(completion as u64, Ordering::Relaxed);
        self.forced_tokens
            .fetch_add(forced as u64, Ordering::Relaxed);
        lock(&self.mask).observe(mask_seconds);
    }

    pub fn generation_seconds(&self, s: f64) {
        lock(&self.generation).observe(s);
    }

    /// Mean seconds a slot spends on a request (1 before any finished).
    pub fn mean_generation_seconds(&self) -> f64 {
        let h = lock(&self.generation);
        if h.count == 0 {
            1.0
        } else {
            h.sum / h.count as f64
        }
    }

    pub fn compile_seconds(&self, s: f64) {
        lock(&self.compile).observe(s);
    }

    pub fn grammar_cache(&self, hit: bool) {
        let c = if hit {
            &self.grammar_cache_hits
        } else {
            &self.grammar_cache_misses
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text, with the queue's gauges read now.
    pub fn render(&self, queued: usize, running: usize, slots: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP formwork_requests_total Requests answered, by endpoint and HTTP status.\n# TYPE formwork_requests_total counter\n");
        for ((endpoint, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "formwork_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: usize| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        counter(
            &mut out,
            "formwork_prompt_tokens_total",
            "Prompt tokens of finished generations.",
            self.prompt_tokens.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "formwork_completion_tokens_total",
            "Tokens generated.",
            self.completion_tokens.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "formwork_forced_tokens_total",
            "Generated tokens the constraint forced (fed without sampling).",
            self.forced_tokens.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "formwork_grammar_cache_hits_total",
            "Requests whose grammar was already compiled.",
            self.grammar_cache_hits.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "formwork_grammar_cache_misses_total",
            "Requests whose grammar was compiled for them.",
            self.grammar_cache_misses.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "formwork_queue_depth",
            "Requests waiting for a slot.",
            queued,
        );
        gauge(
            &mut out,
            "formwork_requests_running",
            "Requests being generated.",
            running,
        );
        gauge(&mut out, "formwork_slots", "Slots (--parallel).", slots);
        lock(&self.latency).write(
            &mut out,
            "formwork_request_duration_seconds",
            "Time from a request's arrival to its last byte, for answered requests.",
        );
        lock(&self.generation).write(
            &mut out,
            "formwork_generation_duration_seconds",
            "Time a slot spent on one request.",
        );
        lock(&self.mask).write(
            &mut out,
            "formwork_mask_duration_seconds",
            "Time in the constraint (masks, forced tokens) per generation.",
        );
        lock(&self.compile).write(
            &mut out,
            "formwork_grammar_compile_duration_seconds",
            "Time to compile a request's grammar (cache misses).",
        );
        out
    }
}
