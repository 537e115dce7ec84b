//! Lexemes that are one JSON string in every spelling, built directly.
//!
//! A JSON Schema object names its properties, and each name becomes a
//! lexeme: the string token in any spelling JSON allows (`"a"`, `"\u0061"`,
//! `"\u0041"` for `A`, …), as the regex of
//! [`spell_json_string`](crate::grammar::spell_json_string). Parsing that
//! regex and compiling it to an NFA costs some 50 µs per name, more than
//! everything else a name needs; a schema with hundreds of properties paid
//! milliseconds for it. The language is simple enough to write down as a DFA
//! straight away: a chain of states per character, with a branch for the
//! escapes. [`spelled_literal`] recognizes such a regex (exactly: it checks
//! that re-spelling the string gives the same text back) and
//! [`LiteralDfa::new`] makes its DFA.
//!
//! That DFA has no table: a state is a character's index and a position in
//! one of its spellings, and [`LiteralDfa::next`] works the transition out
//! from the string. As tables, the names of a schema corpus took hundreds of
//! megabytes (a few kilobytes each, most of it escape states), and crowded
//! the lexemes every schema shares out of the DFA cache.

use super::classes::DEAD;
use crate::grammar::{json_short_escape, json_short_unescape, spell_json_char_into};

/// The string whose spellings `pattern` matches, if `pattern` is exactly
/// what [`spell_json_string`](crate::grammar::spell_json_string) makes of it.
pub(crate) fn spelled_literal(pattern: &str) -> Option<String> {
    let mut rest = pattern.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut respelled = String::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix("(?:")?;
        let end = group_end(inner)?;
        let c = first_char(&inner[..end])?;
        let group = &rest[..3 + end + 1];
        respelled.clear();
        spell_json_char_into(c, &mut respelled);
        if respelled != group {
            return None;
        }
        out.push(c);
        rest = &rest[group.len()..];
    }
    Some(out)
}

/// Index of the `)` closing a group whose text starts at `s[0]`.
fn group_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut i, mut class) = (0, false);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => class = true,
            b']' => class = false,
            b')' if !class => return Some(i),
            b'(' if !class => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The character a group's first alternative spells (checked by the
/// caller, so a wrong guess only means "not a literal").
fn first_char(group: &str) -> Option<char> {
    if let Some(u) = group.strip_prefix("\\\\u") {
        let mut units = Vec::new();
        for part in u.split("\\\\u") {
            let mut unit = 0u32;
            let mut digits = 0;
            let mut chars = part.chars();
            while let Some(d) = chars.next() {
                let d = if d == '[' {
                    let x = chars.next()?;
                    chars.next()?;
                    chars.next()?;
                    x
                } else {
                    d
                };
                unit = unit * 16 + d.to_digit(16)?;
                digits += 1;
                if digits == 4 {
                    break;
                }
            }
            units.push(u16::try_from(unit).ok()?);
        }
        return char::decode_utf16(units).next()?.ok();
    }
    if let Some(e) = group.strip_prefix("\\\\") {
        return json_short_unescape(e.chars().next()?);
    }
    let mut chars = group.chars();
    match chars.next()? {
        '\\' => chars.next(),
        c => Some(c),
    }
}

/// The ways to write one character inside a JSON string.
#[derive(Clone, Debug)]
struct CharSpelling {
    /// Written as itself (not a quote, backslash or control character).
    plain: bool,
    utf8: [u8; 4],
    len: u8,
    /// The letter of its short escape (`n` for `\n`), or 0.
    short: u8,
    /// Lowercase hex digits of its UTF-16 units (two for a surrogate pair).
    hex: [[u8; 4]; 2],
    units: u8,
}

impl CharSpelling {
    fn new(c: char) -> CharSpelling {
        let mut utf8 = [0u8; 4];
        let len = c.encode_utf8(&mut utf8).len() as u8;
        let short = json_short_escape(c).unwrap_or(0);
        let mut buf = [0u16; 2];
        let units = c.encode_utf16(&mut buf);
        let mut hex = [[0u8; 4]; 2];
        for (h, &u) in hex.iter_mut().zip(units.iter()) {
            for (k, d) in h.iter_mut().enumerate() {
                *d = b"0123456789abcdef"[(u >> (12 - 4 * k)) as usize & 0xf];
            }
        }
        CharSpelling {
            plain: c != '"' && c != '\\' && (c as u32) >= 0x20,
            utf8,
            len,
            short,
            hex,
            units: units.len() as u8,
        }
    }
}

