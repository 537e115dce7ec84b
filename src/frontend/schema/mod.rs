//! The JSON Schema frontend: a schema compiled into the grammar IR.
//!
//! The language of the grammar is meant to be exactly the JSON texts that
//! validate against the schema, in every JSON spelling (any whitespace between
//! tokens, any string escape, `1.0` for an integer). Where a keyword cannot be
//! enforced exactly the compiler returns
//! [`GrammarError::UnsupportedSchema`] naming the keyword and its JSON pointer,
//! never a grammar that accepts an invalid instance.
//!
//! # What is supported
//!
//! The README's *JSON Schema* section has the full list and the limits; in
//! short, and how each is done:
//!
//! * `type`, `enum`, `const`: values spelled in every JSON spelling (numbers
//!   in the spellings [`value_regex`] covers; objects with up to
//!   [`MAX_COUNTED_ONCE`] keys in any order, as a counted any-order list).
//!   Next to other keywords, each value is checked with `Compiler::holds`,
//!   the compiler's own reading of the keywords applied to one value.
//! * Strings: `minLength` / `maxLength` in code points (counted lexemes),
//!   `pattern` (ECMA-262 translated over every escape spelling; leading
//!   lookaheads become intersections and exclusions), asserted `format`s.
//! * Numbers: bounds, `type: integer` and `multipleOf` (several: their least
//!   common multiple) exact on the value through digit automata. Every
//!   numeric keyword is read from the number's text (serde_json's
//!   `arbitrary_precision`) as an exact decimal, never through `f64`.
//! * Objects: `properties`, `required`, `additionalProperties`,
//!   `patternProperties` (keys split into classes by the patterns they
//!   match), `propertyNames`, `minProperties` / `maxProperties`,
//!   `dependent*`; in schema order, or in any order with the parser tracking
//!   required (and counted) members in its item tags.
//! * Arrays: `items`, `prefixItems`, `additionalItems`, `minItems` /
//!   `maxItems`, `contains` (items classed by the subset of `contains` they
//!   match, counts in rules), `uniqueItems`: over `enum`, boolean and
//!   `null` items in the grammar (each value at most once), over any other
//!   items as a distinct list ([`Expr::unique_list`]) whose parser compares
//!   each item, as a JSON value, with the earlier ones where it completes.
//! * `allOf` (merged), `anyOf` and `oneOf` (distributed over the
//!   conjunction; a branch whose plain keywords contradict is dropped at
//!   once), `not`, `if`/`then`/`else` and `dependent*` (rewritten as
//!   disjunctions), `oneOf` branches that may overlap (each with the
//!   negation of the others; branches whose types or values differ, or
//!   that pin a required property to values the others exclude, are
//!   disjoint and need none). A negation is built as a schema; a negated
//!   `additionalProperties`, `patternProperties` or `propertyNames` says
//!   some member breaks it (`$fw_exists`), and the object then has a
//!   *witness* member: under any order one more required member per block
//!   of a partition of the witnesses, under schema order a found-set
//!   dimension in the member rules.
//! * `unevaluatedProperties` / `unevaluatedItems` (the annotations of the
//!   schema's own subtree; `anyOf` split by the exact set of passing
//!   branches).
//! * `$ref` (local pointers, `$anchor`s, nested `$id`s, recursion, remote
//!   documents supplied in [`SchemaOptions::remote`], never fetched) and
//!   `$dynamicRef` where its target does not depend on the evaluation path.
//! * Drafts: a root `$schema` naming draft-03/04/06/07 makes `$ref` override
//!   its siblings and turns later keywords into annotations.
//!
//! Annotations (`title`, `description`, `default`, …) and unknown keywords
//! are ignored: they validate nothing.

mod number;
mod refs;
mod string;
mod values;

pub(crate) use number::Decimal;
pub(crate) use values::same_value;

use crate::error::GrammarError;
use crate::frontend::json::{add_json_rules, NUMBER, STRING};
use crate::grammar::{
    json_strings_key, spell_json_string as spell_string, Expr, Grammar, MAX_COUNTED_ONCE,
    MAX_MEMBER_COUNT,
};
use crate::hash::FxBuild;
use number::{
    number_regex, value_regex, Keyword, NumberConstraint, MAX_BOUND_DIGITS, MAX_BOUND_MAGNITUDE,
};
use refs::{push_escaped, resolve as resolve_uri, split_fragment, Resources, DEFAULT_BASE};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;
use string::{drop_trailing_lookahead, split_leading_lookaheads};
use typed_arena::Arena;
use values::ValueSet;

/// Written exponents around 0 within which every spelling of a number is
/// decided exactly (see the `number` submodule).
pub const EXP_WINDOW: i32 = number::EXP_WINDOW as i32;
/// Fraction digits and negative exponents handled exactly for `integer`.
pub const INT_EXP_LIMIT: u32 = 20;
/// Most numbers one `enum` may list. Each number is a lexeme of its own,
/// the regex of all its spellings (about 40 exponents), and a lexer state
/// holding thousands of them costs about 100 KB of tables each; strings, by
/// contrast, share one trie however many there are.
pub const MAX_ENUM_NUMBERS: usize = 2_000;
/// Largest object `const`/`enum` value spelled as a choice of key orders;
/// larger ones (up to [`MAX_COUNTED_ONCE`] keys) are counted any-order lists.
pub const MAX_ENUM_OBJECT_KEYS: usize = 4;
/// Largest `minLength` compiled into a lexeme together with a `pattern` or
/// an exclusion: the intersection is built lazily, but checking that it is
/// not empty searches for a first match, which is that many code points
/// away. (`maxLength` goes up to [`MAX_PLAIN_STRING_BOUND`] either way.)
pub const MAX_STRING_BOUND: u64 = 10_000;
/// Largest finite `maxLength` / `minLength` of a string with no `pattern`:
/// its lexeme counts code points without a state per count (see the lexer's
/// counted lexemes), so the bound is only limited by state numbering.
pub const MAX_PLAIN_STRING_BOUND: u64 = 1_000_000;
/// Largest finite `maxItems` / `minItems` (and prefix length) compiled.
pub const MAX_ITEMS_BOUND: u64 = 2_000;
/// Most `patternProperties` in one object (keys are split by the subset of
/// patterns they match: 2^n classes).
const MAX_PATTERN_PROPERTIES: usize = 6;
/// Most rules for one object's members × property counts.
const MAX_OBJECT_RULES: u64 = 20_000;
/// A number written as a plain integer (draft-04 `integer`).
const PLAIN_INTEGER: &str = "-?(?:0|[1-9][0-9]*)";
/// Budget of conjunctions compiled (guards against exponential distribution).
const MAX_WORK: usize = 20_000;
/// Nesting limit of compiled schemas (keeps the compiler's stack bounded).
const MAX_DEPTH: usize = 64;
/// Most witnesses (`$fw_exists`: negated `additionalProperties`,
/// `patternProperties`, `propertyNames`) in one object; the rules grow with
/// the 2^n sets of them found.
const MAX_WITNESSES: usize = 4;
/// Most witnesses looked at in one object (before those a required member
/// always satisfies are dropped).
const MAX_WITNESSES_SEEN: usize = 6;
/// Most string nodes a witness's key schema splits into.
const MAX_KEY_NODES: usize = 16;
/// Most any-order lists for one object's witnesses (partitions of them ×
/// the required keys that may witness each block).
const MAX_WITNESS_LISTS: usize = 32;
/// Most key lexemes built for one object's witness members.
const MAX_WITNESS_LEXEMES: usize = 256;

type R<T> = Result<T, GrammarError>;

fn unsupported(pointer: &str, message: impl Into<String>) -> GrammarError {
    GrammarError::UnsupportedSchema {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

fn invalid(pointer: &str, message: impl Into<String>) -> GrammarError {
    GrammarError::InvalidSchema {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

/// A numeric keyword's value, checked to be a number.
fn number_keyword(v: &Value, kp: &str, k: &str) -> R<Value> {
    match v {
        Value::Number(_) => Ok(v.clone()),
        _ => Err(invalid(kp, format!("{k} must be a number"))),
    }
}

/// The error for a keyword whose negation is not expressible.
fn cannot_negate(kp: &str, k: &str) -> GrammarError {
    unsupported(
        kp,
        format!("keyword {k:?} under `not` (or a negated `if`) cannot be negated yet"),
    )
}

/// Whether `m` holds any keyword [`Compiler::flatten`] acts on (references,
/// `allOf`, and what [`Compiler::rewrites`] rewrites).
fn has_flatten_keywords(m: &Map<String, Value>) -> bool {
    m.keys().any(|k| {
        matches!(
            k.as_str(),
            "$ref"
                | "$dynamicRef"
                | "allOf"
                | "$fw_all"
                | "$fw_not"
                | "$fw_nots"
                | "not"
                | "if"
                | "dependentRequired"
                | "dependentSchemas"
                | "dependencies"
        )
    })
}

/// The schemas [`Compiler::flatten`] has seen, by pointer, with a value
/// each. A conjunction holds a handful of schemas, so a list is searched
/// (comparing the shared pointers' addresses first) until it grows long.
#[derive(Default)]
struct SeenPointers {
    list: Vec<(Rc<str>, Option<usize>)>,
    map: HashMap<Rc<str>, Option<usize>, FxBuild>,
}

impl SeenPointers {
    const LIST_MAX: usize = 16;

    fn get(&self, ptr: &Rc<str>) -> Option<Option<usize>> {
        if self.list.len() < Self::LIST_MAX {
            self.list
                .iter()
                .find(|(p, _)| Rc::ptr_eq(p, ptr) || **p == **ptr)
                .map(|e| e.1)
        } else {
            self.map.get(ptr).copied()
        }
    }

    fn insert(&mut self, ptr: &Rc<str>, v: Option<usize>) {
        if self.list.len() < Self::LIST_MAX {
            match self
                .list
                .iter_mut()
                .find(|(p, _)| Rc::ptr_eq(p, ptr) || **p == **ptr)
            {
                Some(e) => e.1 = v,
                None => self.list.push((ptr.clone(), v)),
            }
            if self.list.len() == Self::LIST_MAX {
                self.map = self.list.iter().cloned().collect();
            }
        } else {
            self.map.insert(ptr.clone(), v);
        }
    }
}

fn child(ptr: &str, k: &str) -> String {
    let mut out = String::with_capacity(ptr.len() + 1 + k.len());
    out.push_str(ptr);
    out.push('/');
    push_escaped(&mut out, k);
    out
}

/// Whitespace the grammar allows between JSON tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Whitespace {
    /// None at all: the shortest output, and the one where the most bytes are
    /// forced (so fast-forward has the most to do).
    #[default]
    Compact,
    /// Any JSON whitespace between tokens, as in `json.dumps` or pretty
    /// printing. Use it to check existing documents.
    Flexible,
}

/// What `format` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FormatMode {
    /// Strings must be valid for their `format` (dates, emails, URIs, …);
    /// an unknown format is ignored.
    #[default]
    Assert,
    /// `format` is an annotation only, as draft 2020-12 says by default.
    Annotate,
}

/// The order of an object's properties.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PropertyOrder {
    /// The order of `properties` (then other required keys, then additional
    /// properties): one canonical layout, the cheapest grammar.
    #[default]
    Schema,
    /// Any order. Required keys are still enforced; a known key may repeat
    /// (the grammar does not count keys; a parser keeps the last value, which
    /// validates like the others). Under `minProperties` or `maxProperties`
    /// the parser counts the members, and each known key appears at most
    /// once (beyond 48 known keys the object keeps the schema order).
    Any,
}

/// Which JSON spellings of a value the grammar accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Spelling {
    /// Every JSON spelling (`"a"` and `"\u0061"`, `18` and `1.8e1`): the
    /// language is exactly the valid documents. Use it to check existing
    /// documents.
    #[default]
    Any,
    /// Known property names only as `serde_json` writes them (an escape only
    /// where JSON requires one), and `type: integer` values only as plain
    /// digits (`18`, not `18.0`). A subset of the valid documents, meant for
    /// generation: a key then has one spelling, so its bytes are forced and
    /// fast-forward feeds them without sampling, and a model cannot wander
    /// into `18.000…` (which the bounds allow, an exponent can bring it back
    /// in range). An escaped spelling of a known key is not accepted as an
    /// additional property either.
    Canonical,
}

/// Options of the JSON Schema compiler.
///
/// ```
/// use formwork::{json_schema, SchemaOptions, Whitespace};
/// let schema = serde_json::json!({"type": "array", "items": {"type": "integer"}});
/// let opts = SchemaOptions { whitespace: Whitespace::Flexible, ..SchemaOptions::default() };
/// let g = json_schema(&schema, &opts).unwrap();
/// assert!(formwork::CompiledGrammar::new(&g).is_ok());
/// ```
#[derive(Clone, Debug, Default)]
pub struct SchemaOptions {
    pub whitespace: Whitespace,
    pub format: FormatMode,
    pub property_order: PropertyOrder,
    pub spelling: Spelling,
    /// Under [`Whitespace::Flexible`], the longest run of whitespace allowed
    /// between two JSON tokens (`None`: no limit). A bound keeps a model from
    /// running away in blank space while still allowing pretty-printing.
    pub max_whitespace: Option<u32>,
    /// Remote documents, by absolute URI (a fragment, if any, is ignored):
    /// a `$ref` whose absolute URI (without fragment) is a key here resolves
    /// into that document, which has its own `$id`s, anchors and base URI
    /// (the key, unless its root has an `$id`). Nothing is ever fetched: a
    /// `$ref` to a document neither in the schema nor here is an error.
    /// A document whose `$schema` names another draft family than the
    /// main schema's (draft-07 and before vs later) is unsupported.
    ///
    /// ```
    /// use formwork::{json_schema, SchemaOptions};
    /// use serde_json::json;
    /// let mut opts = SchemaOptions::default();
    /// opts.remote.insert(
    ///     "http://example.com/defs.json".into(),
    ///     json!({"$defs": {"id": {"type": "integer", "minimum": 1}}}),
    /// );
    /// let schema = json!({"$ref": "http://example.com/defs.json#/$defs/id"});
    /// assert!(json_schema(&schema, &opts).is_ok());
    /// // Without the document, the error says where to supply it.
    /// let err = json_schema(&schema, &SchemaOptions::default()).unwrap_err();
    /// assert!(err.to_string().contains("SchemaOptions::remote"));
    /// ```
    pub remote: std::collections::BTreeMap<String, Value>,
}

/// Compiles a JSON Schema into a grammar whose language is the JSON texts
/// that validate against it, or returns [`GrammarError::UnsupportedSchema`]
/// naming a keyword that cannot be enforced exactly and its JSON pointer.
/// The module docs say what is supported.
///
/// ```
/// use formwork::SchemaOptions;
/// let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "integer"}}});
/// let g = formwork::json_schema(&schema, &SchemaOptions::default()).unwrap();
/// assert!(formwork::CompiledGrammar::new(&g).is_ok());
/// let not_anything = serde_json::json!({"not": {}});
/// assert!(formwork::json_schema(&not_anything, &SchemaOptions::default()).is_err());
/// ```
pub fn compile(schema: &Value, options: &SchemaOptions) -> R<Grammar> {
    match schema {
        Value::Bool(_) | Value::Object(_) => compile_schema(schema, options),
        _ => Err(GrammarError::InvalidSchema {
            pointer: String::new(),
            message: "a JSON Schema must be an object or a boolean".into(),
        }),
    }
}

/// Compiles a schema that is an object or a boolean.
fn compile_schema(schema: &Value, options: &SchemaOptions) -> R<Grammar> {
    let (legacy, draft4) = dialect(schema, "")?.unwrap_or((false, false));
    // Keywords of later drafts are annotations under an older `$schema`.
    let later = later_keywords(schema);
    let stripped;
    let schema = if later.is_empty() {
        schema
    } else {
        stripped = without_keywords(schema.clone(), later);
        &stripped
    };
    let remote_docs: Vec<(String, Value)> = options
        .remote
        .iter()
        .map(|(k, v)| {
            let v = if later.is_empty() {
                v.clone()
            } else {
                without_keywords(v.clone(), later)
            };
            (split_fragment(k).0.to_string(), v)
        })
        .collect();
    let arena = Arena::new();
    let mut c = Compiler {
        draft4,
        root: schema,
        remotes: remote_docs.iter().map(|(k, v)| (k.clone(), v)).collect(),
        arena: &arena,
        registry: RefCell::new(Vec::new()),
        negations: RefCell::new(HashMap::new()),
        options,
        legacy,
        g: Grammar::new("start"),
        cache: HashMap::default(),
        any: false,
        n: 0,
        work: 0,
        depth: 0,
        resources: RefCell::new(Resources::new(schema, draft4, legacy)),
        resolved: RefCell::new(HashMap::new()),
    };
    let start = match c.value(vec![Sub::new(String::new(), schema)])? {
        Some(s) => s,
        None => {
            return Err(GrammarError::EmptyLanguage(
                "the schema accepts no value".into(),
            ))
        }
    };
    c.g.rule("start", start.expr);
    // Branches no value satisfies (an object whose property counts cannot
    // be met, a recursion that never ends) are pruned, not errors.
    c.g.prune_unproductive(true);
    if c.options.whitespace == Whitespace::Flexible {
        match c.options.max_whitespace {
            None => {
                c.g.ignore(crate::frontend::json::WHITESPACE);
            }
            Some(0) => {}
            Some(n) => {
                c.g.ignore(format!("[ \\t\\n\\r]{{1,{n}}}"));
            }
        }
    }
    Ok(c.g)
}

