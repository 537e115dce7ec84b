//! The repair parser's state ([`Parser`]), its entry ([`repair_text`]), and
//! the reading of one value: whitespace, comments and code fences between
//! tokens, and the dispatch to objects, arrays, tuples, strings, numbers,
//! keywords and unquoted words (each in its own module).

use super::chars::{is_binary_control, is_ident, is_quote, is_ws};
use super::types::{Fix, RepairError, RepairKind, RepairOptions, Repaired, MAX_DEPTH};
use serde_json::Value;
use std::cell::Cell;

/// Characters that the look-ahead for a balanced `{…}`/`[…]` inside a string
/// value (`"a, {"k": 1}"`) may read in one repair, all calls together.
pub(super) const INLINE_SCAN_BUDGET: usize = 1 << 20;

/// The strict parse first (unless `always_repair`), else the repair parser;
/// `mark_left_out` writes left-out values as [`LEFT_OUT`].
pub(super) fn repair_text(
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
pub(super) fn check_binary(text: &str) -> Result<(), RepairError> {
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
pub(super) const LEFT_OUT: &str = "\u{fdd0}left out\u{fdd0}";

/// [`repair`], with left-out values written as [`LEFT_OUT`] (for
/// schema-guided repair, which fills those and only those).
pub(super) fn repair_marking_left_out(text: &str) -> Result<Repaired, RepairError> {
    repair_text(text, &RepairOptions::default(), true)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ctx {
    Top,
    Array,
    Object,
    Tuple,
}

/// How a string scan ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum StrMode {
    /// Normal: may retry once in one of the other modes.
    Normal,
    /// The end quote is missing: stop at the first delimiter.
    StopAtDelimiter,
    /// The end quote is missing: stop at this character offset.
    StopAt(usize),
    /// Like `StopAt`, and every quote before the offset is text.
    StopAtQuotesText(usize),
}

pub(super) struct Parser {
    pub(super) s: Vec<char>,
    pub(super) i: usize,
    pub(super) depth: usize,
    pub(super) fixes: Vec<Fix>,
    /// Whether the string being read is an object key (not a value).
    pub(super) key_mode: bool,
    /// Search caches of [`Parser::skip_comment`] and
    /// [`Parser::end_quote_ahead`].
    pub(super) block_end: Cell<(usize, usize)>,
    pub(super) line_end: Cell<(usize, usize)>,
    pub(super) hash_end: Cell<(usize, usize)>,
    pub(super) next_quote: Cell<(usize, usize)>,
    /// [`RepairOptions::stream_stable`].
    pub(super) stream_stable: bool,
    /// What is left of [`INLINE_SCAN_BUDGET`].
    pub(super) inline_budget: Cell<usize>,
    /// Cache of [`Parser::quotes_to_bracket`].
    pub(super) bracket_quotes: Cell<(char, usize, usize, usize)>,
    /// Search cache of [`Parser::class_closes_ahead`].
    pub(super) class_end: Cell<(usize, usize)>,
    /// Search cache of [`Parser::fenced_json_string`].
    pub(super) fence_at: Cell<(usize, usize)>,
    /// Where the first `\u` escape without four hex digits before the end
    /// of the text is (reported as [`RepairError::InvalidUnicodeEscape`]).
    pub(super) bad_escape: Option<usize>,
    /// Where the text ends for the value being read: its length, or a code
    /// fence met inside a container (see [`Parser::ws_opt`]).
    pub(super) end: usize,
    /// Write [`LEFT_OUT`] for a left-out value instead of `""`.
    pub(super) mark_left_out: bool,
}

impl Parser {
    /// Reads the whole text.
    pub(super) fn finish(mut self) -> Result<Repaired, RepairError> {
        let value = self.parse_top()?;
        if let Some(offset) = self.bad_escape {
            return Err(RepairError::InvalidUnicodeEscape { offset });
        }
        Ok(Repaired {
            value,
            fixes: self.fixes,
        })
    }

    pub(super) fn new(text: &str) -> Self {
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

    pub(super) fn at(&self, i: usize) -> Option<char> {
        if i < self.end {
            self.s.get(i).copied()
        } else {
            None
        }
    }

    pub(super) fn cur(&self) -> Option<char> {
        self.at(self.i)
    }

    pub(super) fn fix(&mut self, kind: RepairKind, offset: usize) {
        self.fixes.push(Fix { kind, offset });
    }

    pub(super) fn starts_with(&self, i: usize, pat: &str) -> bool {
        (i..).zip(pat.chars()).all(|(k, c)| self.at(k) == Some(c))
    }

    /// Index after whitespace, comments and code fences starting at `i`,
    /// without recording anything. With `newlines == false` a newline stops it.
    pub(super) fn skip_ws_at(&self, mut i: usize, newlines: bool) -> usize {
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
    pub(super) fn ws(&mut self) {
        self.ws_opt(true)
    }

    pub(super) fn ws_opt(&mut self, newlines: bool) {
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
    pub(super) fn skip_comment(&self, i: usize) -> usize {
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
    pub(super) fn find_from(
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

    pub(super) fn enter(&mut self) -> Result<(), RepairError> {
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

    pub(super) fn parse_value(&mut self, ctx: Ctx) -> Result<Option<Value>, RepairError> {
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
    pub(super) fn comma_grouped_number(&mut self, ctx: Ctx, start: usize, v: Value) -> Value {
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
    pub(super) fn parse_regex(&mut self) -> Option<Value> {
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
}
