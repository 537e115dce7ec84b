//! The batch mask API against one call per sequence: 64 sequences, each a
//! matcher walking its own JSONSchemaBench document (the any-JSON cases of
//! `benches/cases/jsb_any.jsonl`) with the Llama-3 tokenizer from
//! `../shared/models` (the vendored GPT-2 one without it). One iteration
//! takes fresh matchers through 16 steps: at each step every row's mask is
//! computed, either by `try_compute_masks_into` (rayon, every core) or by
//! `try_compute_mask_into` row after row; then every row commits its
//! next token. Only the mask computation is timed, so a row's mask is never
//! served from its memo.
//!
//! `cargo bench --bench batch` runs it (the ratio of the two is the batch
//! speed-up); `cargo bench --bench batch -- --test` runs each once.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use formwork::{json_grammar, try_compute_masks_into, Matcher, TokenEnv, TokenMask};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROWS: usize = 64;
const STEPS: usize = 16;

/// Fresh matchers and each row's token path.
fn setup() -> (Vec<Matcher>, Vec<Vec<u32>>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The Llama-3 tokenizer (128k tokens) from ../shared/models when it is
    // there, else the vendored GPT-2 one.
    let models = std::env::var_os("FORMWORK_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/models"));
    let llama3 = models.join("llama3/tokenizer.json.gz");
    let path = if llama3.is_file() {
        llama3
    } else {
        root.join("tests/data/tokenizers/gpt2/tokenizer.json.gz")
    };
    let env = Arc::new(TokenEnv::from_file(&path).expect("tokenizer"));
    let compiled = env.compile(&json_grammar()).expect("JSON grammar");
    Matcher::prepare(compiled.clone(), &env);
    let cases = std::fs::read_to_string(root.join("benches/cases/jsb_any.jsonl")).unwrap();
    let mut paths = Vec::new();
    for line in cases.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(doc) = case["valid"][0].as_str() else {
            continue;
        };
        let tokens = env.vocab().encode(doc).unwrap();
        if tokens.len() >= STEPS {
            paths.push(tokens);
        }
        if paths.len() == ROWS {
            break;
        }
    }
    assert_eq!(paths.len(), ROWS, "enough documents of {STEPS} tokens");
    let matchers = (0..ROWS)
        .map(|_| Matcher::new(compiled.clone(), &env))
        .collect();
    (matchers, paths)
}

/// Runs `iters` walks of fresh matchers along `paths`, timing only
/// `compute` (every row's mask at each step).
fn walk(
    fresh: &[Matcher],
    paths: &[Vec<u32>],
    width: usize,
    iters: u64,
    mut compute: impl FnMut(&mut [Matcher], &mut [TokenMask]),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut masks: Vec<TokenMask> = (0..ROWS).map(|_| TokenMask::new(width)).collect();
    for _ in 0..iters {
        let mut rows = fresh.to_vec();
        for step in 0..STEPS {
            let t = Instant::now();
            compute(&mut rows, &mut masks);
            total += t.elapsed();
            for (m, path) in rows.iter_mut().zip(paths) {
                m.commit(path[step]).unwrap();
            }
        }
    }
    total
}

fn batch(c: &mut Criterion) {
    let (fresh, paths) = setup();
    let width = fresh[0].clone().compute_mask().width();
    let mut g = c.benchmark_group(format!("masks_{ROWS}_rows"));
    g.throughput(Throughput::Elements((ROWS * STEPS) as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("one_call_per_row", |b| {
        b.iter_custom(|iters| {
            walk(&fresh, &paths, width, iters, |rows, masks| {
                for (m, mask) in rows.iter_mut().zip(masks) {
                    m.try_compute_mask_into(mask).unwrap();
                }
            })
        })
    });
    g.bench_function("compute_masks", |b| {
        b.iter_custom(|iters| {
            walk(&fresh, &paths, width, iters, |rows, masks| {
                for r in try_compute_masks_into(rows, masks) {
                    r.unwrap();
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
