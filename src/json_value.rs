//! Canonical bytes of a JSON value, for equality as JSON Schema defines it.
//!
//! `uniqueItems` compares items as JSON values, not as text: `1`, `1.0` and
//! `10e-1` are one number, `"a"` and `"\u0061"` one string, and objects are
//! equal whatever the order of their keys. [`canonical`] writes a value in
//! a form where equal values have equal bytes, so that the parser can keep
//! the items of a list as byte strings and compare them with `==`.
//!
//! The form is self-delimiting (a string carries its length, a number ends
//! with a marker), so the concatenated members of an array or object cannot
//! run into each other. Numbers are exact: the digits with leading and
//! trailing zeros removed and a decimal exponent, never a float.

/// Writes the canonical form of the one JSON value in `text` (surrounding
/// whitespace and one leading `,` separator allowed) to `out`. Returns
/// false if `text` is not a single JSON value; `out` is then unspecified.
///
/// Object keys repeated in one object keep their last value, as most JSON
/// readers do.
pub(crate) fn canonical(text: &[u8], out: &mut Vec<u8>) -> bool {
    let mut r = Reader { text, at: 0 };
    r.skip_ws();
    if r.peek() == Some(b',') {
        r.at += 1;
    }
    if !r.value(out, 0) {
        return false;
    }
    r.skip_ws();
    r.at == text.len()
}

/// Nesting deeper than this is refused rather than recursed into.
const MAX_DEPTH: usize = 256;

struct Reader<'t> {
    text: &'t [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, word: &[u8]) -> bool {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.skip_ws();
        match self.peek() {
            Some(b'n') => {
                out.push(b'n');
                self.eat(b"null")
            }
            Some(b't') => {
                out.push(b't');
                self.eat(b"true")
            }
            Some(b'f') => {
                out.push(b'f');
                self.eat(b"false")
            }
            Some(b'"') => {
                let mut s = Vec::new();
                if !self.string(&mut s) {
                    return false;
                }
                push_string(out, &s);
                true
            }
            Some(b'[') => {
                self.at += 1;
                out.push(b'[');
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    out.push(b']');
                    return true;
                }
                loop {
                    if !self.value(out, depth + 1) {
                        return false;
                    }
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            out.push(b']');
                            return true;
                        }
                        _ => return false,
                    }
                }
            }
            Some(b'{') => {
                self.at += 1;
                self.skip_ws();
                // (key, canonical value), sorted by key below.
                let mut members: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                } else {
                    loop {
                        self.skip_ws();
                        let mut k = Vec::new();
                        if self.peek() != Some(b'"') || !self.string(&mut k) {
                            return false;
                        }
                        self.skip_ws();
                        if !self.eat(b":") {
                            return false;
                        }
                        let mut v = Vec::new();
                        if !self.value(&mut v, depth + 1) {
                            return false;
                        }
                        members.push((k, v));
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => self.at += 1,
                            Some(b'}') => {
                                self.at += 1;
                                break;
                            }
                            _ => return false,
                        }
                    }
                }
                // Stable: of repeated keys, the last one written stays last.
                members.sort_by(|a, b| a.0.cmp(&b.0));
                out.push(b'{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if members.get(i + 1).is_some_and(|n| n.0 == *k) {
                        continue;
                    }
                    push_string(out, k);
                    out.extend_from_slice(v);
                }
                out.push(b'}');
                true
            }
            Some(b'-' | b'0'..=b'9') => self.number(out),
            _ => false,
        }
    }

    /// Reads a string literal (at its opening quote) into `s`, decoded.
    fn string(&mut self, s: &mut Vec<u8>) -> bool {
        self.at += 1;
        loop {
            let Some(c) = self.peek() else { return false };
            self.at += 1;
            match c {
                b'"' => return true,
                b'\\' => {
                    let Some(e) = self.peek() else { return false };
                    self.at += 1;
                    let plain = match e {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let Some(mut cp) = self.hex4() else {
                                return false;
                            };
                            if (0xD800..0xDC00).contains(&cp)
                                && self.text[self.at..].starts_with(b"\\u")
                            {
                                let save = self.at;
                                self.at += 2;
                                match self.hex4() {
                                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                    }
                                    _ => self.at = save,
                                }
                            }
                            // A lone surrogate has no UTF-8 form: keep it
                            // apart from every real character.
                            match char::from_u32(cp) {
                                Some(ch) => {
                                    let mut buf = [0u8; 4];
                                    s.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                                }
                                None => {
                                    s.push(0xFF);
                                    s.extend_from_slice(&cp.to_be_bytes()[2..]);
                                }
                            }
                            continue;
                        }
                        _ => return false,
                    };
                    s.push(plain);
                }
                _ => s.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.text.get(self.at..self.at + 4)?;
        let s = std::str::from_utf8(h).ok()?;
        let v = u32::from_str_radix(s, 16).ok()?;
        self.at += 4;
        Some(v)
    }

    /// A number as `d`, its sign, its significant digits, `e`, the decimal
    /// exponent of the last digit and `;` (zero is `d0;`, whatever its sign).
    fn number(&mut self, out: &mut Vec<u8>) -> bool {
        let negative = self.eat(b"-");
        let mut digits: Vec<u8> = Vec::new();
        let mut exp: i128 = 0;
        let int_start = self.at;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            digits.push(c);
            self.at += 1;
        }
        if self.at == int_start {
            return false;
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            let frac_start = self.at;
            while let Some(c @ b'0'..=b'9') = self.peek() {
                digits.push(c);
                exp -= 1;
                self.at += 1;
            }
            if self.at == frac_start {
                return false;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            let neg_exp = match self.peek() {
                Some(b'-') => {
                    self.at += 1;
                    true
                }
                Some(b'+') => {
                    self.at += 1;
                    false
                }
                _ => false,
            };
            let e_start = self.at;
            let mut e: i128 = 0;
            while let Some(c @ b'0'..=b'9') = self.peek() {
                // Exponents beyond this are all "too large" alike.
                e = (e * 10 + i128::from(c - b'0')).min(1 << 80);
                self.at += 1;
            }
            if self.at == e_start {
                return false;
            }
            exp += if neg_exp { -e } else { e };
        }
        let lead = digits.iter().take_while(|&&d| d == b'0').count();
        let digits = &digits[lead..];
        let trail = digits.iter().rev().take_while(|&&d| d == b'0').count();
        let digits = &digits[..digits.len() - trail];
        out.push(b'd');
        if digits.is_empty() {
            out.extend_from_slice(b"0;");
            return true;
        }
        out.push(if negative { b'-' } else { b'+' });
        out.extend_from_slice(digits);
        out.push(b'e');
        out.extend_from_slice((exp + trail as i128).to_string().as_bytes());
        out.push(b';');
        true
    }
}