/// The draft family a document's `$schema` names: (`legacy`: draft-07 and
/// before, where `$ref` overrides its siblings; `draft4`: draft-04 and before,
/// where an integer is written without a fraction or exponent (`1.0` is not
/// one) and `$id` is spelled `id`). None without `$schema`. `at` prefixes
/// the error pointer.
fn dialect(schema: &Value, at: &str) -> R<Option<(bool, bool)>> {
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
fn later_keywords(schema: &Value) -> &'static [&'static str] {
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
fn without_keywords(mut schema: Value, drop: &[&str]) -> Value {
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

const SKIP_ANYOF: u8 = 1;
const SKIP_ONEOF: u8 = 2;
/// In cache keys only: the schema's annotations do not count.
const SKIP_NO_EVAL: u8 = 128;

/// A conjunction as a cache key: its schemas' pointers and skip bits.
type ConjKey = Vec<(Rc<str>, u8)>;

/// One schema of a conjunction.
#[derive(Clone, Debug)]
struct Sub<'a> {
    /// Shared: conjunctions are copied once per branch distributed.
    ptr: Rc<str>,
    val: &'a Value,
    skip: u8,
    /// Its annotations count for `unevaluated*` (false under a negation).
    eval: bool,
    /// The schemas that brought it into the conjunction (`allOf`, `$ref`, a
    /// chosen `anyOf` branch, …), innermost first: `unevaluated*` sees the
    /// annotations of its own subtree only.
    parents: Option<Rc<Parent>>,
}

/// A link in [`Sub::parents`] (a list shared by every schema brought in
/// by the same chain).
#[derive(Debug)]
struct Parent {
    ptr: Rc<str>,
    up: Option<Rc<Parent>>,
}

impl<'a> Sub<'a> {
    fn new(ptr: impl Into<Rc<str>>, val: &'a Value) -> Sub<'a> {
        Sub {
            ptr: ptr.into(),
            val,
            skip: 0,
            eval: true,
            parents: None,
        }
    }

    /// `e`, brought in by `self`.
    fn adopt(&self, mut e: Sub<'a>) -> Sub<'a> {
        e.parents = Some(Rc::new(Parent {
            ptr: self.ptr.clone(),
            up: self.parents.clone(),
        }));
        e.eval &= self.eval;
        e
    }

    /// True if `self` is `u` or was brought in by it.
    fn in_scope_of(&self, u: &str) -> bool {
        if &*self.ptr == u {
            return true;
        }
        let mut p = self.parents.as_deref();
        while let Some(x) = p {
            if &*x.ptr == u {
                return true;
            }
            p = x.up.as_deref();
        }
        false
    }
}

/// The value at JSON pointer `ptr` (RFC 6901; `""` is `v` itself) below `v`.
fn follow_pointer<'v>(v: &'v Value, ptr: &str) -> Option<&'v Value> {
    let Some(rest) = ptr.strip_prefix('/') else {
        return ptr.is_empty().then_some(v);
    };
    rest.split('/').try_fold(v, |cur, tok| {
        let key = tok.replace("~1", "/").replace("~0", "~");
        match cur {
            Value::Object(m) => m.get(&key),
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
    })
}

/// True if the schema has a non-trivial `unevaluatedProperties`/`Items`.
fn has_unevaluated(v: &Value) -> bool {
    ["unevaluatedProperties", "unevaluatedItems"]
        .iter()
        .any(|k| {
            v.get(k).is_some_and(|x| {
                x != &Value::Bool(true) && x.as_object().is_none_or(|o| !o.is_empty())
            })
        })
}

/// JSON types, as bits, for disjointness checks.
const T_NULL: u8 = 1;
const T_BOOL: u8 = 2;
const T_OBJ: u8 = 4;
const T_ARR: u8 = 8;
const T_STR: u8 = 16;
const T_NUM: u8 = 32;
const T_ALL: u8 = 63;

fn type_bit(v: &Value) -> u8 {
    match v {
        Value::Null => T_NULL,
        Value::Bool(_) => T_BOOL,
        Value::Object(_) => T_OBJ,
        Value::Array(_) => T_ARR,
        Value::String(_) => T_STR,
        Value::Number(_) => T_NUM,
    }
}

/// A compiled position: its expression and what it can contain.
#[derive(Clone, Debug)]
struct Compiled {
    expr: Expr,
    types: u8,
    values: Option<Vec<Value>>,
}

/// Whether a (sub)schema's numbers may be any number or only integers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NumKind {
    None,
    Int,
    Num,
}

/// A numeric bound: exact value and exclusiveness.
#[derive(Clone, Debug)]
struct Bound {
    d: Decimal,
    excl: bool,
    ptr_kw: usize,
}

/// A constraint on a string's decoded value.
#[derive(Clone, Debug)]
enum StrRule {
    Pattern(String),
    Format(String),
}

impl StrRule {
    /// Regexes over the string token whose intersection is the rule; None
    /// for an unknown format (an annotation).
    fn regexes(&self, ptr: &str) -> R<Option<Vec<String>>> {
        use string::{format_regexes, pattern_regex};
        match self {
            StrRule::Pattern(p) => {
                // Translated once per pattern: the same patterns come back in
                // every branch and key check of a schema.
                type Cache = std::sync::Mutex<HashMap<String, Result<String, String>>>;
                static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
                let cache = CACHE.get_or_init(Default::default);
                let hit = cache.lock().ok().and_then(|c| c.get(p).cloned());
                let r = hit.unwrap_or_else(|| {
                    let r = pattern_regex(p).map_err(|e| e.to_string());
                    if let Ok(mut c) = cache.lock() {
                        if c.len() >= 20_000 {
                            c.clear();
                        }
                        c.insert(p.clone(), r.clone());
                    }
                    r
                });
                r.map(|r| Some(vec![r])).map_err(|e| unsupported(ptr, e))
            }
            // Its regex accepts a few invalid domains (no IDNA check).
            StrRule::Format(f) if f == "idn-email" => Err(unsupported(
                ptr,
                "format \"idn-email\" cannot be enforced exactly (use FormatMode::Annotate)",
            )),
            StrRule::Format(f) => {
                // A handful of formats, each translated once per process.
                type Cache = std::sync::Mutex<HashMap<String, Result<Option<Vec<String>>, String>>>;
                static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
                let cache = CACHE.get_or_init(Default::default);
                let hit = cache.lock().ok().and_then(|c| c.get(f).cloned());
                let r = hit.unwrap_or_else(|| {
                    let r = format_regexes(f).map_err(|e| e.to_string());
                    if let Ok(mut c) = cache.lock() {
                        if c.len() >= 1_000 {
                            c.clear();
                        }
                        c.insert(f.clone(), r.clone());
                    }
                    r
                });
                r.map_err(|e| {
                    unsupported(
                        ptr,
                        format!("{e} (use FormatMode::Annotate to ignore formats)"),
                    )
                })
            }
        }
    }
}

/// Everything the merged keywords of a conjunction say.
struct Node<'a> {
    null: bool,
    boolean: bool,
    object: bool,
    array: bool,
    string: bool,
    number: NumKind,
    /// Only non-integer numbers (the negation of `type: integer`).
    non_integer: bool,
    /// Only numbers that are not multiples of these (negated `multipleOf`).
    not_multiple_of: Vec<(Decimal, String)>,
    values: Option<ValueSet>,
    values_ptr: String,
    // strings
    min_len: u64,
    max_len: Option<u64>,
    len_ptr: String,
    /// `pattern`s and asserted `format`s the string must satisfy.
    patterns: Vec<(String, StrRule)>,
    /// Patterns the string must not match (from negations).
    not_patterns: Vec<(String, StrRule)>,
    /// Values excluded (from negated `enum`/`const`).
    not_values: ValueSet,
    not_values_ptr: String,
    // numbers
    lo: Option<Bound>,
    hi: Option<Bound>,
    multiple_of: Option<(Decimal, String)>,
    bound_ptrs: Vec<String>,
    // objects: the object-keyword holders, in order
    objs: Vec<ObjKw<'a>>,
    required: Vec<String>,
    /// `propertyNames` schemas.
    names: Vec<Sub<'a>>,
    min_props: u64,
    max_props: Option<u64>,
    props_ptr: String,
    // arrays
    arrs: Vec<ArrKw<'a>>,
    min_items: u64,
    max_items: Option<u64>,
    unique: Option<String>,
    /// `contains`: (pointer, schema, minContains, maxContains).
    contains: Vec<(String, &'a Value, u64, Option<u64>)>,
    /// Members the object must have (from negated object keywords).
    exists: Vec<Witness<'a>>,
}

/// `$fw_exists`: the object has a member whose key satisfies `key` (a
/// string schema) and whose value satisfies `value` (if any). This is how
/// negated `additionalProperties`, `patternProperties` and `propertyNames`
/// are spelled; `object_expr` enforces it with a witness member.
#[derive(Clone, Debug)]
struct Witness<'a> {
    ptr: String,
    key: Sub<'a>,
    value: Option<Sub<'a>>,
}

#[derive(Default)]
struct ObjKw<'a> {
    ptr: Rc<str>,
    props: Option<&'a Map<String, Value>>,
    additional: Option<&'a Value>,
    /// `patternProperties`: (pointer, ECMA-262 pattern, schema).
    patterns: Vec<(String, String, &'a Value)>,
    /// `additional` is an `unevaluatedProperties` (for its pointer).
    uneval: bool,
}

impl ObjKw<'_> {
    fn additional_ptr(&self) -> String {
        child(
            &self.ptr,
            if self.uneval {
                "unevaluatedProperties"
            } else {
                "additionalProperties"
            },
        )
    }
}

struct ArrKw<'a> {
    ptr: Rc<str>,
    prefix: Vec<(String, &'a Value)>,
    rest: Option<(String, &'a Value)>,
}

impl<'a> Node<'a> {
    fn new() -> Node<'a> {
        Node {
            null: true,
            boolean: true,
            object: true,
            array: true,
            string: true,
            number: NumKind::Num,
            non_integer: false,
            not_multiple_of: Vec::new(),
            values: None,
            values_ptr: String::new(),
            min_len: 0,
            max_len: None,
            len_ptr: String::new(),
            patterns: Vec::new(),
            not_patterns: Vec::new(),
            not_values: ValueSet::default(),
            not_values_ptr: String::new(),
            lo: None,
            hi: None,
            multiple_of: None,
            bound_ptrs: Vec::new(),
            objs: Vec::new(),
            required: Vec::new(),
            names: Vec::new(),
            min_props: 0,
            max_props: None,
            props_ptr: String::new(),
            arrs: Vec::new(),
            min_items: 0,
            max_items: None,
            unique: None,
            contains: Vec::new(),
            exists: Vec::new(),
        }
    }

    /// A node no value satisfies.
    fn nothing() -> Node<'a> {
        let mut n = Node::new();
        n.null = false;
        n.boolean = false;
        n.object = false;
        n.array = false;
        n.string = false;
        n.number = NumKind::None;
        n
    }

    fn is_trivial(&self) -> bool {
        self.null
            && self.boolean
            && self.object
            && self.array
            && self.string
            && self.number == NumKind::Num
            && !self.non_integer
            && self.not_multiple_of.is_empty()
            && self.values.is_none()
            && self.min_len == 0
            && self.max_len.is_none()
            && self.patterns.is_empty()
            && self.not_patterns.is_empty()
            && self.not_values.is_empty()
            && self.lo.is_none()
            && self.multiple_of.is_none()
            && self.hi.is_none()
            && self.objs.is_empty()
            && self.required.is_empty()
            && self.names.is_empty()
            && self.min_props == 0
            && self.max_props.is_none()
            && self.arrs.is_empty()
            && self.min_items == 0
            && self.max_items.is_none()
            && self.unique.is_none()
            && self.contains.is_empty()
            && self.exists.is_empty()
    }
}

struct Compiler<'a> {
    root: &'a Value,
    /// Remote documents by absolute URI without fragment; pointers into one
    /// are `URI#/pointer` (see [`Compiler::locate`]).
    remotes: HashMap<String, &'a Value>,
    /// Schemas made up by the compiler (negations, rewritten conditionals).
    arena: &'a Arena<Value>,
    /// Subschemas that made-up schemas refer to (`$fw_all`, `$fw_not`).
    registry: RefCell<Vec<Sub<'a>>>,
    /// Negations built so far, by pointer.
    negations: RefCell<HashMap<String, &'a Value>>,
    options: &'a SchemaOptions,
    legacy: bool,
    draft4: bool,
    g: Grammar,
    /// Flattened conjunction key -> compiled rule (None: accepts nothing;
    /// types T_ALL and no values while in progress).
    cache: HashMap<ConjKey, Option<Compiled>, FxBuild>,
    any: bool,
    n: usize,
    work: usize,
    depth: usize,
    /// Grows as `$ref`s reach into remote documents.
    resources: RefCell<Resources>,
    /// Resolved `$ref`s: base URI -> reference -> target pointer and schema
    /// (a big schema refers to the same definitions from many places).
    resolved: RefCell<HashMap<String, HashMap<String, Resolved<'a>>>>,
}

/// A `$ref`'s target: its pointer and its schema.
type Resolved<'a> = (String, &'a Value);

/// Keywords that are annotations or containers, or not validation keywords.
const IGNORED: &[&str] = &[
    "$schema",
    "$id",
    "id",
    "$anchor",
    "$dynamicAnchor",
    "$recursiveAnchor",
    "$vocabulary",
    "$comment",
    "$defs",
    "definitions",
    "title",
    "description",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "format",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
    "$ref",
    "allOf",
];

/// A count keyword (`minLength`, `maxItems`, …): a non-negative integer,
/// in any spelling (`2`, `2.0`, `2e0`); counts beyond `u64` saturate.
fn as_u64(v: &Value, ptr: &str, kw: &str) -> R<u64> {
    let bad = || invalid(ptr, format!("{kw} must be a non-negative integer"));
    let Value::Number(n) = v else {
        return Err(bad());
    };
    if let Some(u) = n.as_u64() {
        return Ok(u);
    }
    let d = Decimal::parse(&n.to_string())
        .ok_or_else(|| unsupported(ptr, format!("{kw} {n}: exponent beyond ±10^12")))?;
    if d.is_negative() || !d.is_integer() {
        return Err(bad());
    }
    Ok(d.to_u64().unwrap_or(u64::MAX))
}

impl<'a> Compiler<'a> {
    /// A known property name, spelled as [`Spelling`] says.
    fn key_expr(&self, k: &str) -> Expr {
        match self.options.spelling {
            Spelling::Any => Expr::regex(spell_string(k)),
            Spelling::Canonical => {
                Expr::literal(serde_json::to_string(k).expect("a string serializes"))
            }
        }
    }

