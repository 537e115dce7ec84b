//! The top level of a repaired text: where the JSON starts, what is prose,
//! and which of several documents are kept.
//!
//! Model output is often a sentence, one or more code blocks and another
//! sentence. The rules, which follow the Python `json_repair` library:
//!
//! * **Prose is not a value.** A text that starts with a word (not a JSON or
//!   Python keyword, not a `name(…)` call) or a Markdown bullet or heading is
//!   prose. If a `{`, `[` or code fence follows, everything before it is
//!   skipped; otherwise the text holds no JSON value and the repair fails with
//!   [`RepairError::NothingRecoverable`] (`Sorry, I can't help with that.`,
//!   `hello`).
//! * **After a container, only containers count.** Once an object or array
//!   was read, the rest of the text is scanned for the next `{` or `[` (code
//!   fences are whitespace); words, numbers and quotes between are prose and
//!   are skipped. So several fenced blocks, or JSON values separated by
//!   explanations, all come back.
//! * **Several documents** become one array, with three exceptions that make
//!   a re-emitted answer come back once:
//!   - an empty container (`[]`, `{}`) next to a document that holds data,
//!     or glued to the one before it, is dropped (`{"a": 1}, []` →
//!     `{"a": 1}`, `[]{}` → `[]`); a stream of only empty ones, one per
//!     line, is kept as it is;
//!   - a document of the same shape as the one before it (same keys, same
//!     array lengths, same value types), *not* separated from it by a comma,
//!     is a corrected re-emission and replaces it (`{"a": 1}\n{"a": 2}` →
//!     `{"a": 2}`); comma-separated ones are a list and are all kept;
//!   - scalar documents (`1`, `"x"`) are kept only when the text holds no
//!     container at all (`1\n2` → `[1, 2]`, but `"x", [1]` → `[1]`), and
//!     no prose follows them (`42 is the answer` is a sentence).

use super::chars::{is_delimiter, is_double_quote_like, is_ident, is_ident_start, is_quote, is_ws};
use super::parser::{Ctx, Parser};
use super::types::{RepairError, RepairKind};
use serde_json::{Map, Value};

/// The top-level documents read so far, and the rules above that decide
/// which of them are kept.
#[derive(Default)]
pub(super) struct Documents {
    docs: Vec<Value>,
    /// How many of `docs` are containers, and how many non-empty ones (so
    /// that a long stream of documents is read in linear time).
    containers: usize,
    filled: usize,
}

/// What [`Documents::push`] did with a document.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Kept {
    /// Added.
    Added,
    /// Added in place of the document before it (or of the scalars before it).
    Replaced,
    /// Not added: it carries nothing next to the others.
    Dropped,
}

impl Documents {
    /// Offers `v`, read at top level; `comma` says whether a comma separates
    /// it from the document before it, `glued` whether nothing at all does.
    pub(super) fn push(&mut self, v: Value, comma: bool, glued: bool) -> Kept {
        if !(v.is_object() || v.is_array()) {
            if self.containers > 0 {
                return Kept::Dropped;
            }
            self.docs.push(v);
            return Kept::Added;
        }
        if self.containers == 0 && !self.docs.is_empty() {
            self.docs.clear();
            self.add(v);
            return Kept::Replaced;
        }
        let empty = is_empty_container(&v);
        if empty && (glued || self.filled > 0) {
            return Kept::Dropped;
        }
        let replace = match self.docs.last() {
            Some(last) if !empty && is_empty_container(last) => true,
            Some(last) => !empty && !comma && same_shape(last, &v),
            None => false,
        };
        if replace {
            if let Some(last) = self.docs.pop() {
                self.containers -= 1;
                self.filled -= usize::from(!is_empty_container(&last));
            }
        }
        self.add(v);
        if replace {
            Kept::Replaced
        } else {
            Kept::Added
        }
    }

    /// Appends a container.
    fn add(&mut self, v: Value) {
        self.containers += 1;
        self.filled += usize::from(!is_empty_container(&v));
        self.docs.push(v);
    }

