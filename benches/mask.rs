//! Mask computation time along real token paths.
//!
//! For each tokenizer (GPT-2, vendored; Llama-3 from `../shared/models`, skipped
//! if absent) and each case (the JSON grammar on a realistic document, a
//! date-time regex, an e-mail regex), one iteration walks the case's token
//! path on a fresh clone of a warmed-up matcher and times only the
//! `compute_mask_into` calls (commits are not timed). Throughput is in
//! tokens, so criterion's `elem/s` is masks per second.
//!
//! `cargo bench --bench mask` runs it; `cargo bench --bench mask -- --test`
//! runs every benchmark once as a smoke test.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use formwork::grammar::Grammar;
use formwork::{json_grammar, regex_grammar, Matcher, TokenEnv, TokenMask, Vocabulary};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DOC: &str = r#"{
  "id": "ord_8f3a2c",
  "created_at": "2024-05-17T13:45:09Z",
  "customer": {"name": "Zoë Müller", "email": "zoe.mueller@example.com", "vip": true, "tags": ["returning", "eu"]},
  "items": [
    {"sku": "KB-104", "title": "Mechanical keyboard \"Tenkeyless\"", "qty": 1, "price": 89.99},
    {"sku": "MS-220", "title": "Wireless mouse", "qty": 2, "price": 24.5, "discount": -0.1e1},
    {"sku": "CB-007", "title": "USB-C cable, 2 m", "qty": 3, "price": 7, "notes": null}
  ],
  "shipping": {"method": "express", "address": {"street": "Hauptstraße 5", "zip": "10115", "city": "Berlin"}},
  "total": 152.99,
  "paid": false,
  "history": [[1715953509, "created"], [1715953600, "confirmed\n(by phone)"]]
}"#;

const DATE_TIME: &str = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
const EMAIL: &str = r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*\.[a-zA-Z]{2,24}";

fn tokenizers() -> Vec<(&'static str, Arc<Vocabulary>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let gpt2 = root.join("tests/data/tokenizers/gpt2/tokenizer.json.gz");
    out.push((
        "gpt2",
        Arc::new(Vocabulary::from_file(&gpt2).expect("load vendored GPT-2 tokenizer")),
    ));
    let models = std::env::var_os("FORMWORK_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/models"));
    let llama3 = models.join("llama3/tokenizer.json.gz");
    if llama3.is_file() {
        let v = Vocabulary::from_file(&llama3)
            .unwrap_or_else(|e| panic!("load {}: {e}", llama3.display()));
        out.push(("llama3", Arc::new(v)));
    } else {
        eprintln!(
            "SKIPPED: llama3 benchmarks ({} not found)",
            llama3.display()
        );
    }
    out
}

/// A matcher whose lexer caches are warm for `text`, and `text`'s tokens.
fn prepare(g: &Grammar, env: &Arc<TokenEnv>, text: &str) -> (Matcher, Vec<u32>) {
    let mut m = Matcher::new(env.compile(g).unwrap(), env);
    let toks = env.vocab().encode(text).unwrap();
    // Walk the path once (checking it is accepted) so the caches are built,
    // then roll back to the start: clones of `m` start warm.
    for &t in &toks {
        assert!(
            m.compute_mask().contains(t),
            "{text:?}: token {t} not allowed"
        );
        m.commit(t).unwrap();
    }
    assert!(m.is_accepting(), "{text:?} not accepted");
    m.rollback(toks.len()).unwrap();
    (m, toks)
}

fn bench_masks(c: &mut Criterion) {
    let cases: [(&str, Grammar, &str); 3] = [
        ("json", json_grammar(), DOC),
        (
            "date_time",
            regex_grammar(DATE_TIME).unwrap(),
            "2024-05-17T13:45:09.123456+02:00",
        ),
        (
            "email",
            regex_grammar(EMAIL).unwrap(),
            "jane.doe+newsletter@mail.example-company.co.uk",
        ),
    ];
    for (tok_name, vocab) in tokenizers() {
        let env = Arc::new(TokenEnv::new(vocab.clone()));
        let mut group = c.benchmark_group(format!("mask/{tok_name}"));
        for (case, g, text) in &cases {
            let (template, toks) = prepare(g, &env, text);
            group.throughput(Throughput::Elements(toks.len() as u64));
            group.bench_function(BenchmarkId::from_parameter(case), |b| {
                let mut mask = TokenMask::new(vocab.logits_width());
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut m = template.clone();
                        for &t in &toks {
                            let t0 = Instant::now();
                            m.compute_mask_into(&mut mask);
                            total += t0.elapsed();
                            m.commit(t).unwrap();
                        }
                        std::hint::black_box(&mask);
                    }
                    total
                });
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench_masks
}
criterion_main!(benches);
