//! Strings: quoted text, with the decisions about where a string whose
//! quotes are wrong ends (see "Quotes" and "Missing end quotes inside
//! objects" in the [module documentation](super)).
//!
//! A string is scanned at most twice: [`Parser::scan_string`] may ask for one
//! retry in another [`StrMode`] (the end quote is missing: stop at a
//! delimiter or at an offset found by the first scan), which never retries
//! again. The look-ahead helpers below cache their searches so that a text
//! made of quotes stays linear.

use super::chars::{
    is_delimiter, is_double_quote_like, is_ident, is_ident_start, is_quote, is_single_quote_like,
    is_unquoted_delimiter, is_url_char, is_ws,
};
use super::parser::{Ctx, Parser, StrMode};
use super::types::{RepairError, RepairKind};
use serde_json::Value;
use std::mem::take;

impl Parser {
    pub(super) fn parse_string(&mut self, ctx: Ctx) -> Result<Option<Value>, RepairError> {
        if let Some(v) = self.fenced_json_string() {
            return Ok(Some(v));
        }
        let start = self.i;
        let fixes_before = self.fixes.len();
        let bad_escape = self.bad_escape;
        let mut s = match self.scan_string(StrMode::Normal, ctx) {
            StrScan::Done(s) => s,
            StrScan::Retry(mode) => {
                self.i = start;
                self.fixes.truncate(fixes_before);
                self.bad_escape = bad_escape;
                match self.scan_string(mode, ctx) {
                    StrScan::Done(s) => s,
                    StrScan::Retry(_) => String::new(), // not reached: retries never nest
                }
            }
        };
        // Concatenation: "a" + "b"
        loop {
            let k = self.skip_ws_at(self.i, true);
            if self.at(k) != Some('+') {
                break;
            }
            let k2 = self.skip_ws_at(k + 1, true);
            self.fix(RepairKind::ConcatenatedStrings, k);
            self.i = k2;
            match self.cur() {
                Some(c) if is_quote(c) => {
                    let st = self.i;
                    let fb = self.fixes.len();
                    let more = match self.scan_string(StrMode::Normal, ctx) {
                        StrScan::Done(t) => t,
                        StrScan::Retry(mode) => {
                            self.i = st;
                            self.fixes.truncate(fb);
                            self.bad_escape = bad_escape;
                            match self.scan_string(mode, ctx) {
                                StrScan::Done(t) => t,
                                StrScan::Retry(_) => String::new(),
                            }
                        }
                    };
                    s.push_str(&more);
                }
                _ => break,
            }
        }
        let _ = ctx;
        Ok(Some(Value::String(s)))
    }

    /// `"```json {…}```"`: a string value that is only a code fence around
    /// a JSON object or array is that value.
    pub(super) fn fenced_json_string(&mut self) -> Option<Value> {
        let q = self.cur().filter(|&c| is_quote(c))?;
        if self.key_mode || !self.starts_with(self.i + 1, "```") {
            return None;
        }
        let mut k = self.i + 4;
        while self.at(k).is_some_and(is_ident) {
            k += 1;
        }
        let fence = self.find_from(k, &self.fence_at, |p, j| p.starts_with(j, "```"));
        let close = self.skip_ws_at(fence + 3, true);
        let is_close = self
            .at(close)
            .is_some_and(|c| c == q || (is_double_quote_like(q) && is_double_quote_like(c)));
        if fence >= self.s.len() || !is_close {
            return None;
        }
        let inner: String = self.s.get(k..fence)?.iter().collect();
        let value: Value = serde_json::from_str(inner.trim()).ok()?;
        if !value.is_object() && !value.is_array() {
            return None;
        }
        self.fix(RepairKind::StrippedCodeFence, self.i + 1);
        self.i = close + 1;
        Some(value)
    }

    /// Reads a string from its opening quote; see the module documentation
    /// for how a string whose quotes are wrong ends. At most one
    /// [`StrScan::Retry`] in another [`StrMode`].
    pub(super) fn scan_string(&mut self, mode: StrMode, ctx: Ctx) -> StrScan {
        let mut st = match self.scan_open(mode, ctx) {
            Ok(st) => st,
            Err(done) => return done,
        };
        loop {
            let Some(c) = self.cur() else {
                return self.scan_end_of_text(st);
            };
            match self.scan_char(&mut st, c) {
                Step::Done(r) => return r,
                Step::Continue => continue,
                Step::Next => {}
            }
            if st.skip_escapes && self.cur() == Some('\\') {
                self.i += 1;
            }
        }
    }