/// Sub-states per character: 0 before it, 1–3 inside its UTF-8 bytes, 4
/// after a backslash, 5–12 inside `\uXXXX` (unit × digit), 13 and 14
/// between the two halves of a surrogate pair.
const PER_CHAR: u32 = 16;
const AFTER_BACKSLASH: u32 = 4;
const HEX: u32 = 5;
const PAIR_BACKSLASH: u32 = 13;
const PAIR_U: u32 = 14;

/// The DFA of [`LiteralDfa::new`]: state 0 is before the opening quote, state
/// `1 + 16 i + k` is sub-state `k` of character `i`, `1 + 16 n` is before
/// the closing quote and `2 + 16 n` after it (`n` characters). Numbers of
/// sub-states a character does not use are never reached.
#[derive(Debug)]
pub(crate) struct LiteralDfa {
    chars: Box<[CharSpelling]>,
    /// The byte of each class (class 0: no edge).
    reps: Vec<u8>,
}

impl LiteralDfa {
    /// The DFA of every JSON spelling of the string `s`, quotes included,
    /// with its byte classes (as many as [`stride`](Self::stride)).
    ///
    /// It holds no table: each transition is worked out from the string
    /// itself. A schema corpus names tens of thousands of distinct
    /// properties; as tables (a few kilobytes each) they crowded the
    /// DFA cache out of the lexemes every schema shares.
    pub(crate) fn new(s: &str) -> (LiteralDfa, [u8; 256]) {
        let chars: Box<[CharSpelling]> = s.chars().map(CharSpelling::new).collect();
        // A class per byte that appears on an edge; every other byte is dead
        // everywhere and shares class 0.
        let mut classes = [0u8; 256];
        let mut reps = vec![0u8];
        let mut edge = |b: u8| {
            if classes[b as usize] == 0 {
                classes[b as usize] = reps.len() as u8;
                reps.push(b);
            }
        };
        edge(b'"');
        for c in chars.iter() {
            if c.plain {
                c.utf8[..c.len as usize].iter().for_each(|&b| edge(b));
            }
            edge(b'\\');
            if c.short != 0 {
                edge(c.short);
            }
            edge(b'u');
            for &d in c.hex[..c.units as usize].iter().flatten() {
                edge(d);
                edge(d.to_ascii_uppercase());
            }
        }
        (LiteralDfa { chars, reps }, classes)
    }

    /// Number of byte classes.
    pub(crate) fn stride(&self) -> usize {
        self.reps.len()
    }

    fn before(i: usize) -> u32 {
        1 + PER_CHAR * i as u32
    }

    fn end(&self) -> u32 {
        2 + PER_CHAR * self.chars.len() as u32
    }

    pub(crate) fn next(&self, s: u32, class: u8) -> u32 {
        let Some(&b) = self.reps.get(class as usize).filter(|_| class != 0) else {
            return DEAD;
        };
        let n = self.chars.len();
        if s == 0 {
            return if b == b'"' { Self::before(0) } else { DEAD };
        }
        if s == Self::before(n) {
            return if b == b'"' { self.end() } else { DEAD };
        }
        if s >= self.end() {
            return DEAD;
        }
        let i = ((s - 1) / PER_CHAR) as usize;
        let k = (s - 1) % PER_CHAR;
        let c = &self.chars[i];
        let at = |k: u32| Self::before(i) + k;
        let done = Self::before(i + 1);
        match k {
            0 if c.plain && b == c.utf8[0] => {
                if c.len == 1 {
                    done
                } else {
                    at(1)
                }
            }
            0 if b == b'\\' => at(AFTER_BACKSLASH),
            1..=3 if k < c.len as u32 && b == c.utf8[k as usize] => {
                if k + 1 == c.len as u32 {
                    done
                } else {
                    at(k + 1)
                }
            }
            AFTER_BACKSLASH if c.short != 0 && b == c.short => done,
            AFTER_BACKSLASH if b == b'u' => at(HEX),
            HEX..=12 => {
                let (unit, digit) = ((k - HEX) / 4, (k - HEX) % 4);
                let d = c.hex[unit as usize][digit as usize];
                if b != d && b != d.to_ascii_uppercase() {
                    DEAD
                } else if digit < 3 {
                    at(k + 1)
                } else if unit + 1 < c.units as u32 {
                    at(PAIR_BACKSLASH)
                } else {
                    done
                }
            }
            PAIR_BACKSLASH if b == b'\\' => at(PAIR_U),
            PAIR_U if b == b'u' => at(HEX + 4),
            _ => DEAD,
        }
    }

    pub(crate) fn is_accepting(&self, s: u32) -> bool {
        s == self.end()
    }

    pub(crate) fn state_count(&self) -> usize {
        self.end() as usize + 1
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.chars.len() * std::mem::size_of::<CharSpelling>() + self.reps.len()
    }

