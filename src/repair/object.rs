//! Objects: members, keys, set literals (`{"a", "b"}`) and the guesses
//! about where a member starts when commas, colons or quotes are wrong.

use super::chars::{is_double_quote_like, is_quote, is_unquoted_delimiter, is_value_start, is_ws};
use super::parser::{Ctx, Parser, LEFT_OUT};
use super::types::{RepairError, RepairKind};
use serde_json::{Map, Value};

impl Parser {
    /// `in_array`: the object is an array element, so a key it already has,
    /// written without a comma before it, starts the next element.
    pub(super) fn parse_object(&mut self, in_array: bool) -> Result<Value, RepairError> {
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
            match self.parse_member(open, in_array, comma, &mut map)? {
                Member::Next => {}
                Member::Rescan => first = map.is_empty(),
                Member::Close => break,
                Member::Set(v) => return Ok(v),
            }
        }
        self.depth -= 1;
        Ok(Value::Object(map))
    }

    /// One member of the object that starts at `open`, from its key on
    /// (`comma`: a comma came before it). `in_array` as in
    /// [`Parser::parse_object`].
    pub(super) fn parse_member(
        &mut self,
        open: usize,
        in_array: bool,
        comma: bool,
        map: &mut Map<String, Value>,
    ) -> Result<Member, RepairError> {
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
                return Ok(Member::Next);
            }
        };
        if in_array && !comma && map.contains_key(&key.text) {
            // Rows with the `}, {` lost (`[{"a": 1} junk "a": 2]`): a key
            // the object already has, after junk or no comma, is the
            // next row's.
            self.fix(RepairKind::ClosedContainer, key_start);
            self.i = key_start;
            return Ok(Member::Close);
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
                return Ok(Member::Next);
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
                return self.finish_set(open, key.text).map(Member::Set);
            }
            None => {
                // Truncated after a key. A repeated key without a value
                // is a fragment (`{0:a"0"`) and keeps the earlier value.
                if (!key.text.is_empty() || key.quoted_closed) && !map.contains_key(&key.text) {
                    self.fix(RepairKind::InsertedNull, self.i);
                    map.insert(key.text, Value::Null);
                }
                self.fix(RepairKind::ClosedContainer, open);
                return Ok(Member::Close);
            }
            Some(c) if !key.quoted && is_quote(c) && self.quoted_key_at(self.i) => {
                // `COMMENT "key": ...`: a junk word before a quoted key.
                self.fix(RepairKind::SkippedJunk, key_start);
                return Ok(Member::Rescan);
            }
            Some(c) if is_value_start(c) => {
                self.fix(RepairKind::InsertedColon, self.i);
            }
            Some(c) if c == '}' || c == ',' => {
                // A word or stray string between members, not a key.
                self.fix(RepairKind::SkippedJunk, key_start);
                return Ok(Member::Next);
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
        Ok(Member::Next)
    }

    /// `{"a", "b", ...}` after the first element was read.
    pub(super) fn finish_set(&mut self, open: usize, first: String) -> Result<Value, RepairError> {
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

    pub(super) fn parse_key(&mut self) -> Result<Option<Key>, RepairError> {
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
    pub(super) fn comma_for_colon(&self, i: usize) -> bool {
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
    pub(super) fn quoted_key_at(&self, i: usize) -> bool {
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

    pub(super) fn after_ws_is(&self, i: usize, f: impl Fn(char) -> bool) -> bool {
        self.at(self.skip_ws_at(i, true)).is_some_and(f)
    }

    pub(super) fn skip_ellipsis(&mut self) {
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
}

/// How [`Parser::parse_member`] ends.
pub(super) enum Member {
    /// Read on: the next member.
    Next,
    /// A junk word before a quoted key was skipped: read the key as if it
    /// came first when no member was read yet.
    Rescan,
    /// The object ends here.
    Close,
    /// The object was a set literal, read as this array.
    Set(Value),
}

pub(super) struct Key {
    pub(super) text: String,
    pub(super) quoted: bool,
    pub(super) quoted_closed: bool,
}

/// `"rows": [[a, b], c, d], [e, f]`: an array closed too early, continued by
/// more arrays after it. If the earlier array is a table (all its arrays have
/// the same length n), scalars at its end are regrouped into rows of n when
/// they divide evenly, and a continuation array is one more row. Otherwise
/// the continuation's items are appended.
pub(super) fn merge_rows(prev: &mut Vec<Value>, items: Vec<Value>) {
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
