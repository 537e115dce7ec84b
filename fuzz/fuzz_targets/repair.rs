//! Fuzzes `formwork::repair::repair` with arbitrary bytes (decoded as lossy
//! UTF-8). Errors are fine; panics, stack overflows and hangs are not.
//!
//! Checked invariants:
//! * `repair` returns (`Ok` or `Err`), never panics;
//! * repairing the compact serialisation of a repaired value gives the same
//!   value back with no fixes (the output is always valid JSON). Floats are
//!   compared to 1e-12 relative: serde_json's default float parser is not
//!   correctly rounded, so a float can move by an ulp on a round trip.
//!
//! Run with `cargo +nightly fuzz run repair` from the crate root.

#![no_main]

use formwork::repair::{repair, Value};
use libfuzzer_sys::fuzz_target;

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = repair(&text) {
        // `Display` of a `serde_json::Value` is its compact serialisation.
        let again = r.value.to_string();
        let r2 = repair(&again).expect("own output must repair");
        assert!(same(&r2.value, &r.value), "{} vs {}", r2.value, r.value);
        assert!(r2.fixes.is_empty());
    }
});