    /// Every state's transitions, as a table.
    pub(crate) fn complete(&self) -> (Vec<u32>, Vec<bool>) {
        let (n, stride) = (self.state_count(), self.reps.len());
        let mut trans = Vec::with_capacity(n * stride);
        for s in 0..n as u32 {
            trans.extend((0..stride).map(|c| self.next(s, c as u8)));
        }
        let accept = (0..n as u32).map(|s| self.is_accepting(s)).collect();
        (trans, accept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::spell_json_string;
    use crate::lexer::LexemeDfa;

    #[test]
    fn literals_are_recognized_exactly() {
        for s in [
            "",
            "name",
            "a/\"b\\c",
            "é€😀",
            "tab\there",
            "\u{1}x",
            "(a|b)[c]",
        ] {
            let p = spell_json_string(s);
            assert_eq!(spelled_literal(&p).as_deref(), Some(s), "{p}");
        }
        for p in [
            r#""(?:a|\\u0061)*""#,
            r#""[a-z]+""#,
            r#""(?:a|\\u0062)""#,
            "a",
        ] {
            assert_eq!(spelled_literal(p), None, "{p}");
        }
    }

    /// The analyses that read a whole table (distances to acceptance, used
    /// by the completion search) see the same automaton as `next`.
    #[test]
    fn literal_tables_agree_with_transitions() {
        for s in ["ab", "é", "😀", "a\"b"] {
            let direct = LexemeDfa::literal(s);
            let regex = LexemeDfa::build(&spell_json_string(s)).unwrap();
            // The shortest spelling is the plain one, quotes included.
            let plain = serde_json::to_string(s).unwrap().len() as u32;
            assert_eq!(direct.distances().shortest, plain, "{s:?}");
            assert_eq!(regex.distances().shortest, plain, "{s:?}");
            assert_eq!(direct.to_accept(direct.start), plain, "{s:?}");
            // Every state reached by a spelling has the regex DFA's distance.
            let mut units = [0u16; 2];
            let escaped: String = s
                .chars()
                .flat_map(|c| {
                    c.encode_utf16(&mut units)
                        .iter()
                        .map(|u| format!("\\u{u:04X}"))
                        .collect::<Vec<_>>()
                })
                .collect();
            for text in [serde_json::to_string(s).unwrap(), format!("\"{escaped}\"")] {
                let (mut a, mut b) = (direct.start, regex.start);
                for &byte in text.as_bytes() {
                    a = direct.next(a, byte);
                    b = regex.next(b, byte);
                    assert_ne!(a, DEAD, "{text}");
                    assert_eq!(direct.to_accept(a), regex.to_accept(b), "{text}");
                }
                assert!(direct.is_accepting(a), "{text}");
            }
            let dense = direct.to_dense("literal").unwrap();
            let mut q = dense.start;
            for &byte in serde_json::to_string(s).unwrap().as_bytes() {
                q = dense.next(q, byte);
            }
            assert!(q != DEAD && dense.is_accepting(q), "{s:?}");
        }
    }

    /// The direct DFA and the regex's own DFA agree on every prefix of
    /// random spellings.
    #[test]
    fn literal_dfas_match_regex_dfas() {
        let mut rand = crate::lexer::tests::seeded_rand(5);
        for s in ["name", "a/\"b\\c", "é€😀", "tab\there", "\u{1}x"] {
            let direct = LexemeDfa::literal(s);
            let regex = LexemeDfa::build(&spell_json_string(s)).unwrap();
            let mut pieces: Vec<String> = [
                "\"", "\\", "u", "0", "e", "E", "/", "\t", "\\\"", "\\/", "\\t",
            ]
            .map(String::from)
            .to_vec();
            // Each character, raw and escaped, so that walks get deep.
            for c in s.chars() {
                pieces.push(c.to_string());
                let mut units = [0u16; 2];
                let esc: String = c
                    .encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect();
                pieces.push(esc.to_uppercase().replace("\\U", "\\u"));
                pieces.push(esc);
            }
            for _ in 0..2000 {
                let mut text = String::from("\"");
                for _ in 0..rand(10) {
                    text.push_str(&pieces[rand(pieces.len())]);
                }
                crate::lexer::tests::assert_same_walk(&direct, &regex, &text, s);
            }
            // And the canonical spellings are accepted.
            let mut q = direct.start;
            for &byte in serde_json::to_string(s).unwrap().as_bytes() {
                q = direct.next(q, byte);
            }
            assert!(q != DEAD && direct.is_accepting(q), "{s:?}");
        }
    }
}