    /// The opening quote (and a doubled one, `""value"`): the state of the
    /// scan, or the string when it ends there.
    fn scan_open(&mut self, mode: StrMode, ctx: Ctx) -> Result<Scan, StrScan> {
        let start = self.i;
        let mut skip_escapes = false;
        if self.cur() == Some('\\') {
            // `\"text\"`: escaped JSON text.
            self.i += 1;
            skip_escapes = true;
            self.fix(RepairKind::UnescapedText, start);
        }
        let Some(q) = self.cur() else {
            return Err(StrScan::Done(String::new()));
        };
        let open_at = self.i;
        if q != '"' {
            self.fix(RepairKind::NormalizedQuotes, self.i);
        }
        let is_end: fn(char) -> bool = if q == '"' {
            |c| c == '"'
        } else if q == '\'' {
            |c| c == '\''
        } else if is_single_quote_like(q) {
            is_single_quote_like
        } else {
            is_double_quote_like
        };
        self.i += 1;
        // `""value"`: a doubled opening quote. If the next quote is doubled
        // too (`""value""`, CSV style), that pair is the end quote.
        let mut doubled = false;
        let mut leading_span = false;
        if mode == StrMode::Normal && self.cur() == Some(q) && self.at(self.i + 1) == Some(q) {
            // Three or more quotes before a delimiter: an empty string and
            // stray quotes.
            let mut k = self.i;
            while self.at(k) == Some(q) {
                k += 1;
            }
            let after = self.skip_ws_at(k, false);
            if matches!(self.at(after), None | Some(',' | ':' | '}' | ']' | '\n')) {
                self.fix(RepairKind::SkippedJunk, self.i);
                self.i = k;
                return Err(StrScan::Done(String::new()));
            }
        }
        if mode == StrMode::Normal && self.cur() == Some(q) {
            let k = self.skip_ws_at(self.i + 1, false);
            let next_is_text = self
                .at(k)
                .is_some_and(|n| !is_delimiter(n) && !is_quote(n) && n != ';');
            if next_is_text && self.at(self.i + 1).is_some_and(|n| n != '\n') {
                self.fix(RepairKind::EscapedQuote, self.i);
                self.i += 1;
                let mut j = self.i;
                while self.at(j).is_some_and(|c| !is_end(c)) {
                    j += 1;
                }
                doubled = self.at(j + 1) == Some(q);
                if !doubled && ctx == Ctx::Object && !self.key_mode && self.at(j).is_some() {
                    // `""quoted" text"`: the quoted span starts the value
                    // when the quote after it ends the member.
                    let mut k = j + 1;
                    while self.at(k).is_some_and(|c| !is_end(c)) {
                        k += 1;
                    }
                    let after = self.at(self.skip_ws_at(k + 1, true));
                    leading_span = self.at(k).is_some() && matches!(after, None | Some(',' | '}'));
                }
            }
        }
        let mut out = String::new();
        // Start (in `out`) of a trailing run of raw whitespace, and whether it
        // holds a raw newline: `"text\n"` loses that newline.
        let raw_ws: Option<(usize, bool)> = None;
        // In an object value: the first comma that is followed by the start of
        // another member (`, "b":`, `, b:`). If the end quote turns out to be
        // missing, the value ends there (`{"a": "x, b: 1`).
        let member_comma: Option<usize> = None;
        let obj_value_text = ctx == Ctx::Object && !self.key_mode && mode == StrMode::Normal;
        // Quotes inside an object value taken as text so far: while their
        // number is odd, a quote before the object's `}` closes the quoted
        // span (`{"a": "v"alue"}`), not the value.
        let mut text_quotes = 0usize;
        if leading_span {
            out.push(q);
            text_quotes = 1;
        }
        let low_quote_open = false;
        // In an array item: a quote taken as text opened a quoted span that
        // the next quote closes.
        let span_open = false;
        // Inside `[…` with no whitespace since: a regex character class.
        let class_open = false;
        // `{` in the text not closed yet: a `}` after a quote may close it.
        let open_braces = 0usize;
        Ok(Scan {
            mode,
            ctx,
            q,
            is_end,
            open_at,
            skip_escapes,
            doubled,
            obj_value_text,
            out,
            raw_ws,
            member_comma,
            text_quotes,
            low_quote_open,
            span_open,
            class_open,
            open_braces,
        })
    }

