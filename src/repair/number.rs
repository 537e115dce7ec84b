//! Numbers: completed (`2.`, `.5`), normalised (`1_000`), kept as strings
//! when digits would be lost (`0789`).

use super::chars::{is_delimiter, is_quote, is_ws};
use super::parser::Parser;
use super::types::RepairKind;
use serde_json::Value;

impl Parser {
    pub(super) fn at_end_of_number(&self, i: usize) -> bool {
        match self.at(i) {
            None => true,
            Some('/') => matches!(self.at(i + 1), Some('/') | Some('*')),
            Some(c) => (is_delimiter(c) && c != '(') || is_ws(c) || c == ';' || c == '`',
        }
    }

    pub(super) fn parse_number(&mut self) -> Option<Value> {
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
    pub(super) fn stray_quote_at(&self, i: usize) -> bool {
        if !self.at(i).is_some_and(is_quote) {
            return false;
        }
        let k = self.skip_ws_at(i + 1, false);
        matches!(self.at(k), None | Some(',' | '}' | ']' | '\n'))
    }

    pub(super) fn finish_number(
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
}
