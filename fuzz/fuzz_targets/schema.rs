//! Fuzzes the JSON Schema compiler with arbitrary JSON: `json_schema`
//! and then `CompiledGrammar::new` must return (`Ok` or a clear `Err`), never
//! panic or hang. Inputs that are not JSON are skipped.
//!
//! Run with `cargo +nightly fuzz run schema` from the crate root; seed it
//! with schemas from the corpora for deeper coverage.

#![no_main]

use formwork::{json_schema, SchemaOptions, CompiledGrammar};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Large documents only slow the fuzzer down; the guards are tested elsewhere.
    if data.len() > 4096 {
        return;
    }
    let Ok(schema) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(g) = json_schema(&schema, &SchemaOptions::default()) {
        let _ = CompiledGrammar::new(&g);
    }
});