    /// The text ends before the end quote.
    fn scan_end_of_text(&mut self, mut st: Scan) -> StrScan {
        // End of text: the end quote is missing.
        if self.stream_stable {
            // Cut off while streaming: keep the text as it is, so that a
            // longer prefix only extends it.
            self.fix(RepairKind::ClosedString, self.i);
            return StrScan::Done(st.out);
        }
        if let Some(k) = st.member_comma {
            // The first scan took every quote before `k` as text.
            return StrScan::Retry(StrMode::StopAtQuotesText(k));
        }
        if st.obj_value_text {
            // `{"a": "text "quoted" text}`: the end quote is missing
            // and the `}` that ends the text closes the object; the
            // quotes before it were text.
            let mut k = self.prev_non_ws(self.i);
            if k >= st.open_at + 4 && self.starts_with(k - 3, "```") {
                k = self.prev_non_ws(k - 3);
            }
            let quotes = (st.open_at + 1..k).filter(|&j| self.at(j).is_some_and(st.is_end));
            let quotes = quotes.count();
            if k > st.open_at + 1 && self.at(k - 1) == Some('}') && quotes > 0 && quotes % 2 == 0 {
                // Only when the quotes inside pair up (`"sic"`): a
                // single one (`"b": "x" true}`) is the end quote.
                return StrScan::Retry(StrMode::StopAtQuotesText(k - 1));
            }
        }
        if st.mode == StrMode::Normal {
            let mut k = self.prev_non_ws(self.i);
            if k >= st.open_at + 4 && self.starts_with(k - 3, "```") {
                // A closing code fence ends the text: look before it.
                k = self.prev_non_ws(k - 3);
            }
            if k > st.open_at && self.at(k - 1).is_some_and(is_delimiter) {
                return StrScan::Retry(StrMode::StopAtDelimiter);
            }
        }
        self.fix(RepairKind::ClosedString, self.i);
        trim_end_ws(&mut st.out);
        StrScan::Done(st.out)
    }

    /// One character of the string (`c`, at the cursor).
    fn scan_char(&mut self, st: &mut Scan, c: char) -> Step {
        if let StrMode::StopAt(stop) | StrMode::StopAtQuotesText(stop) = st.mode {
            if self.i == stop {
                self.fix(RepairKind::AddedMissingQuote, self.i);
                trim_end_ws(&mut st.out);
                return Step::Done(StrScan::Done(take(&mut st.out)));
            }
        }
        if c == ',' && st.ctx == Ctx::Object && !self.key_mode {
            if let Some(end) = self.inline_container_after(self.i + 1) {
                // `"a, {"k": 1}, ...`: a balanced object or array right
                // after a comma inside an object value is quoted text,
                // not the next member.
                st.out.extend(&self.s[self.i..end]);
                self.fix(RepairKind::EscapedQuote, self.i);
                st.raw_ws = None;
                self.i = end;
                return Step::Continue;
            }
        }
        if st.doubled && c == st.q && self.at(self.i + 1) == Some(st.q) {
            // The end of `""value""`.
            self.fix(RepairKind::EscapedQuote, self.i);
            self.i += 2;
            trim_end_ws(&mut st.out);
            return Step::Done(StrScan::Done(take(&mut st.out)));
        }
        if matches!(c, '{' | '[') && st.obj_value_text {
            if let Some(end) = self.quoted_container_in_text(self.i, st.is_end) {
                // `"{"k": 1}"`, `"list [1, "2"]"`: a container with
                // quotes inside is text.
                st.out.extend(self.s.get(self.i..end).unwrap_or_default());
                self.fix(RepairKind::EscapedQuote, self.i);
                st.raw_ws = None;
                self.i = end;
                return Step::Continue;
            }
        }
        if (st.is_end)(c) && matches!(st.mode, StrMode::StopAtQuotesText(_)) {
            self.fix(RepairKind::EscapedQuote, self.i);
            st.out.push(c);
            st.raw_ws = None;
            self.i += 1;
            Step::Next
        } else if (st.is_end)(c) {
            self.scan_quote(st, c)
        } else if st.mode == StrMode::StopAtDelimiter
            && (is_unquoted_delimiter(c)
                || (c == '/' && matches!(self.at(self.i + 1), Some('/') | Some('*'))))
            && !self.comma_in_value_text(c, st.ctx)
        {
            // URL like "https://..." inside a string with a missing quote.
            if c == '/' && st.out.ends_with(':') {
                while self.cur().is_some_and(is_url_char) {
                    st.out.push(self.s[self.i]);
                    self.i += 1;
                }
            }
            self.fix(RepairKind::AddedMissingQuote, self.i);
            trim_end_ws(&mut st.out);
            Step::Done(StrScan::Done(take(&mut st.out)))
        } else if c == '\\' {
            if st.skip_escapes || !self.backslash_run(st.is_end, &mut st.out) {
                self.scan_escape(&mut st.out);
            }
            st.raw_ws = None;
            Step::Next
        } else {
            self.scan_plain(st, c);
            Step::Next
        }
    }

