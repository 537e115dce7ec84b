//! Drafts: the draft family a `$schema` names, and the keywords that came
//! after it, which its validators ignore (removed from the schema before it
//! is compiled).

use super::context::{unsupported, R};
use serde_json::Value;
/// The draft family a document's `$schema` names: (`legacy`: draft-07 and
/// before, where `$ref` overrides its siblings; `draft4`: draft-04 and before,
/// where an integer is written without a fraction or exponent (`1.0` is not
/// one) and `$id` is spelled `id`). None without `$schema`. `at` prefixes
/// the error pointer.
pub(super) fn dialect(schema: &Value, at: &str) -> R<Option<(bool, bool)>> {
    let Some(ms) = schema.get("$schema").and_then(Value::as_str) else {
        return Ok(None);
    };
    // A custom meta-schema may switch vocabularies on or off; which ones
    // is only known by fetching it.
    if !ms.contains("json-schema.org/") {
        return Err(unsupported(
            &format!("{at}/$schema"),
            format!("custom meta-schema {ms:?}: its vocabularies are unknown (use a json-schema.org draft)"),
        ));
    }
    let legacy = ["draft-03", "draft-04", "draft-06", "draft-07"]
        .iter()
        .any(|d| ms.contains(d));
    let draft4 = ms.contains("draft-03") || ms.contains("draft-04");
    Ok(Some((legacy, draft4)))
}

/// Keywords that came after the draft `schema`'s `$schema` names, which its
/// validators therefore ignore: `if`/`then`/`else` came in draft-07;
/// `const`, `contains` and `propertyNames` in draft-06; the rest in 2019-09
/// and 2020-12. Empty without `$schema` or for a later draft.
pub(super) fn later_keywords(schema: &Value) -> &'static [&'static str] {
    const AFTER_07: &[&str] = &[
        "dependentRequired",
        "dependentSchemas",
        "prefixItems",
        "unevaluatedProperties",
        "unevaluatedItems",
        "minContains",
        "maxContains",
        "$dynamicRef",
        "$recursiveRef",
    ];
    const AFTER_06: &[&str] = &[
        "dependentRequired",
        "dependentSchemas",
        "prefixItems",
        "unevaluatedProperties",
        "unevaluatedItems",
        "minContains",
        "maxContains",
        "$dynamicRef",
        "$recursiveRef",
        "if",
        "then",
        "else",
    ];
    const AFTER_04: &[&str] = &[
        "dependentRequired",
        "dependentSchemas",
        "prefixItems",
        "unevaluatedProperties",
        "unevaluatedItems",
        "minContains",
        "maxContains",
        "$dynamicRef",
        "$recursiveRef",
        "if",
        "then",
        "else",
        "const",
        "contains",
        "propertyNames",
    ];
    let Some(ms) = schema.get("$schema").and_then(Value::as_str) else {
        return &[];
    };
    if ms.contains("draft-03") || ms.contains("draft-04") {
        AFTER_04
    } else if ms.contains("draft-06") {
        AFTER_06
    } else if ms.contains("draft-07") {
        AFTER_07
    } else {
        &[]
    }
}

/// `schema` without the keywords `drop`, in every subschema (found through
/// the keywords that hold subschemas, so a property *named* like a keyword
/// stays).
pub(super) fn without_keywords(mut schema: Value, drop: &[&str]) -> Value {
    fn walk(v: &mut Value, drop: &[&str], depth: usize) {
        let Value::Object(m) = v else { return };
        if depth > 256 {
            return;
        }
        m.retain(|k, _| !drop.contains(&k.as_str()));
        for (k, x) in m.iter_mut() {
            match k.as_str() {
                "additionalProperties"
                | "additionalItems"
                | "contains"
                | "propertyNames"
                | "not"
                | "if"
                | "then"
                | "else"
                | "unevaluatedProperties"
                | "unevaluatedItems"
                | "items" => match x {
                    Value::Array(a) => a.iter_mut().for_each(|s| walk(s, drop, depth + 1)),
                    s => walk(s, drop, depth + 1),
                },
                "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                    if let Value::Array(a) = x {
                        a.iter_mut().for_each(|s| walk(s, drop, depth + 1));
                    }
                }
                "properties" | "patternProperties" | "definitions" | "$defs" | "dependencies"
                | "dependentSchemas" => {
                    if let Value::Object(o) = x {
                        o.values_mut().for_each(|s| walk(s, drop, depth + 1));
                    }
                }
                _ => {}
            }
        }
    }
    walk(&mut schema, drop, 0);
    schema
}
