//! Schema-guided repair: make a repaired value fit a JSON Schema where the
//! fix is unambiguous, and report every change by JSON pointer. The account
//! (what is changed, and how) is on [`repair_with_schema`].

use super::check::SchemaCheck;
use super::parser::{repair_marking_left_out, repair_text, LEFT_OUT};
use super::types::{Fix, RepairError, RepairKind, RepairOptions};
use crate::frontend::schema::same_value;
use crate::frontend::schema::Decimal;
use serde_json::{Map, Number, Value};
use std::fmt;

/// How far schema-guided repair goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaMode {
    /// Coerce scalars, parse embedded JSON, drop forbidden properties, fill
    /// defaults and missing values.
    #[default]
    Standard,
    /// Also fill missing required properties and map arrays to objects.
    Salvage,
}

/// Maximum number of `$ref`s followed in a row without descending into the
/// value (guards against `$ref` cycles).
pub(crate) const MAX_REF_HOPS: usize = 32;

/// What schema-guided repair changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
    /// A scalar was converted to the expected type.
    Coerced {
        /// JSON type name before.
        from: &'static str,
        /// JSON type name after.
        to: &'static str,
    },
    /// A string holding JSON text was replaced by the parsed value.
    ParsedEmbeddedJson,
    /// A scalar was wrapped in a one-element array.
    WrappedInArray,
    /// An array was mapped to an object's properties.
    ArrayToObject,
    /// A property that `additionalProperties: false` forbids was dropped.
    DroppedProperty,
    /// A missing property was inserted from the schema's `default`.
    InsertedDefault,
    /// A missing required property was filled (salvage mode).
    FilledRequired,
    /// A value left out (`{"a": , …}`) was filled from the schema.
    FilledLeftOut,
    /// An array item that could not be made to fit was dropped (salvage
    /// mode).
    DroppedItem,
    /// The object in a one-element array was taken where the root is an
    /// object (salvage mode).
    UnwrappedArray,
    /// Of several top-level documents, the first that fits the schema was
    /// kept (salvage mode).
    ChoseDocument,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeKind::Coerced { from, to } => write!(f, "coerced {from} to {to}"),
            ChangeKind::ParsedEmbeddedJson => f.write_str("parsed JSON text inside a string"),
            ChangeKind::WrappedInArray => f.write_str("wrapped a single value in an array"),
            ChangeKind::ArrayToObject => f.write_str("mapped an array to object properties"),
            ChangeKind::DroppedProperty => {
                f.write_str("dropped a property that additionalProperties forbids")
            }
            ChangeKind::InsertedDefault => f.write_str("inserted the schema default"),
            ChangeKind::FilledRequired => f.write_str("filled a missing required property"),
            ChangeKind::UnwrappedArray => f.write_str("took the object out of a one-element array"),
            ChangeKind::ChoseDocument => {
                f.write_str("kept the first of several documents that fits the schema")
            }
            ChangeKind::FilledLeftOut => f.write_str("filled a left-out value from the schema"),
            ChangeKind::DroppedItem => f.write_str("dropped an array item that does not fit"),
        }
    }
}

/// One schema-guided change, at a JSON pointer (RFC 6901) of the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where, e.g. `/items/0/port` (`""` is the whole value).
    pub pointer: String,
    /// What changed.
    pub kind: ChangeKind,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = if self.pointer.is_empty() {
            "(root)"
        } else {
            &self.pointer
        };
        write!(f, "{p}: {}", self.kind)
    }
}

/// The result of [`repair_with_schema`].
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaRepaired {
    /// The repaired value.
    pub value: Value,
    /// Syntax repairs (as in [`repair`](super::repair)).
    pub fixes: Vec<Fix>,
    /// Schema-guided changes.
    pub changes: Vec<Change>,
    /// Places where the value still has a type the schema does not allow
    /// and no unambiguous coercion exists (a boolean where a string is
    /// expected, text where a number is). The value does not validate;
    /// the fallback retries, `formwork repair --schema` warns.
    pub mismatches: Vec<Mismatch>,
}

/// A value whose type the schema does not allow, left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// JSON Pointer to the value.
    pub pointer: String,
    /// Its JSON type.
    pub found: &'static str,
    /// The types the schema allows there.
    pub expected: Vec<String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = if self.pointer.is_empty() {
            "(root)"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{p}: a {} where the schema wants {}",
            self.found,
            self.expected.join(" or ")
        )
    }
}