fn push_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b's');
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::canonical;

    fn canon(t: &str) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(canonical(t.as_bytes(), &mut out), "{t}");
        out
    }

    #[test]
    fn equal_values_have_equal_bytes() {
        let same = [
            ("1", "1.0"),
            ("1", "10e-1"),
            ("100", "1e2"),
            ("100", "1.00E+2"),
            ("0", "-0.0"),
            ("0.5", "5e-1"),
            ("-12.50", "-125e-1"),
            (r#""a""#, r#""\u0061""#),
            (r#""\ud83d\ude00""#, "\"\u{1F600}\""),
            (r#""\/""#, r#""/""#),
            (
                r#"{"a":1,"b":[true,null]}"#,
                r#"{ "b" : [ true , null ] , "a" : 1.0 }"#,
            ),
            ("[1,2]", " , [1.0, 2e0] "),
            (r#"{"a":1,"a":2}"#, r#"{"a":2}"#),
        ];
        for (a, b) in same {
            assert_eq!(canon(a), canon(b), "{a} vs {b}");
        }
    }

    #[test]
    fn different_values_have_different_bytes() {
        let differ = [
            ("1", "-1"),
            ("1", "10"),
            ("1", "1.5"),
            ("0.1", "1"),
            ("1e400", "1e401"),
            (r#""a""#, r#""b""#),
            (r#""ab""#, r#""a""#),
            ("[1,2]", "[2,1]"),
            ("[[1],2]", "[[1,2]]"),
            (r#"["a","b"]"#, r#"["ab"]"#),
            (r#"{"a":1}"#, r#"{"a":1,"b":1}"#),
            (r#"{"a":"b"}"#, r#"{"b":"a"}"#),
            ("true", "1"),
            ("false", "0"),
            ("null", "false"),
            ("[]", "{}"),
            (r#""\ud800""#, r#""\u0000""#),
        ];
        for (a, b) in differ {
            assert_ne!(canon(a), canon(b), "{a} vs {b}");
        }
    }

    #[test]
    fn refuses_what_is_not_one_value() {
        let mut out = Vec::new();
        for t in [
            "", "1 2", "[1,", "{\"a\"}", "tru", "\"a", "01x", "1.", "-", "1e",
        ] {
            out.clear();
            assert!(!canonical(t.as_bytes(), &mut out), "{t}");
        }
    }
}
