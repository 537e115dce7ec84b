//! Keywords (`true`, `None`, `NaN`, ...) and unquoted words.

use super::chars::{
    is_delimiter, is_ident, is_ident_start, is_quote, is_unquoted_delimiter, is_ws,
};
use super::parser::{Ctx, Parser};
use super::types::{RepairError, RepairKind};
use serde_json::Value;

impl Parser {
    /// A keyword at `i`: returns its value and length.
    pub(super) fn keyword_at(&self, i: usize) -> Option<(Value, usize, bool)> {
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

    pub(super) fn parse_keyword(&mut self) -> Option<Value> {
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

    pub(super) fn parse_unquoted(&mut self, ctx: Ctx) -> Result<Option<Value>, RepairError> {
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
