//! Validation of a (repaired) value against a JSON Schema, with the
//! `jsonschema` crate: the last word on whether repair made a value fit.
//!
//! Schema-guided repair ([`repair_with_schema`](super::repair_with_schema)) only makes changes it can
//! name and knows a handful of keywords; it cannot tell whether the result
//! is valid. [`SchemaCheck`] can: it checks the schema against its
//! meta-schema once (so `[1, 2]` or `{"type": 5}` is refused with the
//! place that is wrong), then lists each [`Violation`] of a value with its
//! instance path. Patterns are compiled with `fancy-regex`, so a schema the
//! constraint compiler refuses (a backreference, a lookaround) still
//! validates.
//!
//! ```
//! use formwork::repair::SchemaCheck;
//! use serde_json::json;
//!
//! let check = SchemaCheck::new(&json!({"type": "object", "required": ["name", "age"]}))?;
//! let v = check.violations(&json!({"name": "Ada"}), 10);
//! assert_eq!(v[0].to_string(), "(root): \"age\" is a required property");
//! assert!(SchemaCheck::new(&json!({"type": 5})).is_err());
//! # Ok::<(), formwork::repair::InvalidSchema>(())
//! ```

use serde_json::Value;
use std::fmt;

/// A JSON Schema that passed its meta-schema, ready to validate values.
pub struct SchemaCheck {
    validator: jsonschema::Validator,
}

impl fmt::Debug for SchemaCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaCheck").finish_non_exhaustive()
    }
}

/// The schema is not a valid JSON Schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON Schema: {0}; fix the schema (it must pass the JSON Schema meta-schema)")]
pub struct InvalidSchema(pub String);

/// One way a value does not fit the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer to the offending value (`""` is the whole value).
    pub pointer: String,
    /// What is wrong, as the `jsonschema` crate says it.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = if self.pointer.is_empty() {
            "(root)"
        } else {
            &self.pointer
        };
        write!(f, "{p}: {}", self.message)
    }
}

impl SchemaCheck {
    /// Checks `schema` against its meta-schema and compiles it.
    pub fn new(schema: &Value) -> Result<SchemaCheck, InvalidSchema> {
        if !(schema.is_object() || schema.is_boolean()) {
            return Err(InvalidSchema(format!(
                "a schema is an object or a boolean, not {}",
                match schema {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    _ => "null",
                }
            )));
        }
        let validator = jsonschema::validator_for(schema).map_err(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                InvalidSchema(e.to_string())
            } else {
                InvalidSchema(format!("at {at}: {e}"))
            }
        })?;
        Ok(SchemaCheck { validator })
    }

    /// Whether `value` is valid.
    pub fn is_valid(&self, value: &Value) -> bool {
        self.validator.is_valid(value)
    }

    /// At most `max` violations of `value`, in the validator's order.
    pub fn violations(&self, value: &Value, max: usize) -> Vec<Violation> {
        self.validator
            .iter_errors(value)
            .take(max)
            .map(|e| Violation {
                pointer: e.instance_path().to_string(),
                message: e.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refuses_invalid_schemas() {
        for s in [
            json!([1, 2]),
            json!({"type": 5}),
            json!("x"),
            json!({"required": "a"}),
        ] {
            let e = SchemaCheck::new(&s).unwrap_err();
            assert!(e.to_string().starts_with("invalid JSON Schema: "), "{e}");
        }
        assert!(SchemaCheck::new(&json!(true)).is_ok());
    }

    #[test]
    fn backreference_patterns_validate() {
        let c = SchemaCheck::new(&json!({"type": "string", "pattern": "^(a+)-\\1$"})).unwrap();
        assert!(c.is_valid(&json!("aa-aa")));
        assert!(!c.is_valid(&json!("aa-a")));
        let c = SchemaCheck::new(&json!({"type": "string", "pattern": "^(?!x)"})).unwrap();
        assert!(c.is_valid(&json!("ab")));
        assert!(!c.is_valid(&json!("xb")));
    }

    #[test]
    fn violations_have_paths() {
        let c = SchemaCheck::new(&json!({"type": "object",
            "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}))
        .unwrap();
        let v = c.violations(&json!({"tags": ["a", 3]}), 10);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].pointer, "/tags/1");
    }
}
