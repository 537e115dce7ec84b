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
//!
//! # How the compiler is organised
//!
//! A schema is compiled position by position. At each position the schemas
//! that apply form a *conjunction* ([`context::Sub`]s: a pointer, a value,
//! and the chain that brought it in). Compiling one runs these steps, each
//! in its own module:
//!
//! * [`dialect`]: the draft a root `$schema` names, and the later keywords
//!   that draft ignores (stripped before anything else).
//! * [`refs`] (with the `$id`/anchor index in [`ids`]): where a `$ref` or
//!   `$dynamicRef` points, in the schema or a supplied remote document.
//! * [`normalize`]: `not`, `if`/`then`/`else` and `dependent*` rewritten as
//!   made-up schemas (disjunctions, negations built keyword by keyword).
//! * [`conjunction`]: `$ref` and `allOf` flattened, `anyOf`/`oneOf`
//!   distributed, contradictory branches pruned, results cached by the
//!   conjunction's pointers.
//! * [`collect`]: the keywords of a flattened conjunction merged into one
//!   [`context::Node`] (types, values, bounds, object and array holders).
//! * [`compiler`]: a node emitted as a grammar expression, per type:
//!   [`scalar`] (numbers through the [`number`] digit automata, strings
//!   through the [`string`] ECMA-262 translation, `enum`/`const` values in
//!   every spelling), [`object`] (with the witness members of negated object
//!   keywords in [`witness`]) and [`array`].
//! * [`lenient`]: the lenient variant, which drops what cannot be enforced.
//!
//! [`context`] holds what these steps share (the compiler state, the node,
//! the conjunct) and [`options`] the user's options and the limits; both are
//! leaves, so the modules form no import cycle. [`values`] is the set of
//! JSON values compared by value.

mod array;
mod collect;
mod compiler;
mod conjunction;
mod context;
mod dialect;
mod ids;
mod keys;
mod lenient;
mod normalize;
mod number;
mod object;
mod options;
mod refs;
mod scalar;
mod string;
mod values;
mod witness;

pub use lenient::SchemaWarning;
pub use options::{FormatMode, PropertyOrder, SchemaOptions, Spelling, Whitespace};

pub(crate) use number::Decimal;
pub(crate) use values::same_value;

use crate::error::GrammarError;
use crate::grammar::Grammar;
use serde_json::Value;

/// Compiles a JSON Schema into a grammar whose language is the JSON texts
/// that validate against it, or returns [`GrammarError::UnsupportedSchema`]
/// naming a keyword that cannot be enforced exactly and its JSON pointer.
/// A schema that is neither an object nor a boolean is
/// [`GrammarError::InvalidSchema`]. The module docs say what is supported.
///
/// ```
/// use formwork::SchemaOptions;
/// let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "integer"}}});
/// let g = formwork::json_schema(&schema, &SchemaOptions::default()).unwrap();
/// assert!(formwork::CompiledGrammar::new(&g).is_ok());
/// let not_anything = serde_json::json!({"not": {}});
/// assert!(formwork::json_schema(&not_anything, &SchemaOptions::default()).is_err());
/// ```
pub fn compile(schema: &Value, options: &SchemaOptions) -> Result<Grammar, GrammarError> {
    compiler::compile_root(schema, options)
}

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
) -> Result<(Grammar, Vec<SchemaWarning>), GrammarError> {
    lenient::compile_lenient(schema, options)
}
