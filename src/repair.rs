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

use serde_json::Map;
use std::cell::Cell;

mod check;
mod describe;
pub mod schema;
mod strings;
mod top;

pub use check::{InvalidSchema, SchemaCheck, Violation};
pub use describe::{describe, Position};
pub use schema::{repair_with_schema, Change, ChangeKind, Mismatch, SchemaMode, SchemaRepaired};
/// The value type returned by [`repair`] (re-exported from `serde_json`).
pub use serde_json::Value;

/// Maximum nesting of arrays, objects and tuples.
pub const MAX_DEPTH: usize = 512;

/// Characters that the look-ahead for a balanced `{…}`/`[…]` inside a string
/// value (`"a, {"k": 1}"`) may read in one repair, all calls together.
const INLINE_SCAN_BUDGET: usize = 1 << 20;

/// What a [`Fix`] repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RepairKind {
    /// A Markdown code fence (```` ``` ```` plus language tag) was removed.
    StrippedCodeFence,
    /// Prose before the JSON was skipped.
    SkippedLeadingText,
    /// Text after the JSON was ignored.
    SkippedTrailingText,
    /// A stray character or word that belongs to no value was dropped.
    SkippedJunk,
    /// A `//`, `/* */` or `# ` comment was removed.
    RemovedComment,
    /// Single, curly or backtick quotes were replaced by double quotes.
    NormalizedQuotes,
    /// An object key had no quotes.
    QuotedKey,
    /// A value was an unquoted word and became a string.
    QuotedValue,
    /// A missing start or end quote was added.
    AddedMissingQuote,
    /// A quote inside a string was escaped.
    EscapedQuote,
    /// A raw newline, tab, carriage return, backspace or form feed in a
    /// string was escaped.
    EscapedControlChar,
    /// An invalid escape sequence (`\s`) was kept as text with its
    /// backslash, or an escaped quote of another kind (`\'`) was unescaped.
    FixedInvalidEscape,
    /// A missing comma was inserted.
    InsertedComma,
    /// A trailing or leading comma was removed.
    RemovedComma,
    /// A missing colon was inserted.
    InsertedColon,
    /// The text ended after a key; `null` was used.
    InsertedNull,
    /// A key was followed by no value before `,` or `}`; `""` was used.
    EmptyValue,
    /// An unterminated string was closed (truncated output).
    ClosedString,
    /// An unterminated array or object was closed (truncated output).
    ClosedContainer,
    /// A closing bracket that matches nothing was removed.
    RemovedBracket,
    /// A closing bracket of the wrong kind closed a container.
    MismatchedBracket,
    /// `True`/`False`/`None`, `undefined` or a differently cased keyword.
    ConvertedLiteral,
    /// `NaN` or `Infinity` became `null`.
    ConvertedNonFinite,
    /// A number was completed or normalised (`2.`, `.5`, `1_000`).
    FixedNumber,
    /// A number with leading zeros was kept as a string.
    NumberAsString,
    /// A quote right after a number (`12345"`) was removed.
    RemovedStrayQuote,
    /// `"a" + "b"` was concatenated.
    ConcatenatedStrings,
    /// A JSONP or function-call wrapper (`cb(...)`, `ObjectId(...)`) was removed.
    RemovedWrapper,
    /// `...` was removed.
    RemovedEllipsis,
    /// Several top-level documents were wrapped in an array.
    WrappedDocuments,
    /// A top-level document was dropped: empty next to one with data, a
    /// scalar next to a container, or replaced by a later one of the same
    /// shape.
    DroppedDocument,
    /// A Python tuple `( ... )` became an array (or a one-element group its value).
    ConvertedTuple,
    /// A set literal `{"a", "b"}` became an array.
    ConvertedSet,
    /// A `"key": value` pair found directly inside an array became an object.
    WrappedMemberInObject,
    /// A duplicated key: the later value was kept.
    DuplicateKey,
    /// Escaped JSON text (`{\"a\": 1}`) was unescaped.
    UnescapedText,
}

/// One repair, at a character offset of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// What was repaired.
    pub kind: RepairKind,
    /// Character offset in the input where it was repaired.
    pub offset: usize,
}

/// The result of [`repair`].
#[derive(Debug, Clone, PartialEq)]
pub struct Repaired {
    /// The repaired value.
    pub value: Value,
    /// Every repair applied, in input order (empty for valid JSON).
    pub fixes: Vec<Fix>,
}

impl Repaired {
    /// Whether the input was valid JSON that needed no repair.
    pub fn was_valid(&self) -> bool {
        self.fixes.is_empty()
    }
}

/// Why nothing could be recovered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RepairError {
    /// The text holds no JSON value at all (empty, only whitespace or comments,
    /// only stray brackets).
    #[error("the text contains no JSON value (no object, array, quoted string, number or literal; prose is not JSON)")]
    NothingRecoverable,
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {limit} levels at character {offset}")]
    TooDeep { limit: usize, offset: usize },
    /// An object member starts without a key (`{:2}`).
    #[error("object key expected at character {offset}")]
    ObjectKeyExpected { offset: usize },
    /// A key is followed by something that cannot start a value (`{"a" ]`).
    #[error("colon expected at character {offset}")]
    ColonExpected { offset: usize },
    /// A `\u` escape without four hex digits inside a string (`"\u12x"`):
    /// the character meant cannot be known. Write `\\u` for a literal
    /// backslash followed by `u`.
    #[error("invalid \\u escape at character {offset}: four hex digits must follow \\u (write \\\\u for a backslash and a u)")]
    InvalidUnicodeEscape { offset: usize },
    /// A C0 control character other than `\t`, `\n`, `\r`, `\b`, `\f` (and
    /// not NUL): binary data or a terminal escape, not (broken) JSON text.
    #[error("control character U+{code:04X} at character {offset}: binary data or a terminal escape, not JSON text; remove it, or write it as \\u{code:04x}")]
    ControlCharacter { offset: usize, code: u32 },
    /// A NUL character: the text is binary data, not (broken) JSON text.
    #[error("NUL character at character {offset}: binary data, not text")]
    NulCharacter { offset: usize },
}