/// Repair `text` into a JSON value, then fit it to `schema`: make it fit
/// where the fix is unambiguous, and report every change by JSON pointer.
///
/// ```
/// use formwork::repair::{repair_with_schema, ChangeKind, SchemaMode};
/// use serde_json::json;
///
/// let schema = json!({
///     "type": "object",
///     "properties": {"port": {"type": "integer"}, "tls": {"type": "boolean"}},
///     "additionalProperties": false
/// });
/// let out = repair_with_schema("{port: '8443', tls: 'true', note: 'x'}", &schema, SchemaMode::Standard)?;
/// assert_eq!(out.value, json!({"port": 8443, "tls": true}));
/// assert_eq!(out.changes[0].pointer, "/port");
/// assert!(out.changes.iter().any(|c| c.pointer == "/note" && c.kind == ChangeKind::DroppedProperty));
/// # Ok::<(), formwork::repair::RepairError>(())
/// ```
///
/// # Design
///
/// Syntax repair ([`repair`](super::repair)) runs first and knows nothing about
/// the schema; this pass then walks the value and the schema together. It is
/// deliberately *not* a validator (use the `jsonschema` crate for that, as
/// [`fallback`](crate::fallback) does): it only looks at the keywords that say
/// what shape a value should have — `type`, `properties`,
/// `additionalProperties`, `required`, `items`/`prefixItems`, `default`,
/// `const`, `enum`, `anyOf`/`oneOf`/`allOf` and local `$ref`s — and leaves
/// everything else alone. A value that already has the right shape is never
/// changed, so valid output stays byte-for-byte the value the model wrote.
///
/// What counts as unambiguous:
///
/// * **Scalars.** A string that is exactly a number becomes that number where
///   a `number`/`integer` is expected (`"8443"` → `8443`, but `"8443 ms"` stays
///   a string); `"true"`/`"false"`/`"yes"`/`"no"`/`"1"`/`"0"` and the numbers
///   `1`/`0` become booleans; a number becomes its JSON text where a string
///   is expected; `3.0` becomes `3` where an integer is expected. A boolean
///   is *not* turned into text (`true` where a name is expected is a wrong
///   answer, not a spelling), as the Python `json_repair` decides.
/// * **Mismatches.** A value with a type the schema does not allow and no
///   such reading is left as it is and reported in
///   [`SchemaRepaired::mismatches`] (where `json_repair` gives up).
/// * **Embedded JSON.** A string that holds a JSON array or object where one is
///   expected is parsed (`"[\"a\", \"b\"]"` → `["a", "b"]`); in
///   [`SchemaMode::Salvage`] it may also be repaired (`"[a, b]"`).
/// * **Single values in arrays.** A scalar where an array is expected becomes a
///   one-element array.
/// * **Forbidden properties.** Members that `additionalProperties: false`
///   forbids are dropped (unless `patternProperties` is present: the keys may
///   match a pattern, and this pass has no regex engine).
/// * **Left-out values.** A value the text left out (`{"a": , "b": 1}`)
///   becomes the schema's `default`, else its `const`, its first `enum`
///   value, or the empty value of its type (`""`, `0`, `false`, `[]`, `{}`).
///   A `null` or `""` the model did write is data, not a gap: where the
///   schema does not allow it, it is a mismatch (as `json_repair` decides).
///   A missing property that has a `default` gets it.
/// * **Salvage mode** goes further: a missing *required* property is filled
///   from `default`, `const`, the first `enum` value, or `[]`/`{}` where the
///   schema allows an empty array or object (never a made-up `0`, `""` or
///   `false`, as `json_repair` decides); a one-element array holding an object where the root is an object
///   is that object; an array where an object is expected is mapped to the
///   properties in order when the lengths agree (or, for a schema without
///   properties, a list of strings becomes keys with `null` values); an
///   array item that cannot be made to fit its schema is dropped (a scalar
///   where a list is expected, `null` included, is wrapped first); of
///   several top-level documents (`{"b": 2} {"a": 1}`), the first that fits
///   the schema after these repairs is kept (checked with
///   [`SchemaCheck`]), as `json_repair` does.
///
/// The pass is linear in the size of the value: each node is visited once per
/// schema branch that applies to it, `$ref` chains are followed at most
/// 32 times per node, and `anyOf`/`oneOf` try each branch once.
pub fn repair_with_schema(
    text: &str,
    schema: &Value,
    mode: SchemaMode,
) -> Result<SchemaRepaired, RepairError> {
    let r = repair_marking_left_out(text)?;
    let several = r
        .fixes
        .iter()
        .any(|f| f.kind == RepairKind::WrappedDocuments);
    let mut w = Walker::new(schema, mode);
    let mut value = w.conform(r.value.clone(), schema, &mut String::new());
    unmark(&mut value);
    if mode == SchemaMode::Salvage && several {
        if let (Value::Array(docs), Ok(check)) = (&r.value, SchemaCheck::new(schema)) {
            if !check.is_valid(&value) {
                // Several documents where one is wanted: the first that fits.
                for d in docs {
                    let mut wd = Walker::new(schema, mode);
                    let mut v = wd.conform(d.clone(), schema, &mut String::new());
                    unmark(&mut v);
                    if check.is_valid(&v) {
                        wd.change("", ChangeKind::ChoseDocument);
                        return Ok(SchemaRepaired {
                            value: v,
                            fixes: r.fixes,
                            changes: wd.changes,
                            mismatches: wd.mismatches,
                        });
                    }
                }
            }
        }
    }
    Ok(SchemaRepaired {
        value,
        fixes: r.fixes,
        changes: w.changes,
        mismatches: w.mismatches,
    })
}

