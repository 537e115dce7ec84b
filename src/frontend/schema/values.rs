//! Sets of JSON values (`enum`, `const`), with membership by hash.
//!
//! An `enum` may list tens of thousands of values, and the schema compiler
//! asks of each of them whether it is among others: a repeated value, the
//! values two `enum`s of an `allOf` share, those a negated `enum` excludes.
//! Compared pair by pair that is quadratic (50,000 strings took a minute and
//! a half). A [`ValueSet`] keeps its values in order together with a hash
//! set of their canonical bytes ([`crate::json_value::canonical`], the
//! equality `uniqueItems` uses too: numbers by exact value, so `1` and
//! `1.0` are one value; object keys in any order), so membership costs one
//! hash of the value. Most enums are short, and the compiler builds many
//! of them (one per combination of `anyOf` branches): up to [`HASH_FROM`]
//! values a set has no hash and compares values directly, in the same
//! equality.

use crate::hash::FxBuild;
use serde_json::Value;
use std::collections::HashSet;

/// Distinct JSON values in the order first given (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct ValueSet {
    list: Vec<Value>,
    /// The values' [`value_key`]s, once there are more than [`HASH_FROM`].
    keys: Option<HashSet<Box<[u8]>, FxBuild>>,
}

/// Sets of more values than this get a hash of their keys.
const HASH_FROM: usize = 16;

/// Whether `a` and `b` are equal as JSON Schema says, as [`value_key`]
/// decides it, without writing the keys of strings and structures.
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => value_key(a) == value_key(b),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

/// The bytes two values share exactly when JSON Schema calls them equal.
pub(crate) fn value_key(v: &Value) -> Box<[u8]> {
    let text = serde_json::to_vec(v).expect("a JSON value serializes");
    let mut out = Vec::with_capacity(text.len() + 4);
    if crate::json_value::canonical(&text, &mut out) {
        out.into()
    } else {
        // Nested too deep for the canonical reader: the text itself, marked
        // so that it equals no canonical form.
        let mut raw = vec![0xff];
        raw.extend_from_slice(&text);
        raw.into()
    }
}

impl ValueSet {
    /// The distinct values of `values`, the first of equal ones kept.
    pub(crate) fn from_values(values: impl IntoIterator<Item = Value>) -> ValueSet {
        let mut s = ValueSet::default();
        for v in values {
            s.insert(v);
        }
        s
    }

    /// Adds `v`; false if an equal value is there already.
    pub(crate) fn insert(&mut self, v: Value) -> bool {
        let new = match &mut self.keys {
            Some(keys) => keys.insert(value_key(&v)),
            None => !self.list.iter().any(|x| same_value(x, &v)),
        };
        if !new {
            return false;
        }
        self.list.push(v);
        if self.keys.is_none() && self.list.len() > HASH_FROM {
            self.keys = Some(self.list.iter().map(value_key).collect());
        }
        true
    }

    pub(crate) fn contains(&self, v: &Value) -> bool {
        match &self.keys {
            Some(keys) => keys.contains(&value_key(v)),
            None => self.list.iter().any(|x| same_value(x, v)),
        }
    }

    /// Keeps only the values `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Value) -> bool) {
        let before = self.list.len();
        self.list.retain(|v| keep(v));
        if self.list.len() != before && self.keys.is_some() {
            self.keys =
                (self.list.len() > HASH_FROM).then(|| self.list.iter().map(value_key).collect());
        }
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, Value> {
        self.list.iter()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl<'s> IntoIterator for &'s ValueSet {
    type Item = &'s Value;
    type IntoIter = std::slice::Iter<'s, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_equal_as_json_schema_says() {
        let s = ValueSet::from_values([
            json!(1),
            json!(1.0),
            json!("a"),
            json!({"x": 1, "y": [2]}),
            json!({"y": [2.0], "x": 1}),
            json!([1, "a"]),
            json!(null),
            json!(false),
        ]);
        assert_eq!(s.iter().count(), 6, "{:?}", s.iter().collect::<Vec<_>>());
        assert!(s.contains(&json!(10e-1)));
        assert!(s.contains(&json!({"x": 1.0, "y": [2]})));
        assert!(!s.contains(&json!("1")));
        assert!(!s.contains(&json!([1])));
        assert!(!s.contains(&json!(0)));
        let mut s = s;
        s.retain(|v| !v.is_number());
        assert!(!s.contains(&json!(1)));
        assert_eq!(s.iter().count(), 5);
    }

    /// Small sets (compared directly) and large ones (hashed) agree.
    #[test]
    fn small_and_large_sets_agree() {
        let values: Vec<Value> = (0..40)
            .flat_map(|i| {
                [
                    json!(i),
                    json!(i as f64),
                    json!(format!("{i}")),
                    json!({"k": [i]}),
                ]
            })
            .collect();
        let small = ValueSet::from_values(values[..12].iter().cloned());
        let large = ValueSet::from_values(values.iter().cloned());
        assert!(small.keys.is_none() && large.keys.is_some());
        assert_eq!(large.iter().count(), 120);
        for v in &values[..12] {
            assert!(small.contains(v) && large.contains(v), "{v}");
        }
        for v in [json!(2.0), json!({"k": [1.0]}), json!("2")] {
            assert!(small.contains(&v) && large.contains(&v), "{v}");
        }
        for v in [json!(2.5), json!({"k": [1.5]}), json!("2.0"), json!([2])] {
            assert!(!small.contains(&v) && !large.contains(&v), "{v}");
        }
        assert!(!small.contains(&json!(39)) && large.contains(&json!(39.0)));
    }
}
