//! The public types of repair: what was fixed ([`Fix`], [`RepairKind`]),
//! the result ([`Repaired`]), the errors ([`RepairError`]) and the options
//! ([`RepairOptions`]).

use serde_json::Value;

/// Maximum nesting of arrays, objects and tuples.
pub const MAX_DEPTH: usize = 512;

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

/// The result of [`repair`](super::repair).
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

/// Options of [`repair_with`](super::repair_with). `RepairOptions::default()`
/// is what [`repair`](super::repair) uses.
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