    /// A quote that may end the string (`c`, at the cursor).
    fn scan_quote(&mut self, st: &mut Scan, c: char) -> Step {
        let quote_at = self.i;
        let after = self.skip_ws_at(self.i + 1, false);
        let next = self.at(after);
        let obj_value = st.ctx == Ctx::Object && !self.key_mode && st.mode == StrMode::Normal;
        // (Not while streaming: the quotes that decide may not have
        // arrived yet.)
        let in_array = st.ctx == Ctx::Array
            && !self.key_mode
            && st.mode == StrMode::Normal
            && !self.stream_stable;
        let old_end = st.mode != StrMode::Normal
            || match next {
                None => true,
                Some(n) => end_delimiter(n, st.ctx) || is_quote(n) || n.is_ascii_digit(),
            };
        if in_array
            && (st.span_open
                || (!old_end && self.array_quote_opens_span(quote_at, st.q, st.is_end)))
        {
            // `["a "b" c"]`: a quoted span inside an array item.
            st.span_open = !st.span_open;
            self.fix(RepairKind::EscapedQuote, quote_at);
            st.out.push(c);
            st.raw_ws = None;
            self.i = quote_at + 1;
            return Step::Continue;
        }
        if obj_value && st.class_open && self.class_closes_ahead(quote_at + 1) {
            // `"[^'"]+"`: a quote inside a regular expression's
            // character class is text.
            self.fix(RepairKind::EscapedQuote, quote_at);
            st.out.push(c);
            st.raw_ws = None;
            self.i = quote_at + 1;
            return Step::Continue;
        }
        let opens_key = obj_value && self.opens_next_key(st.open_at, quote_at);
        // Junk between the end quote and the rest of the object.
        let mut junk_end = None;
        let odd = st.text_quotes % 2 == 1;
        if obj_value
            && odd
            && !opens_key
            && st.open_braces == 0
            && self.closes_object_at(quote_at + 1)
        {
            // `{"a": "v"alue"}`: this quote closes the quoted span
            // and the value ends at the object's `}`.
            self.fix(RepairKind::EscapedQuote, quote_at);
            st.out.push(c);
            self.i = quote_at + 1;
            self.fix(RepairKind::AddedMissingQuote, self.i);
            return Step::Done(StrScan::Done(take(&mut st.out)));
        }
        if obj_value
            && !odd
            && !opens_key
            && self.at(quote_at + 1).is_some_and(st.is_end)
            && !self.quoted_key_at(quote_at + 1)
            && self.object_value_ends_at(quote_at + 2)
        {
            // `"5'11"", `: a doubled quote before the end of the
            // member is a literal quote and the end quote.
            self.fix(RepairKind::EscapedQuote, quote_at);
            st.out.push(c);
            self.i = quote_at + 2;
            return Step::Done(StrScan::Done(take(&mut st.out)));
        }
        let is_real_end = if obj_value {
            !opens_key
                && if odd {
                    self.object_value_ends_at(quote_at + 1) && !self.closes_object_at(quote_at + 1)
                } else {
                    self.object_value_ends_at(quote_at + 1) || {
                        junk_end = self.closes_before_quote(quote_at + 1, st.is_end);
                        junk_end.is_some()
                    }
                }
        } else {
            old_end
        };
        if is_real_end {
            // `"a" "b"` where the second quote is the start of text
            // that goes on, e.g. `"The TV is 72""` — a doubled quote
            // at the very end is a literal quote.
            if next.is_some_and(st.is_end)
                && after == quote_at + 1
                && self.at(after + 1).is_none()
                && st.mode == StrMode::Normal
                && !st.out.is_empty()
            {
                st.out.push(c);
                self.fix(RepairKind::EscapedQuote, quote_at);
                self.i = after + 1;
                self.fix(RepairKind::ClosedString, self.i);
                return Step::Done(StrScan::Done(take(&mut st.out)));
            }
            self.i = quote_at + 1;
            if let Some(j) = junk_end {
                let j = self.prev_non_ws(j);
                if j > self.i {
                    self.fix(RepairKind::SkippedJunk, self.skip_ws_at(self.i, true));
                    self.i = j;
                }
            }
            if let Some((from, true)) = st.raw_ws {
                st.out.truncate(from);
            }
            return Step::Done(StrScan::Done(take(&mut st.out)));
        }
        self.scan_text_quote(st, c, quote_at, obj_value, opens_key, in_array)
    }

    /// A quote that does not end the string where it stands: text, or the
    /// sign that the end quote is missing (a retry).
    #[allow(clippy::too_many_arguments)]
    fn scan_text_quote(
        &mut self,
        st: &mut Scan,
        c: char,
        quote_at: usize,
        obj_value: bool,
        opens_key: bool,
        in_array: bool,
    ) -> Step {
        let prev = self.prev_non_ws(quote_at);
        if obj_value && !opens_key {
            // A quote inside an object value that is not followed by
            // the end of the member: part of the text.
            if st.low_quote_open {
                // `„quoted"`: this quote closes a low quote, not a span.
                st.low_quote_open = false;
            } else {
                st.text_quotes += 1;
            }
            self.fix(RepairKind::EscapedQuote, quote_at);
            st.out.push(c);
            st.raw_ws = None;
            self.i = quote_at + 1;
            if st.skip_escapes && self.cur() == Some('\\') {
                self.i += 1;
            }
            return Step::Continue;
        }
        if prev > st.open_at + 1 {
            let prev_c = self.at(prev - 1);
            if prev_c == Some(',')
                && (st.ctx != Ctx::Object || self.key_follows(quote_at, st.is_end))
            {
                if obj_value {
                    // The quotes before were all taken as text.
                    return Step::Done(StrScan::Retry(StrMode::StopAtQuotesText(prev - 1)));
                }
                return Step::Done(StrScan::Retry(StrMode::StopAt(prev - 1)));
            }
            if prev_c.is_some_and(is_delimiter) {
                return Step::Done(StrScan::Retry(StrMode::StopAtDelimiter));
            }
        }
        if in_array {
            // `["a" b" ]`: no quoted span pairs up after it, so this
            // quote ends the item and `b"` is another one.
            self.i = quote_at + 1;
            return Step::Done(StrScan::Done(take(&mut st.out)));
        }
        // An unescaped quote inside the string.
        self.fix(RepairKind::EscapedQuote, quote_at);
        st.out.push(c);
        st.raw_ws = None;
        self.i = quote_at + 1;
        Step::Next
    }