/// Fit an already parsed `value` to `schema`; returns the value and the
/// changes made.
///
/// ```
/// use formwork::repair::{apply_schema, SchemaMode};
/// use serde_json::json;
///
/// let schema = json!({"type": "array", "items": {"type": "number"}});
/// let (v, changes) = apply_schema(json!(["1.5", 2]), &schema, SchemaMode::Standard);
/// assert_eq!(v, json!([1.5, 2]));
/// assert_eq!(changes[0].pointer, "/0");
/// ```
pub fn apply_schema(value: Value, schema: &Value, mode: SchemaMode) -> (Value, Vec<Change>) {
    let mut w = Walker::new(schema, mode);
    let v = w.conform(value, schema, &mut String::new());
    (v, w.changes)
}

struct Walker<'s> {
    root: &'s Value,
    mode: SchemaMode,
    changes: Vec<Change>,
    mismatches: Vec<Mismatch>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `v` has JSON Schema type `t`.
fn has_type(v: &Value, t: &str) -> bool {
    match (t, v) {
        ("null", Value::Null)
        | ("boolean", Value::Bool(_))
        | ("string", Value::String(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_))
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => {
            n.is_i64()
                || n.is_u64()
                || Decimal::parse(&n.to_string()).is_some_and(|d| d.is_integer())
        }
        _ => false,
    }
}

