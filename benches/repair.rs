//! Throughput of `formwork::repair::repair` in MB/s.
//!
//! * `valid/*`: valid JSON documents, repaired (fast path) and, on the same
//!   bytes, parsed by `serde_json::from_str` for comparison.
//! * `fenced/*`: the valid documents inside a Markdown code fence with a
//!   line of prose before and after — the most common way a chat model
//!   wraps otherwise valid JSON; serde_json rejects it, so it takes the
//!   repair parser, which reads the valid JSON inside with few fixes.
//! * `malformed/*`: the same documents damaged the way models damage JSON
//!   (single quotes, unquoted keys, trailing commas, comments, Python
//!   literals, truncation), which takes the repair parser.
//!
//! `cargo bench --bench repair` runs it (about 3 s of measurement per case);
//! `cargo bench --bench repair -- --test` runs every case once.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use formwork::repair::repair;
use std::hint::black_box;
use std::time::Duration;

/// A realistic structured-output document, repeated to about `n` bytes.
fn valid_doc(records: usize) -> String {
    let mut s = String::from("{\"results\": [\n");
    for i in 0..records {
        if i > 0 {
            s.push_str(",\n");
        }
        s.push_str(&format!(
            "  {{\"id\": {i}, \"name\": \"Zoë Müller #{i}\", \"email\": \"user{i}@example.com\", \
             \"score\": {}.{}, \"active\": {}, \"tags\": [\"a\", \"b\\n\", \"日本\"], \
             \"address\": {{\"street\": \"Hauptstraße {i}\", \"zip\": \"{:05}\", \"geo\": [52.52, 13.405]}}, \
             \"notes\": null}}",
            i * 7 % 100,
            i % 10,
            i % 2 == 0,
            i * 13 % 100000
        ));
    }
    s.push_str("\n]}");
    s
}

/// The same kind of document, written the way a careless model would.
fn malformed_doc(records: usize) -> String {
    let mut s = String::from("Here is the JSON you asked for:\n```json\n{results: [\n");
    for i in 0..records {
        s.push_str(&format!(
            "  {{'id': {i}, name: 'Zoë Müller #{i}', \"email\": “user{i}@example.com”, \
             // a comment\n   \"score\": {}.{}, \"active\": {}, tags: ['a', 'b', \"日本\",], \
             \"address\": {{street: \"Hauptstraße {i}\", \"zip\": \"{:05}\" \"geo\": (52.52, 13.405)}}, \
             \"notes\": None,}},\n",
            i * 7 % 100,
            i % 10,
            if i % 2 == 0 { "True" } else { "False" },
            i * 13 % 100000
        ));
    }
    // Truncated: no closing brackets, no closing fence.
    s.push_str("  {\"id\": -1, \"name\": \"cut off her");
    s
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("repair");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (label, records) in [("1KB", 4), ("100KB", 400), ("1MB", 4000)] {
        let valid = valid_doc(records);
        assert!(serde_json::from_str::<serde_json::Value>(&valid).is_ok());
        g.throughput(Throughput::Bytes(valid.len() as u64));
        g.bench_with_input(BenchmarkId::new("valid/repair", label), &valid, |b, t| {
            b.iter(|| repair(black_box(t)).unwrap())
        });
        g.bench_with_input(
            BenchmarkId::new("valid/serde_json", label),
            &valid,
            |b, t| b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(t)).unwrap()),
        );
        let fenced =
            format!("Here is the JSON:\n```json\n{valid}\n```\nLet me know if you need more.");
        assert_eq!(
            repair(&fenced).unwrap().value,
            repair(&valid).unwrap().value
        );
        g.throughput(Throughput::Bytes(fenced.len() as u64));
        g.bench_with_input(BenchmarkId::new("fenced/repair", label), &fenced, |b, t| {
            b.iter(|| repair(black_box(t)).unwrap())
        });
        let bad = malformed_doc(records);
        let r = repair(&bad).expect("malformed document repairs");
        assert!(!r.fixes.is_empty());
        g.throughput(Throughput::Bytes(bad.len() as u64));
        g.bench_with_input(BenchmarkId::new("malformed/repair", label), &bad, |b, t| {
            b.iter(|| repair(black_box(t)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