    /// Forgets the scalar documents (there are only scalars, or none).
    pub(super) fn drop_scalars(&mut self) {
        if self.containers == 0 {
            self.docs.clear();
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub(super) fn has_container(&self) -> bool {
        self.containers > 0
    }

    /// Adds members to the last document, an object.
    pub(super) fn extend_last(&mut self, more: Map<String, Value>) {
        if let Some(Value::Object(m)) = self.docs.last_mut() {
            let was_empty = m.is_empty();
            m.extend(more);
            self.filled += usize::from(was_empty && !m.is_empty());
        }
    }

    /// The value: the one document, or an array of all of them.
    pub(super) fn finish(mut self) -> Result<(Value, bool), RepairError> {
        match self.docs.len() {
            0 => Err(RepairError::NothingRecoverable),
            1 => Ok((self.docs.pop().unwrap_or(Value::Null), false)),
            _ => Ok((Value::Array(self.docs), true)),
        }
    }

    fn only_empty_container(&self) -> bool {
        self.docs.len() == 1 && is_empty_container(&self.docs[0])
    }
}

impl Parser {
    pub(super) fn parse_top(&mut self) -> Result<Value, RepairError> {
        self.ws();
        self.skip_leading_prose();
        if self.at_prose() {
            return Err(RepairError::NothingRecoverable);
        }
        let mut docs = Documents::default();
        let mut comma = false;
        let mut skipping = false;
        loop {
            self.ws();
            let Some(c) = self.cur() else { break };
            match c {
                '}' | ']' | ')' if !skipping => {
                    self.fix(RepairKind::RemovedBracket, self.i);
                    self.i += 1;
                    continue;
                }
                ',' | ';' => {
                    if !skipping {
                        let kind = if docs.is_empty() {
                            RepairKind::SkippedJunk
                        } else {
                            RepairKind::RemovedComma
                        };
                        self.fix(kind, self.i);
                    }
                    comma |= c == ',';
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            let in_prose = skipping || docs.has_container() || !docs.is_empty() && self.at_word();
            if in_prose && c != '{' && c != '[' {
                // Prose between or after documents: skipped up to the next
                // `{` or `[` (or code fence, which `ws` skips).
                if !skipping {
                    self.fix(RepairKind::SkippedTrailingText, self.i);
                    skipping = true;
                    // `42 is the answer`: scalars that prose follows were
                    // the start of a sentence, not documents.
                    docs.drop_scalars();
                }
                self.i += 1;
                continue;
            }
            skipping = false;
            let start = self.i;
            let glued = start > 0 && self.at(start - 1).is_some_and(|c| !is_ws(c) && c != ',');
            let value = self.parse_value(Ctx::Top);
            // A code fence that closed the containers ends only this value.
            self.end = usize::MAX;
            match value? {
                Some(v) => {
                    let is_object = v.is_object();
                    match docs.push(v, comma, glued) {
                        Kept::Added => {}
                        Kept::Replaced | Kept::Dropped => {
                            self.fix(RepairKind::DroppedDocument, start)
                        }
                    }
                    comma = false;
                    if is_object && self.members_follow() {
                        // `{"a": 1}, "b": 2}`: the object was closed too
                        // early. Read the rest as members of the same object
                        // (the comma stands in for its `{`).
                        self.fix(RepairKind::RemovedBracket, start);
                        self.i = self.skip_ws_at(self.i, true);
                        if let Value::Object(more) = self.parse_object(false)? {
                            docs.extend_last(more);
                        }
                    }
                }
                None => {
                    // Not a value: skip what was read (brackets, fences,
                    // comments), or one character.
                    self.fix(RepairKind::SkippedJunk, start);
                    self.i = self.i.max(start + 1);
                }
            }
            if self.i == start {
                self.i += 1;
            }
        }
        let skipped_prose = self.fixes.iter().any(|f| {
            f.kind == RepairKind::SkippedLeadingText || f.kind == RepairKind::SkippedTrailingText
        });
        let closed = self
            .fixes
            .iter()
            .any(|f| f.kind == RepairKind::ClosedContainer);
        if skipped_prose && closed && docs.only_empty_container() {
            // `text [`: a stray bracket in prose, not JSON.
            return Err(RepairError::NothingRecoverable);
        }
        let (value, wrapped) = docs.finish()?;
        if wrapped {
            self.fix(RepairKind::WrappedDocuments, 0);
        }
        Ok(value)
    }

    /// After a top-level object: whether `, "key":` or `, "key" "value"`
    /// follows, i.e. more members of the same object.
    fn members_follow(&self) -> bool {
        let j = self.skip_ws_at(self.i, true);
        if self.at(j) != Some(',') {
            return false;
        }
        let q = self.skip_ws_at(j + 1, true);
        let Some(open) = self.at(q).filter(|&c| is_quote(c)) else {
            return false;
        };
        if self.quoted_key_at(q) {
            return true;
        }
        // `"key" "value"`: a missing colon.
        let mut k = q + 1;
        while let Some(c) = self.at(k) {
            if c == open || (is_double_quote_like(open) && is_double_quote_like(c)) {
                return self.at(self.skip_ws_at(k + 1, false)).is_some_and(is_quote);
            }
            if c == '\n' {
                return false;
            }
            k += 1;
        }
        false
    }

    /// Whether a word that is not a value starts here: a letter or `_` that
    /// does not begin a keyword (`true`, `None`, …) standing alone, nor a
    /// `name(` call.
    fn at_word(&self) -> bool {
        let Some(c) = self.cur() else { return false };
        if !(c.is_alphabetic() || c == '_') {
            return false;
        }
        if let Some((_, len, _)) = self.keyword_at(self.i) {
            let k = self.skip_ws_at(self.i + len, false);
            let alone = match self.at(k) {
                None => true,
                Some(d) => is_delimiter(d) || is_quote(d) || d == ';' || d == '#',
            };
            if alone {
                return false;
            }
        }
        !self.call_at(self.i)
    }

    /// Whether `name(` (JSONP, `ObjectId(…)`) starts at `i`.
    fn call_at(&self, i: usize) -> bool {
        if !self.at(i).is_some_and(is_ident_start) {
            return false;
        }
        let mut k = i;
        while self.at(k).is_some_and(is_ident) {
            k += 1;
        }
        self.at(self.skip_ws_at(k, true)) == Some('(')
    }

    /// Whether the text (from here) is prose: a word that is not a value, or
    /// a Markdown bullet, heading or quote (`- item`, `* item`, `# Title`,
    /// `> note`).
    fn at_prose(&self) -> bool {
        match self.cur() {
            Some('*' | '#' | '>') => true,
            Some('-') => self.at(self.i + 1).is_some_and(is_ws),
            _ => self.at_word(),
        }
    }

    /// If the text starts with prose and a bracket or code fence follows,
    /// skip to it. JSONP (`name(`) is left to the value parser.
    fn skip_leading_prose(&mut self) {
        let Some(c) = self.cur() else { return };
        if !(c.is_alphabetic() || c == '*' || c == '#' || c == '>' || c == '_' || c == '-') {
            return;
        }
        if c == '-'
            && self
                .at(self.i + 1)
                .is_some_and(|d| d.is_ascii_digit() || d == '.')
        {
            return;
        }
        if self.call_at(self.i) {
            return;
        }
        let mut k = self.i;
        while let Some(d) = self.at(k) {
            if d == '{' || d == '[' || self.starts_with(k, "```") {
                self.fix(RepairKind::SkippedLeadingText, self.i);
                self.i = k;
                return;
            }
            k += 1;
        }
    }
}

/// Same type, same keys and array lengths, recursively; numbers of the same
/// kind (integer or not). Values may differ.
fn same_shape(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => same_keys(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_shape(v, w))
        }
        (Value::Number(x), Value::Number(y)) => x.is_f64() == y.is_f64(),
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

fn same_keys(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len()
        && x.iter()
            .all(|(k, v)| y.get(k).is_some_and(|w| same_shape(v, w)))
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}