/// The types a schema allows, from `type`; `None` when it does not say.
fn schema_types(s: &Map<String, Value>) -> Option<Vec<&str>> {
    match s.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// The types a schema implies, from `type`, `const`/`enum` or its keywords.
fn implied_types(s: &Map<String, Value>) -> Vec<&str> {
    if let Some(t) = schema_types(s) {
        return t;
    }
    if let Some(c) = s.get("const") {
        return vec![type_name(c)];
    }
    if s.contains_key("properties") || s.contains_key("additionalProperties") {
        return vec!["object"];
    }
    if s.contains_key("items") || s.contains_key("prefixItems") {
        return vec!["array"];
    }
    Vec::new()
}

fn escape_token(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// The empty value of a JSON type.
fn empty_of(t: &str) -> Value {
    match t {
        "string" => Value::String(String::new()),
        "integer" | "number" => Value::Number(0.into()),
        "boolean" => Value::Bool(false),
        "array" => Value::Array(Vec::new()),
        "object" => Value::Object(Map::new()),
        _ => Value::Null,
    }
}

/// A number parsed from the whole of `s` (JSON number syntax, surrounding
/// spaces allowed), as JSON would read it.
/// Left-out values the schema did not fill (no schema there) become `""`,
/// what [`repair`] writes for them.
fn unmark(v: &mut Value) {
    match v {
        Value::String(s) if s == LEFT_OUT => s.clear(),
        Value::Array(a) => a.iter_mut().for_each(unmark),
        Value::Object(m) => m.values_mut().for_each(unmark),
        _ => {}
    }
}

/// `[]` or `{}` for a missing required property whose schema allows it
/// (no `minItems`, `minProperties` or `required` that the empty value
/// breaks). No scalar is made up: a `0` or `""` would be invented data.
fn empty_container_for(p: &Map<String, Value>) -> Option<Value> {
    let positive = |k: &str| p.get(k).and_then(Value::as_u64).is_some_and(|n| n > 0);
    let needs_keys = matches!(p.get("required"), Some(Value::Array(r)) if !r.is_empty());
    implied_types(p).into_iter().find_map(|t| match t {
        "array" if !positive("minItems") => Some(Value::Array(Vec::new())),
        "object" if !positive("minProperties") && !needs_keys => Some(Value::Object(Map::new())),
        _ => None,
    })
}

fn number_from_str(s: &str) -> Option<Number> {
    let t = s.trim();
    if t.is_empty() || t.starts_with('+') {
        return None;
    }
    match serde_json::from_str::<Value>(t) {
        Ok(Value::Number(n)) => Some(n),
        _ => None,
    }
}

fn bool_from_str(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

impl<'s> Walker<'s> {
    fn new(root: &'s Value, mode: SchemaMode) -> Self {
        Walker {
            root,
            mode,
            changes: Vec::new(),
            mismatches: Vec::new(),
        }
    }

    /// Undoes the changes and mismatches of a branch that was only tried.
    fn rewind(&mut self, to: (usize, usize)) {
        self.changes.truncate(to.0);
        self.mismatches.truncate(to.1);
    }

    fn mark(&self) -> (usize, usize) {
        (self.changes.len(), self.mismatches.len())
    }

    fn change(&mut self, path: &str, kind: ChangeKind) {
        self.changes.push(Change {
            pointer: path.to_string(),
            kind,
        });
    }

    /// Resolve a local `$ref` (`#`, `#/a/b`, `#/$defs/x`).
    fn resolve(&self, r: &str) -> Option<&'s Value> {
        let frag = r.strip_prefix('#')?;
        if frag.is_empty() {
            return Some(self.root);
        }
        // The pointer syntax of RFC 6901, percent-decoding of `%25` and `%22`
        // aside (rare in practice).
        self.root.pointer(frag)
    }

    /// Follow `$ref`s to a schema object (`None`: `true`, `{}` or unresolvable).
    fn deref(&self, mut s: &'s Value) -> Option<&'s Map<String, Value>> {
        for _ in 0..MAX_REF_HOPS {
            let m = s.as_object()?;
            match m.get("$ref").and_then(Value::as_str) {
                Some(r) if m.len() == 1 || !m.contains_key("type") => match self.resolve(r) {
                    Some(t) => s = t,
                    None => return Some(m),
                },
                _ => return Some(m),
            }
        }
        None
    }

    fn conform(&mut self, v: Value, schema: &'s Value, path: &mut String) -> Value {
        let Some(s) = self.deref(schema) else {
            return v;
        };
        if v.as_str() == Some(LEFT_OUT) {
            return self.fill_left_out(s, path);
        }
        let mut v = v;
        // allOf: every branch applies.
        if let Some(Value::Array(all)) = s.get("allOf") {
            for b in all {
                v = self.conform(v, b, path);
            }
        }
        // anyOf / oneOf: a branch the value already fits, else the first
        // branch that it can be made to fit.
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = s.get(key) {
                v = self.pick_branch(v, branches, path);
            }
        }
        let types = schema_types(s);
        if let Some(types) = &types {
            if !types.is_empty() && !types.iter().any(|t| has_type(&v, t)) {
                v = self.coerce(v, s, types, path);
            } else if types.contains(&"integer")
                && !types.contains(&"number")
                && v.as_f64().is_some_and(|f| f.fract() == 0.0)
                && v.as_number().is_some_and(|n| n.is_f64())
            {
                // 3.0 where an integer is expected.
                if let Some(f) = v.as_f64() {
                    if f.abs() < 9.0e15 {
                        v = Value::Number((f as i64).into());
                        self.change(
                            path,
                            ChangeKind::Coerced {
                                from: "number",
                                to: "integer",
                            },
                        );
                    }
                }
            }
        } else if v.is_string() {
            // No `type`, but an object or array shape: embedded JSON.
            let implied = implied_types(s);
            if implied.iter().any(|t| *t == "array" || *t == "object") {
                // Without `type`, a string is allowed: no mismatch.
                let m = self.mismatches.len();
                v = self.coerce(v, s, &implied, path);
                self.mismatches.truncate(m);
            }
        }
        match v {
            Value::Object(m) => Value::Object(self.conform_object(m, s, path)),
            Value::Array(a) => Value::Array(self.conform_array(a, s, path)),
            other => other,
        }
    }

    /// The value for one the text left out: `default`, `const`, the first
    /// `enum` value, else the empty value of the first type (`""` when a
    /// string is allowed or there is no `type`).
    fn fill_left_out(&mut self, s: &'s Map<String, Value>, path: &str) -> Value {
        let v = s
            .get("default")
            .or_else(|| s.get("const"))
            .cloned()
            .or_else(|| match s.get("enum") {
                Some(Value::Array(e)) => e.first().cloned(),
                _ => None,
            })
            .unwrap_or_else(|| match schema_types(s) {
                Some(types) if !types.contains(&"string") => types
                    .first()
                    .map_or(Value::String(String::new()), |t| empty_of(t)),
                _ => Value::String(String::new()),
            });
        self.change(path, ChangeKind::FilledLeftOut);
        v
    }

    /// Whether `v` fits the branch without changes (shallow: its type).
    fn fits_shallow(&self, v: &Value, b: &'s Value) -> bool {
        let Some(s) = self.deref(b) else { return true };
        // Numbers by value (`1` is `1.0`), as JSON Schema compares them.
        if let Some(c) = s.get("const") {
            return same_value(c, v);
        }
        if let Some(Value::Array(e)) = s.get("enum") {
            return e.iter().any(|x| same_value(x, v));
        }
        let types = implied_types(s);
        types.is_empty() || types.iter().any(|t| has_type(v, t))
    }

    fn pick_branch(&mut self, v: Value, branches: &'s [Value], path: &mut String) -> Value {
        // First choice: a branch whose type the value has, that needs no change.
        let mut first_fit = None;
        for (i, b) in branches.iter().enumerate() {
            if !self.fits_shallow(&v, b) {
                continue;
            }
            let saved = self.mark();
            let out = self.conform(v.clone(), b, path);
            if self.mark() == saved {
                return out;
            }
            self.rewind(saved);
            first_fit.get_or_insert(i);
        }
        if let Some(i) = first_fit {
            return self.conform(v, &branches[i], path);
        }
        // Otherwise: the first branch the value can be coerced to.
        for b in branches {
            let saved = self.mark();
            let out = self.conform(v.clone(), b, path);
            if self.fits_shallow(&out, b) {
                return out;
            }
            self.rewind(saved);
        }
        v
    }

    fn coerce(&mut self, v: Value, s: &'s Map<String, Value>, types: &[&str], path: &str) -> Value {
        let from = type_name(&v);
        let salvage = self.mode == SchemaMode::Salvage;
        let mut out: Option<(Value, ChangeKind)> = None;
        for &t in types {
            let cand = match (&v, t) {
                (Value::String(x), "integer") => number_from_str(x)
                    .filter(|n| !n.is_f64())
                    .map(Value::Number)
                    .or_else(|| {
                        let f = number_from_str(x)?.as_f64()?;
                        (f.fract() == 0.0 && f.abs() < 9.0e15)
                            .then(|| Value::Number((f as i64).into()))
                    }),
                (Value::String(x), "number") => number_from_str(x).map(Value::Number),
                (Value::String(x), "boolean") => bool_from_str(x).map(Value::Bool),
                (Value::Number(n), "boolean") => match n.as_f64() {
                    Some(1.0) => Some(Value::Bool(true)),
                    Some(0.0) => Some(Value::Bool(false)),
                    _ => None,
                },
                (Value::Number(n), "string") => Some(Value::String(n.to_string())),
                (Value::String(x), "array" | "object") => {
                    let want_array = t == "array";
                    let parsed = serde_json::from_str::<Value>(x.trim())
                        .ok()
                        .or_else(|| {
                            if salvage {
                                repair_text(x, &RepairOptions::default(), false)
                                    .ok()
                                    .map(|r| r.value)
                            } else {
                                None
                            }
                        })
                        .filter(|p| p.is_array() == want_array && p.is_object() != want_array);
                    if let Some(p) = parsed {
                        out = Some((p, ChangeKind::ParsedEmbeddedJson));
                        break;
                    }
                    None
                }
                (Value::Array(items), "object") if salvage => {
                    if path.is_empty() && items.len() == 1 && items[0].is_object() {
                        // `[{...}]` where the root is an object.
                        out = Some((items[0].clone(), ChangeKind::UnwrappedArray));
                        break;
                    }
                    if let Some(o) = self.array_to_object(items, s) {
                        out = Some((o, ChangeKind::ArrayToObject));
                        break;
                    }
                    None
                }
                _ => None,
            };
            if let Some(c) = cand {
                let to = if t == "integer" {
                    "integer"
                } else {
                    type_name(&c)
                };
                out = Some((c, ChangeKind::Coerced { from, to }));
                break;
            }
        }
        if out.is_none() && types.contains(&"array") && !v.is_array() {
            // A single value where a list is expected (in salvage mode the
            // list then drops it if it cannot be made to fit).
            let item_ok = salvage
                || match s.get("items") {
                    Some(items) => self.fits_shallow(&v, items),
                    None => true,
                };
            if item_ok {
                out = Some((Value::Array(vec![v.clone()]), ChangeKind::WrappedInArray));
            }
        }
        match out {
            Some((nv, kind)) => {
                self.change(path, kind);
                nv
            }
            None => {
                self.mismatches.push(Mismatch {
                    pointer: path.to_string(),
                    found: from,
                    expected: types.iter().map(|t| t.to_string()).collect(),
                });
                v
            }
        }
    }

    /// Salvage: `["hello", ["a"]]` for properties `name`, `tags`.
    fn array_to_object(&self, items: &[Value], s: &'s Map<String, Value>) -> Option<Value> {
        match s.get("properties").and_then(Value::as_object) {
            Some(props) if !props.is_empty() => {
                if props.len() != items.len() {
                    return None;
                }
                let mut m = Map::new();
                for ((k, ps), it) in props.iter().zip(items) {
                    if !self.fits_shallow(it, ps) {
                        return None;
                    }
                    m.insert(k.clone(), it.clone());
                }
                Some(Value::Object(m))
            }
            _ => {
                // A set of names `{"a", "b"}` (read as an array): keys.
                let mut m = Map::new();
                for it in items {
                    m.insert(it.as_str()?.to_string(), Value::Null);
                }
                Some(Value::Object(m))
            }
        }
    }

    fn conform_object(
        &mut self,
        m: Map<String, Value>,
        s: &'s Map<String, Value>,
        path: &mut String,
    ) -> Map<String, Value> {
        let props = s.get("properties").and_then(Value::as_object);
        let additional = s.get("additionalProperties");
        let has_patterns = s.contains_key("patternProperties");
        let mut out = Map::new();
        for (k, v) in m {
            let len = path.len();
            path.push('/');
            path.push_str(&escape_token(&k));
            let nv = if let Some(ps) = props.and_then(|p| p.get(&k)) {
                Some(self.conform(v, ps, path))
            } else if has_patterns {
                Some(v)
            } else {
                match additional {
                    Some(Value::Bool(false)) => {
                        self.change(path, ChangeKind::DroppedProperty);
                        None
                    }
                    Some(a @ Value::Object(_)) => Some(self.conform(v, a, path)),
                    _ => Some(v),
                }
            };
            path.truncate(len);
            if let Some(nv) = nv {
                out.insert(k, nv);
            }
        }
        // Missing properties.
        let required: Vec<&str> = match s.get("required") {
            Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if let Some(props) = props {
            for (k, ps) in props {
                if out.contains_key(k) {
                    continue;
                }
                let Some(p) = self.deref(ps) else { continue };
                let len = path.len();
                path.push('/');
                path.push_str(&escape_token(k));
                if let Some(d) = p.get("default") {
                    out.insert(k.clone(), d.clone());
                    self.change(path, ChangeKind::InsertedDefault);
                } else if self.mode == SchemaMode::Salvage && required.contains(&k.as_str()) {
                    let fill = p
                        .get("const")
                        .cloned()
                        .or_else(|| match p.get("enum") {
                            Some(Value::Array(e)) => e.first().cloned(),
                            _ => None,
                        })
                        .or_else(|| empty_container_for(p));
                    if let Some(f) = fill {
                        out.insert(k.clone(), f);
                        self.change(path, ChangeKind::FilledRequired);
                    }
                }
                path.truncate(len);
            }
        }
        out
    }

    fn conform_array(
        &mut self,
        a: Vec<Value>,
        s: &'s Map<String, Value>,
        path: &mut String,
    ) -> Vec<Value> {
        // Draft 2020-12 `prefixItems` + `items`, or draft-7 array `items` +
        // `additionalItems`.
        let (prefix, rest): (&[Value], Option<&Value>) =
            match (s.get("prefixItems"), s.get("items")) {
                (Some(Value::Array(p)), items) => (p, items),
                (None, Some(Value::Array(p))) => (p, s.get("additionalItems")),
                (None, items) => (&[], items),
                (Some(_), items) => (&[], items),
            };
        let mut out = Vec::with_capacity(a.len());
        for (i, v) in a.into_iter().enumerate() {
            let Some(sch) = prefix.get(i).or(rest) else {
                out.push(v);
                continue;
            };
            let len = path.len();
            path.push('/');
            path.push_str(&i.to_string());
            let m = self.mismatches.len();
            let nv = self.conform(v, sch, path);
            if self.mode == SchemaMode::Salvage && i >= prefix.len() && self.mismatches.len() > m {
                // Salvage: an item that cannot be made to fit is dropped.
                self.mismatches.truncate(m);
                self.change(path, ChangeKind::DroppedItem);
            } else {
                out.push(nv);
            }
            path.truncate(len);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fit(v: Value, s: Value) -> (Value, Vec<String>) {
        let (v, c) = apply_schema(v, &s, SchemaMode::Standard);
        (v, c.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn valid_values_are_untouched() {
        let s = json!({"type": "object", "properties": {"a": {"type": "integer"}},
                       "required": ["a"], "additionalProperties": false});
        let (v, c) = fit(json!({"a": 1}), s);
        assert_eq!(v, json!({"a": 1}));
        assert!(c.is_empty());
    }

    #[test]
    fn ambiguous_strings_stay() {
        let s = json!({"type": "integer"});
        assert_eq!(fit(json!("8443 ms"), s.clone()).0, json!("8443 ms"));
        assert_eq!(fit(json!("1.5"), s.clone()).0, json!("1.5"));
        assert_eq!(fit(json!("8443"), s).0, json!(8443));
        let s = json!({"type": "boolean"});
        assert_eq!(fit(json!("maybe"), s.clone()).0, json!("maybe"));
        assert_eq!(fit(json!(2), s).0, json!(2));
    }

    #[test]
    fn refs_and_unions() {
        let s = json!({"$defs": {"n": {"type": "integer"}},
                       "type": "array", "items": {"anyOf": [{"$ref": "#/$defs/n"}, {"type": "null"}]}});
        let (v, c) = fit(json!(["1", null, 2]), s);
        assert_eq!(v, json!([1, null, 2]));
        assert_eq!(c, vec!["/0: coerced string to integer"]);
    }

    #[test]
    fn ref_cycles_terminate() {
        let s = json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                       "$ref": "#/$defs/a"});
        assert_eq!(fit(json!({"x": 1}), s).0, json!({"x": 1}));
    }

    #[test]
    fn salvage_fills_required() {
        let s = json!({"type": "object", "properties": {"a": {"enum": ["x", "y"]}, "b": {"type": "array"}},
                       "required": ["a", "b"]});
        let (v, c) = apply_schema(json!({}), &s, SchemaMode::Salvage);
        assert_eq!(v, json!({"a": "x", "b": []}));
        assert_eq!(c.len(), 2);
        // No scalar is invented, nor an empty array the schema forbids.
        let s2 = json!({"type": "object", "required": ["n", "l"], "properties": {
            "n": {"type": "integer"}, "l": {"type": "array", "minItems": 1}}});
        let (v, c) = apply_schema(json!({}), &s2, SchemaMode::Salvage);
        assert_eq!(v, json!({}));
        assert!(c.is_empty());
        let (v, _) = apply_schema(json!({}), &s, SchemaMode::Standard);
        assert_eq!(v, json!({}));
    }

    #[test]
    fn left_out_values_are_filled_written_nulls_are_not() {
        let s = json!({"type": "object", "properties": {
            "n": {"type": "integer"}, "s": {"type": "string", "default": "x"},
            "e": {"enum": ["low", "high"]}, "l": {"type": "array"}}});
        let r = repair_with_schema(
            "{\"n\": , \"s\": , \"e\": , \"l\": , \"z\": }",
            &s,
            SchemaMode::Standard,
        )
        .unwrap();
        assert_eq!(
            r.value,
            json!({"n": 0, "s": "x", "e": "low", "l": [], "z": ""})
        );
        let r = repair_with_schema("{\"n\": null, \"s\": \"\"", &s, SchemaMode::Standard).unwrap();
        assert_eq!(r.value, json!({"n": null, "s": ""}));
        assert_eq!(r.mismatches.len(), 1, "{:?}", r.mismatches);
    }

    #[test]
    fn salvage_drops_items_that_do_not_fit() {
        let s = json!({"type": "array", "items": {"type": "integer"}});
        let (v, c) = apply_schema(json!([1, "2", "a", null, 3]), &s, SchemaMode::Salvage);
        assert_eq!(v, json!([1, 2, 3]));
        assert_eq!(
            c.iter()
                .filter(|c| c.kind == ChangeKind::DroppedItem)
                .count(),
            2
        );
        let (v, _) = apply_schema(json!([1, "a"]), &s, SchemaMode::Standard);
        assert_eq!(v, json!([1, "a"]));
    }

    #[test]
    fn salvage_unwraps_and_chooses_a_document() {
        let s = json!({"type": "object", "properties": {"a": {"type": "integer"}},
                       "required": ["a"]});
        let (v, c) = apply_schema(json!([{"a": 1}]), &s, SchemaMode::Salvage);
        assert_eq!(v, json!({"a": 1}));
        assert_eq!(c[0].kind, ChangeKind::UnwrappedArray);
        let (v, _) = apply_schema(json!([{"a": 1}]), &s, SchemaMode::Standard);
        assert_eq!(v, json!([{"a": 1}]));
        let r = repair_with_schema("{\"b\": 2}\n{\"a\": \"3\"}", &s, SchemaMode::Salvage).unwrap();
        assert_eq!(r.value, json!({"a": 3}));
        assert!(r
            .changes
            .iter()
            .any(|c| c.kind == ChangeKind::ChoseDocument));
        // Nothing fits: the documents stay as they are, and do not validate.
        let r = repair_with_schema("{\"b\": 2}\n{\"c\": 3}", &s, SchemaMode::Salvage).unwrap();
        assert!(r.value.is_array());
    }

    /// Integers are recognised by exact value, beyond `f64` too.
    #[test]
    fn integer_type_is_exact() {
        let n = |t: &str| serde_json::from_str::<Value>(t).unwrap();
        for t in ["100000000000000000000", "1e400", "2.0", "-0", "1.5e1"] {
            assert!(has_type(&n(t), "integer"), "{t}");
        }
        for t in ["1.0000000000000000001", "1e-400", "0.5"] {
            assert!(!has_type(&n(t), "integer"), "{t}");
        }
    }

    /// A `oneOf` branch whose `const` or `enum` holds the value by value
    /// (`1.0` is `1`) fits it as written: the value is not changed.
    #[test]
    fn const_and_enum_branches_compare_numbers_by_value() {
        let n = |t: &str| serde_json::from_str::<Value>(t).unwrap();
        let s = json!({"oneOf": [{"const": 1}, {"type": "string"}]});
        let (v, c) = apply_schema(n("1.0"), &s, SchemaMode::Standard);
        assert_eq!(v.to_string(), "1.0");
        assert!(c.is_empty(), "{c:?}");
        let s = n(r#"{"anyOf": [{"enum": [2, 100000000000000000000]}, {"type": "string"}]}"#);
        let (v, c) = apply_schema(n("1e20"), &s, SchemaMode::Standard);
        assert_eq!(v, n("1e20"));
        assert!(c.is_empty(), "{c:?}");
    }
}