    /// Any other character of the string.
    fn scan_plain(&mut self, st: &mut Scan, c: char) {
        if c == ','
            && st.obj_value_text
            && st.member_comma.is_none()
            && !self.stream_stable
            && self.member_follows(self.i + 1)
        {
            st.member_comma = Some(self.i);
        }
        if is_ws(c) {
            let (from, nl) = st.raw_ws.unwrap_or((st.out.len(), false));
            st.raw_ws = Some((from, nl || c == '\n'));
        } else {
            st.raw_ws = None;
        }
        if c == '\u{201e}' {
            st.low_quote_open = true;
        }
        match c {
            '{' => st.open_braces += 1,
            '}' => st.open_braces = st.open_braces.saturating_sub(1),
            _ => {}
        }
        st.class_open = match c {
            '[' => true,
            ']' => false,
            _ => st.class_open && !is_ws(c),
        };
        if (c as u32) < 0x20 {
            self.fix(RepairKind::EscapedControlChar, self.i);
        } else if c == '"' {
            self.fix(RepairKind::EscapedQuote, self.i);
        }
        st.out.push(c);
        self.i += 1;
    }

    /// A run of two or more backslashes at the cursor, read as a whole (so
    /// that a long run is not counted again from each of its backslashes).
    /// Before a quote that text follows (`\\"key\\\":`: escaped JSON
    /// escaped once more, or badly), the run and the quote are one escaped
    /// quote. Otherwise each pair is one backslash, as in JSON; a last odd
    /// backslash is left for [`Parser::scan_escape`]. Returns whether
    /// anything was read.
    pub(super) fn backslash_run(&mut self, is_end: fn(char) -> bool, out: &mut String) -> bool {
        let start = self.i;
        let mut end = start;
        while self.at(end) == Some('\\') {
            end += 1;
        }
        let n = end - start;
        if n < 2 {
            return false;
        }
        if let Some(q) = self.at(end).filter(|&c| is_end(c)) {
            let after = self.at(self.skip_ws_at(end + 1, true));
            let ends = matches!(after, None | Some(',' | ':' | '}' | ']'));
            if n % 2 == 1 || !ends {
                self.fix(RepairKind::FixedInvalidEscape, start);
                out.push(q);
                self.i = end + 1;
                return true;
            }
        }
        for _ in 0..n / 2 {
            out.push('\\');
        }
        self.i = start + n / 2 * 2;
        true
    }

    /// If `{` or `[` follows `k` (after spaces) and its brackets balance, with
    /// quoted strings skipped, the index just after its closing bracket.
    ///
    /// Each call may scan far ahead, so all calls of one repair share a
    /// budget of [`INLINE_SCAN_BUDGET`] characters: beyond it the answer is
    /// `None`, which keeps adversarial input (`, [, [, [` …) linear.
    pub(super) fn inline_container_after(&self, k: usize) -> Option<usize> {
        let open = self.skip_ws_at(k, false);
        if !matches!(self.at(open), Some('{') | Some('[')) {
            return None;
        }
        let mut stack: Vec<char> = Vec::new();
        let mut j = open;
        let budget = self.inline_budget.get();
        let limit = open.saturating_add(budget);
        let result = loop {
            if j >= limit {
                break None;
            }
            let Some(c) = self.at(j) else { break None };
            match c {
                '{' => stack.push('}'),
                '[' => stack.push(']'),
                '}' | ']' => {
                    if stack.pop() != Some(c) {
                        break None;
                    }
                    if stack.is_empty() {
                        break Some(j + 1);
                    }
                }
                '"' => {
                    j += 1;
                    while j < limit && self.at(j).is_some_and(|d| d != '"' && d != '\n') {
                        j += if self.at(j) == Some('\\') { 2 } else { 1 };
                    }
                    if self.at(j) != Some('"') {
                        break None;
                    }
                }
                _ => {}
            }
            j += 1;
        };
        self.inline_budget
            .set(budget.saturating_sub(j.saturating_sub(open)));
        result
    }