/// Options of [`repair_with`]. `RepairOptions::default()` is what [`repair`]
/// uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepairOptions {
    /// The text is a prefix of output that is still being streamed, and the
    /// caller repairs it again as more arrives. A string whose end quote is
    /// missing is then taken as cut off, not as mistyped: it keeps its
    /// trailing whitespace and is never split at a comma that looks like the
    /// start of the next member, so the repaired value of a longer prefix
    /// only extends the one of a shorter prefix (as the `stream_stable`
    /// option of the Python `json_repair` library). A dangling backslash at
    /// the very end is dropped.
    pub stream_stable: bool,
    /// Read the text with the repair parser even when it is valid JSON (the
    /// `skip_json_loads` option of `json_repair`). Off by default: valid
    /// JSON then comes back exactly as `serde_json` reads it. On, its
    /// heuristics also apply to valid text, e.g. a run of backslashes before
    /// a quote followed by more text is one escaped quote (`"a\\\"b"` →
    /// `a"b`): use it for output whose escapes a model doubled.
    pub always_repair: bool,
}

impl RepairOptions {
    /// Options with [`RepairOptions::stream_stable`] set to `on`.
    pub fn stream_stable(mut self, on: bool) -> Self {
        self.stream_stable = on;
        self
    }

    /// Options with [`RepairOptions::always_repair`] set to `on`.
    pub fn always_repair(mut self, on: bool) -> Self {
        self.always_repair = on;
        self
    }
}

/// Repair `text` into a JSON value.
///
/// Valid JSON is returned unchanged with no fixes. See the [module
/// documentation](self) for what is repaired and how.
pub fn repair(text: &str) -> Result<Repaired, RepairError> {
    repair_with(text, &RepairOptions::default())
}

/// [`repair`] with options.
pub fn repair_with(text: &str, opts: &RepairOptions) -> Result<Repaired, RepairError> {
    repair_text(text, opts, false)
}

/// The strict parse first (unless `always_repair`), else the repair parser;
/// `mark_left_out` writes left-out values as [`LEFT_OUT`].
fn repair_text(
    text: &str,
    opts: &RepairOptions,
    mark_left_out: bool,
) -> Result<Repaired, RepairError> {
    if !opts.always_repair {
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            return Ok(Repaired {
                value,
                fixes: Vec::new(),
            });
        }
    }
    check_binary(text)?;
    let mut p = Parser::new(text);
    p.stream_stable = opts.stream_stable;
    p.mark_left_out = mark_left_out;
    p.finish()
}

/// Nothing a model writes contains NUL or other C0 controls but the
/// whitespace ones; guessing JSON out of binary data would invent a value
/// (jsonrepair refuses these too).
fn check_binary(text: &str) -> Result<(), RepairError> {
    match text
        .chars()
        .enumerate()
        .find(|&(_, c)| is_binary_control(c))
    {
        None => Ok(()),
        Some((offset, '\0')) => Err(RepairError::NulCharacter { offset }),
        Some((offset, c)) => Err(RepairError::ControlCharacter {
            offset,
            code: c as u32,
        }),
    }
}

/// What [`repair_marking_left_out`] writes for a left-out value
/// (`{"key": , …}`) instead of `""`: two noncharacters around a name, text
/// no model writes. Schema-guided repair fills it from the schema and turns
/// any that remain into `""`.
const LEFT_OUT: &str = "\u{fdd0}left out\u{fdd0}";

/// [`repair`], with left-out values written as [`LEFT_OUT`] (for
/// schema-guided repair, which fills those and only those).
fn repair_marking_left_out(text: &str) -> Result<Repaired, RepairError> {
    repair_text(text, &RepairOptions::default(), true)
}

/// Like [`repair`], but returns only the value.
pub fn repair_value(text: &str) -> Result<Value, RepairError> {
    repair(text).map(|r| r.value)
}

// ---------------------------------------------------------------------------
// character classes

/// A C0 control character other than tab, newline, carriage return,
/// backspace and form feed (which JSON strings escape as `\t` … `\f`).
fn is_binary_control(c: char) -> bool {
    (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r' | '\u{8}' | '\u{c}')
}

fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\r' | '\u{a0}' | '\u{180e}' | '\u{2000}'
            ..='\u{200b}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

fn is_double_quote_like(c: char) -> bool {
    matches!(c, '"' | '\u{201c}' | '\u{201d}')
}

fn is_single_quote_like(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '`' | '\u{b4}')
}

fn is_quote(c: char) -> bool {
    is_double_quote_like(c) || is_single_quote_like(c)
}

/// Characters that end a value or separate tokens.
fn is_delimiter(c: char) -> bool {
    matches!(
        c,
        ',' | ':' | '[' | ']' | '/' | '{' | '}' | '(' | ')' | '\n' | '+'
    )
}

/// Whether `c` after a quote makes it an end quote, in context `ctx`.
fn end_delimiter(c: char, ctx: Ctx) -> bool {
    match c {
        '(' => false,
        ')' => ctx == Ctx::Tuple,
        ']' | '}' => ctx != Ctx::Top,
        _ => is_delimiter(c),
    }
}

/// Characters that end an unquoted string (besides quotes).
fn is_unquoted_delimiter(c: char) -> bool {
    matches!(c, ',' | '[' | ']' | '{' | '}' | '\n' | '+')
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#@!$&'()*+;=%".contains(c)
}

fn is_value_start(c: char) -> bool {
    is_quote(c)
        || c.is_ascii_digit()
        || matches!(c, '{' | '[' | '(' | '-' | '.')
        || c.is_alphabetic()
        || c == '_'
        || c == '$'
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Array,
    Object,
    Tuple,
}

/// How a string scan ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StrMode {
    /// Normal: may retry once in one of the other modes.
    Normal,
    /// The end quote is missing: stop at the first delimiter.
    StopAtDelimiter,
    /// The end quote is missing: stop at this character offset.
    StopAt(usize),
    /// Like `StopAt`, and every quote before the offset is text.
    StopAtQuotesText(usize),
}