    /// The document a pointer is in, that document's own base URI, and the
    /// pointer inside it: the main document for `""` and `/...` (and the
    /// compiler's made-up names), a remote one for `URI#/...`.
    fn locate<'p>(&self, ptr: &'p str) -> (&'a Value, &'p str, &'p str) {
        if !ptr.is_empty() && !ptr.starts_with('/') {
            if let Some((uri, inner)) = ptr.split_once('#') {
                if let Some(doc) = self.remotes.get(uri) {
                    return (doc, uri, inner);
                }
            }
        }
        (self.root, DEFAULT_BASE, ptr)
    }

    fn resolve(&self, r: &str, ptr: &str) -> R<(String, &'a Value)> {
        let (doc, doc_base, inner) = self.locate(ptr);
        let base = self.resources.borrow().base_at(doc, doc_base, inner);
        if let Some(hit) = self.resolved.borrow().get(&base).and_then(|m| m.get(r)) {
            return Ok(hit.clone());
        }
        let out = self.resolve_uncached(r, ptr, &base)?;
        self.resolved
            .borrow_mut()
            .entry(base)
            .or_default()
            .insert(r.to_string(), out.clone());
        Ok(out)
    }

    fn resolve_uncached(&self, r: &str, ptr: &str, base: &str) -> R<(String, &'a Value)> {
        let here = format!("{ptr}/$ref");
        // A supplied remote document is indexed when first reached.
        let abs = resolve_uri(base, r);
        let target = split_fragment(&abs).0;
        if !self.resources.borrow().has(target) {
            if let Some((uri, remote)) = self.remotes.get_key_value(target) {
                let at = format!("{uri}#");
                if let Some(d) = dialect(remote, &at)? {
                    if d != (self.legacy, self.draft4) {
                        return Err(unsupported(
                            &format!("{at}/$schema"),
                            format!(
                                "remote document {uri} (reached by $ref {r:?} at {here}) \
                                 declares a draft other than the main schema's"
                            ),
                        ));
                    }
                }
                self.resources.borrow_mut().add_document(uri, remote);
            }
        }
        let (res_ptr, frag) = self
            .resources
            .borrow()
            .lookup(base, r)
            .map_err(|e| unsupported(&here, format!("$ref {r:?}: {e}")))?;
        // The resource itself, then the fragment's JSON pointer inside it.
        let fail = || unsupported(&here, format!("$ref {r:?} does not resolve"));
        let (doc, _, inner) = self.locate(&res_ptr);
        let cur = follow_pointer(doc, inner).ok_or_else(fail)?;
        let cur = follow_pointer(cur, &frag).ok_or_else(fail)?;
        let out = format!("{res_ptr}{frag}");
        Ok((out, cur))
    }

    /// Where a `$dynamicRef` points. It starts where a `$ref` would; if that
    /// schema carries the matching `$dynamicAnchor`, the target is the one in
    /// the outermost resource of the dynamic scope that carries it. The
    /// scope depends on the path by which evaluation got here, which the
    /// compiler does not track; two cases do not depend on it and are
    /// compiled: the root resource carries the anchor (the root is always
    /// the outermost scope), or no other resource in the schema or in the
    /// supplied remote documents does. Anything else is unsupported.
    fn resolve_dynamic(&self, r: &str, ptr: &str) -> R<(String, &'a Value)> {
        let (p, v) = self.resolve(r, ptr).map_err(|e| match e {
            // Reported at the keyword that was written.
            GrammarError::UnsupportedSchema { pointer, message } => {
                GrammarError::UnsupportedSchema {
                    pointer: format!("{}/$dynamicRef", pointer.trim_end_matches("/$ref")),
                    message: message.replacen("$ref", "$dynamicRef", 1),
                }
            }
            e => e,
        })?;
        let name = split_fragment(r).1;
        let anchored = !name.is_empty()
            && !name.starts_with('/')
            && v.get("$dynamicAnchor").and_then(Value::as_str) == Some(name);
        if !anchored {
            return Ok((p, v));
        }
        let res = self.resources.borrow();
        let root_base = res.base_at(self.root, DEFAULT_BASE, "");
        if let Some(at) = res.dynamic_anchor(&root_base, name).cloned() {
            drop(res);
            let fail = || {
                unsupported(
                    &format!("{ptr}/$dynamicRef"),
                    "$dynamicRef does not resolve",
                )
            };
            let target = follow_pointer(self.root, &at).ok_or_else(fail)?;
            return Ok((at, target));
        }
        let needle = format!("\"$dynamicAnchor\":{}", Value::String(name.to_string()));
        let in_remotes = self
            .remotes
            .values()
            .any(|d| serde_json::to_string(d).is_ok_and(|t| t.contains(&needle)));
        if res.dynamic_anchor_count(name) <= 1 && !in_remotes {
            return Ok((p, v));
        }
        Err(unsupported(
            &format!("{ptr}/$dynamicRef"),
            format!(
                "$dynamicRef {r:?}: several resources carry $dynamicAnchor {name:?} and the \
                 root does not, so the target depends on the evaluation path"
            ),
        ))
    }

    /// Registers a subschema for made-up schemas to refer to.
    fn register(&self, s: Sub<'a>) -> usize {
        let mut r = self.registry.borrow_mut();
        if let Some(i) = r.iter().position(|x| x.ptr == s.ptr) {
            return i;
        }
        r.push(s);
        r.len() - 1
    }

    fn registered(&self, v: &Value, ptr: &str) -> R<Sub<'a>> {
        v.as_u64()
            .and_then(|i| self.registry.borrow().get(i as usize).cloned())
            .ok_or_else(|| invalid(ptr, "internal keyword used in the schema"))
    }

    fn made_up(&self, v: Value) -> &'a Value {
        self.arena.alloc(v)
    }

    /// The conjuncts a schema adds beside its own keywords: internal
    /// references, and conditionals rewritten as disjunctions:
    ///
    /// * `not: S` is the negation of S, built as a schema ([`Self::negate`]);
    /// * `if: I, then: T, else: E` is `anyOf: [I ∧ T, ¬I ∧ E]`;
    /// * `dependentRequired: {k: [a]}` is `anyOf: [k absent, k and a present]`;
    /// * `dependentSchemas: {k: S}` is `anyOf: [k absent, k present ∧ S]`.
    fn rewrites(&self, s: &Sub<'a>, m: &'a Map<String, Value>, extra: &mut Vec<Sub<'a>>) -> R<()> {
        if let Some(v) = m.get("$fw_all") {
            for x in v.as_array().into_iter().flatten() {
                extra.push(self.registered(x, &s.ptr)?);
            }
        }
        if let Some(v) = m.get("$fw_not") {
            let t = self.registered(v, &s.ptr)?;
            extra.push(self.negate(&t)?);
        }
        if let Some(v) = m.get("$fw_nots") {
            for x in v.as_array().into_iter().flatten() {
                let t = self.registered(x, &s.ptr)?;
                extra.push(self.negate(&t)?);
            }
        }
        if let Some(v) = m.get("not") {
            extra.push(self.negate(&Sub::new(child(&s.ptr, "not"), v))?);
        }
        if let Some(i) = m.get("if") {
            // Alone, `if` validates nothing, but when it passes its
            // annotations count for unevaluated*: split on it when its
            // negation is expressible.
            let alone = !m.contains_key("then") && !m.contains_key("else");
            let splittable =
                !alone || (i.is_object() && self.negate(&Sub::new(child(&s.ptr, "if"), i)).is_ok());
            if splittable {
                let ip = self.register(Sub::new(child(&s.ptr, "if"), i));
                let mut branches = Vec::new();
                let t = match m.get("then") {
                    Some(t) => vec![ip, self.register(Sub::new(child(&s.ptr, "then"), t))],
                    None => vec![ip],
                };
                branches.push(serde_json::json!({ "$fw_all": t }));
                let mut b = serde_json::json!({ "$fw_not": ip });
                if let Some(e) = m.get("else") {
                    b["$fw_all"] =
                        serde_json::json!([self.register(Sub::new(child(&s.ptr, "else"), e))]);
                }
                branches.push(b);
                extra.push(Sub::new(
                    format!("{}/if(cond)", s.ptr),
                    self.made_up(serde_json::json!({ "anyOf": branches, "$fw_exclusive": true })),
                ));
            }
        }
        for kw in ["dependentRequired", "dependentSchemas", "dependencies"] {
            let Some(d) = m.get(kw) else { continue };
            let kp = child(&s.ptr, kw);
            let d = d
                .as_object()
                .ok_or_else(|| invalid(&kp, format!("{kw} must be an object")))?;
            for (k, v) in d {
                let vp = child(&kp, k);
                let present = match v {
                    Value::Array(a) if kw != "dependentSchemas" => {
                        let mut req = vec![Value::String(k.clone())];
                        for x in a {
                            if !x.is_string() {
                                return Err(invalid(&vp, "dependencies must list strings"));
                            }
                            req.push(x.clone());
                        }
                        serde_json::json!({ "required": req })
                    }
                    Value::Object(_) | Value::Bool(_) if kw != "dependentRequired" => {
                        let n = self.register(Sub::new(vp.clone(), v));
                        serde_json::json!({ "required": [k], "$fw_all": [n] })
                    }
                    _ => return Err(invalid(&vp, format!("bad {kw} value"))),
                };
                let absent = serde_json::json!({ "properties": { k.clone(): false } });
                extra.push(Sub::new(
                    format!("{vp}(dep)"),
                    self.made_up(
                        serde_json::json!({ "anyOf": [absent, present], "$fw_exclusive": true }),
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The negation of a schema, as a made-up schema (a disjunction).
    ///
    /// Each keyword is negated on its own (¬(a ∧ b) = ¬a ∨ ¬b). A keyword
    /// that constrains one type only holds for every other type, so its
    /// negation holds for that type only (¬minLength: a short *string*).
    /// Subschemas are
    /// negated lazily through `$fw_not`, so recursive schemas terminate.
    /// Keywords whose negation is not expressible are reported.
    fn negate(&self, s: &Sub<'a>) -> R<Sub<'a>> {
        let ptr = format!("{}(not)", s.ptr);
        let cached = self.negations.borrow().get(&ptr).copied();
        let v = match cached {
            Some(v) => v,
            None => {
                let v: &'a Value = self.made_up(self.negation(s)?);
                self.negations.borrow_mut().insert(ptr.clone(), v);
                v
            }
        };
        // A negation passes where its schema fails: no annotations.
        let mut n = Sub::new(ptr, v);
        n.eval = false;
        Ok(n)
    }

    fn negation(&self, s: &Sub<'a>) -> R<Value> {
        use serde_json::json;
        let m = match s.val {
            Value::Bool(b) => return Ok(Value::Bool(!b)),
            Value::Object(m) => m,
            _ => return Err(invalid(&s.ptr, "a schema must be an object or a boolean")),
        };
        let mut branches: Vec<Value> = Vec::new();
        let reg = |p: String, v: &'a Value| self.register(Sub::new(p, v));
        if let Some(r) = m.get("$ref") {
            let r = r
                .as_str()
                .ok_or_else(|| invalid(&child(&s.ptr, "$ref"), "$ref must be a string"))?;
            let (p, v) = self.resolve(r, &s.ptr)?;
            branches.push(json!({ "$fw_not": reg(p, v) }));
            if self.legacy {
                return Ok(json!({ "anyOf": branches }));
            }
        }
        for (k, v) in m {
            let kp = child(&s.ptr, k);
            let kv = (k.as_str(), v);
            let (kp, branches) = (kp.as_str(), &mut branches);
            match k.as_str() {
                "$ref" | "then" | "else" | "minContains" | "maxContains" => {}
                "$fw_all" | "$fw_not" | "$fw_nots" => {
                    self.negate_combinator(s, m, kv, kp, branches)?
                }
                "$fw_not_values" | "$fw_not_pattern" | "$fw_not_format" => {
                    return Err(cannot_negate(kp, k))
                }
                "multipleOf" | "$fw_not_multiple_of" | "$fw_non_integer" => {
                    self.negate_value_keyword(kv, kp, branches)?
                }
                "format" if self.options.format == FormatMode::Assert => {
                    self.negate_value_keyword(kv, kp, branches)?
                }
                _ if IGNORED.contains(&k.as_str()) && k != "allOf" => {}
                "allOf" | "anyOf" | "oneOf" | "not" | "if" => {
                    self.negate_combinator(s, m, kv, kp, branches)?
                }
                "type" | "enum" | "const" => self.negate_value_keyword(kv, kp, branches)?,
                "required" | "properties" => self.negate_object_keyword(m, kv, kp, branches)?,
                "items" | "prefixItems" | "contains" => {
                    self.negate_array_keyword(m, kv, kp, branches)?
                }
                "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
                | "maxProperties" | "minimum" | "maximum" | "exclusiveMinimum"
                | "exclusiveMaximum" | "pattern" => self.negate_bound(m, kv, kp, branches)?,
                "uniqueItems" if v == &Value::Bool(false) => {}
                "dependentRequired" | "dependentSchemas" | "dependencies" => {
                    self.negate_object_keyword(m, kv, kp, branches)?
                }
                "additionalProperties"
                | "patternProperties"
                | "propertyNames"
                | "unevaluatedProperties"
                | "unevaluatedItems"
                | "additionalItems"
                    if v == &Value::Bool(true) || v.as_object().is_some_and(|o| o.is_empty()) => {}
                "additionalProperties" | "patternProperties" | "propertyNames" => {
                    self.negate_object_keyword(m, kv, kp, branches)?
                }
                "unevaluatedProperties"
                | "unevaluatedItems"
                | "additionalItems"
                | "uniqueItems"
                | "$fw_exists"
                | "$recursiveRef" => return Err(cannot_negate(kp, k)),
                "$dynamicRef" => self.negate_combinator(s, m, kv, kp, branches)?,
                _ => {} // unknown keyword: validates nothing, its negation is false
            }
        }
        Ok(if branches.is_empty() {
            Value::Bool(false)
        } else {
            json!({ "anyOf": branches })
        })
    }
    /// The negation of an applicator keyword (`allOf`, `anyOf`, `oneOf`,
    /// `not`, `if`, `$dynamicRef` and the internal `$fw_*` references).
    fn negate_combinator(
        &self,
        s: &Sub<'a>,
        m: &'a Map<String, Value>,
        (k, v): (&str, &'a Value),
        kp: &str,
        branches: &mut Vec<Value>,
    ) -> R<()> {
        use serde_json::json;
        let reg = |p: String, v: &'a Value| self.register(Sub::new(p, v));
        match k {
            "$fw_all" => {
                for x in v.as_array().into_iter().flatten() {
                    branches.push(json!({ "$fw_not": x }));
                }
            }
            "$fw_not" => branches.push(json!({ "$fw_all": [v] })),
            "$fw_nots" => {
                for x in v.as_array().into_iter().flatten() {
                    branches.push(json!({ "$fw_all": [x] }));
                }
            }
            "allOf" => {
                for (i, b) in v.as_array().into_iter().flatten().enumerate() {
                    branches.push(json!({ "$fw_not": reg(format!("{kp}/{i}"), b) }));
                }
            }
            "anyOf" => {
                let all: Vec<usize> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, b)| reg(format!("{kp}/{i}"), b))
                    .collect();
                branches.push(json!({ "$fw_nots": all }));
            }
            "oneOf" => {
                // None holds, or at least two hold.
                let all: Vec<usize> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, b)| reg(format!("{kp}/{i}"), b))
                    .collect();
                branches.push(json!({ "$fw_nots": all }));
                for x in 0..all.len() {
                    for y in x + 1..all.len() {
                        branches.push(json!({ "$fw_all": [all[x], all[y]] }));
                    }
                }
            }
            "not" => branches.push(json!({ "$fw_all": [reg(kp.to_string(), v)] })),
            "if" => {
                let i = reg(kp.to_string(), v);
                if let Some(t) = m.get("then") {
                    let t = reg(child(&s.ptr, "then"), t);
                    branches.push(json!({ "$fw_all": [i], "$fw_not": t }));
                }
                if let Some(e) = m.get("else") {
                    let e = reg(child(&s.ptr, "else"), e);
                    branches.push(json!({ "$fw_nots": [i, e] }));
                }
            }
            "$dynamicRef" => {
                let r = v
                    .as_str()
                    .ok_or_else(|| invalid(kp, "$dynamicRef must be a string"))?;
                let (p, t) = self.resolve_dynamic(r, &s.ptr)?;
                branches.push(json!({ "$fw_not": reg(p, t) }));
            }
            _ => {}
        }
        Ok(())
    }

    /// The negation of `type`, `enum`/`const`, `multipleOf` or an asserted
    /// `format`.
    fn negate_value_keyword(
        &self,
        (k, v): (&str, &'a Value),
        kp: &str,
        branches: &mut Vec<Value>,
    ) -> R<()> {
        use serde_json::json;
        const TYPES: [&str; 6] = ["null", "boolean", "object", "array", "string", "number"];
        let reg = |p: String, v: &'a Value| self.register(Sub::new(p, v));
        match k {
            "multipleOf" => {
                number_keyword(v, kp, k)?;
                branches.push(json!({ "type": "number", "$fw_not_multiple_of": v }));
            }
            "$fw_not_multiple_of" => branches.push(json!({ "multipleOf": v })),
            // Not a non-integer number: anything but a number, or an integer.
            "$fw_non_integer" => branches.push(json!({
                "type": ["null", "boolean", "object", "array", "string", "integer"]
            })),
            "format" if self.options.format == FormatMode::Assert => {
                let f = v.as_str().unwrap_or("");
                match StrRule::Format(f.to_string()).regexes(kp)? {
                    // Not of the format: a string its regex rejects.
                    Some(r) if r.len() == 1 => branches.push(json!({
                        "type": "string", "$fw_not_format": f
                    })),
                    // An intersection of regexes cannot be an exclusion.
                    Some(_) => return Err(cannot_negate(kp, k)),
                    None => {}
                }
            }
            "type" => {
                let names: Vec<&str> = match v {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => return Err(invalid(kp, "type must be a string or an array")),
                };
                // Not an integer: another type, or a number that is
                // not an integer.
                let only_integer = names.contains(&"integer") && !names.contains(&"number");
                let rest: Vec<&str> = TYPES
                    .iter()
                    .copied()
                    .filter(|t| !(names.contains(t) || (only_integer && *t == "number")))
                    .collect();
                if !rest.is_empty() {
                    branches.push(json!({ "type": rest }));
                }
                if only_integer {
                    branches.push(json!({ "type": "number", "$fw_non_integer": true }));
                }
            }
            "enum" | "const" => {
                let vals = if k == "const" {
                    vec![v.clone()]
                } else {
                    v.as_array()
                        .ok_or_else(|| invalid(kp, "enum must be an array"))?
                        .clone()
                };
                // Not any of them: scalars are excluded spellings; an
                // object or array value is negated as the schema that
                // holds exactly it (every key/position with its const).
                let (scalars, structured): (Vec<Value>, Vec<Value>) = vals
                    .into_iter()
                    .partition(|x| !(x.is_object() || x.is_array()));
                let mut b = json!({ "$fw_not_values": scalars });
                if !structured.is_empty() {
                    let regs: Vec<usize> = structured
                        .iter()
                        .enumerate()
                        .map(|(i, x)| reg(format!("{kp}/{i}(value)"), self.made_up(exactly(x))))
                        .collect();
                    b["$fw_nots"] = json!(regs);
                }
                branches.push(b);
            }
            _ => {}
        }
        Ok(())
    }

    /// The negation of an object keyword: a missing required key, a member
    /// failing its schema, a broken dependency, a witness member.
    fn negate_object_keyword(
        &self,
        m: &'a Map<String, Value>,
        (k, v): (&str, &'a Value),
        kp: &str,
        branches: &mut Vec<Value>,
    ) -> R<()> {
        use serde_json::json;
        let reg = |p: String, v: &'a Value| self.register(Sub::new(p, v));
        match k {
            "required" => {
                for r in v.as_array().into_iter().flatten() {
                    let r = r
                        .as_str()
                        .ok_or_else(|| invalid(kp, "required must list strings"))?;
                    branches.push(json!({ "type": "object", "properties": { r: false } }));
                }
            }
            "properties" => {
                let p = v
                    .as_object()
                    .ok_or_else(|| invalid(kp, "properties must be an object"))?;
                for (name, sub) in p {
                    // `{}` never fails: no branch (it would be unsatisfiable).
                    if sub == &Value::Bool(true) || sub.as_object().is_some_and(|o| o.is_empty()) {
                        continue;
                    }
                    let n = reg(child(kp, name), sub);
                    branches.push(json!({ "type": "object", "required": [name],
                        "properties": { name.clone(): { "$fw_not": n } } }));
                }
            }
            "dependentRequired" | "dependentSchemas" | "dependencies" => {
                let d = v
                    .as_object()
                    .ok_or_else(|| invalid(kp, format!("{k} must be an object")))?;
                for (key, dv) in d {
                    match dv {
                        Value::Array(a) => {
                            for x in a {
                                let x = x
                                    .as_str()
                                    .ok_or_else(|| invalid(kp, "dependencies must list strings"))?;
                                branches.push(json!({ "type": "object", "required": [key],
                                    "properties": { x: false } }));
                            }
                        }
                        _ => {
                            let n = reg(child(kp, key), dv);
                            branches.push(json!({ "type": "object", "required": [key],
                                "$fw_not": n }));
                        }
                    }
                }
            }
            // Some member breaks it: a key of the keyword's kind (not
            // in `properties`, matching no pattern; matching this
            // pattern; any key) whose value fails the subschema, or
            // (propertyNames) a key failing it. See `$fw_exists`.
            "additionalProperties" => {
                if m.contains_key("unevaluatedProperties") {
                    return Err(cannot_negate(kp, k));
                }
                let known: Vec<Value> = match m.get("properties") {
                    Some(Value::Object(p)) => p.keys().map(|k| json!(k)).collect(),
                    _ => Vec::new(),
                };
                let pats: Vec<Value> = match m.get("patternProperties") {
                    Some(Value::Object(p)) => p.keys().map(|k| json!(k)).collect(),
                    _ => Vec::new(),
                };
                let key = self.made_up(json!({ "type": "string",
                    "$fw_not_values": known, "$fw_not_pattern": pats }));
                let key = reg(format!("{kp}(key)"), key);
                let value = self.register(self.negate(&Sub::new(kp.to_string(), v))?);
                branches.push(json!({ "type": "object",
                    "$fw_exists": { "key": key, "value": value } }));
            }
            "patternProperties" => {
                let p = v
                    .as_object()
                    .ok_or_else(|| invalid(kp, "patternProperties must be an object"))?;
                for (pat, sub) in p {
                    if sub == &Value::Bool(true) || sub.as_object().is_some_and(|o| o.is_empty()) {
                        continue;
                    }
                    let pp = child(kp, pat);
                    let key = self.made_up(json!({ "type": "string", "pattern": pat }));
                    let key = reg(format!("{pp}(key)"), key);
                    let value = self.register(self.negate(&Sub::new(pp, sub))?);
                    branches.push(json!({ "type": "object",
                        "$fw_exists": { "key": key, "value": value } }));
                }
            }
            "propertyNames" => {
                let key = self.register(self.negate(&Sub::new(kp.to_string(), v))?);
                branches.push(json!({ "type": "object", "$fw_exists": { "key": key } }));
            }
            _ => {}
        }
        Ok(())
    }

    /// The negation of `items`, `prefixItems` or `contains`.
    fn negate_array_keyword(
        &self,
        m: &'a Map<String, Value>,
        (k, v): (&str, &'a Value),
        kp: &str,
        branches: &mut Vec<Value>,
    ) -> R<()> {
        use serde_json::json;
        let reg = |p: String, v: &'a Value| self.register(Sub::new(p, v));
        match k {
            "items" | "prefixItems" => match v {
                Value::Array(a) => {
                    if k == "items" && m.contains_key("prefixItems") {
                        return Ok(());
                    }
                    for (i, sub) in a.iter().enumerate() {
                        let n = reg(format!("{kp}/{i}"), sub);
                        let mut prefix = vec![Value::Bool(true); i];
                        prefix.push(json!({ "$fw_not": n }));
                        branches.push(json!({ "type": "array", "prefixItems": prefix }));
                    }
                }
                _ if k == "items" => {
                    if m.contains_key("prefixItems") {
                        return Err(cannot_negate(kp, k));
                    }
                    if v == &Value::Bool(true) {
                        return Ok(());
                    }
                    let n = reg(kp.to_string(), v);
                    branches.push(json!({ "type": "array", "contains": { "$fw_not": n } }));
                }
                _ => return Err(invalid(kp, "prefixItems must be an array")),
            },
            "contains" => {
                if m.contains_key("minContains") || m.contains_key("maxContains") {
                    return Err(cannot_negate(kp, k));
                }
                let n = reg(kp.to_string(), v);
                branches.push(json!({ "type": "array", "items": { "$fw_not": n } }));
            }
            _ => {}
        }
        Ok(())
    }

    /// The negation of a count (`minLength`, `maxItems`, …), a numeric
    /// bound or a `pattern`.
    fn negate_bound(
        &self,
        m: &'a Map<String, Value>,
        (k, v): (&str, &'a Value),
        kp: &str,
        branches: &mut Vec<Value>,
    ) -> R<()> {
        use serde_json::json;
        match k {
            "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
            | "maxProperties" => {
                let x = as_u64(v, kp, k)?;
                let (t, flip) = match k {
                    "minItems" => ("array", "maxItems"),
                    "maxItems" => ("array", "minItems"),
                    "minLength" => ("string", "maxLength"),
                    "maxLength" => ("string", "minLength"),
                    "minProperties" => ("object", "maxProperties"),
                    _ => ("object", "minProperties"),
                };
                if k.starts_with("min") && x == 0 {
                    return Ok(());
                }
                let y = if k.starts_with("min") {
                    x - 1
                } else {
                    x.saturating_add(1)
                };
                branches.push(json!({ "type": t, flip: y }));
            }
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                let is_min = k.ends_with("inimum");
                let (bound, excl) = match v {
                    Value::Bool(_) => return Ok(()), // draft-04 modifier: read below
                    _ if !k.starts_with("exclusive") => {
                        let draft4 = m.get(if is_min {
                            "exclusiveMinimum"
                        } else {
                            "exclusiveMaximum"
                        }) == Some(&Value::Bool(true));
                        (number_keyword(v, kp, k)?, draft4)
                    }
                    _ => (number_keyword(v, kp, k)?, true),
                };
                let flip = match (is_min, excl) {
                    (true, false) => "exclusiveMaximum",
                    (true, true) => "maximum",
                    (false, false) => "exclusiveMinimum",
                    (false, true) => "minimum",
                };
                branches.push(json!({ "type": "number", flip: bound }));
            }
            "pattern" => match split_leading_lookaheads(&{
                let p = v.as_str().unwrap_or_default();
                drop_trailing_lookahead(p).unwrap_or_else(|| p.to_string())
            }) {
                // Not (^R and ^A and not ^B): one of them fails.
                Some((rest, pos, neg)) => {
                    branches
                        .push(json!({ "type": "string", "$fw_not_pattern": format!("^{rest}") }));
                    for a in pos {
                        branches.push(
                            json!({ "type": "string", "$fw_not_pattern": format!("^(?:{a})") }),
                        );
                    }
                    for b in neg {
                        branches.push(json!({ "type": "string", "pattern": format!("^(?:{b})") }));
                    }
                }
                None => {
                    let p = v.as_str().unwrap_or_default();
                    let p = drop_trailing_lookahead(p).unwrap_or_else(|| p.to_string());
                    branches.push(json!({ "type": "string", "$fw_not_pattern": p }))
                }
            },
            _ => {}
        }
        Ok(())
    }

    /// Expands `$ref` and `allOf`; None if some part is `false`.
    fn flatten(&self, subs: Vec<Sub<'a>>) -> R<Option<Vec<Sub<'a>>>> {
        let mut out: Vec<Sub<'a>> = Vec::new();
        // Each schema seen, by pointer: its place in `out`, or `None` if it
        // is not kept there (`true`, or a legacy `$ref` replaced by its
        // target).
        let mut seen = SeenPointers::default();
        let mut work = subs;
        work.reverse();
        while let Some(s) = work.pop() {
            // A schema occurs once per conjunction: its anyOf/oneOf already
            // distributed in one copy is satisfied in every copy (A ∧ A = A).
            match seen.get(&s.ptr) {
                Some(Some(i)) => {
                    out[i].skip |= s.skip;
                    continue;
                }
                Some(None) => continue,
                None => {}
            }
            seen.insert(&s.ptr, None);
            match s.val {
                Value::Bool(true) => continue,
                Value::Bool(false) => return Ok(None),
                Value::Object(m) => {
                    let mut extra = Vec::new();
                    // Most schemas hold none of the keywords looked up
                    // below: one pass over the keys says which to look up.
                    if !has_flatten_keywords(m) {
                        seen.insert(&s.ptr, Some(out.len()));
                        out.push(s);
                        continue;
                    }
                    if let Some(r) = m.get("$dynamicRef") {
                        let r = r.as_str().ok_or_else(|| {
                            invalid(
                                &child(&s.ptr, "$dynamicRef"),
                                "$dynamicRef must be a string",
                            )
                        })?;
                        let (p, v) = self.resolve_dynamic(r, &s.ptr)?;
                        extra.push(Sub::new(p, v));
                    }
                    if let Some(r) = m.get("$ref") {
                        let r = r.as_str().ok_or_else(|| {
                            invalid(&child(&s.ptr, "$ref"), "$ref must be a string")
                        })?;
                        let (p, v) = self.resolve(r, &s.ptr)?;
                        extra.push(Sub::new(p, v));
                        if self.legacy {
                            // Draft-07 and before: siblings of $ref are ignored.
                            for e in extra.into_iter().rev() {
                                work.push(s.adopt(e));
                            }
                            continue;
                        }
                    }
                    self.rewrites(&s, m, &mut extra)?;
                    if let Some(a) = m.get("allOf") {
                        let a = a.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                            invalid(&child(&s.ptr, "allOf"), "allOf must be a non-empty array")
                        })?;
                        for (i, b) in a.iter().enumerate() {
                            extra.push(Sub::new(format!("{}/allOf/{i}", s.ptr), b));
                        }
                    }
                    for e in extra.into_iter().rev() {
                        work.push(s.adopt(e));
                    }
                    seen.insert(&s.ptr, Some(out.len()));
                    out.push(s);
                }
                _ => return Err(invalid(&s.ptr, "a schema must be an object or a boolean")),
            }
        }
        Ok(Some(out))
    }

    /// A value position: a named rule for the conjunction (shared and
    /// recursive), or None if no value can occur there.
    fn value(&mut self, subs: Vec<Sub<'a>>) -> R<Option<Compiled>> {
        let subs = match self.flatten(subs)? {
            Some(s) => s,
            None => return Ok(None),
        };
        let mut key: ConjKey = subs
            .iter()
            .map(|s| {
                (
                    s.ptr.clone(),
                    s.skip | if s.eval { 0 } else { SKIP_NO_EVAL },
                )
            })
            .collect();
        key.sort();
        key.dedup();
        if let Some(c) = self.cache.get(&key) {
            return Ok(c.clone());
        }
        let name = format!("s{}", self.cache.len());
        // In progress: a recursive reference sees a rule that may hold anything.
        self.cache.insert(
            key.clone(),
            Some(Compiled {
                expr: Expr::rule(&name),
                types: T_ALL,
                values: None,
            }),
        );
        let c = self.conj(subs)?;
        let out = match c {
            Some(c) => {
                let simple = matches!(c.expr, Expr::Rule(_) | Expr::Literal(_) | Expr::Regex(_));
                let expr = if simple {
                    self.g.rule(&name, c.expr.clone());
                    c.expr
                } else {
                    self.g.rule(&name, c.expr);
                    Expr::rule(&name)
                };
                Some(Compiled {
                    expr,
                    types: c.types,
                    values: c.values,
                })
            }
            None => {
                // Recursive uses (if any) refer to a rule that derives nothing.
                self.g.rule(&name, Expr::Choice(Vec::new()));
                None
            }
        };
        self.cache.insert(key, out.clone());
        Ok(out)
    }

    fn any(&mut self) -> Compiled {
        if !self.any {
            add_json_rules(&mut self.g, "any");
            self.any = true;
        }
        Compiled {
            expr: Expr::rule("any"),
            types: T_ALL,
            values: None,
        }
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.n += 1;
        format!("{hint}_{}", self.n)
    }

    /// Compiles a flattened conjunction inline.
    fn conj(&mut self, subs: Vec<Sub<'a>>) -> R<Option<Compiled>> {
        self.depth += 1;
        let r = self.conj_inner(subs);
        self.depth -= 1;
        r
    }

    fn conj_inner(&mut self, subs: Vec<Sub<'a>>) -> R<Option<Compiled>> {
        if self.depth > MAX_DEPTH {
            return Err(GrammarError::TooLarge(format!(
                "schema nesting deeper than {MAX_DEPTH} (through $ref, anyOf or oneOf)"
            )));
        }
        self.work += 1;
        if self.work > MAX_WORK {
            return Err(GrammarError::TooLarge(format!(
                "more than {MAX_WORK} schema combinations (nested anyOf/oneOf/allOf)"
            )));
        }
        // Distribute the last anyOf/oneOf over the conjunction: the one a
        // chosen branch just brought in (a negation's disjunction) goes
        // first, so a contradiction shows before other choices multiply.
        if let Some((i, kw, bit, a)) = pending_disjunction(&subs)? {
            let s = &subs[i];
            let m = s
                .val
                .as_object()
                .expect("a disjunction is in an object schema");
            let kptr = child(&s.ptr, kw);
            let mut branches = Vec::new();
            // Under unevaluated*, annotations come from every anyOf
            // branch that passes: split by the exact set that passes.
            // A negated schema yields no annotations: no split under it.
            let scoped = bit == SKIP_ANYOF
                && s.eval
                && !m.contains_key("$fw_exclusive")
                && subs
                    .iter()
                    .any(|u| u.eval && has_unevaluated(u.val) && s.in_scope_of(&u.ptr));
            if scoped {
                if a.len() > 4 {
                    return Err(unsupported(
                        &kptr,
                        "anyOf with more than 4 branches under unevaluatedProperties/Items",
                    ));
                }
                let all: Vec<Sub<'a>> = a
                    .iter()
                    .enumerate()
                    .map(|(j, b)| Sub::new(format!("{kptr}/{j}"), b))
                    .collect();
                for set in 1u32..(1 << all.len()) {
                    let mut ns = subs.clone();
                    ns[i].skip |= bit;
                    for (j, b) in all.iter().enumerate() {
                        if set & (1 << j) != 0 {
                            ns.push(s.adopt(b.clone()));
                        } else {
                            ns.push(s.adopt(self.negate(b)?));
                        }
                    }
                    branches.extend(self.branch(ns)?);
                }
                return Ok(merge_choice(branches));
            }
            for (j, b) in a.iter().enumerate() {
                let mut ns = subs.clone();
                ns[i].skip |= bit;
                ns.push(s.adopt(Sub::new(format!("{kptr}/{j}"), b)));
                branches.extend(self.branch(ns)?);
            }
            let overlap = bit == SKIP_ONEOF
                && (0..branches.len()).any(|x| {
                    (x + 1..branches.len()).any(|y| !disjoint(&branches[x], &branches[y]))
                })
                && !self.discriminated(&subs, &kptr, a);
            if overlap {
                // Exactly one: branch j and the negation of every other.
                branches.clear();
                let all: Vec<Sub<'a>> = a
                    .iter()
                    .enumerate()
                    .map(|(j, b)| Sub::new(format!("{kptr}/{j}"), b))
                    .collect();
                for j in 0..all.len() {
                    let mut ns = subs.clone();
                    ns[i].skip |= bit;
                    ns.push(s.adopt(all[j].clone()));
                    for (k, other) in all.iter().enumerate() {
                        if k != j {
                            ns.push(s.adopt(self.negate(other).map_err(|e| {
                            unsupported(
                                &kptr,
                                format!("oneOf whose branches may overlap needs their negation: {e}"),
                            )
                        })?));
                        }
                    }
                    branches.extend(self.branch(ns)?);
                }
            }
            return Ok(merge_choice(branches));
        }
        let node = self.collect(&subs)?;
        self.emit(node)
    }

    /// True if no two `branches` of a oneOf (at `kptr`, distributed over
    /// the conjunction `subs`) share an instance because each pins a
    /// property to values the others rule out: `{"kind": {"const": "a"}}`
    /// in one branch, `{"kind": {"enum": ["b", "c"]}}` in another, with
    /// `kind` required (by the branch or the conjunction); or one branch
    /// requires a property another closes out (`additionalProperties:
    /// false` without naming it). Then the oneOf
    /// is an anyOf, with no negations to build. Only objects can tell the
    /// branches apart this way, so the conjunction or each branch must say
    /// `type: object`. Looks at the branches' own keywords, their `$ref`
    /// targets and `allOf` members (a few levels deep); `false` when unsure.
    fn discriminated(&self, subs: &[Sub<'a>], kptr: &str, branches: &'a [Value]) -> bool {
        let object_type = |t: Option<&Value>| match t {
            Some(Value::String(t)) => t == "object",
            Some(Value::Array(t)) => t.len() == 1 && t[0] == "object",
            _ => false,
        };
        let object_only = |v: &Value| object_type(v.get("type"));
        let parts: Vec<Vec<&Value>> = branches
            .iter()
            .enumerate()
            .map(|(j, b)| {
                let mut out = Vec::new();
                self.conjuncts(b, &format!("{kptr}/{j}"), 3, &mut out);
                out
            })
            .collect();
        let context: Vec<&Value> = subs.iter().map(|s| s.val).collect();
        let in_context = context.iter().any(|v| object_only(v));
        if !in_context && !parts.iter().all(|p| p.iter().any(|v| object_only(v))) {
            return false;
        }
        // Values a branch allows for property `key` (one part's `const` or
        // `enum` suffices: the branch allows a subset of it).
        let values = |p: &[&Value], key: &str| -> Option<Vec<Value>> {
            p.iter().find_map(|v| {
                let prop = v.get("properties")?.get(key)?;
                if self.legacy && prop.get("$ref").is_some() {
                    return None; // its siblings are ignored
                }
                match (prop.get("const"), prop.get("enum")) {
                    (Some(c), _) => Some(vec![c.clone()]),
                    (None, Some(Value::Array(e))) => Some(e.clone()),
                    _ => None,
                }
            })
        };
        let requires = |p: &[&Value], key: &str| {
            p.iter().any(|v| {
                v.get("required")
                    .and_then(Value::as_array)
                    .is_some_and(|r| r.iter().any(|k| k == key))
            })
        };
        // `y` admits no member `key`: some part closes the object
        // (`additionalProperties: false`, no patterns) without naming it.
        let forbids = |y: &[&Value], key: &str| {
            y.iter().any(|v| {
                v.get("additionalProperties") == Some(&Value::Bool(false))
                    && v.get("patternProperties").is_none()
                    && v.get("properties").and_then(|p| p.get(key)).is_none()
            })
        };
        let pair = |x: &[&Value], y: &[&Value]| {
            let keys = x
                .iter()
                .chain(&context)
                .filter_map(|v| v.get("required")?.as_array());
            keys.flatten().filter_map(Value::as_str).any(|key| {
                if requires(x, key) && forbids(y, key) {
                    return true;
                }
                match (values(x, key), values(y, key)) {
                    (Some(vx), Some(vy)) => {
                        (requires(x, key) || requires(&context, key)) && {
                            let vy = ValueSet::from_values(vy);
                            !vx.iter().any(|a| vy.contains(a))
                        }
                    }
                    _ => false,
                }
            })
        };
        (0..parts.len()).all(|x| {
            (x + 1..parts.len()).all(|y| pair(&parts[x], &parts[y]) || pair(&parts[y], &parts[x]))
        })
    }

    /// `v` and the schemas it is the conjunction of: its `$ref` target
    /// (only that, before draft 2019-09) and `allOf` members, `depth`
    /// levels down. A `$ref` that does not resolve adds nothing.
    fn conjuncts(&self, v: &'a Value, ptr: &str, depth: u32, out: &mut Vec<&'a Value>) {
        let Some(m) = v.as_object() else {
            return;
        };
        if let Some(r) = m.get("$ref").and_then(Value::as_str) {
            if depth > 0 {
                if let Ok((p, t)) = self.resolve(r, ptr) {
                    self.conjuncts(t, &p, depth - 1, out);
                }
            }
            if self.legacy {
                return;
            }
        }
        out.push(v);
        if let (Some(Value::Array(a)), true) = (m.get("allOf"), depth > 0) {
            for (j, x) in a.iter().enumerate() {
                self.conjuncts(x, &format!("{ptr}/allOf/{j}"), depth - 1, out);
            }
        }
    }

    /// One branch of a distributed disjunction: the conjunction `ns`
    /// flattened and compiled, or `None` if it is plainly empty.
    fn branch(&mut self, ns: Vec<Sub<'a>>) -> R<Option<Compiled>> {
        let Some(ns) = self.flatten(ns)? else {
            return Ok(None);
        };
        if self.prunable(&ns) {
            return Ok(None);
        }
        self.conj(ns)
    }

    /// True if a branch being distributed can be dropped: [`infeasible`]
    /// on the raw keywords (cheap, and it sees keywords `collect` may
    /// refuse), then [`Self::plainly_empty`] on the merged ones.
    fn prunable(&mut self, subs: &[Sub<'a>]) -> bool {
        infeasible(subs) || self.plainly_empty(subs)
    }

    /// True if a flattened conjunction is empty on its plain keywords alone:
    /// its anyOf/oneOf (and the negations, which are anyOfs) left out, so
    /// the set checked is a superset and "empty" is exact. Checked before a
    /// branch is distributed further: allOf of many if/then (each a choice
    /// of two) is a product of choices, and most combinations contradict
    /// each other in a discriminating property (`type: {const: ..}` of
    /// two different values, so the key must be absent, but another
    /// branch requires it). Pruning them early keeps the product small.
    fn plainly_empty(&mut self, subs: &[Sub<'a>]) -> bool {
        let Ok(n) = self.collect(subs) else {
            return false;
        };
        if node_is_empty(&n) {
            return true;
        }
        let only_objects =
            n.object && !(n.null || n.boolean || n.array || n.string || n.number != NumKind::None);
        if !only_objects {
            return false;
        }
        // A required property no value can take.
        for r in &n.required {
            let Ok(ps) = key_subs(&n, r) else {
                return false;
            };
            match self.flatten(ps) {
                Ok(None) => return true,
                Ok(Some(ps)) => {
                    if self.collect(&ps).is_ok_and(|m| node_is_empty(&m)) {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// Merges the keywords of a flattened conjunction without anyOf/oneOf.
    fn collect(&mut self, subs: &[Sub<'a>]) -> R<Node<'a>> {
        let mut n = Node::new();
        for s in subs {
            let m = match s.val {
                Value::Object(m) => m,
                _ => continue,
            };
            let mut obj = ObjKw {
                ptr: s.ptr.clone(),
                ..Default::default()
            };
            let mut has_obj = false;
            let mut arr = ArrKw {
                ptr: s.ptr.clone(),
                prefix: Vec::new(),
                rest: None,
            };
            let mut has_arr = false;
            let items_is_array = m.get("items").is_some_and(Value::is_array);
            for (k, v) in m {
                // The keyword's pointer, made only where it is kept or reported.
                let kp = || child(&s.ptr, k);
                match k.as_str() {
                    "format" if self.options.format == FormatMode::Assert => {
                        if let Some(f) = v.as_str() {
                            n.patterns.push((kp(), StrRule::Format(f.to_string())));
                        }
                    }
                    _ if IGNORED.contains(&k.as_str()) => {}
                    "anyOf" | "oneOf" => {}
                    // Rewritten into conjuncts by `rewrites`.
                    "$fw_all" | "$fw_not" | "$fw_nots" | "$fw_exclusive" | "not" | "if"
                    | "then" | "else" | "dependentRequired" | "dependentSchemas"
                    | "dependencies" => {}
                    "$fw_non_integer"
                    | "$fw_not_multiple_of"
                    | "$fw_not_values"
                    | "$fw_not_pattern"
                    | "$fw_exists"
                    | "$fw_not_format" => self.collect_internal(&mut n, &s.ptr, k, v)?,
                    "pattern" | "type" | "enum" | "const" | "minLength" | "maxLength" => {
                        self.collect_string_keyword(&mut n, &s.ptr, k, v)?
                    }
                    "minimum" | "exclusiveMinimum" | "maximum" | "exclusiveMaximum"
                    | "multipleOf" => self.collect_number_keyword(&mut n, m, &s.ptr, k, v)?,
                    "properties"
                    | "additionalProperties"
                    | "patternProperties"
                    | "propertyNames"
                    | "minProperties"
                    | "maxProperties"
                    | "required" => {
                        self.collect_object_keyword(&mut n, (&mut obj, &mut has_obj), &s.ptr, k, v)?
                    }
                    // Read after the loop, over the whole conjunction.
                    "unevaluatedProperties" | "unevaluatedItems" => {}
                    "items" | "prefixItems" | "minItems" | "maxItems" | "uniqueItems"
                    | "minContains" | "maxContains" | "contains" => self.collect_array_keyword(
                        &mut n,
                        (&mut arr, &mut has_arr),
                        m,
                        &s.ptr,
                        (k, v),
                    )?,
                    // Only meaningful next to an array-form `items` (else ignored).
                    "additionalItems" if items_is_array && !m.contains_key("prefixItems") => self
                        .collect_array_keyword(
                        &mut n,
                        (&mut arr, &mut has_arr),
                        m,
                        &s.ptr,
                        (k, v),
                    )?,
                    "$dynamicRef" => {} // resolved by `flatten`
                    "$recursiveRef" => {
                        return Err(unsupported(
                            &kp(),
                            format!("keyword {k:?} is not supported yet"),
                        ))
                    }
                    _ => {} // unknown keyword: validates nothing
                }
            }
            if has_obj {
                n.objs.push(obj);
            }
            if has_arr {
                n.arrs.push(arr);
            }
        }
        for u in subs {
            if has_unevaluated(u.val) {
                if !u.eval {
                    return Err(unsupported(
                        &u.ptr,
                        "unevaluatedProperties/Items under a negation is not supported",
                    ));
                }
                self.unevaluated(&mut n, u, subs)?;
            }
        }
        Ok(n)
    }

    /// Reads an internal keyword of a made-up schema (negations, witnesses).
    fn collect_internal(&self, n: &mut Node<'a>, ptr: &str, k: &str, v: &'a Value) -> R<()> {
        let kp = || child(ptr, k);
        match k {
            "$fw_non_integer" => n.non_integer = true,
            "$fw_not_multiple_of" => {
                let d = step_value(v, &kp())?;
                n.not_multiple_of
                    .push((d, kp().replace("$fw_not_multiple_of", "multipleOf")));
            }
            "$fw_not_values" => {
                for x in v.as_array().into_iter().flatten() {
                    n.not_values.insert(x.clone());
                }
                n.not_values_ptr = kp();
            }
            "$fw_not_pattern" => {
                // One pattern, or a list (the keys of a negated
                // additionalProperties' patternProperties).
                let ps = match v {
                    Value::Array(a) => a.iter().collect(),
                    _ => vec![v],
                };
                for p in ps {
                    let p = p
                        .as_str()
                        .ok_or_else(|| invalid(&kp(), "pattern must be a string"))?;
                    n.not_patterns.push((
                        kp().replace("$fw_not_pattern", "pattern"),
                        StrRule::Pattern(p.to_string()),
                    ));
                }
            }
            "$fw_exists" => {
                let key = self.registered(&v["key"], &kp())?;
                let value = match v.get("value") {
                    Some(x) => Some(self.registered(x, &kp())?),
                    None => None,
                };
                n.exists.push(Witness {
                    ptr: ptr.to_string(),
                    key,
                    value,
                });
            }
            "$fw_not_format" => {
                let f = v.as_str().unwrap_or_default();
                n.not_patterns.push((
                    kp().replace("$fw_not_format", "format"),
                    StrRule::Format(f.to_string()),
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads `type`, `enum`/`const` or a string keyword (`pattern`, lengths).
    fn collect_string_keyword(&self, n: &mut Node<'a>, ptr: &str, k: &str, v: &'a Value) -> R<()> {
        let kp = || child(ptr, k);
        match k {
            "pattern" => {
                let p = v
                    .as_str()
                    .ok_or_else(|| invalid(&kp(), "pattern must be a string"))?;
                let plain = drop_trailing_lookahead(p);
                let p = plain.as_deref().unwrap_or(p);
                match split_leading_lookaheads(p) {
                    // `^(?=A)(?!B)R`: `^R` and `^A` hold, `^B` does not.
                    Some((rest, pos, neg)) => {
                        n.patterns
                            .push((kp(), StrRule::Pattern(format!("^{rest}"))));
                        for a in pos {
                            n.patterns
                                .push((kp(), StrRule::Pattern(format!("^(?:{a})"))));
                        }
                        for b in neg {
                            n.not_patterns
                                .push((kp(), StrRule::Pattern(format!("^(?:{b})"))));
                        }
                    }
                    None => n.patterns.push((kp(), StrRule::Pattern(p.to_string()))),
                }
            }
            "type" => {
                let names: Vec<&Value> = match v {
                    Value::String(_) => vec![v],
                    Value::Array(a) => a.iter().collect(),
                    _ => return Err(invalid(&kp(), "type must be a string or an array")),
                };
                let (mut nu, mut bo, mut ob, mut ar, mut st) = (false, false, false, false, false);
                let mut num = NumKind::None;
                for t in names {
                    match t.as_str() {
                        Some("null") => nu = true,
                        Some("boolean") => bo = true,
                        Some("object") => ob = true,
                        Some("array") => ar = true,
                        Some("string") => st = true,
                        Some("number") => num = NumKind::Num,
                        Some("integer") => {
                            if num == NumKind::None {
                                num = NumKind::Int
                            }
                        }
                        _ => return Err(invalid(&kp(), format!("unknown type {t}"))),
                    }
                }
                n.null &= nu;
                n.boolean &= bo;
                n.object &= ob;
                n.array &= ar;
                n.string &= st;
                n.number = match (n.number, num) {
                    (NumKind::None, _) | (_, NumKind::None) => NumKind::None,
                    (NumKind::Int, _) | (_, NumKind::Int) => NumKind::Int,
                    _ => NumKind::Num,
                };
            }
            "enum" | "const" => {
                let vals: Vec<Value> = if k == "const" {
                    vec![v.clone()]
                } else {
                    v.as_array()
                        .ok_or_else(|| invalid(&kp(), "enum must be an array"))?
                        .clone()
                };
                let vals = ValueSet::from_values(vals);
                n.values = Some(match n.values.take() {
                    None => vals,
                    Some(mut old) => {
                        old.retain(|x| vals.contains(x));
                        old
                    }
                });
                n.values_ptr = kp();
            }
            "minLength" => {
                n.min_len = n.min_len.max(as_u64(v, &kp(), k)?);
                n.len_ptr = kp();
            }
            "maxLength" => {
                let x = as_u64(v, &kp(), k)?;
                n.len_ptr = kp();
                n.max_len = Some(n.max_len.map_or(x, |y| y.min(x)));
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads a numeric bound or `multipleOf`.
    fn collect_number_keyword(
        &self,
        n: &mut Node<'a>,
        m: &'a Map<String, Value>,
        ptr: &str,
        k: &str,
        v: &'a Value,
    ) -> R<()> {
        let kp = || child(ptr, k);
        match k {
            "minimum" | "exclusiveMinimum" | "maximum" | "exclusiveMaximum" => {
                let is_min = k.ends_with("inimum");
                let (val, excl) = match v {
                    Value::Bool(b) => {
                        // Draft-04: modifies minimum/maximum.
                        if !*b {
                            return Ok(());
                        }
                        let base = if is_min { "minimum" } else { "maximum" };
                        match m.get(base) {
                            Some(Value::Number(x)) => (x, true),
                            _ => return Ok(()),
                        }
                    }
                    Value::Number(x) => {
                        let draft4_excl = !k.starts_with("exclusive")
                            && m.get(&format!(
                                "exclusive{}",
                                if is_min { "Minimum" } else { "Maximum" }
                            )) == Some(&Value::Bool(true));
                        if draft4_excl {
                            // Handled by the boolean keyword.
                            return Ok(());
                        }
                        (x, k.starts_with("exclusive"))
                    }
                    _ => return Err(invalid(&kp(), format!("{k} must be a number"))),
                };
                let d = Decimal::parse(&val.to_string())
                    .ok_or_else(|| unsupported(&kp(), format!("{k}: bound out of range")))?;
                n.bound_ptrs.push(kp());
                let b = Bound {
                    d,
                    excl,
                    ptr_kw: n.bound_ptrs.len() - 1,
                };
                if is_min {
                    n.lo = Some(match n.lo.take() {
                        Some(o) if o.d > b.d || (o.d == b.d && o.excl) => o,
                        _ => b,
                    });
                } else {
                    n.hi = Some(match n.hi.take() {
                        Some(o) if o.d < b.d || (o.d == b.d && o.excl) => o,
                        _ => b,
                    });
                }
            }
            "multipleOf" => {
                let d = step_value(v, &kp())?;
                // Multiples of both are the multiples of their lcm.
                match &n.multiple_of {
                    Some((o, op)) if *o != d => {
                        let l = o.lcm(&d).ok_or_else(|| {
                            unsupported(
                                &kp(),
                                "two multipleOf whose least common multiple has too many digits",
                            )
                        })?;
                        n.multiple_of = Some((l, op.clone()));
                    }
                    _ => n.multiple_of = Some((d, kp())),
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads an object keyword into the node or its holder `obj`.
    fn collect_object_keyword(
        &self,
        n: &mut Node<'a>,
        (obj, has_obj): (&mut ObjKw<'a>, &mut bool),
        ptr: &str,
        k: &str,
        v: &'a Value,
    ) -> R<()> {
        let kp = || child(ptr, k);
        match k {
            "properties" => {
                obj.props = Some(
                    v.as_object()
                        .ok_or_else(|| invalid(&kp(), "properties must be an object"))?,
                );
                *has_obj = true;
            }
            "additionalProperties" => {
                obj.additional = Some(v);
                *has_obj = true;
            }
            "patternProperties" => {
                for (p, sub) in v
                    .as_object()
                    .ok_or_else(|| invalid(&kp(), "patternProperties must be an object"))?
                {
                    obj.patterns.push((child(&kp(), p), p.clone(), sub));
                }
                *has_obj = true;
            }
            "propertyNames" => n.names.push(Sub::new(kp(), v)),
            "minProperties" => n.min_props = n.min_props.max(as_u64(v, &kp(), k)?),
            "maxProperties" => {
                let x = as_u64(v, &kp(), k)?;
                n.max_props = Some(n.max_props.map_or(x, |y| y.min(x)));
                n.props_ptr = kp();
            }
            "required" => {
                for r in v
                    .as_array()
                    .ok_or_else(|| invalid(&kp(), "required must be an array"))?
                {
                    let r = r
                        .as_str()
                        .ok_or_else(|| invalid(&kp(), "required must list strings"))?;
                    if !n.required.iter().any(|x| x == r) {
                        n.required.push(r.to_string());
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads an array keyword into the node or its holder `arr`.
    fn collect_array_keyword(
        &self,
        n: &mut Node<'a>,
        (arr, has_arr): (&mut ArrKw<'a>, &mut bool),
        m: &'a Map<String, Value>,
        ptr: &str,
        (k, v): (&str, &'a Value),
    ) -> R<()> {
        let items_is_array = m.get("items").is_some_and(Value::is_array);
        let kp = || child(ptr, k);
        match k {
            "items" => {
                *has_arr = true;
                match v {
                    Value::Array(a) => {
                        for (i, x) in a.iter().enumerate() {
                            arr.prefix.push((format!("{}/{i}", kp()), x));
                        }
                    }
                    _ => {
                        if m.contains_key("prefixItems") || !items_is_array {
                            arr.rest = Some((kp(), v));
                        }
                    }
                }
            }
            "prefixItems" => {
                *has_arr = true;
                if items_is_array {
                    return Err(unsupported(
                        &kp(),
                        "prefixItems together with an array items",
                    ));
                }
                for (i, x) in v
                    .as_array()
                    .ok_or_else(|| invalid(&kp(), "prefixItems must be an array"))?
                    .iter()
                    .enumerate()
                {
                    arr.prefix.push((format!("{}/{i}", kp()), x));
                }
            }
            // Only meaningful next to an array-form `items` (else ignored).
            "additionalItems" => {
                *has_arr = true;
                arr.rest = Some((kp(), v));
            }
            "minItems" => n.min_items = n.min_items.max(as_u64(v, &kp(), k)?),
            "maxItems" => {
                let x = as_u64(v, &kp(), k)?;
                n.max_items = Some(n.max_items.map_or(x, |y| y.min(x)));
            }
            "uniqueItems" => match v {
                Value::Bool(false) => {}
                Value::Bool(true) => n.unique = Some(kp()),
                _ => return Err(invalid(&kp(), "uniqueItems must be a boolean")),
            },
            "minContains" | "maxContains" => {} // read with `contains`
            "contains" => {
                let min = match m.get("minContains") {
                    Some(x) => as_u64(x, &child(ptr, "minContains"), "minContains")?,
                    None => 1,
                };
                let max = match m.get("maxContains") {
                    Some(x) => Some(as_u64(x, &child(ptr, "maxContains"), "maxContains")?),
                    None => None,
                };
                n.contains.push((kp(), v, min, max));
            }
            _ => {}
        }
        Ok(())
    }

    /// `unevaluatedProperties`/`unevaluatedItems` of `u`: the keys (items)
    /// that no schema of `u`'s subtree in this conjunction evaluates get
    /// `u`'s schema, like an `additionalProperties` (`items`) over the
    /// union of what the subtree evaluates.
    fn unevaluated(&mut self, n: &mut Node<'a>, u: &Sub<'a>, subs: &[Sub<'a>]) -> R<()> {
        let scope: Vec<&Sub<'a>> = subs
            .iter()
            .filter(|s| s.eval && s.in_scope_of(&u.ptr))
            .collect();
        for s in &scope {
            if let Some(i) = s.val.get("if") {
                let alone = s.val.get("then").is_none() && s.val.get("else").is_none();
                if alone && self.negate(&Sub::new(child(&s.ptr, "if"), i)).is_err() {
                    return Err(unsupported(
                        &child(&s.ptr, "if"),
                        "the annotations of this `if` (for unevaluated*) need its negation, which is not supported",
                    ));
                }
            }
        }
        let yes: &'a Value = self.made_up(Value::Bool(true));
        let is_trivial =
            |v: &Value| v == &Value::Bool(true) || v.as_object().is_some_and(|o| o.is_empty());
        if let Some(uv) = u
            .val
            .get("unevaluatedProperties")
            .filter(|v| !is_trivial(v))
        {
            let mut all = false;
            let mut keys: Map<String, Value> = Map::new();
            let mut pats: Vec<(String, String, &'a Value)> = Vec::new();
            for s in &scope {
                let Value::Object(m) = s.val else { continue };
                if m.contains_key("additionalProperties")
                    || (s.ptr != u.ptr && m.contains_key("unevaluatedProperties"))
                {
                    all = true;
                }
                if let Some(Value::Object(p)) = m.get("properties") {
                    for k in p.keys() {
                        keys.insert(k.clone(), Value::Bool(true));
                    }
                }
                if let Some(Value::Object(p)) = m.get("patternProperties") {
                    for pat in p.keys() {
                        let pp = child(&format!("{}(evaluated)", u.ptr), pat);
                        pats.push((pp, pat.clone(), yes));
                    }
                }
            }
            if !all {
                let props: &'a Value = self.made_up(Value::Object(keys));
                n.objs.push(ObjKw {
                    ptr: u.ptr.clone(),
                    props: props.as_object(),
                    additional: Some(uv),
                    patterns: pats,
                    uneval: true,
                });
            }
        }
        if let Some(uv) = u.val.get("unevaluatedItems").filter(|v| !is_trivial(v)) {
            let mut all = false;
            let mut plen = 0;
            for s in &scope {
                let Value::Object(m) = s.val else { continue };
                if s.ptr != u.ptr && m.contains_key("unevaluatedItems") {
                    all = true;
                }
                if m.contains_key("contains") {
                    return Err(unsupported(
                        &child(&s.ptr, "contains"),
                        "contains next to unevaluatedItems is not supported",
                    ));
                }
                match m.get("items") {
                    Some(Value::Array(a)) => {
                        plen = plen.max(a.len());
                        if m.contains_key("additionalItems") {
                            all = true;
                        }
                    }
                    Some(_) => all = true,
                    None => {}
                }
                if let Some(Value::Array(a)) = m.get("prefixItems") {
                    plen = plen.max(a.len());
                }
            }
            if !all {
                n.arrs.push(ArrKw {
                    ptr: u.ptr.clone(),
                    prefix: (0..plen)
                        .map(|i| (format!("{}(evaluated)/{i}", u.ptr), yes))
                        .collect(),
                    rest: Some((child(&u.ptr, "unevaluatedItems"), uv)),
                });
            }
        }
        Ok(())
    }

    fn emit(&mut self, n: Node<'a>) -> R<Option<Compiled>> {
        if n.is_trivial() {
            return Ok(Some(self.any()));
        }
        if let Some(vals) = &n.values {
            let vals = vals
                .iter()
                .filter(|v| !n.not_values.contains(v))
                .cloned()
                .collect();
            return self.emit_values(&n, vals);
        }
        // Values excluded by a negated enum/const: by type.
        let mut not_num: Vec<String> = Vec::new();
        let (mut no_null, mut no_true, mut no_false) = (false, false, false);
        for v in &n.not_values {
            match v {
                Value::Null => no_null = true,
                Value::Bool(true) => no_true = true,
                Value::Bool(false) => no_false = true,
                // Excluded by the string lexeme itself (`string_parts`).
                Value::String(_) => {}
                Value::Number(x) => not_num.push(spell_number(x, &n.not_values_ptr)?),
                _ => {
                    return Err(unsupported(
                        &n.not_values_ptr,
                        "a negated enum/const with an object or array value is not supported",
                    ))
                }
            }
        }
        let mut alts: Vec<Expr> = Vec::new();
        let mut types = 0u8;
        if n.null && !no_null {
            alts.push(Expr::literal("null"));
            types |= T_NULL;
        }
        if n.boolean && !(no_true && no_false) {
            if !no_true {
                alts.push(Expr::literal("true"));
            }
            if !no_false {
                alts.push(Expr::literal("false"));
            }
            types |= T_BOOL;
        }
        if n.string {
            if let Some(e) = string_expr(&n, Vec::new())? {
                alts.push(e);
                types |= T_STR;
            }
        }
        if n.number != NumKind::None {
            let plain_integers = self.draft4 || self.options.spelling == Spelling::Canonical;
            if let Some(e) = number_expr(&n, plain_integers, self.draft4)? {
                let e = exclude_spellings(e, &not_num);
                alts.push(e);
                types |= T_NUM;
            }
        }
        if n.object {
            if let Some(e) = self.object_expr(&n)? {
                alts.push(e);
                types |= T_OBJ;
            }
        }
        if n.array {
            if let Some(e) = self.array_expr(&n)? {
                alts.push(e);
                types |= T_ARR;
            }
        }
        Ok(match alts.len() {
            0 => None,
            1 => Some(Compiled {
                expr: alts.pop().unwrap(),
                types,
                values: None,
            }),
            _ => Some(Compiled {
                expr: Expr::Choice(alts),
                types,
                values: None,
            }),
        })
    }

    /// The values `vals` (distinct) that the rest of `n` accepts, spelled:
    /// strings as one set lexeme (a trie, however many), other values each
    /// in its own spellings.
    fn emit_values(&mut self, n: &Node<'a>, vals: Vec<Value>) -> R<Option<Compiled>> {
        let mut kept: Vec<Value> = Vec::new();
        for v in vals {
            if self.node_holds(&v, n)? {
                kept.push(v);
            }
        }
        if kept.is_empty() {
            return Ok(None);
        }
        if kept.iter().filter(|v| v.is_number()).count() > MAX_ENUM_NUMBERS {
            return Err(unsupported(
                &n.values_ptr,
                format!(
                    "an enum of more than {MAX_ENUM_NUMBERS} numbers (each number is a lexeme \
                     of its own); list them as strings, or describe them with \
                     minimum/maximum/multipleOf"
                ),
            ));
        }
        let mut alts = Vec::new();
        let mut strings = Vec::new();
        let mut types = 0;
        for v in &kept {
            match v {
                Value::String(s) => strings.push(s.clone()),
                _ => alts.push(spell_value(v, &n.values_ptr)?),
            }
            types |= type_bit(v);
        }
        match strings.len() {
            0 => {}
            1 => alts.push(Expr::regex(spell_string(&strings[0]))),
            _ => alts.push(Expr::JsonStrings(strings)),
        }
        Ok(Some(Compiled {
            expr: if alts.len() == 1 {
                alts.pop().unwrap()
            } else {
                Expr::Choice(alts)
            },
            types,
            values: Some(kept),
        }))
    }

    /// Whether the value `x` validates against the conjunction `subs`.
    ///
    /// This is the compiler's own reading of the keywords applied to one
    /// value, so a value and the grammar agree by construction. It filters
    /// `enum`/`const` values next to object and array keywords: each member
    /// and item must validate against the schemas the keywords give it.
    /// `anyOf`/`oneOf` are evaluated branch by branch (`oneOf`: exactly one
    /// passes), `not` and conditionals through their rewrites.
    fn holds(&mut self, x: &Value, subs: Vec<Sub<'a>>) -> R<bool> {
        self.work += 1;
        if self.work > MAX_WORK {
            return Err(GrammarError::TooLarge(format!(
                "more than {MAX_WORK} schema combinations (checking enum/const values)"
            )));
        }
        let Some(subs) = self.flatten(subs)? else {
            return Ok(false);
        };
        if let Some(u) = subs.iter().find(|u| has_unevaluated(u.val)) {
            // Their annotations would need every passing anyOf branch.
            return Err(unsupported(
                &u.ptr,
                "an enum/const value checked against unevaluatedProperties/Items is not supported",
            ));
        }
        if let Some((i, kw, bit, a)) = pending_disjunction(&subs)? {
            let s = &subs[i];
            let kptr = child(&s.ptr, kw);
            let mut passing = 0;
            for (j, b) in a.iter().enumerate() {
                let mut ns = subs.clone();
                ns[i].skip |= bit;
                ns.push(s.adopt(Sub::new(format!("{kptr}/{j}"), b)));
                if self.holds(x, ns)? {
                    passing += 1;
                    if bit == SKIP_ANYOF || passing > 1 {
                        break;
                    }
                }
            }
            return Ok(passing == 1 || (bit == SKIP_ANYOF && passing > 0));
        }
        let n = self.collect(&subs)?;
        self.node_holds(x, &n)
    }

    /// Whether the value `x` satisfies the merged keywords of `n` (members
    /// and items through [`Self::holds`]).
    fn node_holds(&mut self, x: &Value, n: &Node<'a>) -> R<bool> {
        if n.values.as_ref().is_some_and(|v| !v.contains(x)) || n.not_values.contains(x) {
            return Ok(false);
        }
        let ptr = if n.values_ptr.is_empty() {
            n.arrs
                .first()
                .map(|a| a.ptr.to_string())
                .or_else(|| n.objs.first().map(|o| o.ptr.to_string()))
                .unwrap_or_default()
        } else {
            n.values_ptr.clone()
        };
        Ok(match x {
            Value::Null => n.null,
            Value::Bool(_) => n.boolean,
            Value::String(s) => string_ok(n, s)?,
            Value::Number(v) => match (n.number, Decimal::parse(&v.to_string())) {
                (NumKind::None, _) => false,
                (_, Some(d)) => {
                    let plain = !v.to_string().contains(['.', 'e', 'E']);
                    let integral = if self.draft4 { plain } else { d.is_integer() };
                    number_constraint(n).contains(&d)
                        && !(self.draft4 && n.number == NumKind::Int && !plain)
                        && !(n.non_integer && integral)
                        && !n.not_multiple_of.iter().any(|(m, _)| d.is_multiple_of(m))
                }
                (_, None) => return Err(unsupported(&ptr, "enum/const number out of range")),
            },
            Value::Object(m) => {
                let count = m.len() as u64;
                if !n.object
                    || !n.required.iter().all(|r| m.contains_key(r))
                    || count < n.min_props
                    || n.max_props.is_some_and(|mx| count > mx)
                    || !self.witnessed(m, n)?
                {
                    return Ok(false);
                }
                for (k, v) in m {
                    if !n.names.is_empty()
                        && !self.holds(&Value::String(k.clone()), n.names.clone())?
                    {
                        return Ok(false);
                    }
                    let subs = key_subs(n, k)?;
                    if !subs.is_empty() && !self.holds(v, subs)? {
                        return Ok(false);
                    }
                }
                true
            }
            Value::Array(a) => {
                let count = a.len() as u64;
                if !n.array || count < n.min_items || n.max_items.is_some_and(|mx| count > mx) {
                    return Ok(false);
                }
                let mut seen = ValueSet::default();
                if n.unique.is_some() && a.iter().any(|x| !seen.insert(x.clone())) {
                    return Ok(false);
                }
                for (i, item) in a.iter().enumerate() {
                    let mut subs = Vec::new();
                    for arr in &n.arrs {
                        if let Some((p, s)) = arr.prefix.get(i) {
                            subs.push(Sub::new(p.clone(), s));
                        } else if let Some((p, s)) = &arr.rest {
                            subs.push(Sub::new(p.clone(), s));
                        }
                    }
                    if !subs.is_empty() && !self.holds(item, subs)? {
                        return Ok(false);
                    }
                }
                for (cp, cs, lo, hi) in &n.contains {
                    let mut found = 0u64;
                    for item in a {
                        if self.holds(item, vec![Sub::new(cp.clone(), cs)])? {
                            found += 1;
                        }
                    }
                    if found < *lo || hi.is_some_and(|h| found > h) {
                        return Ok(false);
                    }
                }
                true
            }
        })
    }

    /// The merged `propertyNames` schemas as a node (None: no constraint).
    fn names_node(&mut self, n: &Node<'a>) -> R<Option<Node<'a>>> {
        if n.names.is_empty() {
            return Ok(None);
        }
        let subs = match self.flatten(n.names.clone())? {
            Some(s) => s,
            None => return Ok(Some(Node::nothing())),
        };
        for s in &subs {
            if let Value::Object(m) = s.val {
                if m.contains_key("anyOf") || m.contains_key("oneOf") {
                    return Err(unsupported(
                        &s.ptr,
                        "propertyNames with anyOf/oneOf (or not/if) is not supported",
                    ));
                }
            }
        }
        Ok(Some(self.collect(&subs)?))
    }

    /// Members in any order: an [`Expr::AnyOrder`] list (without the
    /// braces), whose parser items track the set of required keys seen (no
    /// rule per subset). `count`: `minProperties`/`maxProperties`; each known
    /// key may then appear at most once (so may a witness member: a second
    /// one parses as a plain member).
    fn any_order_object(
        &mut self,
        n: &Node<'a>,
        members: Vec<(Expr, bool)>,
        extra: Option<Expr>,
        count: Option<(u32, Option<u32>)>,
    ) -> R<Expr> {
        let r = members.iter().filter(|m| m.1).count();
        if r > 63 {
            return Err(unsupported(
                &n.objs.first().map_or(String::new(), |o| o.ptr.to_string()),
                format!(
                    "{r} required properties in any order is too many (at most 63 under \
                     property_order any; property_order schema has no limit)"
                ),
            ));
        }
        Ok(match count {
            None => {
                let mut members = members;
                if let Some(x) = extra {
                    members.push((x, false));
                }
                Expr::any_order(members, Expr::literal(","))
            }
            Some((min, max)) => {
                let mut m: Vec<(Expr, bool, bool)> =
                    members.into_iter().map(|(e, r)| (e, r, true)).collect();
                if let Some(x) = extra {
                    m.push((x, false, false));
                }
                Expr::any_order_counted(m, Expr::literal(","), min, max)
            }
        })
    }

    /// The grammar of an object: its known keys and their value schemas
    /// (`properties`, `required`), the classes of other keys
    /// (`patternProperties`, `additionalProperties`, `propertyNames`), then
    /// the members laid out in any order (counted in the parser) or in the
    /// schema's order (counted in rules), with witness members for negated
    /// object keywords.
    fn object_expr(&mut self, n: &Node<'a>) -> R<Option<Expr>> {
        let names = self.names_node(n)?;
        let keys = known_keys(n);
        let pats = key_patterns(n)?;
        let Some((members, known)) = self.known_members(n, names.as_ref(), &keys, &pats)? else {
            return Ok(None);
        };
        let (extra, classes) = self.other_key_members(n, names.as_ref(), &keys, &pats)?;
        let (minp, maxp) = (n.min_props, n.max_props);
        if maxp.is_some_and(|m| m < minp) {
            return Ok(None);
        }
        let Some(wit) = self.witness_variants(n, &known, &classes)? else {
            return Ok(None);
        };
        let wit = wit.without_implied(&members);
        if wit.count > MAX_WITNESSES {
            return Err(unsupported(
                &n.exists[0].ptr,
                format!(
                    "more than {MAX_WITNESSES} negated additionalProperties/patternProperties/\
                     propertyNames in one object"
                ),
            ));
        }
        let nw = wit.count;
        if self.options.property_order == PropertyOrder::Any {
            // Counted in the parser's item tags while they have room; else
            // the canonical order below counts with rules.
            let bound = |x: u64| u32::try_from(x).ok().filter(|&x| x <= MAX_MEMBER_COUNT);
            let count = if minp == 0 && maxp.is_none() {
                Some(None)
            } else if let (Some(lo), Some(hi)) =
                (bound(minp), maxp.map_or(Some(None), |m| bound(m).map(Some)))
            {
                (members.len() + nw <= MAX_COUNTED_ONCE).then_some(Some((lo, hi)))
            } else {
                None
            };
            if let Some(count) = count {
                return self.any_order_witnessed(n, members, extra, &wit, count);
            }
        }
        self.schema_order_object(n, &members, extra, &wit)
    }

    /// Each known key's member (key and value expression, and whether it is
    /// required): per holder, its property schema and the matching
    /// patterns, or else its additionalProperties. None if a required key
    /// admits no value. Also each member's key and value schemas, for
    /// witness variants.
    #[allow(clippy::type_complexity)]
    fn known_members(
        &mut self,
        n: &Node<'a>,
        names: Option<&Node<'a>>,
        keys: &[String],
        pats: &[KeyPattern<'a>],
    ) -> R<Option<(Vec<(Expr, bool)>, Vec<(String, Vec<Sub<'a>>)>)>> {
        // Each known key's schema: per holder, its property schema and the
        // matching patterns, or else its additionalProperties.
        let mut members: Vec<(Expr, bool)> = Vec::new();
        // Per member: its key and value schemas (for witness variants).
        let mut known: Vec<(String, Vec<Sub<'a>>)> = Vec::new();
        let props_ptrs: Vec<String> = n.objs.iter().map(|o| child(&o.ptr, "properties")).collect();
        for k in keys {
            let required = n.required.contains(k);
            let name_ok = match names {
                Some(nn) => string_ok(nn, k)?,
                None => true,
            };
            let mut subs = Vec::new();
            let token = serde_json::to_string(k).unwrap_or_default();
            for (h, o) in n.objs.iter().enumerate() {
                let mut matched = false;
                if let Some(v) = o.props.and_then(|p| p.get(k)) {
                    subs.push(Sub::new(child(&props_ptrs[h], k), v));
                    matched = true;
                }
                for (ph, ptr, (rx, rx_except), v) in pats {
                    if *ph == h && key_matches(rx, rx_except, &token, ptr)? {
                        subs.push(Sub::new(ptr.clone(), v));
                        matched = true;
                    }
                }
                if !matched {
                    if let Some(a) = o.additional {
                        subs.push(Sub::new(o.additional_ptr(), a));
                    }
                }
            }
            let c = if name_ok {
                self.value(subs.clone())?
            } else {
                None
            };
            match c {
                Some(c) => {
                    members.push((
                        Expr::seq([self.key_expr(k), Expr::literal(":"), c.expr]),
                        required,
                    ));
                    known.push((k.clone(), subs));
                }
                None => {
                    if required {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some((members, known)))
    }

    /// The member of keys other than the known ones (None if no such key
    /// is allowed), split by the set of patterns they match, and per class
    /// its key regexes (all, except) and value schemas when the node has
    /// witnesses.
    #[allow(clippy::type_complexity)]
    fn other_key_members(
        &mut self,
        n: &Node<'a>,
        names: Option<&Node<'a>>,
        keys: &[String],
        pats: &[KeyPattern<'a>],
    ) -> R<(Option<Expr>, Vec<(Vec<String>, Vec<String>, Vec<Sub<'a>>)>)> {
        // Other keys, split by the set of patterns they match.
        let (name_all, name_except) = match names {
            None => (vec![STRING.to_string()], Vec::new()),
            Some(nn) => string_parts(nn, Vec::new())?.unwrap_or_default(),
        };
        let mut extra_alts = Vec::new();
        // Per other-key class: key regexes (all, except) and value schemas.
        let mut classes: Vec<(Vec<String>, Vec<String>, Vec<Sub<'a>>)> = Vec::new();
        if !name_all.is_empty() {
            let mut known_except = name_except.clone();
            // One excluded regex per key, not one alternation: each is the
            // key's own lexeme, already built (and cached across schemas),
            // where an alternation of hundreds of spellings would be parsed
            // and compiled anew.
            known_except.extend(keys.iter().map(|k| spell_string(k)));
            // A key class per subset of patterns matched; a pattern with
            // lookaheads is not matched in one of several disjoint ways.
            // (patterns matched, key regexes, excluded regexes, value schemas)
            type KeyClass<'v> = (u32, Vec<String>, Vec<String>, Vec<Sub<'v>>);
            let mut splits: Vec<KeyClass<'a>> = Vec::new();
            for mask in 0u32..(1 << pats.len()) {
                let mut parts = vec![(name_all.clone(), known_except.clone(), Vec::new())];
                for (j, (_, ptr, (rx, rx_except), v)) in pats.iter().enumerate() {
                    if mask & (1 << j) != 0 {
                        for (all, except, subs) in &mut parts {
                            all.extend(rx.iter().cloned());
                            except.extend(rx_except.iter().cloned());
                            subs.push(Sub::new(ptr.clone(), v));
                        }
                    } else if rx.len() == 1 && rx_except.is_empty() {
                        for (_, except, _) in &mut parts {
                            except.extend(rx.iter().cloned());
                        }
                    } else {
                        let alts = key_pattern_complement(rx, rx_except);
                        parts = parts
                            .into_iter()
                            .flat_map(|(all, except, subs)| {
                                alts.iter().map(move |(a, e)| {
                                    let mut all = all.clone();
                                    all.extend(a.iter().cloned());
                                    let mut except = except.clone();
                                    except.extend(e.iter().cloned());
                                    (all, except, subs.clone())
                                })
                            })
                            .collect();
                    }
                }
                splits.extend(parts.into_iter().map(|(a, e, s)| (mask, a, e, s)));
            }
            if splits.len() > 1 << MAX_PATTERN_PROPERTIES {
                return Err(unsupported(
                    &pats[0].1,
                    "too many key classes from patternProperties with lookaheads",
                ));
            }
            for (mask, all, except, mut subs) in splits {
                for (h, o) in n.objs.iter().enumerate() {
                    let by_pattern = pats
                        .iter()
                        .enumerate()
                        .any(|(j, p)| p.0 == h && mask & (1 << j) != 0);
                    if !by_pattern {
                        if let Some(a) = o.additional {
                            subs.push(Sub::new(o.additional_ptr(), a));
                        }
                    }
                }
                let Some(c) = self.value(subs.clone())? else {
                    continue;
                };
                // Kept for witness variants only.
                if !n.exists.is_empty() {
                    classes.push((all.clone(), except.clone(), subs));
                }
                extra_alts.push(Expr::seq([
                    key_lexeme(all, except),
                    Expr::literal(":"),
                    c.expr,
                ]));
            }
        }
        let extra = match extra_alts.len() {
            0 => None,
            1 => extra_alts.pop(),
            _ => Some(Expr::Choice(extra_alts)),
        };
        Ok((extra, classes))
    }

    /// An object in any property order with its witnesses: per partition of
    /// the witnesses into blocks and per assignment of a witness member to
    /// each block, one any-order list.
    fn any_order_witnessed(
        &mut self,
        n: &Node<'a>,
        mut members: Vec<(Expr, bool)>,
        extra: Option<Expr>,
        wit: &WitnessVariants,
        count: Option<(u32, Option<u32>)>,
    ) -> R<Option<Expr>> {
        let nw = wit.count;
        let full: u32 = (1 << nw) - 1;
        let optional_known = |t: usize| {
            wit.known[t]
                .iter()
                .enumerate()
                .filter(|(i, v)| v.is_some() && !members[*i].1)
                .count()
        };
        if count.is_some() && (1..=full as usize).any(|t| optional_known(t) > 0) {
            // An optional known key as a witness could repeat the
            // key (its plain member is `once`) and be counted twice.
            return Err(unsupported(
                &n.exists[0].ptr,
                "a negated additionalProperties/patternProperties/propertyNames \
                 together with minProperties/maxProperties in any property order",
            ));
        }
        // Witnesses: per partition of them into blocks (one member
        // may witness several), each block is witnessed by a
        // required key (its member becomes the witness variant: it
        // occurs once, and must count for both) or by one more
        // required member (an optional known key or another key).
        // One list per partition and assignment.
        let mut lists = Vec::new();
        for blocks in partitions(nw) {
            let mut assign: Vec<Vec<Option<usize>>> = vec![Vec::new()];
            for &b in &blocks {
                let mut grown = Vec::new();
                for a in &assign {
                    let mut others = a.clone();
                    others.push(None);
                    grown.push(others);
                    for (i, v) in wit.known[b as usize].iter().enumerate() {
                        if v.is_some() && members[i].1 && !a.contains(&Some(i)) {
                            let mut with = a.clone();
                            with.push(Some(i));
                            grown.push(with);
                        }
                    }
                }
                assign = grown;
            }
            'assignment: for a in assign {
                // Without witnesses there is one assignment, the
                // last use of the members.
                let mut ms = if nw == 0 {
                    std::mem::take(&mut members)
                } else {
                    members.clone()
                };
                for (&b, who) in blocks.iter().zip(&a) {
                    let b = b as usize;
                    match who {
                        Some(i) => ms[*i].0 = wit.known[b][*i].clone().expect("a variant"),
                        None => {
                            let mut alts: Vec<Expr> = wit.known[b]
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| !members[*i].1)
                                .filter_map(|(_, v)| v.clone())
                                .collect();
                            alts.extend(wit.extra[b].iter().cloned());
                            if alts.is_empty() {
                                continue 'assignment;
                            }
                            ms.push((one_of(alts), true));
                        }
                    }
                }
                if lists.len() >= MAX_WITNESS_LISTS {
                    return Err(unsupported(
                        &n.exists[0].ptr,
                        "too many ways to witness negated additionalProperties/\
                         patternProperties/propertyNames with required keys",
                    ));
                }
                lists.push(self.any_order_object(n, ms, extra.clone(), count)?);
            }
        }
        Ok(match lists.len() {
            0 => None,
            _ => Some(Expr::seq([
                Expr::literal("{"),
                one_of(lists),
                Expr::literal("}"),
            ])),
        })
    }

    /// An object in the schema's property order, counted in rules.
    fn schema_order_object(
        &mut self,
        n: &Node<'a>,
        members: &[(Expr, bool)],
        extra: Option<Expr>,
        wit: &WitnessVariants,
    ) -> R<Option<Expr>> {
        let (minp, maxp) = (n.min_props, n.max_props);
        let nw = wit.count;
        let full: u32 = (1 << nw) - 1;
        // S(i, c, f): members i.. with none before; T(i, c, f): members i..,
        // each after a comma; c members are present so far (capped where the
        // count no longer matters), f the set of witnesses found so far.
        let len = members.len();
        let cap = maxp.unwrap_or(minp);
        if (len as u64 + 1)
            .saturating_mul(cap + 1)
            .saturating_mul(1 << nw)
            > MAX_OBJECT_RULES
        {
            return Err(unsupported(
                &n.props_ptr,
                "minProperties/maxProperties too large for this many properties",
            ));
        }
        let next = |c: u64| match maxp {
            Some(_) => c + 1,
            None => (c + 1).min(minp),
        };
        let base = self.fresh("obj");
        let s_name = |i: usize, c: u64, f: u32| format!("{base}_s{i}_{c}_{f}");
        let t_name = |i: usize, c: u64, f: u32| format!("{base}_t{i}_{c}_{f}");
        let bound = |x: u64| u32::try_from(x).unwrap_or(u32::MAX);
        // The witness sets a member may newly satisfy when `f` are found.
        let new_sets = |f: u32| (1..=full).filter(move |t| t & f == 0);
        for c in 0..=cap {
            let lo = minp.saturating_sub(c);
            let hi = maxp.map(|m| m - c);
            let (sx, tx) = match &extra {
                Some(x) => {
                    let more = |lo: u64, hi: Option<u64>| {
                        Expr::repeat(
                            Expr::seq([Expr::literal(","), x.clone()]),
                            bound(lo),
                            hi.map(bound),
                        )
                    };
                    let first = Expr::seq([
                        x.clone(),
                        more(lo.saturating_sub(1), hi.map(|h| h.saturating_sub(1))),
                    ]);
                    let sx = match (lo, hi) {
                        (_, Some(0)) => Expr::Empty,
                        (0, _) => Expr::choice([Expr::Empty, first]),
                        _ => first,
                    };
                    (sx, more(lo, hi))
                }
                None if lo == 0 => (Expr::Empty, Expr::Empty),
                None => (Expr::Choice(Vec::new()), Expr::Choice(Vec::new())),
            };
            self.g.rule(s_name(len, c, full), sx);
            self.g.rule(t_name(len, c, full), tx);
            // Witnesses still missing: other keys one by one, until found.
            let take = maxp.is_none_or(|mx| c < mx);
            for f in (0..full).filter(|_| nw > 0) {
                let mut s_alts = Vec::new();
                let mut t_alts = Vec::new();
                if take {
                    let nc = next(c);
                    let mut steps: Vec<(Expr, u32)> = Vec::new();
                    if let Some(x) = &extra {
                        steps.push((x.clone(), f));
                    }
                    for t in new_sets(f) {
                        for v in &wit.extra[t as usize] {
                            steps.push((v.clone(), f | t));
                        }
                    }
                    for (e, nf) in steps {
                        s_alts.push(Expr::seq([e.clone(), Expr::rule(t_name(len, nc, nf))]));
                        t_alts.push(Expr::seq([
                            Expr::literal(","),
                            e,
                            Expr::rule(t_name(len, nc, nf)),
                        ]));
                    }
                }
                self.g.rule(s_name(len, c, f), Expr::Choice(s_alts));
                self.g.rule(t_name(len, c, f), Expr::Choice(t_alts));
            }
        }
        for i in (0..len).rev() {
            let (m, req) = &members[i];
            for c in 0..=cap {
                let take = maxp.is_none_or(|mx| c < mx);
                for f in 0..=full {
                    let mut s_alts = Vec::new();
                    let mut t_alts = Vec::new();
                    if take {
                        let nc = next(c);
                        let mut steps = vec![(m.clone(), f)];
                        for t in new_sets(f) {
                            if let Some(v) = &wit.known[t as usize][i] {
                                steps.push((v.clone(), f | t));
                            }
                        }
                        for (e, nf) in steps {
                            s_alts.push(Expr::seq([e.clone(), Expr::rule(t_name(i + 1, nc, nf))]));
                            t_alts.push(Expr::seq([
                                Expr::literal(","),
                                e,
                                Expr::rule(t_name(i + 1, nc, nf)),
                            ]));
                        }
                    }
                    if !req {
                        s_alts.push(Expr::rule(s_name(i + 1, c, f)));
                        t_alts.push(Expr::rule(t_name(i + 1, c, f)));
                    }
                    self.g.rule(s_name(i, c, f), one_of(s_alts));
                    self.g.rule(t_name(i, c, f), one_of(t_alts));
                }
            }
        }
        Ok(Some(Expr::seq([
            Expr::literal("{"),
            Expr::rule(s_name(0, 0, 0)),
            Expr::literal("}"),
        ])))
    }

    /// Whether an object (an `enum`/`const` value) has the members all of
    /// the node's witnesses ask for.
    fn witnessed(&mut self, m: &Map<String, Value>, n: &Node<'a>) -> R<bool> {
        for w in &n.exists {
            let mut found = false;
            for (k, x) in m {
                if self.holds(&Value::String(k.clone()), vec![w.key.clone()])?
                    && match &w.value {
                        Some(v) => self.holds(x, vec![v.clone()])?,
                        None => true,
                    }
                {
                    found = true;
                    break;
                }
            }
            if !found {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The string nodes whose union is a key schema (`anyOf` split into its
    /// branches, `oneOf` into each branch without the others; nodes without
    /// strings dropped).
    fn key_nodes(&mut self, subs: Vec<Sub<'a>>, out: &mut Vec<Node<'a>>) -> R<()> {
        let Some(subs) = self.flatten(subs)? else {
            return Ok(());
        };
        self.work += 1;
        if self.work > MAX_WORK || out.len() >= MAX_KEY_NODES {
            return Err(GrammarError::TooLarge(format!(
                "too many key schemas for a negated propertyNames/additionalProperties at {}",
                subs.first().map_or("", |s| &*s.ptr)
            )));
        }
        for (i, s) in subs.iter().enumerate() {
            let Value::Object(m) = s.val else { continue };
            for (kw, bit) in [("anyOf", SKIP_ANYOF), ("oneOf", SKIP_ONEOF)] {
                let Some(a) = m.get(kw).filter(|_| s.skip & bit == 0) else {
                    continue;
                };
                let kptr = child(&s.ptr, kw);
                let a = a
                    .as_array()
                    .ok_or_else(|| invalid(&kptr, format!("{kw} must be an array")))?;
                let all: Vec<Sub<'a>> = a
                    .iter()
                    .enumerate()
                    .map(|(j, b)| Sub::new(format!("{kptr}/{j}"), b))
                    .collect();
                for j in 0..all.len() {
                    let mut ns = subs.clone();
                    ns[i].skip |= bit;
                    ns.push(s.adopt(all[j].clone()));
                    if bit == SKIP_ONEOF {
                        // Exactly one: this branch and no other.
                        for (k, other) in all.iter().enumerate() {
                            if k != j {
                                ns.push(s.adopt(self.negate(other)?));
                            }
                        }
                    }
                    self.depth += 1;
                    let r = if self.depth > MAX_DEPTH {
                        Err(GrammarError::TooLarge(format!(
                            "schema nesting deeper than {MAX_DEPTH} (key schema)"
                        )))
                    } else {
                        self.key_nodes(ns, out)
                    };
                    self.depth -= 1;
                    r?;
                }
                return Ok(());
            }
        }
        let node = self.collect(&subs)?;
        if string_parts(&node, Vec::new())?.is_some() {
            out.push(node);
        }
        Ok(())
    }

    /// For each set of the node's witnesses (`$fw_exists`), the members
    /// that satisfy all of them at once: per known member (in the order of
    /// `known`) and over the other-key `classes`. None if some witness can
    /// have no key at all.
    fn witness_variants(
        &mut self,
        n: &Node<'a>,
        known: &[(String, Vec<Sub<'a>>)],
        classes: &[(Vec<String>, Vec<String>, Vec<Sub<'a>>)],
    ) -> R<Option<WitnessVariants>> {
        let nw = n.exists.len();
        let mut out = WitnessVariants {
            count: nw,
            known: vec![vec![None; known.len()]; 1 << nw],
            extra: vec![Vec::new(); 1 << nw],
        };
        if nw == 0 {
            return Ok(Some(out));
        }
        if nw > MAX_WITNESSES_SEEN {
            return Err(unsupported(
                &n.exists[0].ptr,
                format!(
                    "more than {MAX_WITNESSES_SEEN} negated additionalProperties/\
                     patternProperties/propertyNames in one object"
                ),
            ));
        }
        let mut nodes: Vec<Vec<Node<'a>>> = Vec::new();
        for w in &n.exists {
            let mut ks = Vec::new();
            self.key_nodes(vec![w.key.clone()], &mut ks)?;
            if ks.is_empty() {
                return Ok(None);
            }
            nodes.push(ks);
        }
        let mut parts: Vec<Vec<(Vec<String>, Vec<String>)>> = Vec::new();
        for ks in &nodes {
            let mut p = Vec::new();
            for k in ks {
                p.extend(string_parts(k, Vec::new())?);
            }
            parts.push(p);
        }
        let mut lexemes = 0usize;
        for t in 1u32..(1 << nw) {
            let ws: Vec<usize> = (0..nw).filter(|j| t & (1 << j) != 0).collect();
            let vals: Vec<Sub<'a>> = ws
                .iter()
                .filter_map(|&j| n.exists[j].value.clone())
                .collect();
            for (i, (k, subs)) in known.iter().enumerate() {
                let mut fits = true;
                for &j in &ws {
                    let mut any = false;
                    for kn in &nodes[j] {
                        if string_ok(kn, k)? {
                            any = true;
                            break;
                        }
                    }
                    fits &= any;
                }
                if !fits {
                    continue;
                }
                let mut vs = subs.clone();
                vs.extend(vals.iter().cloned());
                if let Some(c) = self.value(vs)? {
                    out.known[t as usize][i] =
                        Some(Expr::seq([self.key_expr(k), Expr::literal(":"), c.expr]));
                }
            }
            for (all, except, subs) in classes {
                let mut vs = subs.clone();
                vs.extend(vals.iter().cloned());
                let Some(c) = self.value(vs)? else { continue };
                // One key lexeme per choice of a key node for each witness.
                let mut keys: Vec<(Vec<String>, Vec<String>)> = vec![(all.clone(), except.clone())];
                for &j in &ws {
                    let mut grown = Vec::new();
                    for (a, e) in &keys {
                        for (pa, pe) in &parts[j] {
                            let mut a = a.clone();
                            a.extend(pa.iter().cloned());
                            let mut e = e.clone();
                            e.extend(pe.iter().cloned());
                            grown.push((a, e));
                        }
                    }
                    keys = grown;
                }
                lexemes += keys.len();
                if lexemes > MAX_WITNESS_LEXEMES {
                    return Err(unsupported(
                        &n.exists[0].ptr,
                        "too many key lexemes for negated additionalProperties/\
                         patternProperties/propertyNames",
                    ));
                }
                for (a, e) in keys {
                    out.extra[t as usize].push(Expr::seq([
                        key_lexeme(a, e),
                        Expr::literal(":"),
                        c.expr.clone(),
                    ]));
                }
            }
        }
        Ok(Some(out))
    }

    /// `uniqueItems: true`. Over items from a small finite set of values
    /// (an `enum`, booleans and `null`), each value is a member of an
    /// any-order list that may appear at most once, and the parser counts
    /// the members for `minItems`/`maxItems`: the grammar alone is exact.
    /// Over any other items the list is distinct ([`Expr::unique_list`]):
    /// the parser compares each item, as a JSON value, with the ones before
    /// it where the item completes.
    fn unique_array(&mut self, n: &Node<'a>, u: &str, plen: usize) -> R<Option<Expr>> {
        let bound = u64::from(MAX_MEMBER_COUNT);
        if n.min_items > bound || n.max_items.is_some_and(|m| m > bound) || plen as u64 > bound {
            // The parser's item count stops at `bound`.
            return Err(unsupported(
                u,
                format!("minItems, maxItems or prefixItems above {bound} with uniqueItems: true"),
            ));
        }
        let (prefix, item, max) = self.array_items(n, plen, n.max_items)?;
        if plen > 0 || item.is_none() {
            let most = prefix.len() as u64 + if item.is_some() { bound } else { 0 };
            let max = max.map_or(most, |m| m.min(most));
            if n.min_items > max {
                return Ok(None);
            }
            return Ok(Some(Expr::seq([
                Expr::literal("["),
                Expr::unique_list(
                    prefix,
                    item.map(|c| c.expr),
                    Expr::literal(","),
                    n.min_items as u32,
                    (max < bound).then_some(max as u32),
                ),
                Expr::literal("]"),
            ])));
        }
        let item = item.expect("checked above");
        let finite = item.values.clone().or_else(|| {
            (item.types & !(T_NULL | T_BOOL) == 0).then(|| {
                let mut v = Vec::new();
                if item.types & T_NULL != 0 {
                    v.push(Value::Null);
                }
                if item.types & T_BOOL != 0 {
                    v.extend([Value::Bool(false), Value::Bool(true)]);
                }
                v
            })
        });
        let Some(vals) = finite.filter(|v| v.len() <= MAX_COUNTED_ONCE) else {
            if n.max_items.is_some_and(|m| m < n.min_items) {
                return Ok(None);
            }
            return Ok(Some(Expr::seq([
                Expr::literal("["),
                Expr::unique_list(
                    Vec::new(),
                    Some(item.expr),
                    Expr::literal(","),
                    n.min_items as u32,
                    n.max_items.map(|m| m as u32),
                ),
                Expr::literal("]"),
            ])));
        };
        let most = vals.len() as u64;
        let max = n.max_items.map_or(most, |m| m.min(most));
        if n.min_items > max {
            return Ok(None);
        }
        let members = vals
            .iter()
            .map(|v| Ok((spell_value(v, u)?, false, true)))
            .collect::<R<Vec<_>>>()?;
        Ok(Some(Expr::seq([
            Expr::literal("["),
            Expr::any_order_counted(
                members,
                Expr::literal(","),
                n.min_items as u32,
                Some(max as u32),
            ),
            Expr::literal("]"),
        ])))
    }

    /// An array under `contains`: items from `prefixItems`/`items`, of
    /// which between minContains and maxContains match each `contains`;
    /// the rules count items (exactly through the prefix) and matches.
    ///
    /// An item is written as one of the classes "matches exactly the
    /// `contains` schemas of a subset S": for a `contains` with a
    /// maxContains the class includes its negation when it is not in S (its
    /// count must be exact); for one without, matching items may also be
    /// left uncounted, which can only lower a count that has no upper bound.
    fn contains_expr(&mut self, n: &Node<'a>) -> R<Option<Expr>> {
        let cptr = n.contains[0].0.clone();
        let ptr = n.arrs.first().map_or(cptr.clone(), |a| a.ptr.to_string());
        if n.unique.is_some() {
            return Err(unsupported(
                &cptr,
                "contains with uniqueItems is not supported yet",
            ));
        }
        let plen = n.arrs.iter().map(|a| a.prefix.len()).max().unwrap_or(0);
        let k = n.contains.len();
        if k > 6 || (plen + 1) << k > 1024 {
            return Err(unsupported(
                &cptr,
                "more than 6 contains, or too many prefixItems next to contains",
            ));
        }
        // The item schemas at position p (p == plen: every later position).
        let at = |p: usize| -> Vec<Sub<'a>> {
            let mut subs = Vec::new();
            for a in &n.arrs {
                if let Some((q, v)) = a.prefix.get(p) {
                    subs.push(Sub::new(q.clone(), v));
                } else if let Some((q, v)) = &a.rest {
                    subs.push(Sub::new(q.clone(), v));
                }
            }
            subs
        };
        let mut items: HashMap<(usize, usize), Option<Expr>> = HashMap::new();
        for p in 0..=plen {
            for set in 0..1usize << k {
                let mut subs = at(p);
                for (c, (cp, cv, _, cmax)) in n.contains.iter().enumerate() {
                    let csub = Sub::new(cp.clone(), cv);
                    if set & (1 << c) != 0 {
                        subs.push(csub);
                    } else if cmax.is_some() {
                        subs.push(self.negate(&csub)?);
                    }
                }
                items.insert((p, set), self.value(subs)?.map(|c| c.expr));
            }
        }
        let (imin, imax) = (n.min_items, n.max_items);
        let icap = imax.unwrap_or(imin.max(1).max(plen as u64));
        let jcaps: Vec<u64> = n
            .contains
            .iter()
            .map(|(_, _, cmin, cmax)| cmax.unwrap_or(*cmin))
            .collect();
        let states = jcaps.iter().try_fold(icap.saturating_add(1), |a, &j| {
            a.checked_mul(j.saturating_add(1))
        });
        if states.is_none_or(|s| s > MAX_OBJECT_RULES) {
            return Err(unsupported(
                &ptr,
                "minItems/maxItems/minContains/maxContains too large together",
            ));
        }
        let base = self.fresh("arr");
        let name = |i: u64, js: &[u64]| {
            let mut s = format!("{base}_{i}");
            for j in js {
                let _ = write!(s, "_{j}");
            }
            s
        };
        let ni = |i: u64| {
            if imax.is_some() {
                i + 1
            } else {
                (i + 1).min(icap)
            }
        };
        // Every count vector, in odometer order.
        let mut all_js: Vec<Vec<u64>> = vec![Vec::new()];
        for &cap in &jcaps {
            all_js = all_js
                .into_iter()
                .flat_map(|js| {
                    (0..=cap).map(move |j| {
                        let mut v = js.clone();
                        v.push(j);
                        v
                    })
                })
                .collect();
        }
        for i in 0..=icap {
            let p = (i as usize).min(plen);
            for js in &all_js {
                let mut alts = Vec::new();
                let done = n
                    .contains
                    .iter()
                    .zip(js)
                    .all(|((_, _, cmin, _), j)| j >= cmin);
                if i >= imin && done {
                    alts.push(Expr::Empty);
                }
                if imax.is_none_or(|m| i < m) {
                    for set in 0..1usize << k {
                        let Some(e) = &items[&(p, set)] else { continue };
                        let mut next = js.clone();
                        let mut fits = true;
                        for (c, (_, _, cmin, cmax)) in n.contains.iter().enumerate() {
                            if set & (1 << c) != 0 {
                                match cmax {
                                    Some(m) if next[c] >= *m => fits = false,
                                    Some(_) => next[c] += 1,
                                    None => next[c] = (next[c] + 1).min(*cmin),
                                }
                            }
                        }
                        if !fits {
                            continue;
                        }
                        let e = if i == 0 {
                            e.clone()
                        } else {
                            Expr::seq([Expr::literal(","), e.clone()])
                        };
                        alts.push(Expr::seq([e, Expr::rule(name(ni(i), &next))]));
                    }
                }
                self.g.rule(name(i, js), Expr::Choice(alts));
            }
        }
        let zeros = vec![0; k];
        Ok(Some(Expr::seq([
            Expr::literal("["),
            Expr::rule(name(0, &zeros)),
            Expr::literal("]"),
        ])))
    }

    /// An array's item schemas, compiled: one per `prefixItems` position (up
    /// to `max` items; a position no value can fill ends the array there),
    /// and the rest (`items`) if an item may follow the prefix. Returns them
    /// and the bound on the number of items, lowered by such a position.
    fn array_items(
        &mut self,
        n: &Node<'a>,
        plen: usize,
        mut max: Option<u64>,
    ) -> R<(Vec<Expr>, Option<Compiled>, Option<u64>)> {
        let mut prefix = Vec::new();
        for i in 0..plen {
            if max.is_some_and(|m| i as u64 >= m) {
                break;
            }
            let mut subs = Vec::new();
            for a in &n.arrs {
                if let Some((p, v)) = a.prefix.get(i) {
                    subs.push(Sub::new(p.clone(), v));
                } else if let Some((p, v)) = &a.rest {
                    subs.push(Sub::new(p.clone(), v));
                }
            }
            match self.value(subs)? {
                Some(c) => prefix.push(c.expr),
                None => {
                    max = Some(i as u64);
                    break;
                }
            }
        }
        let mut rest = None;
        if max.is_none_or(|m| m > prefix.len() as u64) && prefix.len() == plen {
            let subs: Vec<Sub<'a>> = n
                .arrs
                .iter()
                .filter_map(|a| a.rest.as_ref().map(|(p, v)| Sub::new(p.clone(), v)))
                .collect();
            rest = self.value(subs)?;
        }
        Ok((prefix, rest, max))
    }

    fn array_expr(&mut self, n: &Node<'a>) -> R<Option<Expr>> {
        if !n.contains.is_empty() {
            return self.contains_expr(n);
        }
        let plen = n.arrs.iter().map(|a| a.prefix.len()).max().unwrap_or(0);
        let max = n.max_items;
        let min = n.min_items;
        if let Some(u) = &n.unique {
            if max.is_none_or(|m| m > 1) {
                return self.unique_array(n, u, plen);
            }
        }
        let ptr = n.arrs.first().map_or(String::new(), |a| a.ptr.to_string());
        if min > MAX_ITEMS_BOUND || plen as u64 > MAX_ITEMS_BOUND {
            return Err(unsupported(
                &ptr,
                format!("minItems/prefix length above {MAX_ITEMS_BOUND}"),
            ));
        }
        let (pos, rest, max) = self.array_items(n, plen, max)?;
        let rest = rest.map(|c| c.expr);
        let max = match (rest.is_some(), max) {
            (false, _) => Some(max.map_or(pos.len() as u64, |m| m.min(pos.len() as u64))),
            (true, m) => m,
        };
        if max.is_some_and(|m| m < min) {
            return Ok(None);
        }
        // Elements from position i on, each after a comma (no comma at 0).
        let comma = |i: usize, e: Expr| {
            if i == 0 {
                e
            } else {
                Expr::seq([Expr::literal(","), e])
            }
        };
        let np = pos.len();
        let mut tail = match &rest {
            Some(r) if max.is_none_or(|m| m > np as u64) => {
                if max.is_some_and(|m| m > MAX_ITEMS_BOUND) {
                    return Err(unsupported(
                        &ptr,
                        format!("maxItems above {MAX_ITEMS_BOUND} is not supported"),
                    ));
                }
                let lo = min.saturating_sub(np as u64) as u32;
                let hi = max.map(|m| (m - np as u64) as u32);
                if np == 0 {
                    // First element has no comma.
                    let more = |lo: u32, hi: Option<u32>| {
                        Expr::repeat(Expr::seq([Expr::literal(","), r.clone()]), lo, hi)
                    };
                    if lo == 0 {
                        Expr::optional(Expr::seq([
                            r.clone(),
                            more(0, hi.map(|h| h.saturating_sub(1))),
                        ]))
                    } else {
                        Expr::seq([r.clone(), more(lo - 1, hi.map(|h| h - 1))])
                    }
                } else {
                    Expr::repeat(Expr::seq([Expr::literal(","), r.clone()]), lo, hi)
                }
            }
            _ => Expr::Empty,
        };
        for i in (0..np).rev() {
            let e = Expr::seq([comma(i, pos[i].clone()), tail]);
            tail = if (i as u64) < min {
                e
            } else {
                Expr::optional(e)
            };
        }
        Ok(Some(Expr::seq([
            Expr::literal("["),
            tail,
            Expr::literal("]"),
        ])))
    }
}

fn merge_choice(branches: Vec<Compiled>) -> Option<Compiled> {
    if branches.is_empty() {
        return None;
    }
    if branches.len() == 1 {
        return branches.into_iter().next();
    }
    let types = branches.iter().fold(0, |t, b| t | b.types);
    let values = if branches.iter().all(|b| b.values.is_some()) {
        Some(
            branches
                .iter()
                .flat_map(|b| b.values.clone().unwrap())
                .collect(),
        )
    } else {
        None
    };
    Some(Compiled {
        expr: Expr::Choice(branches.into_iter().map(|b| b.expr).collect()),
        types,
        values,
    })
}

/// (index in `subs`, keyword, skip bit, branches) of a pending disjunction.
type Disjunction<'a> = (usize, &'static str, u8, &'a [Value]);

/// The anyOf/oneOf of a flattened conjunction to distribute next, the most
/// recently added first (see `conj_inner`); `None` when every one is
/// distributed.
fn pending_disjunction<'a>(subs: &[Sub<'a>]) -> R<Option<Disjunction<'a>>> {
    for (i, s) in subs.iter().enumerate().rev() {
        let Value::Object(m) = s.val else { continue };
        for (kw, bit) in [("anyOf", SKIP_ANYOF), ("oneOf", SKIP_ONEOF)] {
            if s.skip & bit != 0 {
                continue;
            }
            let Some(a) = m.get(kw) else { continue };
            let a = a.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                invalid(
                    &child(&s.ptr, kw),
                    format!("{kw} must be a non-empty array"),
                )
            })?;
            return Ok(Some((i, kw, bit, a.as_slice())));
        }
    }
    Ok(None)
}

/// A quick test that a flattened conjunction accepts nothing, so that
/// distributing `anyOf`/`oneOf` (and the negations a `oneOf` adds) skips it
/// early instead of spending the combination budget on it. Sound, not
/// complete: no type in common, or objects only and a required key that
/// some schema forbids (a `properties` entry `false`, or
/// `additionalProperties: false` without it in `properties` and without
/// `patternProperties`), or fewer `maxProperties` than required keys.
fn infeasible(subs: &[Sub]) -> bool {
    let mut types = T_ALL;
    let mut required: Vec<&str> = Vec::new();
    let mut max_props = u64::MAX;
    for s in subs {
        let Value::Object(m) = s.val else { continue };
        match m.get("type") {
            Some(Value::String(t)) => types &= type_name_bit(t),
            Some(Value::Array(a)) => {
                types &= a
                    .iter()
                    .map(|t| t.as_str().map_or(T_ALL, type_name_bit))
                    .fold(0, |x, y| x | y)
            }
            _ => {}
        }
        if let Some(Value::Array(r)) = m.get("required") {
            required.extend(r.iter().filter_map(Value::as_str));
        }
        if let Some(x) = m.get("maxProperties").and_then(|v| as_u64(v, "", "").ok()) {
            max_props = max_props.min(x);
        }
    }
    if types == 0 {
        return true;
    }
    if types != T_OBJ || required.is_empty() {
        return false;
    }
    required.sort_unstable();
    required.dedup();
    if required.len() as u64 > max_props {
        return true;
    }
    subs.iter().any(|s| {
        let Value::Object(m) = s.val else {
            return false;
        };
        let props = m.get("properties").and_then(Value::as_object);
        let closed = m.get("additionalProperties") == Some(&Value::Bool(false))
            && !m.contains_key("patternProperties");
        required
            .iter()
            .any(|r| match props.and_then(|p| p.get(*r)) {
                Some(v) => v == &Value::Bool(false),
                None => closed,
            })
    })
}

/// The type bit of a `type` name (`T_ALL` for an unknown one: no pruning).
fn type_name_bit(t: &str) -> u8 {
    match t {
        "null" => T_NULL,
        "boolean" => T_BOOL,
        "object" => T_OBJ,
        "array" => T_ARR,
        "string" => T_STR,
        "number" | "integer" => T_NUM,
        _ => T_ALL,
    }
}

/// Every `patternProperties` pattern of an object: its holder's index,
/// pointer, key regexes (all, except) and schema.
type KeyPattern<'v> = (usize, String, (Vec<String>, Vec<String>), &'v Value);

/// An object's known keys in order: the properties of every holder, then
/// the other required keys.
fn known_keys(n: &Node) -> Vec<String> {
    // Known keys in order: properties of every holder, then required.
    let mut keys: Vec<String> = Vec::new();
    for o in &n.objs {
        if let Some(p) = o.props {
            for k in p.keys() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    for r in &n.required {
        if !keys.contains(r) {
            keys.push(r.clone());
        }
    }
    keys
}

/// Every `patternProperties` pattern of the node's holders.
fn key_patterns<'a>(n: &Node<'a>) -> R<Vec<KeyPattern<'a>>> {
    // Every patternProperties pattern, with its holder and regexes.
    let mut pats: Vec<KeyPattern<'a>> = Vec::new();
    for (h, o) in n.objs.iter().enumerate() {
        for (ptr, p, v) in &o.patterns {
            pats.push((h, ptr.clone(), key_pattern(p, ptr)?, *v));
        }
    }
    if pats.len() > MAX_PATTERN_PROPERTIES {
        return Err(unsupported(
            &pats[0].1,
            format!("more than {MAX_PATTERN_PROPERTIES} patternProperties in one object"),
        ));
    }
    Ok(pats)
}

/// The members satisfying each set of an object's witnesses, indexed by
/// the set's bits (see [`Compiler::witness_variants`]).
struct WitnessVariants {
    count: usize,
    known: Vec<Vec<Option<Expr>>>,
    extra: Vec<Vec<Expr>>,
}

impl WitnessVariants {
    /// Without the witnesses a required member always satisfies (its
    /// witness variant is its plain member: a key outside a closed branch's
    /// `properties`, with any value), renumbered.
    fn without_implied(self, members: &[(Expr, bool)]) -> WitnessVariants {
        let keep: Vec<usize> = (0..self.count)
            .filter(|&t| {
                !members
                    .iter()
                    .enumerate()
                    .any(|(i, (e, req))| *req && self.known[1 << t][i].as_ref() == Some(e))
            })
            .collect();
        if keep.len() == self.count {
            return self;
        }
        let expand = |set: usize| {
            keep.iter()
                .enumerate()
                .filter(|(j, _)| set & (1 << j) != 0)
                .fold(0usize, |acc, (_, &t)| acc | (1 << t))
        };
        let sets = 1usize << keep.len();
        WitnessVariants {
            count: keep.len(),
            known: (0..sets).map(|x| self.known[expand(x)].clone()).collect(),
            extra: (0..sets).map(|x| self.extra[expand(x)].clone()).collect(),
        }
    }
}

/// The partitions of witnesses `0..n` into blocks (as bit sets): each block
/// is witnessed by one member.
fn partitions(n: usize) -> Vec<Vec<u32>> {
    fn go(i: usize, n: usize, blocks: &mut Vec<u32>, out: &mut Vec<Vec<u32>>) {
        if i == n {
            out.push(blocks.clone());
            return;
        }
        for b in 0..blocks.len() {
            blocks[b] |= 1 << i;
            go(i + 1, n, blocks, out);
            blocks[b] &= !(1 << i);
        }
        blocks.push(1 << i);
        go(i + 1, n, blocks, out);
        blocks.pop();
    }
    let mut out = Vec::new();
    go(0, n, &mut Vec::new(), &mut out);
    out
}

/// A key lexeme: the intersection of `all` minus `except`.
fn key_lexeme(mut all: Vec<String>, mut except: Vec<String>) -> Expr {
    all.sort();
    all.dedup();
    except.sort();
    except.dedup();
    if all.len() == 1 && except.is_empty() {
        Expr::regex(all.pop().unwrap())
    } else {
        Expr::Intersect { all, except }
    }
}

fn one_of(mut alts: Vec<Expr>) -> Expr {
    if alts.len() == 1 {
        alts.pop().unwrap()
    } else {
        Expr::Choice(alts)
    }
}

fn disjoint(a: &Compiled, b: &Compiled) -> bool {
    if a.types & b.types == 0 {
        return true;
    }
    match (&a.values, &b.values) {
        (Some(x), Some(y)) => {
            let y = ValueSet::from_values(y.iter().cloned());
            !x.iter().any(|v| y.contains(v))
        }
        (Some(x), None) => x.iter().all(|v| type_bit(v) & b.types == 0),
        (None, Some(y)) => y.iter().all(|v| type_bit(v) & a.types == 0),
        _ => false,
    }
}

/// The schema whose only instance is the object or array `x` (its keys
/// or positions each with their `const`), so that "not `x`" can be built
/// as a negation.
fn exactly(x: &Value) -> Value {
    use serde_json::json;
    match x {
        Value::Object(m) => {
            let props: Map<String, Value> = m
                .iter()
                .map(|(k, v)| (k.clone(), json!({ "enum": [v] })))
                .collect();
            json!({ "type": "object", "required": m.keys().collect::<Vec<_>>(),
                    "properties": props, "additionalProperties": false })
        }
        Value::Array(a) => {
            let items: Vec<Value> = a.iter().map(|v| json!({ "enum": [v] })).collect();
            json!({ "type": "array", "minItems": a.len(), "maxItems": a.len(), "items": items })
        }
        v => json!({ "enum": [v] }),
    }
}

/// True if no value satisfies a node's type and value keywords (the other
/// keywords are not looked at).
fn node_is_empty(n: &Node) -> bool {
    let no_type =
        !(n.null || n.boolean || n.object || n.array || n.string) && n.number == NumKind::None;
    let type_ok = |v: &Value| match v {
        Value::Null => n.null,
        Value::Bool(_) => n.boolean,
        Value::Object(_) => n.object,
        Value::Array(_) => n.array,
        Value::String(_) => n.string,
        Value::Number(_) => n.number != NumKind::None,
    };
    no_type
        || n.values
            .as_ref()
            .is_some_and(|vals| vals.iter().all(|v| !type_ok(v) || n.not_values.contains(v)))
}

/// Whether the JSON string token `token` full-matches every regex of `rx`.
/// The schemas a member with key `key` gets from the object keywords of
/// `n`: per holder, its property schema and the patterns the key matches,
/// or else its additionalProperties (as `object_expr` lays out members).
fn key_subs<'a>(n: &Node<'a>, key: &str) -> R<Vec<Sub<'a>>> {
    let token = serde_json::to_string(key).unwrap_or_default();
    let mut subs = Vec::new();
    for o in &n.objs {
        let mut matched = false;
        if let Some(v) = o.props.and_then(|p| p.get(key)) {
            subs.push(Sub::new(child(&child(&o.ptr, "properties"), key), v));
            matched = true;
        }
        for (pp, p, v) in &o.patterns {
            let (all, except) = key_pattern(p, pp)?;
            if key_matches(&all, &except, &token, pp)? {
                subs.push(Sub::new(pp.clone(), v));
                matched = true;
            }
        }
        if !matched {
            if let Some(a) = o.additional {
                subs.push(Sub::new(o.additional_ptr(), a));
            }
        }
    }
    Ok(subs)
}

/// A `patternProperties` pattern as key regexes: a key matches when it
/// matches every regex of the first list and none of the second (a pattern
/// starting with lookaheads, see [`split_leading_lookaheads`]; otherwise
/// one regex and no exclusion).
fn key_pattern(p: &str, ptr: &str) -> R<(Vec<String>, Vec<String>)> {
    let plain = drop_trailing_lookahead(p);
    let p = plain.as_deref().unwrap_or(p);
    let rx = |p: String| -> R<String> {
        Ok(StrRule::Pattern(p)
            .regexes(ptr)?
            .and_then(|mut v| v.pop())
            .unwrap_or_default())
    };
    match split_leading_lookaheads(p) {
        None => Ok((vec![rx(p.to_string())?], Vec::new())),
        Some((rest, pos, neg)) => {
            let mut all = vec![rx(format!("^{rest}"))?];
            for a in pos {
                all.push(rx(format!("^(?:{a})"))?);
            }
            let except = neg
                .into_iter()
                .map(|b| rx(format!("^(?:{b})")))
                .collect::<R<_>>()?;
            Ok((all, except))
        }
    }
}

/// Whether the string token `token` matches a [`key_pattern`].
fn key_matches(all: &[String], except: &[String], token: &str, ptr: &str) -> R<bool> {
    if !token_matches(all, token, ptr)? {
        return Ok(false);
    }
    for b in except {
        if token_matches(std::slice::from_ref(b), token, ptr)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The keys that do not match a [`key_pattern`], as disjoint (all,
/// except) alternatives: `¬(A₁ ∧ A₂ ∧ ¬B)` is `¬A₁`, `A₁ ∧ ¬A₂` or
/// `A₁ ∧ A₂ ∧ B`.
fn key_pattern_complement(all: &[String], except: &[String]) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    for i in 0..all.len() {
        out.push((all[..i].to_vec(), vec![all[i].clone()]));
    }
    for j in 0..except.len() {
        let mut a = all.to_vec();
        a.push(except[j].clone());
        out.push((a, except[..j].to_vec()));
    }
    out
}

fn token_matches(rx: &[String], token: &str, ptr: &str) -> R<bool> {
    use crate::lexer::{LexemeDfa, DEAD};
    for r in rx {
        // The lexer's DFAs are cached process-wide by pattern: the same
        // key patterns are checked against many keys and branches.
        let dfa = match LexemeDfa::new(r) {
            Ok(d) => d,
            Err(GrammarError::EmptyRegex { .. }) => return Ok(false),
            Err(e) => {
                return Err(unsupported(
                    ptr,
                    format!("pattern too large to evaluate: {e}"),
                ))
            }
        };
        let mut s = dfa.start;
        for b in token.bytes() {
            s = dfa.next(s, b);
            if s == DEAD {
                return Ok(false);
            }
        }
        if !dfa.is_accepting(s) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether the string `s` satisfies a node (its string keywords).
fn string_ok(n: &Node, s: &str) -> R<bool> {
    let v = Value::String(s.to_string());
    if !n.string || n.not_values.contains(&v) {
        return Ok(false);
    }
    if n.values.as_ref().is_some_and(|vals| !vals.contains(&v)) {
        return Ok(false);
    }
    let len = s.chars().count() as u64;
    if len < n.min_len || n.max_len.is_some_and(|m| len > m) {
        return Ok(false);
    }
    let token = serde_json::to_string(s).unwrap_or_default();
    for (ptr, rule) in &n.patterns {
        if let Some(rx) = rule.regexes(ptr)? {
            if !token_matches(&rx, &token, ptr)? {
                return Ok(false);
            }
        }
    }
    for (ptr, rule) in &n.not_patterns {
        if let Some(rx) = rule.regexes(ptr)? {
            if token_matches(&rx, &token, ptr)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The string lexeme: length bounds, patterns, and the exclusions `except`
/// (regexes of excluded spellings) intersected.
fn string_expr(n: &Node, except: Vec<String>) -> R<Option<Expr>> {
    Ok(string_parts(n, except)?.map(|(mut all, except)| {
        if all.len() == 1 && except.is_empty() {
            Expr::regex(all.pop().unwrap())
        } else {
            Expr::Intersect { all, except }
        }
    }))
}

/// The regexes whose intersection, minus `except`, is the node's strings.
fn string_parts(n: &Node, mut except: Vec<String>) -> R<Option<(Vec<String>, Vec<String>)>> {
    if !n.string || n.max_len.is_some_and(|m| m < n.min_len) {
        return Ok(None);
    }
    if let Some(vals) = &n.values {
        // A finite set: the values that qualify, as one trie.
        let mut kept = Vec::new();
        for v in vals {
            if let Value::String(s) = v {
                if string_ok(n, s)? {
                    kept.push(s.clone());
                }
            }
        }
        return Ok(match kept.len() {
            0 => None,
            1 => Some((vec![spell_string(&kept[0])], Vec::new())),
            _ => Some((vec![json_strings_key(&kept)], Vec::new())),
        });
    }
    // Excluded values: as one trie when there are several.
    let excluded: Vec<String> = n
        .not_values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    match excluded.len() {
        0 => {}
        1 => except.push(spell_string(&excluded[0])),
        _ => except.push(json_strings_key(&excluded)),
    }
    let mut all = Vec::new();
    if n.min_len > 0 || n.max_len.is_some() || n.patterns.is_empty() {
        let alone = n.patterns.is_empty() && n.not_patterns.is_empty() && except.is_empty();
        all.push(length_regex(n, alone)?);
    }
    for (ptr, rule) in &n.patterns {
        all.extend(rule.regexes(ptr)?.into_iter().flatten());
    }
    if all.is_empty() {
        all.push(STRING.to_string());
    }
    for (ptr, rule) in &n.not_patterns {
        except.extend(rule.regexes(ptr)?.into_iter().flatten());
    }
    all.sort();
    all.dedup();
    except.sort();
    except.dedup();
    Ok(Some((all, except)))
}

/// A JSON string with the node's length bounds; `alone`: it is the whole
/// lexeme (no pattern or exclusion to intersect it with).
fn length_regex(n: &Node, alone: bool) -> R<String> {
    if n.min_len == 0 && n.max_len.is_none() {
        return Ok(STRING.to_string());
    }
    let bound = n.min_len.max(n.max_len.unwrap_or(0));
    if alone && bound > MAX_PLAIN_STRING_BOUND {
        return Err(unsupported(
            &n.len_ptr,
            format!("minLength/maxLength above {MAX_PLAIN_STRING_BOUND} is not supported"),
        ));
    }
    if !alone && (n.min_len > MAX_STRING_BOUND || bound > MAX_PLAIN_STRING_BOUND) {
        return Err(unsupported(
            &n.len_ptr,
            format!(
                "minLength above {MAX_STRING_BOUND} (or maxLength above \
                 {MAX_PLAIN_STRING_BOUND}) together with a pattern, format or excluded values \
                 is not supported"
            ),
        ));
    }
    // A code point is one raw char, one escape, or a surrogate-pair escape;
    // lone surrogate escapes are rejected under length bounds.
    let cp_exact = r#"(?:[^"\\\x00-\x1F]|\\(?:["\\/bfnrt]|u(?:[0-9a-cA-CefEF][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}|[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})))"#;
    let max = n.max_len.map_or(String::new(), |m| m.to_string());
    Ok(format!("\"{cp_exact}{{{},{max}}}\"", n.min_len))
}

/// The node's numeric keywords as a [`NumberConstraint`].
fn number_constraint(n: &Node) -> NumberConstraint {
    NumberConstraint {
        integer: n.number == NumKind::Int,
        minimum: n.lo.as_ref().map(|b| (b.d.clone(), b.excl)),
        maximum: n.hi.as_ref().map(|b| (b.d.clone(), b.excl)),
        multiple_of: n.multiple_of.as_ref().map(|(d, _)| d.clone()),
    }
}

/// The number lexeme: exact bounds, integrality and `multipleOf` through
/// [`number_regex`] (regexes to intersect).
/// The number lexeme of `n`; `plain_integers`: an integer is written
/// without fraction or exponent (draft 4's notion, or canonical spelling).
fn number_expr(n: &Node, plain_integers: bool, draft4: bool) -> R<Option<Expr>> {
    let c = number_constraint(n);
    let regexes = |c: &NumberConstraint| {
        number_regex(c).map_err(|e| {
            let ptr = match e.keyword() {
                Keyword::MultipleOf => n.multiple_of.as_ref().map(|(_, p)| p.clone()),
                Keyword::Minimum => n.lo.as_ref().map(|b| n.bound_ptrs[b.ptr_kw].clone()),
                Keyword::Maximum => n.hi.as_ref().map(|b| n.bound_ptrs[b.ptr_kw].clone()),
            };
            unsupported(&ptr.unwrap_or_default(), e.to_string())
        })
    };
    if n.non_integer || !n.not_multiple_of.is_empty() {
        // Numbers minus integers (or minus multiples of a step): those are
        // an intersection of regexes, so what is left is the union of their
        // complements, one lexeme each; with several exclusions, one lexeme
        // per choice of a complement from each (draft 4: the integers are
        // the plain ones).
        if n.non_integer && c.integer {
            return Ok(None);
        }
        if let Some(s) = &c.multiple_of {
            if n.not_multiple_of.iter().any(|(m, _)| s.is_multiple_of(m)) {
                return Ok(None);
            }
        }
        let all = if c == NumberConstraint::default() {
            vec![NUMBER.to_string()]
        } else {
            match regexes(&c)? {
                Some(p) => p,
                None => return Ok(None),
            }
        };
        let mut excluded: Vec<Vec<String>> = Vec::new();
        if n.non_integer {
            excluded.push(if draft4 {
                vec![PLAIN_INTEGER.to_string()]
            } else {
                let int = NumberConstraint {
                    integer: true,
                    ..NumberConstraint::default()
                };
                regexes(&int)?.unwrap_or_default()
            });
        }
        for (m, ptr) in &n.not_multiple_of {
            let step = NumberConstraint {
                multiple_of: Some(m.clone()),
                ..NumberConstraint::default()
            };
            let parts = number_regex(&step).map_err(|e| unsupported(ptr, e.to_string()))?;
            excluded.push(parts.unwrap_or_default());
        }
        let mut alts: Vec<Vec<String>> = vec![Vec::new()];
        for parts in excluded {
            let parts: Vec<String> = parts.into_iter().filter(|r| r != NUMBER).collect();
            alts = alts
                .iter()
                .flat_map(|a| {
                    parts.iter().map(move |r| {
                        let mut a = a.clone();
                        a.push(r.clone());
                        a
                    })
                })
                .collect();
            if alts.len() > 16 {
                let ptr = n.not_multiple_of.first().map_or("", |p| p.1.as_str());
                return Err(unsupported(
                    ptr,
                    "more than one negated multipleOf (or type: integer) on one value is not supported",
                ));
            }
        }
        let alts: Vec<Expr> = alts
            .into_iter()
            .filter(|ex| !ex.is_empty())
            .map(|except| Expr::Intersect {
                all: all.clone(),
                except,
            })
            .collect();
        return Ok((!alts.is_empty()).then(|| Expr::choice(alts)));
    }
    if c == NumberConstraint::default() {
        return Ok(Some(Expr::regex(NUMBER)));
    }
    let plain = (plain_integers && c.integer).then(|| PLAIN_INTEGER.to_string());
    let parts = regexes(&c)?;
    Ok(parts.map(|mut p| {
        p.extend(plain);
        if p.len() == 1 {
            Expr::regex(p.pop().unwrap())
        } else {
            Expr::Intersect {
                all: p,
                except: Vec::new(),
            }
        }
    }))
}

/// A `multipleOf` value: a number above 0.
fn step_value(v: &Value, kp: &str) -> R<Decimal> {
    match v {
        Value::Number(x) => Decimal::parse(&x.to_string()),
        _ => None,
    }
    .filter(|d| *d > Decimal::parse("0").unwrap())
    .ok_or_else(|| invalid(kp, "multipleOf must be a number above 0"))
}

/// `e`, a number lexeme (a regex, an intersection, or a choice of them),
/// minus the spellings `except`.
fn exclude_spellings(e: Expr, except: &[String]) -> Expr {
    if except.is_empty() {
        return e;
    }
    match e {
        Expr::Regex(r) => Expr::Intersect {
            all: vec![r],
            except: except.to_vec(),
        },
        Expr::Intersect {
            all,
            except: mut ex,
        } => {
            ex.extend(except.iter().cloned());
            Expr::Intersect { all, except: ex }
        }
        Expr::Choice(alts) => Expr::Choice(
            alts.into_iter()
                .map(|a| exclude_spellings(a, except))
                .collect(),
        ),
        e => e,
    }
}

/// Every spelling of a number value (see [`value_regex`]).
fn spell_number(x: &serde_json::Number, ptr: &str) -> R<String> {
    Decimal::parse(&x.to_string())
        .and_then(|d| value_regex(&d))
        .ok_or_else(|| {
            unsupported(
                ptr,
                format!(
                    "enum/const number {x} has more than {MAX_BOUND_DIGITS} significant digits \
                     or a magnitude beyond 10^±{MAX_BOUND_MAGNITUDE}"
                ),
            )
        })
}

/// An expression accepting every JSON spelling of `v`.
fn spell_value(v: &Value, ptr: &str) -> R<Expr> {
    Ok(match v {
        Value::Null => Expr::literal("null"),
        Value::Bool(b) => Expr::literal(if *b { "true" } else { "false" }),
        Value::String(s) => Expr::regex(spell_string(s)),
        Value::Number(x) => Expr::regex(spell_number(x, ptr)?),
        Value::Array(a) => {
            let mut items = vec![Expr::literal("[")];
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    items.push(Expr::literal(","));
                }
                items.push(spell_value(x, ptr)?);
            }
            items.push(Expr::literal("]"));
            Expr::Seq(items)
        }
        Value::Object(m) => {
            if m.len() > MAX_COUNTED_ONCE {
                return Err(unsupported(
                    ptr,
                    format!(
                        "enum/const object with more than {MAX_COUNTED_ONCE} keys (any key order)"
                    ),
                ));
            }
            let members: Vec<Expr> = m
                .iter()
                .map(|(k, x)| {
                    Ok(Expr::seq([
                        Expr::regex(spell_string(k)),
                        Expr::literal(":"),
                        spell_value(x, ptr)?,
                    ]))
                })
                .collect::<R<_>>()?;
            if m.len() > MAX_ENUM_OBJECT_KEYS {
                // Every key exactly once, in any order: the parser counts
                // them instead of a rule per permutation.
                let n = m.len() as u32;
                return Ok(Expr::seq([
                    Expr::literal("{"),
                    Expr::any_order_counted(
                        members.into_iter().map(|e| (e, true, true)),
                        Expr::literal(","),
                        n,
                        Some(n),
                    ),
                    Expr::literal("}"),
                ]));
            }
            let mut perms = Vec::new();
            permute(&mut (0..members.len()).collect::<Vec<_>>(), 0, &mut perms);
            let alts: Vec<Expr> = perms
                .into_iter()
                .map(|p| {
                    let mut items = vec![Expr::literal("{")];
                    for (i, &j) in p.iter().enumerate() {
                        if i > 0 {
                            items.push(Expr::literal(","));
                        }
                        items.push(members[j].clone());
                    }
                    items.push(Expr::literal("}"));
                    Expr::Seq(items)
                })
                .collect();
            if alts.len() == 1 {
                alts.into_iter().next().unwrap()
            } else {
                Expr::Choice(alts)
            }
        }
    })
}

fn permute(v: &mut Vec<usize>, k: usize, out: &mut Vec<Vec<usize>>) {
    if k >= v.len() {
        out.push(v.clone());
        return;
    }
    for i in k..v.len() {
        v.swap(k, i);
        permute(v, k + 1, out);
        v.swap(k, i);
    }
}

/// A keyword that [`compile_lenient`] left out, and why.
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
const DROPPABLE_KEYWORDS: &[&str] = &[
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
const MAX_LENIENT_DROPS: usize = 64;

/// Compiles `schema` like [`compile`], but a keyword that cannot be
/// enforced (`GrammarError::UnsupportedSchema` naming it by its JSON pointer)
/// is left out and reported as a warning instead of failing the compilation.
///
/// The grammar then no longer matches the schema exactly: leaving out a
/// constraint usually accepts more (a `pattern` ignored lets any string
/// through), and inside `not` it accepts less. Check the warnings; validate
/// outputs when there are any. Errors that name no droppable keyword (a
/// malformed schema, an empty language) are still errors.
///
/// ```
/// use formwork::{json_schema_lenient, SchemaOptions};
/// let schema = serde_json::json!({"type": "array", "items": {"type": "string", "pattern": "(?<=a)b"}});
/// assert!(formwork::json_schema(&schema, &SchemaOptions::default()).is_err());
/// let (grammar, warnings) = json_schema_lenient(&schema, &SchemaOptions::default()).unwrap();
/// assert_eq!(warnings[0].pointer, "/items/pattern");
/// assert!(formwork::CompiledGrammar::new(&grammar).is_ok());
/// ```
pub fn compile_lenient(
    schema: &Value,
    options: &SchemaOptions,
) -> R<(Grammar, Vec<SchemaWarning>)> {
    let mut schema = schema.clone();
    let mut warnings = Vec::new();
    loop {
        match compile(&schema, options) {
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
fn drop_keyword(schema: &mut Value, ptr: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::meta::Regex;

    fn full(re: &str) -> Regex {
        Regex::new(&format!("^(?:{re})$")).unwrap()
    }

    #[test]
    fn number_spellings() {
        let n = |s: &str| full(&spell_number(&serde_json::from_str(s).unwrap(), "").unwrap());
        let one = n("1");
        for ok in ["1", "1.0", "1e0", "10e-1", "0.1e1", "1.000E+0"] {
            assert!(one.is_match(ok), "{ok}");
        }
        for bad in ["11", "0.1", "1e1", "-1"] {
            assert!(!one.is_match(bad), "{bad}");
        }
        let x = n("-12.5");
        for ok in ["-12.5", "-1.25e1", "-125e-1", "-12.50"] {
            assert!(x.is_match(ok), "{ok}");
        }
        assert!(!x.is_match("12.5"));
    }

    #[test]
    fn string_spellings() {
        let s = full(&spell_string("a/\""));
        assert!(s.is_match(r#""a\/\"""#));
        assert!(s.is_match(r#""\u0061/\u0022""#));
        assert!(!s.is_match(r#""a/""#));
    }
}