    /// In an object value: if the `{` or `[` at `k` opens a balanced
    /// container on one line that holds a quote (and no escape), the index
    /// after it, when the container is valid JSON not followed by a colon,
    /// or is followed by the value's end quote and the end of the member.
    pub(super) fn quoted_container_in_text(
        &self,
        k: usize,
        is_end: fn(char) -> bool,
    ) -> Option<usize> {
        let end = self.inline_container_after(k)?;
        let inner = self.s.get(k..end)?;
        if inner.iter().any(|&c| c == '\n' || c == '\\') || !inner.iter().any(|&c| is_end(c)) {
            return None;
        }
        let after = self.skip_ws_at(end, true);
        let text: String = inner.iter().collect();
        if serde_json::from_str::<Value>(&text).is_ok() {
            return (self.at(after) != Some(':')).then_some(end);
        }
        (self.at(after).is_some_and(is_end) && self.object_value_ends_at(after + 1)).then_some(end)
    }

    /// In an object value whose end quote is missing: whether the comma `c`
    /// at the cursor is text (no member follows it) rather than the end.
    pub(super) fn comma_in_value_text(&self, c: char, ctx: Ctx) -> bool {
        c == ',' && ctx == Ctx::Object && !self.key_mode && !self.member_follows(self.i + 1)
    }

    /// In an object value: whether the quote at `q` opens the next member's
    /// key, after a comma (`{"a": "b, "c": 1}`: the end quote of `b` is missing).
    /// Also true for `{"a": "b, c: "d"}`: the quote follows `, c:`.
    pub(super) fn opens_next_key(&self, open_at: usize, q: usize) -> bool {
        let prev = self.prev_non_ws(q);
        if prev <= open_at + 1 {
            return false;
        }
        match self.at(prev - 1) {
            Some(',') => self.quoted_key_at(q),
            Some(':') => {
                // `, ident :` before the quote.
                let mut k = self.prev_non_ws(prev - 1);
                let end = k;
                while k > open_at + 1 && self.at(k - 1).is_some_and(|c| is_ident(c) || c == '-') {
                    k -= 1;
                }
                k < end && {
                    let c = self.prev_non_ws(k);
                    c > open_at + 1 && self.at(c - 1) == Some(',')
                }
            }
            _ => false,
        }
    }

    /// In an object value: whether the text from `k` (just after a quote)
    /// ends the member: `}`, `]`, the end of the text, a comma followed by
    /// another member, or (a comma missing) the next key.
    pub(super) fn object_value_ends_at(&self, k: usize) -> bool {
        let j = self.skip_ws_at(k, true);
        match self.at(j) {
            None | Some('}') | Some(']') | Some(':') | Some('{') | Some('[') | Some('+') => true,
            Some(',') => self.member_follows(j + 1),
            // `"hello"\n",}`: a quote at the end of the line, then a stray
            // quote alone on the last line of the object.
            Some(c) if is_quote(c) => self.quoted_key_at(j) || self.stray_last_quote(k, j),
            Some(c) if c.is_ascii_digit() => true,
            Some(c) if is_ident_start(c) => self.unquoted_key_at(j),
            _ => false,
        }
    }

    /// In an object value, after a quote: whether the text from `k` reaches
    /// a `}` or the end of the text before any other quote (`"x" tail}`),
    /// or reaches the next quoted key (`"x" tail "b": 1`): the quote ends the
    /// value and the rest is junk. Gives where the junk ends.
    pub(super) fn closes_before_quote(&self, k: usize, is_end: fn(char) -> bool) -> Option<usize> {
        let mut j = k;
        while let Some(c) = self.at(j) {
            if c == '}' {
                return Some(j);
            }
            if is_end(c) {
                return self.quoted_key_at(j).then_some(j);
            }
            j += 1;
        }
        // While streaming, the end of the text is only where it was cut.
        (!self.stream_stable).then_some(j)
    }

    /// In an array item: whether the quote at `at` opens a quoted span
    /// rather than ending the item. It does when text (not only whitespace)
    /// and then another quote follow before any `,` or `]`, and the quotes
    /// from that one up to the array's `]` pair up (`["a "b" c", "d"]`);
    /// an odd count means a quote is missing and this one ends the item
    /// (`["a" b" ]`).
    pub(super) fn array_quote_opens_span(
        &self,
        at: usize,
        q: char,
        is_end: fn(char) -> bool,
    ) -> bool {
        let mut j = at + 1;
        let mut text = false;
        loop {
            match self.at(j) {
                None | Some(',') | Some(']') => return false,
                Some(c) if is_end(c) && !self.escaped_at(j) => break,
                Some(c) => text |= !is_ws(c),
            }
            j += 1;
        }
        text && self.quotes_to_bracket(j, q, is_end).is_multiple_of(2)
    }

    pub(super) fn escaped_at(&self, j: usize) -> bool {
        j > 0 && self.at(j - 1) == Some('\\')
    }