struct Parser {
    s: Vec<char>,
    i: usize,
    depth: usize,
    fixes: Vec<Fix>,
    /// Whether the string being read is an object key (not a value).
    key_mode: bool,
    /// Search caches of [`Parser::skip_comment`] and
    /// [`Parser::end_quote_ahead`].
    block_end: Cell<(usize, usize)>,
    line_end: Cell<(usize, usize)>,
    hash_end: Cell<(usize, usize)>,
    next_quote: Cell<(usize, usize)>,
    /// [`RepairOptions::stream_stable`].
    stream_stable: bool,
    /// What is left of [`INLINE_SCAN_BUDGET`].
    inline_budget: Cell<usize>,
    /// Cache of [`Parser::quotes_to_bracket`].
    bracket_quotes: Cell<(char, usize, usize, usize)>,
    /// Search cache of [`Parser::class_closes_ahead`].
    class_end: Cell<(usize, usize)>,
    /// Search cache of [`Parser::fenced_json_string`].
    fence_at: Cell<(usize, usize)>,
    /// Where the first `\u` escape without four hex digits before the end
    /// of the text is (reported as [`RepairError::InvalidUnicodeEscape`]).
    bad_escape: Option<usize>,
    /// Where the text ends for the value being read: its length, or a code
    /// fence met inside a container (see [`Parser::ws_opt`]).
    end: usize,
    /// Write [`LEFT_OUT`] for a left-out value instead of `""`.
    mark_left_out: bool,
}

impl Parser {
    /// Reads the whole text.
    fn finish(mut self) -> Result<Repaired, RepairError> {
        let value = self.parse_top()?;
        if let Some(offset) = self.bad_escape {
            return Err(RepairError::InvalidUnicodeEscape { offset });
        }
        Ok(Repaired {
            value,
            fixes: self.fixes,
        })
    }

    fn new(text: &str) -> Self {
        Parser {
            s: text.chars().collect(),
            i: 0,
            depth: 0,
            key_mode: false,
            block_end: Cell::new((usize::MAX, 0)),
            line_end: Cell::new((usize::MAX, 0)),
            hash_end: Cell::new((usize::MAX, 0)),
            next_quote: Cell::new((usize::MAX, 0)),
            fixes: Vec::new(),
            stream_stable: false,
            inline_budget: Cell::new(INLINE_SCAN_BUDGET),
            bracket_quotes: Cell::new(('"', 1, 0, 0)),
            class_end: Cell::new((usize::MAX, 0)),
            fence_at: Cell::new((usize::MAX, 0)),
            bad_escape: None,
            end: usize::MAX,
            mark_left_out: false,
        }
    }

    fn at(&self, i: usize) -> Option<char> {
        if i < self.end {
            self.s.get(i).copied()
        } else {
            None
        }
    }

    fn cur(&self) -> Option<char> {
        self.at(self.i)
    }

    fn fix(&mut self, kind: RepairKind, offset: usize) {
        self.fixes.push(Fix { kind, offset });
    }

    fn starts_with(&self, i: usize, pat: &str) -> bool {
        (i..).zip(pat.chars()).all(|(k, c)| self.at(k) == Some(c))
    }

    /// Index after whitespace, comments and code fences starting at `i`,
    /// without recording anything. With `newlines == false` a newline stops it.
    fn skip_ws_at(&self, mut i: usize, newlines: bool) -> usize {
        loop {
            match self.at(i) {
                Some('\n') if !newlines => return i,
                Some(c) if is_ws(c) => i += 1,
                Some('/') if matches!(self.at(i + 1), Some('*') | Some('/')) => {
                    i = self.skip_comment(i);
                }
                Some('#') if self.at(i + 1).is_none_or(is_ws) => {
                    i = self.skip_comment(i);
                }
                Some('`') if self.starts_with(i, "```") => {
                    i += 3;
                    while self.at(i).is_some_and(is_ident) {
                        i += 1;
                    }
                }
                _ => return i,
            }
        }
    }

    /// Skip whitespace, comments and code fences, recording fixes.
    fn ws(&mut self) {
        self.ws_opt(true)
    }

    fn ws_opt(&mut self, newlines: bool) {
        loop {
            match self.cur() {
                Some('\n') if !newlines => return,
                Some(c) if is_ws(c) => self.i += 1,
                Some('/') if matches!(self.at(self.i + 1), Some('*') | Some('/')) => {
                    let start = self.i;
                    self.i = self.skip_comment(self.i);
                    self.fix(RepairKind::RemovedComment, start);
                }
                Some('#') if self.at(self.i + 1).is_none_or(is_ws) => {
                    // A Python or shell comment (`# note`); `#tag` is text.
                    let start = self.i;
                    self.i = self.skip_comment(self.i);
                    self.fix(RepairKind::RemovedComment, start);
                }
                Some('`') if self.starts_with(self.i, "```") && self.depth > 0 => {
                    // A code fence ends the code block: containers still
                    // open are closed as at the end of the text (the top
                    // level lifts this end and reads on after the fence).
                    self.end = self.i;
                    return;
                }
                Some('`') if self.starts_with(self.i, "```") => {
                    let start = self.i;
                    self.i += 3;
                    while self.cur().is_some_and(is_ident) {
                        self.i += 1;
                    }
                    self.fix(RepairKind::StrippedCodeFence, start);
                }
                _ => return,
            }
        }
    }

    /// Index after the comment that starts at `i` (`/*`, `//` or `#`).
    ///
    /// Look-ahead re-skips the same comment many times (once per quote that
    /// might end a string), so the end found by the last search is cached:
    /// without it a line of `" /*` repeated would take quadratic time.
    fn skip_comment(&self, i: usize) -> usize {
        if self.at(i) == Some('#') {
            // Inside a container, a `#` comment also ends at a closing
            // bracket (`{"a": 1 # note }`), as `json_repair` reads it.
            return if self.depth > 0 {
                self.find_from(i, &self.hash_end, |p, k| matches!(p.s[k], '\n' | ']' | '}'))
            } else {
                self.find_from(i, &self.line_end, |p, k| p.s[k] == '\n')
            };
        }
        if self.at(i + 1) == Some('*') {
            let k = self.find_from(i + 2, &self.block_end, |p, k| p.starts_with(k, "*/"));
            (k + 2).min(self.s.len())
        } else {
            self.find_from(i, &self.line_end, |p, k| p.s[k] == '\n')
        }
    }

    /// The first index `k >= i` where `hit(k)` holds (or the text length).
    /// `cache` holds `(from, at)`: no hit in `from..at`, and `at` is one.
    fn find_from(
        &self,
        i: usize,
        cache: &Cell<(usize, usize)>,
        hit: impl Fn(&Self, usize) -> bool,
    ) -> usize {
        let (from, at) = cache.get();
        if from <= i && i <= at {
            return at;
        }
        let mut k = i;
        while k < self.s.len() && !hit(self, k) {
            k += 1;
        }
        cache.set((i, k));
        k
    }

