//! Lenient compilation: a keyword that cannot be enforced is dropped and
//! reported as a [`SchemaWarning`], and the schema compiled again.

use super::compiler::compile_root;
use super::context::R;
use super::options::SchemaOptions;
use crate::error::GrammarError;
use crate::grammar::Grammar;
use serde_json::Value;
/// A keyword that [`json_schema_lenient`](crate::json_schema_lenient) left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaWarning {
    /// JSON pointer of the keyword in the schema.
    pub pointer: String,
    /// Why it could not be enforced.
    pub message: String,
}

impl std::fmt::Display for SchemaWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ignored {}: {}", self.pointer, self.message)
    }
}

/// Keywords lenient compilation may drop (those of a schema object, so a
/// pointer ending in one names a keyword, not a property called that).
pub(super) const DROPPABLE_KEYWORDS: &[&str] = &[
    "$schema",
    "$ref",
    "$dynamicRef",
    "$recursiveRef",
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "format",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxContains",
    "minContains",
    "contains",
    "items",
    "prefixItems",
    "additionalItems",
    "unevaluatedItems",
    "maxProperties",
    "minProperties",
    "required",
    "dependentRequired",
    "dependencies",
    "dependentSchemas",
    "properties",
    "patternProperties",
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
];

/// Most keywords one lenient compilation drops.
pub(super) const MAX_LENIENT_DROPS: usize = 64;

/// The lenient compilation behind [`super::compile_lenient`].
pub(super) fn compile_lenient(
    schema: &Value,
    options: &SchemaOptions,
) -> R<(Grammar, Vec<SchemaWarning>)> {
    let mut schema = schema.clone();
    let mut warnings = Vec::new();
    loop {
        match compile_root(&schema, options) {
            Ok(g) => return Ok((g, warnings)),
            Err(GrammarError::UnsupportedSchema { pointer, message })
                if warnings.len() < MAX_LENIENT_DROPS && drop_keyword(&mut schema, &pointer) =>
            {
                warnings.push(SchemaWarning { pointer, message });
            }
            Err(e) => return Err(e),
        }
    }
}

/// Removes the keyword at JSON pointer `ptr` from its schema object; false
/// if `ptr` names no droppable keyword of `schema`.
pub(super) fn drop_keyword(schema: &mut Value, ptr: &str) -> bool {
    let Some(rest) = ptr.strip_prefix('/') else {
        return false;
    };
    let mut tokens: Vec<String> = rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some(key) = tokens.pop() else {
        return false;
    };
    if !DROPPABLE_KEYWORDS.contains(&key.as_str()) {
        return false;
    }
    let mut node = schema;
    for t in &tokens {
        node = match node {
            Value::Object(m) => match m.get_mut(t) {
                Some(v) => v,
                None => return false,
            },
            Value::Array(a) => match t.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match node {
        Value::Object(m) => m.remove(&key).is_some(),
        _ => false,
    }
}