    /// The number of unescaped quotes (`is_end`) from `k` up to the next `]`
    /// or the end of the text.
    ///
    /// Cached in [`Parser::bracket_quotes`] as `(quote, from, at, count)`:
    /// a query inside the cached range adjusts the count by the characters
    /// between `from` and `k`, so a scan that goes forward (or retries
    /// backwards) costs what it moves, not the distance to the `]`.
    pub(super) fn quotes_to_bracket(&self, k: usize, q: char, is_end: fn(char) -> bool) -> usize {
        let is_q = |j: usize| self.at(j).is_some_and(is_end) && !self.escaped_at(j);
        let (cq, from, at, count) = self.bracket_quotes.get();
        let same_run = cq == q
            && from <= at
            && k <= at
            && (k >= from || (k..from).all(|j| self.at(j) != Some(']')));
        let count = if same_run {
            if k >= from {
                count.saturating_sub((from..k).filter(|&j| is_q(j)).count())
            } else {
                count + (k..from).filter(|&j| is_q(j)).count()
            }
        } else {
            let mut j = k;
            let mut n = 0;
            while let Some(c) = self.at(j) {
                if c == ']' {
                    break;
                }
                if is_q(j) {
                    n += 1;
                }
                j += 1;
            }
            self.bracket_quotes.set((q, k, j, n));
            return n;
        };
        self.bracket_quotes.set((q, k, at, count));
        count
    }

    /// Whether a `]` comes from `k` on before any whitespace (the end of a
    /// regex character class). Cached: the answer is the same for every `k`
    /// of one run.
    pub(super) fn class_closes_ahead(&self, k: usize) -> bool {
        let j = self.find_from(k, &self.class_end, |p, j| p.s[j] == ']' || is_ws(p.s[j]));
        self.at(j) == Some(']')
    }

    /// Whether only whitespace and then `}` or the end of the text follow `k`.
    pub(super) fn closes_object_at(&self, k: usize) -> bool {
        matches!(self.at(self.skip_ws_at(k, true)), None | Some('}'))
    }

    /// Whether the quote at `q` stands alone on the last line of an object
    /// (`…"\n",}` or `…"\n"}`), with a line break between `k` and it.
    pub(super) fn stray_last_quote(&self, k: usize, q: usize) -> bool {
        if !self.s[k..q].contains(&'\n') {
            return false;
        }
        let mut j = self.skip_ws_at(q + 1, true);
        if self.at(j) == Some(',') {
            j = self.skip_ws_at(j + 1, true);
        }
        self.at(j) == Some('}')
    }

    /// After a comma in an object: whether another member (or the end of the
    /// object) follows.
    pub(super) fn member_follows(&self, k: usize) -> bool {
        let j = self.skip_ws_at(k, true);
        match self.at(j) {
            None | Some('}') | Some(']') | Some(',') | Some('[') | Some('{') => true,
            Some('.') => self.starts_with(j, "..."),
            // `"key":`, or `` `key: `` with a stray quote that closes nothing.
            Some(c) if is_quote(c) => self.quoted_key_at(j) || self.bare_key_at(j + 1),
            Some(c) if is_ident_start(c) || c.is_ascii_digit() => {
                if self.unquoted_key_at(j) {
                    return true;
                }
                // `COMMENT "key": ...`: a stray word before a quoted key.
                let mut k = j;
                while self.at(k).is_some_and(is_ident) {
                    k += 1;
                }
                let k = self.skip_ws_at(k, false);
                self.at(k).is_some_and(is_quote) && self.quoted_key_at(k)
            }
            _ => false,
        }
    }

    /// Whether the next quote on this line, from `k`, is followed by `,`,
    /// `}` or the end of the line (an end quote whose start is missing).
    pub(super) fn end_quote_ahead(&self, k: usize) -> bool {
        let q = self.find_from(k, &self.next_quote, |p, k| {
            p.s[k] == '\n' || is_quote(p.s[k])
        });
        if self.at(q).is_none_or(|c| c == '\n') {
            return false;
        }
        let j = self.skip_ws_at(q + 1, false);
        matches!(self.at(j), None | Some(',') | Some('}') | Some('\n'))
    }

    /// Whether an unquoted key (`name:`, or `name":` with a missing start
    /// quote, on one line) starts at `k`.
    pub(super) fn unquoted_key_at(&self, k: usize) -> bool {
        let mut j = k;
        while self.at(j).is_some_and(|c| is_ident(c) || c == '-') {
            j += 1;
        }
        if j > k && self.at(j).is_some_and(is_quote) {
            j += 1;
        }
        j > k && self.at(self.skip_ws_at(j, false)) == Some(':')
    }

    /// Whether a bare key (`name:`, no quote after the name) starts at `k`.
    pub(super) fn bare_key_at(&self, k: usize) -> bool {
        let mut j = k;
        while self.at(j).is_some_and(|c| is_ident(c) || c == '-') {
            j += 1;
        }
        j > k && self.at(self.skip_ws_at(j, false)) == Some(':')
    }

