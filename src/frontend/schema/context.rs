//! What the steps of the compiler share: the compiler state
//! ([`Compiler`]), a schema in a conjunction ([`Sub`]), the merged keywords
//! of a conjunction ([`Node`]), a compiled position ([`Compiled`]), and the
//! small helpers every step uses (errors, pointers, type bits, counts).
//! A leaf of the module: it imports no compiler step.

use super::ids::{push_escaped, Resources};
use super::number::Decimal;
use super::options::SchemaOptions;
use super::values::ValueSet;
use crate::error::GrammarError;
use crate::grammar::{Expr, Grammar};
use crate::hash::FxBuild;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use typed_arena::Arena;
pub(super) type R<T> = Result<T, GrammarError>;

pub(super) fn unsupported(pointer: &str, message: impl Into<String>) -> GrammarError {
    GrammarError::UnsupportedSchema {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

pub(super) fn invalid(pointer: &str, message: impl Into<String>) -> GrammarError {
    GrammarError::InvalidSchema {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

/// Whether `m` holds any keyword [`Compiler::flatten`] acts on (references,
/// `allOf`, and what [`Compiler::rewrites`] rewrites).
pub(super) fn has_flatten_keywords(m: &Map<String, Value>) -> bool {
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
pub(super) struct SeenPointers {
    pub(super) list: Vec<(Rc<str>, Option<usize>)>,
    pub(super) map: HashMap<Rc<str>, Option<usize>, FxBuild>,
}

impl SeenPointers {
    const LIST_MAX: usize = 16;

    pub(super) fn get(&self, ptr: &Rc<str>) -> Option<Option<usize>> {
        if self.list.len() < Self::LIST_MAX {
            self.list
                .iter()
                .find(|(p, _)| Rc::ptr_eq(p, ptr) || **p == **ptr)
                .map(|e| e.1)
        } else {
            self.map.get(ptr).copied()
        }
    }

    pub(super) fn insert(&mut self, ptr: &Rc<str>, v: Option<usize>) {
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

pub(super) fn child(ptr: &str, k: &str) -> String {
    let mut out = String::with_capacity(ptr.len() + 1 + k.len());
    out.push_str(ptr);
    out.push('/');
    push_escaped(&mut out, k);
    out
}

pub(super) const SKIP_ANYOF: u8 = 1;
pub(super) const SKIP_ONEOF: u8 = 2;
/// In cache keys only: the schema's annotations do not count.
pub(super) const SKIP_NO_EVAL: u8 = 128;

/// A conjunction as a cache key: its schemas' pointers and skip bits.
pub(super) type ConjKey = Vec<(Rc<str>, u8)>;

/// One schema of a conjunction.
#[derive(Clone, Debug)]
pub(super) struct Sub<'a> {
    /// Shared: conjunctions are copied once per branch distributed.
    pub(super) ptr: Rc<str>,
    pub(super) val: &'a Value,
    pub(super) skip: u8,
    /// Its annotations count for `unevaluated*` (false under a negation).
    pub(super) eval: bool,
    /// The schemas that brought it into the conjunction (`allOf`, `$ref`, a
    /// chosen `anyOf` branch, …), innermost first: `unevaluated*` sees the
    /// annotations of its own subtree only.
    pub(super) parents: Option<Rc<Parent>>,
}

/// A link in [`Sub::parents`] (a list shared by every schema brought in
/// by the same chain).
#[derive(Debug)]
pub(super) struct Parent {
    pub(super) ptr: Rc<str>,
    pub(super) up: Option<Rc<Parent>>,
}

impl<'a> Sub<'a> {
    pub(super) fn new(ptr: impl Into<Rc<str>>, val: &'a Value) -> Sub<'a> {
        Sub {
            ptr: ptr.into(),
            val,
            skip: 0,
            eval: true,
            parents: None,
        }
    }

    /// `e`, brought in by `self`.
    pub(super) fn adopt(&self, mut e: Sub<'a>) -> Sub<'a> {
        e.parents = Some(Rc::new(Parent {
            ptr: self.ptr.clone(),
            up: self.parents.clone(),
        }));
        e.eval &= self.eval;
        e
    }

    /// True if `self` is `u` or was brought in by it.
    pub(super) fn in_scope_of(&self, u: &str) -> bool {
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

/// True if the schema has a non-trivial `unevaluatedProperties`/`Items`.
pub(super) fn has_unevaluated(v: &Value) -> bool {
    ["unevaluatedProperties", "unevaluatedItems"]
        .iter()
        .any(|k| {
            v.get(k).is_some_and(|x| {
                x != &Value::Bool(true) && x.as_object().is_none_or(|o| !o.is_empty())
            })
        })
}

/// JSON types, as bits, for disjointness checks.
pub(super) const T_NULL: u8 = 1;
pub(super) const T_BOOL: u8 = 2;
pub(super) const T_OBJ: u8 = 4;
pub(super) const T_ARR: u8 = 8;
pub(super) const T_STR: u8 = 16;
pub(super) const T_NUM: u8 = 32;
pub(super) const T_ALL: u8 = 63;

pub(super) fn type_bit(v: &Value) -> u8 {
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
pub(super) struct Compiled {
    pub(super) expr: Expr,
    pub(super) types: u8,
    pub(super) values: Option<Vec<Value>>,
}

/// Whether a (sub)schema's numbers may be any number or only integers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum NumKind {
    None,
    Int,
    Num,
}

/// A numeric bound: exact value and exclusiveness.
#[derive(Clone, Debug)]
pub(super) struct Bound {
    pub(super) d: Decimal,
    pub(super) excl: bool,
    pub(super) ptr_kw: usize,
}

/// A constraint on a string's decoded value.
#[derive(Clone, Debug)]
pub(super) enum StrRule {
    Pattern(String),
    Format(String),
}

impl StrRule {
    /// Regexes over the string token whose intersection is the rule; None
    /// for an unknown format (an annotation).
    pub(super) fn regexes(&self, ptr: &str) -> R<Option<Vec<String>>> {
        use super::string::{format_regexes, pattern_regex};
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
pub(super) struct Node<'a> {
    pub(super) null: bool,
    pub(super) boolean: bool,
    pub(super) object: bool,
    pub(super) array: bool,
    pub(super) string: bool,
    pub(super) number: NumKind,
    /// Only non-integer numbers (the negation of `type: integer`).
    pub(super) non_integer: bool,
    /// Only numbers that are not multiples of these (negated `multipleOf`).
    pub(super) not_multiple_of: Vec<(Decimal, String)>,
    pub(super) values: Option<ValueSet>,
    pub(super) values_ptr: String,
    // strings
    pub(super) min_len: u64,
    pub(super) max_len: Option<u64>,
    pub(super) len_ptr: String,
    /// `pattern`s and asserted `format`s the string must satisfy.
    pub(super) patterns: Vec<(String, StrRule)>,
    /// Patterns the string must not match (from negations).
    pub(super) not_patterns: Vec<(String, StrRule)>,
    /// Values excluded (from negated `enum`/`const`).
    pub(super) not_values: ValueSet,
    pub(super) not_values_ptr: String,
    // numbers
    pub(super) lo: Option<Bound>,
    pub(super) hi: Option<Bound>,
    pub(super) multiple_of: Option<(Decimal, String)>,
    pub(super) bound_ptrs: Vec<String>,
    // objects: the object-keyword holders, in order
    pub(super) objs: Vec<ObjKw<'a>>,
    pub(super) required: Vec<String>,
    /// `propertyNames` schemas.
    pub(super) names: Vec<Sub<'a>>,
    pub(super) min_props: u64,
    pub(super) max_props: Option<u64>,
    pub(super) props_ptr: String,
    // arrays
    pub(super) arrs: Vec<ArrKw<'a>>,
    pub(super) min_items: u64,
    pub(super) max_items: Option<u64>,
    pub(super) unique: Option<String>,
    /// `contains`: (pointer, schema, minContains, maxContains).
    pub(super) contains: Vec<(String, &'a Value, u64, Option<u64>)>,
    /// Members the object must have (from negated object keywords).
    pub(super) exists: Vec<Witness<'a>>,
}

/// `$fw_exists`: the object has a member whose key satisfies `key` (a
/// string schema) and whose value satisfies `value` (if any). This is how
/// negated `additionalProperties`, `patternProperties` and `propertyNames`
/// are spelled; `object_expr` enforces it with a witness member.
#[derive(Clone, Debug)]
pub(super) struct Witness<'a> {
    pub(super) ptr: String,
    pub(super) key: Sub<'a>,
    pub(super) value: Option<Sub<'a>>,
}

#[derive(Default)]
pub(super) struct ObjKw<'a> {
    pub(super) ptr: Rc<str>,
    pub(super) props: Option<&'a Map<String, Value>>,
    pub(super) additional: Option<&'a Value>,
    /// `patternProperties`: (pointer, ECMA-262 pattern, schema).
    pub(super) patterns: Vec<(String, String, &'a Value)>,
    /// `additional` is an `unevaluatedProperties` (for its pointer).
    pub(super) uneval: bool,
}

impl ObjKw<'_> {
    pub(super) fn additional_ptr(&self) -> String {
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

pub(super) struct ArrKw<'a> {
    pub(super) ptr: Rc<str>,
    pub(super) prefix: Vec<(String, &'a Value)>,
    pub(super) rest: Option<(String, &'a Value)>,
}

impl<'a> Node<'a> {
    pub(super) fn new() -> Node<'a> {
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
    pub(super) fn nothing() -> Node<'a> {
        let mut n = Node::new();
        n.null = false;
        n.boolean = false;
        n.object = false;
        n.array = false;
        n.string = false;
        n.number = NumKind::None;
        n
    }

    pub(super) fn is_trivial(&self) -> bool {
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

pub(super) struct Compiler<'a> {
    pub(super) root: &'a Value,
    /// Remote documents by absolute URI without fragment; pointers into one
    /// are `URI#/pointer` (see [`Compiler::locate`]).
    pub(super) remotes: HashMap<String, &'a Value>,
    /// Schemas made up by the compiler (negations, rewritten conditionals).
    pub(super) arena: &'a Arena<Value>,
    /// Subschemas that made-up schemas refer to (`$fw_all`, `$fw_not`).
    pub(super) registry: RefCell<Vec<Sub<'a>>>,
    /// Negations built so far, by pointer.
    pub(super) negations: RefCell<HashMap<String, &'a Value>>,
    pub(super) options: &'a SchemaOptions,
    /// DFAs of the patterns that values are checked against (`const`,
    /// `enum`, property names), for this compile only: compiled grammars
    /// take their lexeme DFAs from the cache they are compiled with.
    pub(super) value_dfas: crate::lexer::DfaCache,
    pub(super) legacy: bool,
    pub(super) draft4: bool,
    pub(super) g: Grammar,
    /// Flattened conjunction key -> compiled rule (None: accepts nothing;
    /// types T_ALL and no values while in progress).
    pub(super) cache: HashMap<ConjKey, Option<Compiled>, FxBuild>,
    pub(super) any: bool,
    pub(super) n: usize,
    pub(super) work: usize,
    pub(super) depth: usize,
    /// Grows as `$ref`s reach into remote documents.
    pub(super) resources: RefCell<Resources>,
    /// Resolved `$ref`s: base URI -> reference -> target pointer and schema
    /// (a big schema refers to the same definitions from many places).
    pub(super) resolved: RefCell<HashMap<String, HashMap<String, Resolved<'a>>>>,
}

/// A `$ref`'s target: its pointer and its schema.
pub(super) type Resolved<'a> = (String, &'a Value);

/// Keywords that are annotations or containers, or not validation keywords.
pub(super) const IGNORED: &[&str] = &[
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
pub(super) fn as_u64(v: &Value, ptr: &str, kw: &str) -> R<u64> {
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

/// True if no value satisfies a node's type and value keywords (the other
/// keywords are not looked at).
pub(super) fn node_is_empty(n: &Node) -> bool {
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
