//! Defensive repair of malformed JSON produced by language models.
//!
//! [`repair`] turns text that is *meant* to be JSON into a [`serde_json::Value`]
//! and reports every fix it applied. It is the post-processing rung of the
//! structured-output ladder: use it when token masking is not available (a
//! hosted API, a model that runs elsewhere).
//!
//! ```
//! use formwork::repair::{repair, RepairKind};
//! use serde_json::json;
//!
//! let out = repair("Sure! ```json\n{name: 'Ada', 'tags': ['x', 'y',], ok: True // done\n```")?;
//! assert_eq!(out.value, json!({"name": "Ada", "tags": ["x", "y"], "ok": true}));
//! assert!(out.fixes.iter().any(|f| f.kind == RepairKind::QuotedKey));
//!
//! // Valid JSON comes back unchanged, with no fixes.
//! let out = repair(r#"{"a": [1, 2.5, null]}"#)?;
//! assert!(out.fixes.is_empty());
//! # Ok::<(), formwork::repair::RepairError>(())
//! ```
//!
//! # Design
//!
//! * **Fast path.** The text is first given to `serde_json::from_str`. Valid
//!   JSON therefore comes back as exactly the value serde_json would produce,
//!   with an empty fix list, at serde_json's speed.
//! * **Repair path.** Otherwise a hand-written recursive-descent parser reads
//!   the text as a sequence of Unicode scalar values. It never fails on a
//!   local problem: every deviation from JSON is repaired in place and recorded
//!   as a [`Fix`]. The algorithm follows the one of the `jsonrepair` JS library
//!   (decide locally, look ahead a little, re-scan a string at most once), plus
//!   a few behaviours of the Python `json_repair` library (prose around the
//!   JSON, Python tuples and set literals, dropping junk words between members).
//! * **Termination.** Every loop either consumes at least one character or
//!   exits; a string is scanned at most twice (the second scan is the "the end
//!   quote is missing" retry, which never retries again). Time is linear in the
//!   input length up to that factor.
//! * **Depth.** Nesting is limited to [`MAX_DEPTH`] (512) open containers.
//!   Deeper input is reported as [`RepairError::TooDeep`]; the stack never
//!   overflows.
//! * **Never panics.** All look-ups are bounds-checked (`get`), there is no
//!   `unwrap` on input-dependent data. A cargo-fuzz target checks this.
//!
//! # Choices
//!
//! * **Quotes.** `'…'`, `“…”`, `‘…’`, `` `…´ `` are string delimiters. A quote
//!   that is not followed by a delimiter (`,` `:` `]` `}` `)` newline, end of
//!   text, or a next value) is taken as an unescaped quote *inside* the string.
//!   In an object value, a quote after which the text reaches the object's
//!   `}`, the end of the text or a quoted key before any other quote ends the
//!   value, and the rest is junk (`{"a": "x" tail}` → `{"a": "x"}`); a quote
//!   that closes a quoted span opened inside the value stays text and the
//!   value ends at the object's `}` (`{"a": "v"alue"}` → `{"a": "v\"alue\""}`),
//!   unless a `{` in the text is still open. A doubled quote before the end
//!   of the member is a literal quote (`"5'11"",` → `"5'11\""`), and three or
//!   more quotes before a delimiter are an empty string. In an array
//!   item, a quote followed by text and another quote opens a quoted span
//!   when the quotes from there to the array's `]` pair up
//!   (`["a "b" c"]` → `["a \"b\" c"]`); otherwise it ends the item
//!   (`["a" b" ]` → `["a", "b"]`). A quote inside a regex character class
//!   (`[` with no whitespace since, and a `]` ahead before any whitespace)
//!   in an object value is text (`"[^'"]+"`). CSV-style doubled quotes
//!   around a word (`""key"": ''value''`) are one pair of quotes; an object
//!   value that starts with a quoted span (`""a" b"`) keeps its quote.
//!   In an object value, a balanced one-line `{…}`/`[…]` with quotes inside
//!   is text when it is valid JSON (`"{"k": 1}"`, `"list [1, "2"]"`) or the
//!   value's end quote follows it.
//! * **Unquoted words** become strings (`{a: hello world}` →
//!   `{"a": "hello world"}`); `True`/`False`/`None` (any case) and `undefined`
//!   become `true`/`false`/`null`.
//! * **`NaN`, `Infinity`, `-Infinity`** become `null`: JSON has no non-finite
//!   numbers and `null` is what `JSON.stringify` writes for them.
//! * **Numbers with leading zeros** (`0789`) become strings, so that no digit
//!   is lost. Truncated numbers are completed (`2.` → `2.0`, `2e` → `2e0`,
//!   `-` → `-0`, `.5` → `0.5`). `1_000` is read as `1000`. A quote right
//!   after a number, before `,`, `}`, `]` or the end of the line (`12345"`),
//!   is dropped and the number stands.
//! * **Empty values.** A key followed by no value before `,` or `}`
//!   (`{"key": , "k2": 1}`) gets `""`, as `json_repair` writes.
//! * **Truncated output**: an open string is closed (trailing whitespace is
//!   dropped), a key cut off after its colon gets `null` (the value is
//!   unknown), open arrays and objects are closed. An empty, unterminated
//!   string at the very end of an array is dropped.
//! * **Prose and several documents** (see the `top` module): a text that
//!   starts with a word and holds no `{`, `[` or code fence is prose, not a
//!   value ([`RepairError::NothingRecoverable`]: `hello`, `Sorry, I can't
//!   help with that.`); a keyword alone (`true`, `None`) and a call
//!   (`callback({...})`, JSONP) are values. Prose before, between and after
//!   JSON is skipped, so several fenced blocks all come back, as an array.
//!   Of several documents, an empty container next to one with data is
//!   dropped (`{"a": 1}, []` → `{"a": 1}`), a document of the same shape as
//!   the one before it and not separated from it by a comma replaces it
//!   (`{"k": 1}\n{"k": 2}` → `{"k": 2}`), and scalar documents count only
//!   in a text with no container (`1\n2` → `[1, 2]`). `ObjectId("…")`
//!   (MongoDB) is unwrapped.
//! * **Code fences** (```` ``` ```` with an optional language tag) are treated
//!   like whitespace between top-level tokens. Inside an array or object a
//!   fence ends the code block: the containers still open are closed as at
//!   the end of the text, and the top level reads on after the fence. A
//!   string value that is only a fence around a valid JSON object or array
//!   (`"```json {…}```"`) is that value.
//! * **Comments**: `//`, `/* */` and `# ` (a `#` before whitespace; inside
//!   a container it also ends at `]` or `}`, as `json_repair` reads it;
//!   `#tag` is text).
//! * **Invalid escapes** (`"\s"`) keep the backslash as text (`\\s`): they
//!   are regular expressions and Windows paths far more often than typos.
//!   An escaped quote of another kind (`\'`) is that quote. An escape cut off
//!   by the end of the text (`"val\`, `"\u12`) is kept as text with its
//!   backslash; a `\u` without four hex digits before the end is an error
//!   ([`RepairError::InvalidUnicodeEscape`]). A run of backslashes before a
//!   quote that text follows (`{\\"key\\\":` — JSON escaped once more, or
//!   badly) is one escaped quote, as is an odd run before any quote.
//! * **Missing end quotes inside objects.** An object value whose end quote
//!   is missing ends at a comma that starts the next member (`, "b":`,
//!   `` , `b: ``), else at the object's final `}` when the quotes inside it
//!   pair up. A balanced `{…}`/`[…]` after a comma inside a value is text
//!   (`"a, {"k": 1}"`), and so are balanced braces inside an unquoted value.
//! * **Structural guesses.** `{"key", 105}` is a comma typed for the colon
//!   when a non-string value follows (`{"a", "b"}` stays a set literal). An
//!   integer followed by a comma and a digit inside an object value
//!   (`"price": 12,50`, `1,000`) is kept as text (`"12,50"`): a key cannot
//!   start there, and decimal comma versus digit groups cannot be told apart.
//!   A second colon after a member's value (`"a": "x": 5`) starts a fragment
//!   that belongs to no key; it is dropped with the value after it. An array
//!   element cut off before it held anything (`[{]`, `[1, -` at the end) is
//!   dropped.
//! * **Streaming.** [`repair_with`] with [`RepairOptions::stream_stable`]
//!   treats a missing end quote as cut off (no trimming, no splitting), so
//!   that repairing a growing prefix gives growing values.
//! * **Errors.** [`RepairError::NothingRecoverable`] when the text contains no
//!   value at all (empty, whitespace, a stray `}`, prose), plus two structural errors
//!   where guessing would invent data: a member that starts with `:` (no key)
//!   and a key followed by something that cannot be a value. A NUL or
//!   another C0 control character but `\t` `\n` `\r` `\b` `\f` anywhere
//!   means binary data ([`RepairError::NulCharacter`],
//!   [`RepairError::ControlCharacter`]).
//!
//! Positions in [`Fix`] and [`RepairError`] are character (not byte) offsets.
//!
//! # Layout
//!
//! `types` holds the public types. The parser's state and the reading of
//! one value are in `parser`; each kind of value has its own module
//! (`strings`, `object`, `array`, `number`, `words`), and `top` reads the
//! documents and prose around them. `schema` fits a value to a JSON Schema,
//! `check` validates, `describe` puts fixes into words. A module imports an
//! item from the module that defines it, never from this one.

mod array;
mod chars;
mod check;
mod describe;
mod number;
mod object;
mod parser;
mod schema;
mod strings;
mod top;
mod types;
mod words;

pub use check::{InvalidSchema, SchemaCheck, Violation};
pub use describe::{describe, Position};
pub use schema::{
    apply_schema, repair_with_schema, Change, ChangeKind, Mismatch, SchemaMode, SchemaRepaired,
};
pub use types::{Fix, RepairError, RepairKind, RepairOptions, Repaired, MAX_DEPTH};

/// The value type returned by [`repair`] (re-exported from `serde_json`).
pub use serde_json::Value;

/// Repair `text` into a JSON value.
///
/// Valid JSON is returned unchanged with no fixes. See the [module
/// documentation](self) for what is repaired and how.
pub fn repair(text: &str) -> Result<Repaired, RepairError> {
    repair_with(text, &RepairOptions::default())
}

/// [`repair`] with options.
pub fn repair_with(text: &str, opts: &RepairOptions) -> Result<Repaired, RepairError> {
    parser::repair_text(text, opts, false)
}

/// Like [`repair`], but returns only the value.
pub fn repair_value(text: &str) -> Result<Value, RepairError> {
    repair(text).map(|r| r.value)
}