    /// Whether the quote at `q` opens a key: `"key" :` (on the same line).
    pub(super) fn key_follows(&self, q: usize, is_end: fn(char) -> bool) -> bool {
        let mut k = q + 1;
        while let Some(c) = self.at(k) {
            if is_end(c) {
                return self.at(self.skip_ws_at(k + 1, false)) == Some(':');
            }
            if c == '\n' {
                return false;
            }
            k += 1;
        }
        false
    }

    /// Index just after the last non-whitespace character before `i`.
    pub(super) fn prev_non_ws(&self, i: usize) -> usize {
        let mut k = i;
        while k > 0 && self.at(k - 1).is_some_and(is_ws) {
            k -= 1;
        }
        k
    }

    /// Reads the escape at the cursor (a backslash) into `out`.
    ///
    /// Cut off at the end of the text (`"val\`, `"\u12`), the escape is
    /// kept as text with its backslash (dropped in streaming mode, where a
    /// longer prefix will complete it). A `\u` without four hex digits
    /// *before* the end is an error ([`RepairError::InvalidUnicodeEscape`]):
    /// which character was meant cannot be known.
    pub(super) fn scan_escape(&mut self, out: &mut String) {
        let Some(e) = self.at(self.i + 1) else {
            // A lone backslash at the end of the text.
            self.fix(RepairKind::FixedInvalidEscape, self.i);
            if !self.stream_stable {
                out.push('\\');
            }
            self.i += 1;
            return;
        };
        let simple = crate::grammar::json_short_unescape(e);
        if let Some(ch) = simple {
            out.push(ch);
            self.i += 2;
            return;
        }
        if e == 'u' {
            match self.hex4(self.i + 2) {
                Some(cp) => {
                    self.i += 6;
                    if (0xD800..0xDC00).contains(&cp)
                        && self.at(self.i) == Some('\\')
                        && self.at(self.i + 1) == Some('u')
                    {
                        if let Some(lo) = self.hex4(self.i + 2) {
                            if (0xDC00..0xE000).contains(&lo) {
                                let c = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                                self.i += 6;
                                return;
                            }
                        }
                    }
                    out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                }
                None => {
                    let mut k = self.i + 2;
                    while k < self.i + 6 && self.at(k).is_some_and(|c| c.is_ascii_hexdigit()) {
                        k += 1;
                    }
                    self.fix(RepairKind::FixedInvalidEscape, self.i);
                    if self.at(k).is_some() {
                        if self.bad_escape.is_none() {
                            self.bad_escape = Some(self.i);
                        }
                    } else if !self.stream_stable {
                        out.extend(&self.s[self.i..k]);
                    }
                    self.i = k;
                }
            }
            return;
        }
        // Invalid escape. An escaped quote of another kind (`\'`) is just that
        // quote; otherwise the backslash is kept as text: `\s`, `\d`, `\(`
        // are regular expressions and `C:\dir` a path more often than typos,
        // and dropping the backslash would lose what the writer meant.
        self.fix(RepairKind::FixedInvalidEscape, self.i);
        if !is_quote(e) && e != '\u{201e}' {
            out.push('\\');
        }
        out.push(e);
        self.i += 2;
    }

    pub(super) fn hex4(&self, i: usize) -> Option<u32> {
        let mut v = 0u32;
        for k in 0..4 {
            let d = self.at(i + k)?.to_digit(16)?;
            v = v * 16 + d;
        }
        Some(v)
    }
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

/// The state of [`Parser::scan_string`].
pub(super) struct Scan {
    mode: StrMode,
    ctx: Ctx,
    /// The opening quote.
    q: char,
    /// Whether a character closes the quote `q`.
    is_end: fn(char) -> bool,
    open_at: usize,
    /// `\"text\"`: escaped JSON text, whose backslashes before quotes are
    /// skipped.
    skip_escapes: bool,
    /// `""value""`: the end quote is doubled too.
    doubled: bool,
    obj_value_text: bool,
    out: String,
    /// See [`Parser::scan_open`].
    raw_ws: Option<(usize, bool)>,
    member_comma: Option<usize>,
    text_quotes: usize,
    low_quote_open: bool,
    span_open: bool,
    class_open: bool,
    open_braces: usize,
}

/// What one step of the scan leads to.
pub(super) enum Step {
    /// The scan ends.
    Done(StrScan),
    /// Read on at the cursor, without the skip below.
    Continue,
    /// Read on, after skipping a backslash of escaped text.
    Next,
}

/// How a string scan ends.
pub(super) enum StrScan {
    Done(String),
    Retry(StrMode),
}

pub(super) fn trim_end_ws(s: &mut String) {
    let t = s.trim_end_matches(is_ws).len();
    s.truncate(t);
}
