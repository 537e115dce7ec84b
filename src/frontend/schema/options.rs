//! The options of the JSON Schema compiler and its documented limits.

use serde_json::Value;

/// Most numbers one `enum` may list. Each number is a lexeme of its own,
/// the regex of all its spellings (about 40 exponents), and a lexer state
/// holding thousands of them costs about 100 KB of tables each; strings, by
/// contrast, share one trie however many there are.
pub(super) const MAX_ENUM_NUMBERS: usize = 2_000;
/// Largest object `const`/`enum` value spelled as a choice of key orders;
/// larger ones (up to [`MAX_COUNTED_ONCE`] keys) are counted any-order lists.
pub(super) const MAX_ENUM_OBJECT_KEYS: usize = 4;
/// Largest `minLength` compiled into a lexeme together with a `pattern` or
/// an exclusion: the intersection is built lazily, but checking that it is
/// not empty searches for a first match, which is that many code points
/// away. (`maxLength` goes up to [`MAX_PLAIN_STRING_BOUND`] either way.)
pub(super) const MAX_STRING_BOUND: u64 = 10_000;
/// Largest finite `maxLength` / `minLength` of a string with no `pattern`:
/// its lexeme counts code points without a state per count (see the lexer's
/// counted lexemes), so the bound is only limited by state numbering.
pub(super) const MAX_PLAIN_STRING_BOUND: u64 = 1_000_000;
/// Largest finite `maxItems` / `minItems` (and prefix length) compiled.
pub(super) const MAX_ITEMS_BOUND: u64 = 2_000;
/// Most `patternProperties` in one object (keys are split by the subset of
/// patterns they match: 2^n classes).
pub(super) const MAX_PATTERN_PROPERTIES: usize = 6;
/// Most rules for one object's members × property counts.
pub(super) const MAX_OBJECT_RULES: u64 = 20_000;
/// A number written as a plain integer (draft-04 `integer`).
pub(super) const PLAIN_INTEGER: &str = "-?(?:0|[1-9][0-9]*)";
/// Budget of conjunctions compiled (guards against exponential distribution).
pub(super) const MAX_WORK: usize = 20_000;
/// Nesting limit of compiled schemas (keeps the compiler's stack bounded).
pub(super) const MAX_DEPTH: usize = 64;
/// Most witnesses (`$fw_exists`: negated `additionalProperties`,
/// `patternProperties`, `propertyNames`) in one object; the rules grow with
/// the 2^n sets of them found.
pub(super) const MAX_WITNESSES: usize = 4;
/// Most witnesses looked at in one object (before those a required member
/// always satisfies are dropped).
pub(super) const MAX_WITNESSES_SEEN: usize = 6;
/// Most string nodes a witness's key schema splits into.
pub(super) const MAX_KEY_NODES: usize = 16;
/// Most any-order lists for one object's witnesses (partitions of them ×
/// the required keys that may witness each block).
pub(super) const MAX_WITNESS_LISTS: usize = 32;
/// Most key lexemes built for one object's witness members.
pub(super) const MAX_WITNESS_LEXEMES: usize = 256;

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