    fn enter(&mut self) -> Result<(), RepairError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(RepairError::TooDeep {
                limit: MAX_DEPTH,
                offset: self.i,
            });
        }
        Ok(())
    }

    // -----------------------------------------------------------------------
    // values

    fn parse_value(&mut self, ctx: Ctx) -> Result<Option<Value>, RepairError> {
        self.ws();
        // `[```json ... ```]`: a bracket wrapped around a code fence.
        while ctx == Ctx::Top && matches!(self.cur(), Some('{' | '[')) {
            let mut k = self.i + 1;
            while self.at(k).is_some_and(is_ws) {
                k += 1;
            }
            if !self.starts_with(k, "```") {
                break;
            }
            self.fix(RepairKind::SkippedJunk, self.i);
            self.i += 1;
            self.ws();
        }
        let Some(c) = self.cur() else { return Ok(None) };
        let v = match c {
            '/' => self.parse_regex(),
            '{' => Some(self.parse_object(ctx == Ctx::Array)?),
            '[' => Some(self.parse_array(ctx == Ctx::Object)?),
            '(' => Some(self.parse_tuple()?),
            '\\' if self.at(self.i + 1).is_some_and(is_quote) => self.parse_string(ctx)?,
            c if is_quote(c) => self.parse_string(ctx)?,
            _ => {
                let start = self.i;
                if let Some(v) = self.parse_number() {
                    Some(self.comma_grouped_number(ctx, start, v))
                } else if let Some(v) = self.parse_keyword() {
                    Some(v)
                } else {
                    self.parse_unquoted(ctx)?
                }
            }
        };
        if v.is_some() {
            self.ws_opt(false);
        }
        Ok(v)
    }

    /// `{"price": 12,50}`: inside an object value, an integer followed by a
    /// comma *and a digit* (no space) cannot be a member separator (a key
    /// never starts with a digit right after the comma), so the digits are a
    /// decimal comma or thousands groups. They are kept together as text
    /// (`"12,50"`) since which reading is meant cannot be known.
    fn comma_grouped_number(&mut self, ctx: Ctx, start: usize, v: Value) -> Value {
        if ctx != Ctx::Object || !v.is_u64() && !v.is_i64() {
            return v;
        }
        let mut end = self.i;
        while self.at(end) == Some(',') && self.at(end + 1).is_some_and(|c| c.is_ascii_digit()) {
            end += 1;
            while self.at(end).is_some_and(|c| c.is_ascii_digit()) {
                end += 1;
            }
        }
        if end == self.i || !self.at_end_of_number(end) {
            return v;
        }
        self.fix(RepairKind::NumberAsString, start);
        self.i = end;
        Value::String(self.s[start..end].iter().collect())
    }

    /// `/regex/` becomes the string `"/regex/"`.
    fn parse_regex(&mut self) -> Option<Value> {
        let start = self.i;
        let mut k = self.i + 1;
        while let Some(c) = self.at(k) {
            match c {
                '\\' => k += 2,
                '/' => {
                    let text: String = self.s[start..=k].iter().collect();
                    self.fix(RepairKind::QuotedValue, start);
                    self.i = k + 1;
                    return Some(Value::String(text));
                }
                '\n' => return None,
                _ => k += 1,
            }
        }
        None
    }

    /// `in_array`: the object is an array element, so a key it already has,
    /// written without a comma before it, starts the next element.
    fn parse_object(&mut self, in_array: bool) -> Result<Value, RepairError> {
        self.enter()?;
        let open = self.i;
        self.i += 1; // '{'
        let mut map = Map::new();
        self.ws();
        if self.cur() == Some(',') {
            self.fix(RepairKind::RemovedComma, self.i);
            self.i += 1;
            self.ws();
        }
        let mut first = true;
        loop {
            self.ws();
            let Some(c) = self.cur() else {
                self.fix(RepairKind::ClosedContainer, open);
                break;
            };
            if c == '}' {
                self.i += 1;
                break;
            }
            if c == ']' {
                // Wrong closer: close the object, leave the bracket to the parent.
                self.fix(RepairKind::MismatchedBracket, self.i);
                break;
            }
            if !first && c == ':' {
                // `{"a": "x": 5, "b": 1}`: a second colon after a member's
                // value. What follows it belongs to no key: skip the colon
                // and the value after it.
                self.fix(RepairKind::SkippedJunk, self.i);
                self.i += 1;
                self.ws();
                if !matches!(self.cur(), None | Some(',') | Some('}') | Some(']')) {
                    let at = self.i;
                    if self.parse_value(Ctx::Object)?.is_none() {
                        self.i = at + 1;
                    }
                }
                continue;
            }
            let mut comma = false;
            if !first {
                if c == ',' {
                    comma = true;
                    let mut last_comma = self.i;
                    self.i += 1;
                    self.ws();
                    // Doubled comma or trailing comma.
                    while self.cur() == Some(',') {
                        self.fix(RepairKind::RemovedComma, self.i);
                        last_comma = self.i;
                        self.i += 1;
                        self.ws();
                    }
                    match self.cur() {
                        None | Some('}') | Some(']') => {
                            self.fix(RepairKind::RemovedComma, last_comma);
                            continue;
                        }
                        _ => {}
                    }
                } else {
                    self.fix(RepairKind::InsertedComma, self.i);
                }
            }
            first = false;
            self.skip_ellipsis();
            let Some(c) = self.cur() else { continue };
            if c == '}' || c == ']' {
                continue;
            }
            if c == '{' {
                // `{"a":1{"b":2}` inside an array: the object ends here.
                self.fix(RepairKind::ClosedContainer, self.i);
                break;
            }
            if c == ':' {
                self.depth -= 1;
                return Err(RepairError::ObjectKeyExpected { offset: self.i });
            }
            let key_start = self.i;
            let key = match self.parse_key()? {
                Some(k) => k,
                None => {
                    // Something that cannot be a key, e.g. a stray value.
                    match self.parse_value(Ctx::Object)? {
                        Some(Value::Array(items)) => {
                            // `"key": [..], [..]`: merge into the previous array.
                            if let Some((_, Value::Array(prev))) = map.iter_mut().last() {
                                merge_rows(prev, items);
                            }
                            self.fix(RepairKind::SkippedJunk, key_start);
                        }
                        Some(_) => self.fix(RepairKind::SkippedJunk, key_start),
                        None => {
                            self.fix(RepairKind::SkippedJunk, key_start);
                            self.i = key_start + 1;
                        }
                    }
                    continue;
                }
            };
            if in_array && !comma && map.contains_key(&key.text) {
                // Rows with the `}, {` lost (`[{"a": 1} junk "a": 2]`): a key
                // the object already has, after junk or no comma, is the
                // next row's.
                self.fix(RepairKind::ClosedContainer, key_start);
                self.i = key_start;
                break;
            }
            self.ws();
            match self.cur() {
                Some(':') => {
                    self.i += 1;
                }
                Some(c) if key.quoted && key.text.is_empty() && c != ':' => {
                    // Quotes between members (`""""`): an empty string
                    // without a colon is no key.
                    self.fix(RepairKind::SkippedJunk, key_start);
                    continue;
                }
                Some(',') if key.quoted && self.comma_for_colon(self.i) => {
                    // `{"key", 105}`: a comma typed for the colon. A set
                    // literal holds strings (below); a number, keyword or
                    // container after the comma is the key's value.
                    self.fix(RepairKind::InsertedColon, self.i);
                    self.i += 1;
                }
                Some(',') | Some('}') if map.is_empty() && key.quoted => {
                    // Set literal `{"a", "b"}` becomes an array.
                    return self.finish_set(open, key.text);
                }
                None => {
                    // Truncated after a key. A repeated key without a value
                    // is a fragment (`{0:a"0"`) and keeps the earlier value.
                    if (!key.text.is_empty() || key.quoted_closed) && !map.contains_key(&key.text) {
                        self.fix(RepairKind::InsertedNull, self.i);
                        map.insert(key.text, Value::Null);
                    }
                    self.fix(RepairKind::ClosedContainer, open);
                    break;
                }
                Some(c) if !key.quoted && is_quote(c) && self.quoted_key_at(self.i) => {
                    // `COMMENT "key": ...`: a junk word before a quoted key.
                    self.fix(RepairKind::SkippedJunk, key_start);
                    first = map.is_empty();
                    continue;
                }
                Some(c) if is_value_start(c) => {
                    self.fix(RepairKind::InsertedColon, self.i);
                }
                Some(c) if c == '}' || c == ',' => {
                    // A word or stray string between members, not a key.
                    self.fix(RepairKind::SkippedJunk, key_start);
                    continue;
                }
                Some(_) => {
                    self.depth -= 1;
                    return Err(RepairError::ColonExpected { offset: self.i });
                }
            }
            self.ws();
            let val_start = self.i;
            let value = match self.cur() {
                Some(',') | Some('}') | Some(']') | None => None,
                _ => self.parse_value(Ctx::Object)?,
            };
            let value = match value {
                Some(v) => v,
                None if self.cur().is_some() => {
                    // `{"key": , …}`: the value was left out. An empty
                    // string, as `json_repair` writes (schema-guided repair
                    // turns it into the empty value of the type wanted).
                    self.fix(RepairKind::EmptyValue, val_start);
                    Value::String(if self.mark_left_out {
                        LEFT_OUT.to_string()
                    } else {
                        String::new()
                    })
                }
                None => {
                    // Cut off after the colon: the value is unknown.
                    self.fix(RepairKind::InsertedNull, val_start);
                    Value::Null
                }
            };
            if map.contains_key(&key.text) {
                self.fix(RepairKind::DuplicateKey, key_start);
                map.shift_remove(&key.text);
            }
            map.insert(key.text, value);
        }
        self.depth -= 1;
        Ok(Value::Object(map))
    }

    /// `{"a", "b", ...}` after the first element was read.
    fn finish_set(&mut self, open: usize, first: String) -> Result<Value, RepairError> {
        self.fix(RepairKind::ConvertedSet, open);
        let mut items = vec![Value::String(first)];
        loop {
            self.ws();
            match self.cur() {
                None => {
                    self.fix(RepairKind::ClosedContainer, open);
                    break;
                }
                Some('}') => {
                    self.i += 1;
                    break;
                }
                Some(',') => {
                    self.i += 1;
                }
                _ => {
                    let start = self.i;
                    match self.parse_value(Ctx::Array)? {
                        Some(v) => items.push(v),
                        None => {
                            self.fix(RepairKind::SkippedJunk, start);
                            self.i = start + 1;
                        }
                    }
                }
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn parse_key(&mut self) -> Result<Option<Key>, RepairError> {
        let c = match self.cur() {
            Some(c) => c,
            None => return Ok(None),
        };
        if is_quote(c) && !self.quoted_key_at(self.i) && self.bare_key_at(self.i + 1) {
            // `` `key: value ``: a stray quote before a bare key, closed by
            // nothing before the colon. Drop it and read the bare key.
            self.fix(RepairKind::NormalizedQuotes, self.i);
            self.i += 1;
            return self.parse_key();
        }
        if is_quote(c) || (c == '\\' && self.at(self.i + 1).is_some_and(is_quote)) {
            let before = self.fixes.len();
            self.key_mode = true;
            let v = self.parse_string(Ctx::Object);
            self.key_mode = false;
            let v = v?;
            let closed = !self.fixes[before..]
                .iter()
                .any(|f| f.kind == RepairKind::ClosedString);
            return Ok(v.map(|v| Key {
                text: match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                },
                quoted: true,
                quoted_closed: closed,
            }));
        }
        if c.is_ascii_digit() || c == '-' || c.is_alphabetic() || c == '_' || c == '$' || c == '.' {
            let start = self.i;
            while let Some(d) = self.cur() {
                if is_unquoted_delimiter(d) || d == ':' || is_quote(d) {
                    break;
                }
                if d == '/' && matches!(self.at(self.i + 1), Some('/') | Some('*')) {
                    break;
                }
                self.i += 1;
            }
            let text: String = self.s[start..self.i].iter().collect();
            let text = text.trim_end_matches(is_ws).to_string();
            if text.is_empty() {
                return Ok(None);
            }
            self.fix(RepairKind::QuotedKey, start);
            // `{a":1}`: a missing start quote; skip the end quote.
            if self.cur() == Some('"') && self.after_ws_is(self.i + 1, |c| c == ':') {
                self.fix(RepairKind::AddedMissingQuote, start);
                self.i += 1;
            }
            return Ok(Some(Key {
                text,
                quoted: false,
                quoted_closed: true,
            }));
        }
        Ok(None)
    }

    /// Whether the comma at `i`, right after a quoted key, stands for a
    /// colon: the next token is a value that is not a string (a number, a
    /// keyword, `{`, `[`).
    fn comma_for_colon(&self, i: usize) -> bool {
        let k = self.skip_ws_at(i + 1, false);
        match self.at(k) {
            Some(c) if c.is_ascii_digit() || c == '{' || c == '[' => true,
            Some('-') => self.at(k + 1).is_some_and(|c| c.is_ascii_digit()),
            Some(_) => self
                .keyword_at(k)
                .is_some_and(|(_, len, _)| self.at_end_of_number(k + len)),
            None => false,
        }
    }

    /// Whether a quoted string at `i` is followed by a colon.
    fn quoted_key_at(&self, i: usize) -> bool {
        let Some(q) = self.at(i) else { return false };
        let mut k = i + 1;
        while let Some(c) = self.at(k) {
            if c == q || (is_double_quote_like(q) && is_double_quote_like(c)) {
                return self.at(self.skip_ws_at(k + 1, true)) == Some(':');
            }
            if c == '\n' {
                return false;
            }
            k += 1;
        }
        false
    }

    fn after_ws_is(&self, i: usize, f: impl Fn(char) -> bool) -> bool {
        self.at(self.skip_ws_at(i, true)).is_some_and(f)
    }

    fn skip_ellipsis(&mut self) {
        self.ws();
        if self.starts_with(self.i, "...") {
            self.fix(RepairKind::RemovedEllipsis, self.i);
            self.i += 3;
            self.ws();
            if self.cur() == Some(',') {
                self.i += 1;
                self.ws();
            }
        }
    }

    /// `in_object`: the array is an object member's value, so a `}` closes
    /// both (`{"a": [1, 2}`).
    fn parse_array(&mut self, in_object: bool) -> Result<Value, RepairError> {
        self.enter()?;
        let open = self.i;
        self.i += 1; // '['
        let mut items = Vec::new();
        self.ws();
        if self.cur() == Some(',') {
            self.fix(RepairKind::RemovedComma, self.i);
            self.i += 1;
        }
        let mut first = true;
        loop {
            self.ws();
            let Some(c) = self.cur() else {
                self.fix(RepairKind::ClosedContainer, open);
                break;
            };
            match c {
                ']' => {
                    self.i += 1;
                    break;
                }
                '}' if in_object => {
                    // The `]` is missing: close the array, leave the `}` to
                    // the object.
                    self.fix(RepairKind::MismatchedBracket, self.i);
                    break;
                }
                '}' => {
                    // A stray or mistyped closer: drop it.
                    self.fix(RepairKind::RemovedBracket, self.i);
                    self.i += 1;
                    continue;
                }
                ')' => {
                    self.fix(RepairKind::MismatchedBracket, self.i);
                    self.i += 1;
                    break;
                }
                _ => {}
            }
            if !first {
                if c == ',' {
                    let mut last_comma = self.i;
                    self.i += 1;
                    self.ws();
                    while self.cur() == Some(',') {
                        self.fix(RepairKind::RemovedComma, self.i);
                        last_comma = self.i;
                        self.i += 1;
                        self.ws();
                    }
                    if matches!(self.cur(), None | Some(']') | Some('}')) {
                        self.fix(RepairKind::RemovedComma, last_comma);
                        continue;
                    }
                } else {
                    self.fix(RepairKind::InsertedComma, self.i);
                }
            }
            first = false;
            self.skip_ellipsis();
            if matches!(self.cur(), None | Some(']') | Some('}') | Some(')')) {
                continue;
            }
            if self.cut_off_element() {
                continue;
            }
            let start = self.i;
            let before = self.fixes.len();
            match self.parse_value(Ctx::Array)? {
                Some(v) => {
                    // `["key": "value"]`: an object member inside an array.
                    if let Value::String(k) = &v {
                        if self.cur() == Some(':') {
                            self.i += 1;
                            self.fix(RepairKind::WrappedMemberInObject, start);
                            let obj = self.object_from_member(k.clone())?;
                            items.push(obj);
                            continue;
                        }
                    }
                    // An empty string cut off at the end of the text is dropped.
                    let truncated_empty = self.cur().is_none()
                        && v.as_str() == Some("")
                        && self.fixes[before..]
                            .iter()
                            .any(|f| f.kind == RepairKind::ClosedString);
                    if !truncated_empty {
                        items.push(v);
                    }
                }
                None => {
                    self.fix(RepairKind::SkippedJunk, start);
                    self.i = start + 1;
                }
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    /// An array element that was cut off before it held anything: a `{` or a
    /// `-` followed only by the array's `]` or the end of the text (`[{]`,
    /// `[1, -`). It carries no data, so it is dropped (like an empty string
    /// cut off at the end). A `-` before a comma is kept as `-0`.
    fn cut_off_element(&mut self) -> bool {
        if !matches!(self.cur(), Some('{') | Some('-')) {
            return false;
        }
        let k = self.skip_ws_at(self.i + 1, true);
        if matches!(self.at(k), None | Some(']')) {
            self.fix(RepairKind::SkippedJunk, self.i);
            self.i = k;
            return true;
        }
        false
    }

    /// After `"key":` inside an array: read the rest of an object whose first
    /// key is `key`, up to `}` (consumed) or `]` (left).
    fn object_from_member(&mut self, key: String) -> Result<Value, RepairError> {
        self.enter()?;
        let mut map = Map::new();
        let v = self.parse_value(Ctx::Object)?.unwrap_or(Value::Null);
        map.insert(key, v);
        loop {
            self.ws();
            match self.cur() {
                None | Some(']') => break,
                Some('}') => {
                    self.i += 1;
                    break;
                }
                Some(',') => {
                    // Another member only if `key:` follows.
                    let save = self.i;
                    self.i += 1;
                    self.ws();
                    let ks = self.i;
                    match self.parse_key()? {
                        Some(k) if self.cur() == Some(':') => {
                            self.i += 1;
                            let v = self.parse_value(Ctx::Object)?.unwrap_or(Value::Null);
                            map.insert(k.text, v);
                        }
                        _ => {
                            let _ = ks;
                            self.i = save;
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        self.depth -= 1;
        Ok(Value::Object(map))
    }

    /// A Python tuple `(a, b)` becomes an array; `(x)` is just `x`.
    fn parse_tuple(&mut self) -> Result<Value, RepairError> {
        self.enter()?;
        let open = self.i;
        self.i += 1;
        self.fix(RepairKind::ConvertedTuple, open);
        let mut items = Vec::new();
        let mut saw_comma = false;
        loop {
            self.ws();
            match self.cur() {
                None => {
                    self.fix(RepairKind::ClosedContainer, open);
                    break;
                }
                Some(')') => {
                    self.i += 1;
                    break;
                }
                Some(']') | Some('}') => break,
                Some(',') => {
                    saw_comma = true;
                    self.i += 1;
                }
                _ => {
                    let start = self.i;
                    match self.parse_value(Ctx::Tuple)? {
                        Some(v) => items.push(v),
                        None => {
                            self.fix(RepairKind::SkippedJunk, start);
                            self.i = start + 1;
                        }
                    }
                }
            }
        }
        self.depth -= 1;
        if items.len() == 1 && !saw_comma {
            return Ok(items.pop().unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    // -----------------------------------------------------------------------
    // numbers, keywords, unquoted text

    fn at_end_of_number(&self, i: usize) -> bool {
        match self.at(i) {
            None => true,
            Some('/') => matches!(self.at(i + 1), Some('/') | Some('*')),
            Some(c) => (is_delimiter(c) && c != '(') || is_ws(c) || c == ';' || c == '`',
        }
    }

    fn parse_number(&mut self) -> Option<Value> {
        let start = self.i;
        let mut i = self.i;
        let mut text = String::new();
        let mut repaired = false;
        let complete = |txt: &mut String, i: usize, this: &Self| -> Option<usize> {
            if this.at_end_of_number(i) {
                txt.push('0');
                Some(i)
            } else {
                None
            }
        };
        if self.at(i) == Some('-') {
            text.push('-');
            i += 1;
            if self.at(i) == Some('I') || self.at(i) == Some('N') {
                return None; // -Infinity: keyword
            }
            if complete(&mut text, i, self).is_some() {
                return self.finish_number(start, i, text, true);
            }
        }
        if self.at(i) == Some('.') && !self.starts_with(i, "..") {
            text.push('0');
            repaired = true;
        } else if !self.at(i).is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        let int_start = i;
        while let Some(c) = self.at(i) {
            if c.is_ascii_digit() {
                text.push(c);
            } else if c == '_'
                && self.at(i + 1).is_some_and(|d| d.is_ascii_digit())
                && i > int_start
            {
                repaired = true;
            } else {
                break;
            }
            i += 1;
        }
        let int_len = text.trim_start_matches('-').len();
        let leading_zero =
            int_len > 1 && text.trim_start_matches('-').starts_with('0') && !repaired;
        if self.at(i) == Some('.') {
            text.push('.');
            i += 1;
            if complete(&mut text, i, self).is_some() {
                return self
                    .finish_number(start, i, text, true)
                    .filter(|_| !leading_zero)
                    .or_else(|| {
                        self.i = start;
                        None
                    });
            }
            if !self.at(i).is_some_and(|c| c.is_ascii_digit()) {
                return None;
            }
            while let Some(c) = self.at(i) {
                if c.is_ascii_digit() {
                    text.push(c);
                } else if c == '_' && self.at(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                    repaired = true;
                } else {
                    break;
                }
                i += 1;
            }
        }
        if matches!(self.at(i), Some('e') | Some('E')) {
            let mantissa = text.clone();
            text.push('e');
            i += 1;
            let signed = matches!(self.at(i), Some('+') | Some('-'));
            if signed {
                text.push(self.s[i]);
                i += 1;
            }
            if !signed
                && !leading_zero
                && self.at(i).is_some_and(is_ws)
                && self.after_ws_is(i, |_| true)
            {
                // `1e }`: a dangling `e` that a space ends, with more text
                // after it, is a typo, not a cut-off exponent (`1e` or `1e `
                // at the very end, or `1e,`, completed below): drop it.
                return self.finish_number(start, i, mantissa, true);
            }
            if complete(&mut text, i, self).is_some() {
                if leading_zero {
                    return None;
                }
                return self.finish_number(start, i, text, true);
            }
            if !self.at(i).is_some_and(|c| c.is_ascii_digit()) {
                return None;
            }
            while let Some(c) = self.at(i).filter(|c| c.is_ascii_digit()) {
                text.push(c);
                i += 1;
            }
        }
        let stray_quote = self.stray_quote_at(i);
        // `"a": 1"b": 2`: the comma before the next key is missing.
        let key_follows = self.at(i).is_some_and(is_quote) && self.quoted_key_at(i);
        if !stray_quote && !key_follows && !self.at_end_of_number(i) {
            return None;
        }
        let v = if leading_zero {
            self.fix(RepairKind::NumberAsString, start);
            self.i = i;
            Value::String(self.s[start..i].iter().collect())
        } else {
            self.finish_number(start, i, text, repaired)?
        };
        if stray_quote {
            // `12345"` before `,` or `}`: a quote typed after a number (or
            // its start quote lost); the number stands.
            self.fix(RepairKind::RemovedStrayQuote, i);
            self.i = i + 1;
        }
        Some(v)
    }

    /// Whether a quote at `i` that follows a number is stray: the value
    /// ends after it (`,`, `}`, `]`, a newline or the end of the text).
    fn stray_quote_at(&self, i: usize) -> bool {
        if !self.at(i).is_some_and(is_quote) {
            return false;
        }
        let k = self.skip_ws_at(i + 1, false);
        matches!(self.at(k), None | Some(',' | '}' | ']' | '\n'))
    }

    fn finish_number(
        &mut self,
        start: usize,
        end: usize,
        text: String,
        repaired: bool,
    ) -> Option<Value> {
        let v = serde_json::from_str::<Value>(&text).ok().or_else(|| {
            // Out of range for f64 (e.g. 1e999): keep the digits as a string.
            Some(Value::String(text.clone()))
        })?;
        if repaired {
            self.fix(RepairKind::FixedNumber, start);
        }
        self.i = end;
        Some(v)
    }

    /// A keyword at `i`: returns its value and length.
    fn keyword_at(&self, i: usize) -> Option<(Value, usize, bool)> {
        let mut k = i;
        while self.at(k).is_some_and(is_ident) {
            k += 1;
        }
        if self.at(i) == Some('-') {
            k = i + 1;
            while self.at(k).is_some_and(is_ident) {
                k += 1;
            }
        }
        let word: String = self.s[i..k].iter().collect();
        let (v, exact) = match word.as_str() {
            "true" => (Value::Bool(true), true),
            "false" => (Value::Bool(false), true),
            "null" => (Value::Null, true),
            "NaN" | "Infinity" | "-Infinity" | "+Infinity" => (Value::Null, false),
            w => match w.to_ascii_lowercase().as_str() {
                "true" => (Value::Bool(true), false),
                "false" => (Value::Bool(false), false),
                "null" | "none" | "undefined" => (Value::Null, false),
                _ => return None,
            },
        };
        Some((v, k - i, exact))
    }

    fn parse_keyword(&mut self) -> Option<Value> {
        let (v, len, exact) = self.keyword_at(self.i)?;
        let end = self.i + len;
        // Must be followed by a delimiter, not more words ("true love").
        let k = self.skip_ws_at(end, false);
        match self.at(k) {
            None => {}
            Some(c) if is_delimiter(c) || is_quote(c) || c == ';' || c == '#' => {}
            Some(_) if k > end && self.keyword_at(k).is_none() => {
                // "None of them" is text; "True\n" is handled above, and
                // "null null" is two values with the comma missing.
                return None;
            }
            Some(_) if k > end => {}
            Some(_) => return None,
        }
        if !exact {
            let kind = if v.is_null()
                && self
                    .at(self.i)
                    .is_some_and(|c| c == 'N' || c == 'I' || c == '-')
                && !self.starts_with(self.i, "None")
                && !self.starts_with(self.i, "NONE")
                && !self.starts_with(self.i, "Null")
                && !self.starts_with(self.i, "NULL")
            {
                RepairKind::ConvertedNonFinite
            } else {
                RepairKind::ConvertedLiteral
            };
            self.fix(kind, self.i);
        }
        self.i = end;
        Some(v)
    }

    fn parse_unquoted(&mut self, ctx: Ctx) -> Result<Option<Value>, RepairError> {
        let start = self.i;
        // Function call / JSONP wrapper: `name(value)`.
        if self.cur().is_some_and(is_ident_start) {
            let mut k = self.i;
            while self.at(k).is_some_and(is_ident) {
                k += 1;
            }
            let k2 = self.skip_ws_at(k, true);
            if self.at(k2) == Some('(') {
                self.fix(RepairKind::RemovedWrapper, start);
                self.i = k2 + 1;
                self.enter()?;
                let v = self.parse_value(Ctx::Tuple)?;
                self.depth -= 1;
                self.ws();
                if self.cur() == Some(')') {
                    self.i += 1;
                    self.ws();
                    if self.cur() == Some(';') {
                        self.i += 1;
                    }
                }
                return Ok(Some(v.unwrap_or(Value::Null)));
            }
        }
        // `{text: words{in braces}}`: braces inside an unquoted object value
        // (not at its start) are text while they balance.
        let mut braces = 0usize;
        while let Some(c) = self.cur() {
            if ctx == Ctx::Object && (c == '{' && self.i > start || c == '}' && braces > 0) {
                if c == '{' {
                    braces += 1;
                } else {
                    braces -= 1;
                }
                self.i += 1;
                continue;
            }
            if c == ','
                && ctx == Ctx::Object
                && !self.member_follows(self.i + 1)
                && self.end_quote_ahead(self.i + 1)
            {
                // `{"a": one, two, three",}`: no member follows the comma,
                // and a lone end quote does: the start quote is missing and
                // the comma is part of the text.
                self.i += 1;
                continue;
            }
            if is_unquoted_delimiter(c) || is_quote(c) {
                break;
            }
            if ctx == Ctx::Tuple && c == ')' {
                break;
            }
            if c == ':' && ctx != Ctx::Top {
                // `https://` is part of a URL; otherwise ':' ends the text.
                if !self.starts_with(self.i, "://") {
                    break;
                }
            }
            if c == '/' && matches!(self.at(self.i + 1), Some('/') | Some('*')) {
                // A comment, unless it is the `//` of a URL.
                if !(self.i > start && self.at(self.i - 1) == Some(':')) {
                    break;
                }
            }
            self.i += 1;
        }
        let mut end = self.i;
        while end > start && self.at(end - 1).is_some_and(is_ws) {
            end -= 1;
        }
        if end == start {
            return Ok(None);
        }
        let text: String = self.s[start..end].iter().collect();
        if text == "..." || text == "…" {
            self.fix(RepairKind::RemovedEllipsis, start);
            return Ok(None).map(|_: Option<Value>| None);
        }
        self.fix(RepairKind::QuotedValue, start);
        // `foo"` followed by a delimiter: a missing start quote.
        if self.cur() == Some('"') {
            let k = self.skip_ws_at(self.i + 1, false);
            if self
                .at(k)
                .is_none_or(|c| matches!(c, ',' | '}' | ']' | ':' | '\n'))
            {
                self.fix(RepairKind::AddedMissingQuote, self.i);
                self.i += 1;
            }
        }
        Ok(Some(Value::String(text)))
    }
}

struct Key {
    text: String,
    quoted: bool,
    quoted_closed: bool,
}

enum StrScan {
    Done(String),
    Retry(StrMode),
}

/// `"rows": [[a, b], c, d], [e, f]`: an array closed too early, continued by
/// more arrays after it. If the earlier array is a table (all its arrays have
/// the same length n), scalars at its end are regrouped into rows of n when
/// they divide evenly, and a continuation array is one more row. Otherwise
/// the continuation's items are appended.
fn merge_rows(prev: &mut Vec<Value>, items: Vec<Value>) {
    let mut lens = prev.iter().filter_map(|v| v.as_array().map(Vec::len));
    let row_len = lens.next().filter(|&n| n > 0 && lens.all(|m| m == n));
    let Some(n) = row_len else {
        prev.extend(items);
        return;
    };
    let scalars = prev.iter().rev().take_while(|v| !v.is_array()).count();
    if scalars > 0 && scalars % n == 0 {
        let tail = prev.split_off(prev.len() - scalars);
        let mut tail = tail.into_iter();
        for _ in 0..scalars / n {
            prev.push(Value::Array(tail.by_ref().take(n).collect()));
        }
    }
    if items.iter().all(Value::is_array) {
        prev.extend(items);
    } else {
        prev.push(Value::Array(items));
    }
}

fn trim_end_ws(s: &mut String) {
    let t = s.trim_end_matches(is_ws).len();
    s.truncate(t);
}
