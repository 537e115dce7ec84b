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
//! [`literal_dfa`] builds its DFA.

use super::{LexemeDfa, DEAD};
use crate::grammar::spell_json_char_into;

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
        return match e.chars().next()? {
            '"' => Some('"'),
            '\\' => Some('\\'),
            '/' => Some('/'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            _ => None,
        };
    }
    let mut chars = group.chars();
    match chars.next()? {
        '\\' => chars.next(),
        c => Some(c),
    }
}

/// The DFA of every JSON spelling of the string `s`, quotes included.
///
/// Every state is live: the rest of the string can always be written.
pub(crate) fn literal_dfa(s: &str) -> LexemeDfa {
    let mut edges: Vec<Vec<(u8, u32)>> = Vec::new();
    let state = |edges: &mut Vec<Vec<(u8, u32)>>| {
        edges.push(Vec::new());
        (edges.len() - 1) as u32
    };
    let start = state(&mut edges);
    let mut cur = state(&mut edges);
    edges[start as usize].push((b'"', cur));
    for c in s.chars() {
        let next = state(&mut edges);
        if c != '"' && c != '\\' && (c as u32) >= 0x20 {
            let mut buf = [0u8; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            let mut p = cur;
            for (k, &b) in bytes.iter().enumerate() {
                let t = if k + 1 == bytes.len() {
                    next
                } else {
                    state(&mut edges)
                };
                edges[p as usize].push((b, t));
                p = t;
            }
        }
        let esc = state(&mut edges);
        edges[cur as usize].push((b'\\', esc));
        let short = match c {
            '"' => Some(b'"'),
            '\\' => Some(b'\\'),
            '/' => Some(b'/'),
            '\u{8}' => Some(b'b'),
            '\u{c}' => Some(b'f'),
            '\n' => Some(b'n'),
            '\r' => Some(b'r'),
            '\t' => Some(b't'),
            _ => None,
        };
        if let Some(x) = short {
            edges[esc as usize].push((x, next));
        }
        let mut units = [0u16; 2];
        let units = c.encode_utf16(&mut units);
        let n = units.len();
        let mut p = esc;
        for (i, unit) in units.iter().enumerate() {
            if i > 0 {
                let slash = state(&mut edges);
                edges[p as usize].push((b'\\', slash));
                p = slash;
            }
            let u = state(&mut edges);
            edges[p as usize].push((b'u', u));
            p = u;
            for (k, d) in format!("{unit:04x}").bytes().enumerate() {
                let t = if i + 1 == n && k == 3 {
                    next
                } else {
                    state(&mut edges)
                };
                edges[p as usize].push((d, t));
                if d.is_ascii_alphabetic() {
                    edges[p as usize].push((d.to_ascii_uppercase(), t));
                }
                p = t;
            }
        }
        cur = next;
    }
    let end = state(&mut edges);
    edges[cur as usize].push((b'"', end));

    // A class per byte that appears on an edge; every other byte is dead
    // everywhere and shares class 0.
    let mut classes = [0u8; 256];
    let mut stride = 1usize;
    for e in edges.iter().flatten() {
        if classes[e.0 as usize] == 0 {
            classes[e.0 as usize] = stride as u8;
            stride += 1;
        }
    }
    let mut trans = vec![DEAD; edges.len() * stride];
    for (s, out) in edges.iter().enumerate() {
        for &(b, t) in out {
            trans[s * stride + classes[b as usize] as usize] = t;
        }
    }
    let mut accept = vec![false; edges.len()];
    accept[end as usize] = true;
    LexemeDfa {
        classes,
        stride,
        trans: trans.into(),
        accept: accept.into(),
        start,
        nullable: false,
        distances: std::sync::OnceLock::new(),
        counted: None,
        lazy: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::spell_json_string;

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

    /// The direct DFA and the regex's own DFA agree on every prefix of
    /// random spellings.
    #[test]
    fn literal_dfas_match_regex_dfas() {
        let mut seed = 5u64;
        let mut rand = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        for s in ["name", "a/\"b\\c", "é€😀", "tab\there", "\u{1}x"] {
            let direct = literal_dfa(s);
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
                let (mut a, mut b) = (direct.start, regex.start);
                for &byte in text.as_bytes() {
                    a = direct.next(a, byte);
                    b = regex.next(b, byte);
                    assert_eq!(a == DEAD, b == DEAD, "{s:?} on {text:?}");
                    if a == DEAD {
                        break;
                    }
                    assert_eq!(direct.is_accepting(a), regex.is_accepting(b));
                }
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
