//! Exact regexes for JSON string tokens whose *decoded* value satisfies a JSON
//! Schema `pattern` (an ECMA-262 regex) or `format`.
//!
//! A lexeme in formwork is a regex over the bytes of a token, and a JSON
//! string token is the escaped spelling of its value: `"é"`, `"\u00e9"` and
//! `"\u00E9"` are the same value. Constraints such as `pattern` and `format`
//! speak about the value. This module bridges the two: every constraint is
//! compiled to a regex (Rust `regex` syntax) over token bytes whose language is
//! exactly the tokens (quotes included) whose decoded value satisfies it.
//!
//! # Pipeline
//!
//! 1. **ECMA-262 → Rust syntax** ([`translate_ecma`]). A small hand-written
//!    scanner rewrites the pattern into `regex-syntax` syntax, fixing every
//!    place where the two dialects differ: ECMA `\d`, `\w` and `\b` are ASCII,
//!    `\s` is ECMA's whitespace set, `.` excludes the four line terminators,
//!    `[^]` is any character, `{` is a literal when it does not start a
//!    quantifier, `\cX`, `\0`, `\xHH`, `\uHHHH` (surrogate pairs combined) and
//!    `\u{…}` are code points, named groups lose their names. Character
//!    classes are evaluated by the scanner into explicit code point ranges, so
//!    Rust class syntax (`&&`, `--`, nested `[`) never sees ECMA text.
//!    Constructs without a regular equivalent (lookaround, backreferences)
//!    and word boundaries are rejected with [`StringRegexError::Unsupported`].
//! 2. **Parse** the translation into an [`Hir`] (Unicode and UTF-8 on), which
//!    resolves `\p{…}` and simplifies the tree.
//! 3. **Anchors** (`branches`). A pattern is a *search*: it matches if it
//!    matches anywhere. The Hir is split into branches
//!    `(anchored at start?, body, anchored at end?)` by distributing
//!    alternations and concatenations over `^`/`$` (`(^|x)a` becomes two
//!    branches, `a*^b` is `^b`, `x$y?` is `x$`). Each branch becomes
//!    `ANY* body ANY*`, dropping the `ANY*` on an anchored side. An anchor the
//!    split cannot place (inside a `+`/`*` repetition) is an error.
//! 4. **Spelling** ([`spell_class`]). Every literal and class of the body is
//!    replaced by the class of its JSON spellings: the raw UTF-8 character
//!    (when JSON allows it raw), the short escape (`\n`, `\/`, …), `\u` with
//!    four hex digits of either case, and for characters beyond the BMP a
//!    surrogate-pair escape. `\u` escapes of a set of code points are written
//!    as a hex-digit trie whose equal subtrees are merged into one digit class
//!    ([`hex_set`]), so large classes (`.`, `[^/]`, `\S`) stay compact.
//!
//! Formats ([`format_regex`]) are written directly as Rust-syntax regexes over
//! the decoded value and go through steps 2–4.
//!
//! # Trade-offs
//!
//! * Strings with a lone surrogate escape (`"\ud800"`) decode to no Unicode
//!   string; every regex of this module rejects them (the search filler `ANY`
//!   is a well-formed code point, as under `minLength`).
//! * Search semantics cost DFA states: an unanchored pattern starts with
//!   `ANY*`, and a counted repetition behind it (`a.{20}b` unanchored)
//!   determinizes exponentially. Anchored patterns, the common case, do not
//!   pay this. The caller's DFA size limit is the guard; this module only
//!   bounds the regex text ([`MAX_REGEX_LEN`]).
//! * Every escape spelling multiplies DFA states a little (`\u00XX` is six
//!   bytes); ECMA `\w` and `\d` being ASCII keeps their tries tiny.

use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Largest regex text produced (bytes); larger results are
/// [`StringRegexError::TooLarge`].
pub(crate) const MAX_REGEX_LEN: usize = 4 << 20;
/// Most anchor branches a pattern may split into.
const MAX_BRANCHES: usize = 256;
/// A regex with the empty language.
const NEVER: &str = r"[^\x{0}-\x{10FFFF}]";

/// Why a constraint could not be compiled into an exact regex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StringRegexError {
    /// The pattern uses a construct that has no exact regular translation.
    #[error("pattern {pattern:?}: {what} is not supported")]
    Unsupported {
        /// The ECMA-262 pattern.
        pattern: String,
        /// The construct, in words.
        what: String,
    },
    /// The pattern is not a valid ECMA-262 (`u` flag) regex.
    #[error("pattern {pattern:?} is not a valid ECMA-262 regex: {message}")]
    Invalid {
        /// The ECMA-262 pattern.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// The resulting regex is larger than [`MAX_REGEX_LEN`].
    #[error(
        "pattern {pattern:?}: the JSON string regex is too large ({size} bytes, limit {limit})"
    )]
    TooLarge {
        /// The ECMA-262 pattern (or format name).
        pattern: String,
        /// Size of the regex text.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A known format whose language cannot be enforced exactly by regexes.
    #[error("format {format:?} cannot be enforced exactly: {reason}")]
    UnsupportedFormat {
        /// The format name.
        format: String,
        /// Why.
        reason: String,
    },
}

type R<T> = Result<T, StringRegexError>;

/// Regex (Rust syntax) matching exactly the JSON string tokens (with quotes)
/// whose decoded value is matched (searched, unanchored) by the ECMA-262
/// `pattern`.
pub(crate) fn pattern_regex(pattern: &str) -> R<String> {
    let rust = translate_ecma(pattern)?;
    let hir = parse_rust(&rust).map_err(|message| StringRegexError::Invalid {
        pattern: pattern.to_string(),
        message,
    })?;
    hir_to_token_regex(&hir, pattern)
}

/// Lookaheads at the start of an anchored ECMA-262 pattern, split off:
/// `^(?=A)(?!B)R` becomes `(R, [A], [B])`, and a string matches the pattern
/// exactly when `^R` and every `^(?:A)` match it and no `^(?:B)` does (a
/// lookahead at position 0 only asks whether its body matches a prefix).
/// The regexes then meet as an intersection with exclusions, which lexemes
/// support. `None` if the pattern does not start that way, or if `R` has a
/// top-level `|` (the anchor and lookaheads would bind to its first branch
/// only).
pub(crate) fn split_leading_lookaheads(
    pattern: &str,
) -> Option<(String, Vec<String>, Vec<String>)> {
    let chars: Vec<char> = pattern.chars().collect();
    if chars.first() != Some(&'^') {
        return None;
    }
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let mut i = 1;
    for (a, b) in top_level_groups(&chars[1..])? {
        let (a, b) = (a + 1, b + 1);
        let kind = chars.get(a + 2).copied();
        if a != i || chars.get(a + 1) != Some(&'?') || !matches!(kind, Some('=' | '!')) {
            break;
        }
        let body: String = chars[a + 3..b].iter().collect();
        if kind == Some('=') {
            pos.push(body)
        } else {
            neg.push(body)
        }
        i = b + 1;
    }
    if pos.is_empty() && neg.is_empty() {
        return None;
    }
    Some((chars[i..].iter().collect(), pos, neg))
}

/// A positive lookahead that ends the pattern, made plain: a search for
/// `P(?=X)` finds a match exactly when one for `P(?:X)` does (a match is only
/// asked to exist, not to end anywhere). `None` if the pattern does not end
/// in `(?=...)` at top level, or has a top-level `|`.
pub(crate) fn drop_trailing_lookahead(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let (a, b) = *top_level_groups(&chars)?.last()?;
    if b + 1 != chars.len() || chars.get(a + 1) != Some(&'?') || chars.get(a + 2) != Some(&'=') {
        return None;
    }
    let head: String = chars[..a].iter().collect();
    let body: String = chars[a + 3..b].iter().collect();
    Some(format!("{head}(?:{body})"))
}

/// The top-level groups of an ECMA-262 pattern, as the indices of their
/// `(` and `)`, skipping escapes and character classes; `None` if the
/// pattern has a top-level `|` or unbalanced parentheses.
fn top_level_groups(chars: &[char]) -> Option<Vec<(usize, usize)>> {
    let (mut depth, mut j, mut class) = (0usize, 0usize, false);
    let (mut groups, mut open) = (Vec::new(), 0);
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 1,
            '[' if !class => class = true,
            ']' if class => class = false,
            '(' if !class => {
                if depth == 0 {
                    open = j;
                }
                depth += 1;
            }
            ')' if !class => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    groups.push((open, j));
                }
            }
            '|' if !class && depth == 0 => return None,
            _ => {}
        }
        j += 1;
    }
    (depth == 0).then_some(groups)
}

/// Regex matching exactly the JSON string tokens whose decoded value is a
/// valid `format` (JSON Schema 2020-12 format-assertion semantics); `Ok(None)`
/// if the format is unknown (the caller treats it as an annotation).
///
/// `hostname` needs two regexes (its structure and its 253-character bound)
/// and is refused here: use [`format_regexes`]. `idn-hostname` and `regex`
/// are refused as not regular/not enforceable (see [`format_regexes`]).
#[cfg(test)]
pub(crate) fn format_regex(format: &str) -> R<Option<String>> {
    match format_regexes(format)? {
        None => Ok(None),
        Some(mut v) if v.len() == 1 => Ok(v.pop()),
        Some(_) => Err(StringRegexError::UnsupportedFormat {
            format: format.to_string(),
            reason: "it is the intersection of several regexes; use format_regexes".into(),
        }),
    }
}

/// Regexes whose *intersection* is exactly the JSON string tokens whose
/// decoded value is a valid `format`; `Ok(None)` for an unknown format.
///
/// Every format but `hostname` is one regex. Known deviations (documented on
/// [`format_source`]): `hostname` rejects IDNA A-labels (`xn--…`) and every
/// other label with `--` in positions 3–4; `email` omits the general
/// address literal and the RFC 5321 size limits; `time`/`date-time` accept a
/// leap second only under offsets whose minutes are in
/// [`LEAP_OFFSET_MINUTES`]; `idn-email` accepts any
/// non-ASCII character in domain labels (no IDNA check). `idn-hostname`
/// (IDNA2008 contextual and bidi rules) and `regex` (not a regular language)
/// are [`StringRegexError::UnsupportedFormat`].
pub(crate) fn format_regexes(format: &str) -> R<Option<Vec<String>>> {
    let Some(sources) = format_source(format)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for src in sources {
        let hir =
            parse_rust(&format!("^(?:{src})$")).map_err(|message| StringRegexError::Invalid {
                pattern: format!("format {format}"),
                message,
            })?;
        out.push(hir_to_token_regex(&hir, &format!("format {format}"))?);
    }
    Ok(Some(out))
}

fn parse_rust(rust: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .unicode(true)
        .utf8(true)
        .nest_limit(200)
        .build()
        .parse(rust)
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------
// ECMA-262 → Rust syntax
// ---------------------------------------------------------------------------

/// ECMA-262 `\s`: WhiteSpace and LineTerminator code points.
const ECMA_SPACE: &[(u32, u32)] = &[
    (0x09, 0x0D),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
];
const ECMA_DIGIT: &[(u32, u32)] = &[(0x30, 0x39)];
const ECMA_WORD: &[(u32, u32)] = &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)];
/// ECMA-262 `.` (no `s` flag): anything but the line terminators.
const ECMA_DOT_EXCLUDED: &[(u32, u32)] = &[(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)];

fn class_of(ranges: &[(u32, u32)]) -> ClassUnicode {
    ClassUnicode::new(ranges.iter().map(|&(a, b)| {
        ClassUnicodeRange::new(char::from_u32(a).unwrap(), char::from_u32(b).unwrap())
    }))
}

fn negated(mut c: ClassUnicode) -> ClassUnicode {
    c.negate();
    c
}

/// A Rust class (`[...]`) with exactly the code points of `c`.
fn rust_class(c: &ClassUnicode) -> String {
    if c.ranges().is_empty() {
        return NEVER.to_string();
    }
    let mut s = String::from("[");
    for r in c.ranges() {
        let (a, b) = (r.start() as u32, r.end() as u32);
        if a == b {
            let _ = write!(s, r"\x{{{a:X}}}");
        } else {
            let _ = write!(s, r"\x{{{a:X}}}-\x{{{b:X}}}");
        }
    }
    s.push(']');
    s
}

/// One atom of an escape or class: a code point or a set of them.
enum Atom {
    Char(u32),
    Set(ClassUnicode),
}

struct Ecma<'a> {
    pattern: &'a str,
    chars: Vec<char>,
    i: usize,
    out: String,
}

/// Translates an ECMA-262 pattern (`u` flag semantics, with the common
/// non-`u` leniencies: literal `{`, `}`, `]` and identity escapes of
/// punctuation) into `regex-syntax` syntax with the same language.
pub(crate) fn translate_ecma(pattern: &str) -> R<String> {
    let mut e = Ecma {
        pattern,
        chars: pattern.chars().collect(),
        i: 0,
        out: String::new(),
    };
    e.run()?;
    Ok(e.out)
}

impl Ecma<'_> {
    fn unsupported(&self, what: &str) -> StringRegexError {
        StringRegexError::Unsupported {
            pattern: self.pattern.to_string(),
            what: what.to_string(),
        }
    }

    fn invalid(&self, message: &str) -> StringRegexError {
        StringRegexError::Invalid {
            pattern: self.pattern.to_string(),
            message: message.to_string(),
        }
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(k, c)| self.peek(k) == Some(c))
    }

    fn run(&mut self) -> R<()> {
        // 0: no quantifier just before; 1: a quantifier; 2: a lazy quantifier.
        let mut quantified = 0u8;
        while let Some(c) = self.peek(0) {
            let is_quant =
                matches!(c, '*' | '+' | '?') || (c == '{' && self.quantifier_len().is_some());
            if is_quant {
                if c == '?' && quantified == 1 {
                    quantified = 2;
                    self.i += 1;
                    self.out.push('?');
                    continue;
                }
                if quantified != 0 {
                    return Err(
                        self.invalid("nothing to repeat (a quantifier follows a quantifier)")
                    );
                }
                quantified = 1;
            } else {
                quantified = 0;
            }
            match c {
                '\\' => {
                    self.i += 1;
                    match self.escape(false)? {
                        Atom::Char(c) => self.push_char(c),
                        Atom::Set(s) => self.out.push_str(&rust_class(&s)),
                    }
                }
                '[' => {
                    self.i += 1;
                    let s = self.class()?;
                    self.out.push_str(&rust_class(&s));
                }
                '(' => {
                    self.i += 1;
                    if self.peek(0) == Some('?') {
                        if self.starts_with("?:") {
                            self.i += 2;
                            self.out.push_str("(?:");
                        } else if self.starts_with("?=") || self.starts_with("?!") {
                            return Err(self.unsupported("lookahead ((?= or (?!)"));
                        } else if self.starts_with("?<=") || self.starts_with("?<!") {
                            return Err(self.unsupported("lookbehind ((?<= or (?<!)"));
                        } else if self.starts_with("?<") {
                            // Named group: the name does not change the language.
                            let end = self.chars[self.i..]
                                .iter()
                                .position(|&c| c == '>')
                                .ok_or_else(|| self.invalid("unterminated group name"))?;
                            self.i += end + 1;
                            self.out.push('(');
                        } else {
                            return Err(self.unsupported("group modifiers ((?flags:)"));
                        }
                    } else {
                        self.out.push('(');
                    }
                }
                '.' => {
                    self.i += 1;
                    let s = negated(class_of(ECMA_DOT_EXCLUDED));
                    self.out.push_str(&rust_class(&s));
                }
                '{' => {
                    if let Some(len) = self.quantifier_len() {
                        let q: String = self.chars[self.i..self.i + len].iter().collect();
                        self.out.push_str(&q);
                        self.i += len;
                    } else {
                        self.i += 1;
                        self.out.push_str(r"\{");
                    }
                }
                '}' | ']' => {
                    self.i += 1;
                    self.push_char(c as u32);
                }
                '^' | '$' | '|' | ')' | '*' | '+' | '?' => {
                    self.i += 1;
                    self.out.push(c);
                }
                _ => {
                    self.i += 1;
                    self.push_char(c as u32);
                }
            }
        }
        Ok(())
    }

    /// Length of a `{n}`, `{n,}` or `{n,m}` quantifier at the cursor.
    fn quantifier_len(&self) -> Option<usize> {
        let rest = &self.chars[self.i..];
        let mut k = 1;
        let digits = |k: &mut usize| {
            let s = *k;
            while rest.get(*k).is_some_and(|c| c.is_ascii_digit()) {
                *k += 1;
            }
            *k > s
        };
        if !digits(&mut k) {
            return None;
        }
        if rest.get(k) == Some(&',') {
            k += 1;
            digits(&mut k);
        }
        (rest.get(k) == Some(&'}')).then_some(k + 1)
    }

    fn push_char(&mut self, c: u32) {
        let ch = char::from_u32(c).unwrap();
        if ch.is_ascii_alphanumeric() {
            self.out.push(ch);
        } else {
            let _ = write!(self.out, r"\x{{{c:X}}}");
        }
    }

    fn hex_digits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0;
        for k in 0..n {
            v = v * 16 + self.peek(k)?.to_digit(16)?;
        }
        self.i += n;
        Some(v)
    }

    /// Parses an escape; the cursor is just after the backslash.
    fn escape(&mut self, in_class: bool) -> R<Atom> {
        let c = self
            .peek(0)
            .ok_or_else(|| self.invalid("trailing backslash"))?;
        self.i += 1;
        Ok(match c {
            'd' => Atom::Set(class_of(ECMA_DIGIT)),
            'D' => Atom::Set(negated(class_of(ECMA_DIGIT))),
            'w' => Atom::Set(class_of(ECMA_WORD)),
            'W' => Atom::Set(negated(class_of(ECMA_WORD))),
            's' => Atom::Set(class_of(ECMA_SPACE)),
            'S' => Atom::Set(negated(class_of(ECMA_SPACE))),
            'b' if in_class => Atom::Char(8),
            'b' | 'B' => return Err(self.unsupported("word boundary (\\b, \\B)")),
            't' => Atom::Char(9),
            'n' => Atom::Char(10),
            'v' => Atom::Char(11),
            'f' => Atom::Char(12),
            'r' => Atom::Char(13),
            '-' if in_class => Atom::Char('-' as u32),
            'c' => match self.peek(0) {
                Some(l) if l.is_ascii_alphabetic() => {
                    self.i += 1;
                    Atom::Char(l as u32 % 32)
                }
                _ => return Err(self.invalid("\\c must be followed by a letter")),
            },
            '0' if !self.peek(0).is_some_and(|d| d.is_ascii_digit()) => Atom::Char(0),
            '0'..='9' => return Err(self.unsupported("backreference (\\1 .. \\9) or octal escape")),
            'k' => return Err(self.unsupported("named backreference (\\k<name>)")),
            'x' => Atom::Char(
                self.hex_digits(2)
                    .ok_or_else(|| self.invalid("\\x needs two hex digits"))?,
            ),
            'u' => Atom::Char(self.unicode_escape()?),
            'p' | 'P' => {
                if self.peek(0) != Some('{') {
                    return Err(self.invalid("\\p needs {Property}"));
                }
                let end = self.chars[self.i..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| self.invalid("unterminated \\p{"))?;
                let name: String = self.chars[self.i + 1..self.i + end].iter().collect();
                self.i += end + 1;
                let set = self.property(&name)?;
                Atom::Set(if c == 'P' { negated(set) } else { set })
            }
            c if c.is_ascii_alphanumeric() => {
                return Err(self.invalid(&format!("unknown escape \\{c}")));
            }
            c => Atom::Char(c as u32),
        })
    }

    /// `\uHHHH` (pairs of surrogate escapes combined) or `\u{H…}`.
    fn unicode_escape(&mut self) -> R<u32> {
        if self.peek(0) == Some('{') {
            let end = self.chars[self.i..]
                .iter()
                .position(|&c| c == '}')
                .ok_or_else(|| self.invalid("unterminated \\u{"))?;
            let hex: String = self.chars[self.i + 1..self.i + end].iter().collect();
            let v = u32::from_str_radix(&hex, 16)
                .ok()
                .filter(|&v| v <= 0x10FFFF)
                .ok_or_else(|| self.invalid("bad \\u{...} escape"))?;
            self.i += end + 1;
            if (0xD800..0xE000).contains(&v) {
                return Err(self.unsupported("a lone surrogate code point"));
            }
            return Ok(v);
        }
        let v = self
            .hex_digits(4)
            .ok_or_else(|| self.invalid("\\u needs four hex digits"))?;
        if (0xD800..0xDC00).contains(&v) && self.starts_with("\\u") {
            let save = self.i;
            self.i += 2;
            if let Some(lo) = self.hex_digits(4) {
                if (0xDC00..0xE000).contains(&lo) {
                    return Ok(0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00));
                }
            }
            self.i = save;
        }
        if (0xD800..0xE000).contains(&v) {
            return Err(self.unsupported("a lone surrogate code point"));
        }
        Ok(v)
    }

    /// A Unicode property (`L`, `Letter`, `Script=Greek`, `scx=Grek`, …),
    /// resolved by `regex-syntax`.
    fn property(&self, name: &str) -> R<ClassUnicode> {
        let bad = |_| self.invalid(&format!("unknown Unicode property {name:?}"));
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || "_=".contains(c))
        {
            return Err(self.invalid(&format!("unknown Unicode property {name:?}")));
        }
        let hir = parse_rust(&format!("\\p{{{name}}}")).map_err(bad)?;
        match hir.kind() {
            HirKind::Class(Class::Unicode(c)) => Ok(c.clone()),
            HirKind::Literal(l) => {
                let s = std::str::from_utf8(&l.0).unwrap_or_default();
                let c = s.chars().next().unwrap_or('\0');
                Ok(ClassUnicode::new([ClassUnicodeRange::new(c, c)]))
            }
            _ => Err(self.invalid(&format!("unknown Unicode property {name:?}"))),
        }
    }

    /// Parses a class; the cursor is just after `[`.
    fn class(&mut self) -> R<ClassUnicode> {
        let neg = self.peek(0) == Some('^');
        if neg {
            self.i += 1;
        }
        let mut set = ClassUnicode::empty();
        loop {
            let c = self
                .peek(0)
                .ok_or_else(|| self.invalid("unterminated character class"))?;
            if c == ']' {
                self.i += 1;
                break;
            }
            let a = self.class_atom()?;
            let is_range = self.peek(0) == Some('-') && self.peek(1).is_some_and(|c| c != ']');
            if is_range {
                self.i += 1;
                let b = self.class_atom()?;
                match (a, b) {
                    (Atom::Char(x), Atom::Char(y)) => {
                        if x > y {
                            return Err(self.invalid("class range out of order"));
                        }
                        set.union(&class_of(&[(x, y)]));
                    }
                    (a, b) => {
                        // Non-`u` ECMA: `[\w-x]` is \w, '-', x.
                        for atom in [a, b] {
                            set.union(&atom_class(atom));
                        }
                        set.union(&class_of(&[(0x2D, 0x2D)]));
                    }
                }
            } else {
                set.union(&atom_class(a));
            }
        }
        if neg {
            set.negate();
        }
        Ok(set)
    }

    fn class_atom(&mut self) -> R<Atom> {
        let c = self.peek(0).unwrap();
        self.i += 1;
        if c == '\\' {
            self.escape(true)
        } else {
            Ok(Atom::Char(c as u32))
        }
    }
}

fn atom_class(a: Atom) -> ClassUnicode {
    match a {
        Atom::Char(c) => class_of(&[(c, c)]),
        Atom::Set(s) => s,
    }
}

// ---------------------------------------------------------------------------
// Anchors and search semantics
// ---------------------------------------------------------------------------

/// One well-formed JSON string code point: a raw character, a short escape,
/// a non-surrogate `\u` escape or a surrogate-pair escape.
pub(crate) const ANY_CHAR: &str = r#"(?:[^"\\\x00-\x1F]|\\(?:["\\/bfnrt]|u(?:[0-9a-cA-CefEF][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}|[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})))"#;

/// An anchor-free piece of a pattern and the anchors around it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Branch {
    start: bool,
    body: String,
    nullable: bool,
    end: bool,
}

impl Branch {
    fn plain(body: String, nullable: bool) -> Branch {
        Branch {
            start: false,
            body,
            nullable,
            end: false,
        }
    }
}

/// `x` followed by `y`; None if the anchors make it unsatisfiable.
fn combine(x: &Branch, y: &Branch) -> Option<Branch> {
    match (x.end, y.start) {
        (true, true) => (x.nullable && y.nullable).then(|| Branch {
            start: true,
            body: String::new(),
            nullable: true,
            end: true,
        }),
        (true, false) => y.nullable.then(|| x.clone()),
        (false, true) => x.nullable.then(|| y.clone()),
        (false, false) => Some(Branch {
            start: x.start,
            body: format!("{}{}", x.body, y.body),
            nullable: x.nullable && y.nullable,
            end: y.end,
        }),
    }
}

/// Splits `h` into anchor branches (see the module docs).
fn branches(h: &Hir, name: &str) -> R<Vec<Branch>> {
    let unsupported = |what: &str| StringRegexError::Unsupported {
        pattern: name.to_string(),
        what: what.to_string(),
    };
    if h.properties().look_set().is_empty() {
        return Ok(vec![Branch::plain(
            spell(h, name)?,
            h.properties().minimum_len() == Some(0),
        )]);
    }
    let mut out = match h.kind() {
        HirKind::Look(Look::Start) => vec![Branch {
            start: true,
            body: String::new(),
            nullable: true,
            end: false,
        }],
        HirKind::Look(Look::End) => vec![Branch {
            start: false,
            body: String::new(),
            nullable: true,
            end: true,
        }],
        HirKind::Look(l) => return Err(unsupported(&format!("the assertion {l:?}"))),
        HirKind::Capture(c) => branches(&c.sub, name)?,
        HirKind::Alternation(alts) => {
            let mut v = Vec::new();
            for a in alts {
                v.extend(branches(a, name)?);
            }
            v
        }
        HirKind::Concat(parts) => {
            let mut acc = vec![Branch::plain(String::new(), true)];
            for p in parts {
                let next = branches(p, name)?;
                let mut v = Vec::new();
                for x in &acc {
                    for y in &next {
                        if let Some(b) = combine(x, y) {
                            if !v.contains(&b) {
                                v.push(b);
                            }
                        }
                    }
                }
                if v.len() > MAX_BRANCHES {
                    return Err(unsupported("a pattern with this many anchored branches"));
                }
                acc = v;
            }
            acc
        }
        HirKind::Repetition(r) if r.max == Some(1) => {
            let mut v = branches(&r.sub, name)?;
            if r.min == 0 {
                v.push(Branch::plain(String::new(), true));
            }
            v
        }
        _ => return Err(unsupported("an anchor (^ or $) inside a repetition")),
    };
    out.dedup();
    if out.len() > MAX_BRANCHES {
        return Err(unsupported("a pattern with this many anchored branches"));
    }
    Ok(out)
}

fn hir_to_token_regex(h: &Hir, name: &str) -> R<String> {
    let bs = branches(h, name)?;
    let any = format!("{ANY_CHAR}*");
    let mut alts: Vec<String> = Vec::new();
    if bs.iter().any(|b| !b.start && !b.end && b.nullable) {
        alts.push(any.clone());
    } else {
        // One alternation per anchoring: `ANY*(?:b1|b2)ANY*` determinizes
        // like one search automaton, where `ANY*b1ANY*|ANY*b2ANY*` would
        // track every branch independently (a product of their states).
        for (start, end) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut bodies: Vec<&str> = Vec::new();
            for b in bs.iter().filter(|b| b.start == start && b.end == end) {
                if !bodies.contains(&b.body.as_str()) {
                    bodies.push(&b.body);
                }
            }
            if bodies.is_empty() {
                continue;
            }
            let mut s = String::new();
            if !start {
                s.push_str(&any);
            }
            if bodies.len() == 1 {
                s.push_str(bodies[0]);
            } else {
                let _ = write!(s, "(?:{})", bodies.join("|"));
            }
            if !end {
                s.push_str(&any);
            }
            alts.push(s);
        }
    }
    let out = if alts.is_empty() {
        // No branch can match: the empty language.
        NEVER.to_string()
    } else if alts.len() == 1 {
        format!("\"{}\"", alts[0])
    } else {
        format!("\"(?:{})\"", alts.join("|"))
    };
    if out.len() > MAX_REGEX_LEN {
        return Err(StringRegexError::TooLarge {
            pattern: name.to_string(),
            size: out.len(),
            limit: MAX_REGEX_LEN,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Spelling: value-level regex → token-level regex
// ---------------------------------------------------------------------------

/// The token-level regex of an anchor-free Hir.
fn spell(h: &Hir, name: &str) -> R<String> {
    Ok(match h.kind() {
        HirKind::Empty => String::new(),
        HirKind::Literal(l) => {
            let s = std::str::from_utf8(&l.0).map_err(|_| StringRegexError::Unsupported {
                pattern: name.to_string(),
                what: "a non-UTF-8 literal".into(),
            })?;
            s.chars()
                .map(|c| spell_class(&class_of(&[(c as u32, c as u32)])))
                .collect()
        }
        HirKind::Class(Class::Unicode(c)) => spell_class(c),
        HirKind::Class(Class::Bytes(b)) if b.ranges().is_empty() => NEVER.to_string(),
        HirKind::Class(Class::Bytes(_)) => {
            return Err(StringRegexError::Unsupported {
                pattern: name.to_string(),
                what: "a byte class".into(),
            })
        }
        HirKind::Look(l) => {
            return Err(StringRegexError::Unsupported {
                pattern: name.to_string(),
                what: format!("the assertion {l:?}"),
            })
        }
        HirKind::Repetition(r) => {
            let sub = spell(&r.sub, name)?;
            let q = match (r.min, r.max) {
                (0, None) => "*".to_string(),
                (1, None) => "+".to_string(),
                (0, Some(1)) => "?".to_string(),
                (m, None) => format!("{{{m},}}"),
                (m, Some(n)) if m == n => format!("{{{m}}}"),
                (m, Some(n)) => format!("{{{m},{n}}}"),
            };
            format!("(?:{sub}){q}")
        }
        HirKind::Capture(c) => spell(&c.sub, name)?,
        HirKind::Concat(parts) => {
            let mut s = String::new();
            for p in parts {
                s.push_str(&spell(p, name)?);
            }
            s
        }
        HirKind::Alternation(alts) => {
            let v: R<Vec<String>> = alts.iter().map(|a| spell(a, name)).collect();
            format!("(?:{})", v?.join("|"))
        }
    })
}

/// Short escapes: the code point and the letter after the backslash (as a
/// Rust class item).
const SHORT_ESCAPES: &[(u32, &str)] = &[
    (0x22, r"\x22"),
    (0x5C, r"\x5C"),
    (0x2F, "/"),
    (0x08, "b"),
    (0x0C, "f"),
    (0x0A, "n"),
    (0x0D, "r"),
    (0x09, "t"),
];

/// Every JSON spelling of one code point of the class `c`, as a regex.
pub(crate) fn spell_class(c: &ClassUnicode) -> String {
    let ranges: Vec<(u32, u32)> = c
        .ranges()
        .iter()
        .map(|r| (r.start() as u32, r.end() as u32))
        .collect();
    let mut alts = Vec::new();
    // Raw characters.
    let mut raw = c.clone();
    raw.difference(&class_of(&[(0, 0x1F), (0x22, 0x22), (0x5C, 0x5C)]));
    if !raw.ranges().is_empty() {
        alts.push(rust_class(&raw));
    }
    // Short escapes.
    let shorts: String = SHORT_ESCAPES
        .iter()
        .filter(|(cp, _)| contains(&ranges, *cp))
        .map(|(_, s)| *s)
        .collect();
    if !shorts.is_empty() {
        alts.push(format!(r"\\[{shorts}]"));
    }
    // `\u` escapes of BMP code points.
    let mut bmp = clip(&ranges, 0, 0xD7FF);
    bmp.extend(clip(&ranges, 0xE000, 0xFFFF));
    if !bmp.is_empty() {
        alts.push(format!(r"\\u{}", hex_set(&bmp, 0, 4)));
    }
    // Surrogate pairs for the other planes.
    let astral = clip(&ranges, 0x10000, 0x10FFFF);
    if !astral.is_empty() {
        alts.push(surrogate_pairs(&astral));
    }
    match alts.len() {
        0 => NEVER.to_string(),
        1 => alts.pop().unwrap(),
        _ => format!("(?:{})", alts.join("|")),
    }
}

fn contains(ranges: &[(u32, u32)], c: u32) -> bool {
    ranges.iter().any(|&(a, b)| a <= c && c <= b)
}

/// The parts of `ranges` inside `[lo, hi]`.
fn clip(ranges: &[(u32, u32)], lo: u32, hi: u32) -> Vec<(u32, u32)> {
    ranges
        .iter()
        .filter(|&&(a, b)| b >= lo && a <= hi)
        .map(|&(a, b)| (a.max(lo), b.min(hi)))
        .collect()
}

/// One hex digit class, either case (`5`, `[aA]`, `[0-9a-fA-F]`).
fn digit_class(ds: &[u32]) -> String {
    if ds.len() == 1 && ds[0] < 10 {
        return ds[0].to_string();
    }
    let mut s = String::from("[");
    let mut lower = String::new();
    let mut upper = String::new();
    let mut k = 0;
    while k < ds.len() {
        let mut j = k;
        while j + 1 < ds.len() && ds[j + 1] == ds[j] + 1 && (ds[j + 1] < 10) == (ds[k] < 10) {
            j += 1;
        }
        let (a, b) = (ds[k], ds[j]);
        let da = char::from_digit(a, 16).unwrap();
        let db = char::from_digit(b, 16).unwrap();
        if a < 10 {
            if a == b {
                s.push(da);
            } else {
                let _ = write!(s, "{da}-{db}");
            }
        } else if a == b {
            lower.push(da);
            upper.push(da.to_ascii_uppercase());
        } else {
            let _ = write!(lower, "{da}-{db}");
            let _ = write!(
                upper,
                "{}-{}",
                da.to_ascii_uppercase(),
                db.to_ascii_uppercase()
            );
        }
        k = j + 1;
    }
    s.push_str(&lower);
    s.push_str(&upper);
    s.push(']');
    s
}

/// `level` hex digits (either case) whose value lies in `ranges` (clipped to
/// `[lo, lo + 16^level)` and non-empty): a digit trie whose identical
/// subtrees share one digit class.
pub(crate) fn hex_set(ranges: &[(u32, u32)], lo: u32, level: u32) -> String {
    let span = 16u32.pow(level);
    if ranges.len() == 1 && ranges[0] == (lo, lo + span - 1) {
        return match level {
            0 => String::new(),
            1 => "[0-9a-fA-F]".to_string(),
            n => format!("[0-9a-fA-F]{{{n}}}"),
        };
    }
    let sub = span / 16;
    let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
    for d in 0..16 {
        let a = lo + d * sub;
        let part = clip(ranges, a, a + sub - 1);
        if part.is_empty() {
            continue;
        }
        let s = hex_set(&part, a, level - 1);
        match groups.iter_mut().find(|(t, _)| *t == s) {
            Some((_, ds)) => ds.push(d),
            None => groups.push((s, vec![d])),
        }
    }
    let alts: Vec<String> = groups
        .iter()
        .map(|(s, ds)| format!("{}{s}", digit_class(ds)))
        .collect();
    if alts.len() == 1 {
        alts.into_iter().next().unwrap()
    } else {
        format!("(?:{})", alts.join("|"))
    }
}

/// Surrogate-pair escapes (`\uD8xx\uDCxx`) of the code points in `ranges`
/// (all above U+FFFF).
fn surrogate_pairs(ranges: &[(u32, u32)]) -> String {
    // High surrogate → low-surrogate ranges, for the high surrogates whose
    // low range is partial; full ones are collected as high ranges.
    let mut partial: BTreeMap<u32, Vec<(u32, u32)>> = BTreeMap::new();
    let mut full: Vec<(u32, u32)> = Vec::new();
    let split = |c: u32| {
        (
            0xD800 + ((c - 0x10000) >> 10),
            0xDC00 + ((c - 0x10000) & 0x3FF),
        )
    };
    for &(a, b) in ranges {
        let (ha, la) = split(a);
        let (hb, lb) = split(b);
        if ha == hb {
            partial.entry(ha).or_default().push((la, lb));
            continue;
        }
        let mut first = ha;
        let mut last = hb;
        if la != 0xDC00 {
            partial.entry(ha).or_default().push((la, 0xDFFF));
            first += 1;
        }
        if lb != 0xDFFF {
            partial.entry(hb).or_default().push((0xDC00, lb));
            last -= 1;
        }
        if first <= last {
            full.push((first, last));
        }
    }
    // Group high surrogates by their low part.
    let mut groups: Vec<(String, Vec<(u32, u32)>)> = Vec::new();
    let full_low = hex_set(&[(0xDC00, 0xDFFF)], 0, 4);
    let mut add = |low: String, hi: (u32, u32)| match groups.iter_mut().find(|(l, _)| *l == low) {
        Some((_, v)) => v.push(hi),
        None => groups.push((low, vec![hi])),
    };
    for r in full {
        add(full_low.clone(), r);
    }
    for (h, mut lows) in partial {
        lows.sort_unstable();
        let merged = merge(&lows);
        let low = if merged == [(0xDC00, 0xDFFF)] {
            full_low.clone()
        } else {
            hex_set(&merged, 0, 4)
        };
        add(low, (h, h));
    }
    let alts: Vec<String> = groups
        .into_iter()
        .map(|(low, mut highs)| {
            highs.sort_unstable();
            format!(r"\\u{}\\u{low}", hex_set(&merge(&highs), 0, 4))
        })
        .collect();
    if alts.len() == 1 {
        alts.into_iter().next().unwrap()
    } else {
        format!("(?:{})", alts.join("|"))
    }
}

/// Merges sorted ranges that overlap or touch.
fn merge(rs: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &(a, b) in rs {
        match out.last_mut() {
            Some(l) if a <= l.1 + 1 => l.1 = l.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------

const DEC_OCTET: &str = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
const HEX: &str = "[0-9A-Fa-f]";

fn ipv4() -> String {
    format!(r"{DEC_OCTET}(?:\.{DEC_OCTET}){{3}}")
}

/// RFC 3986 `IPv6address`.
fn ipv6() -> String {
    let h16 = format!("{HEX}{{1,4}}");
    let ls32 = format!("(?:{h16}:{h16}|{})", ipv4());
    let mut alts = vec![
        format!("(?:{h16}:){{6}}{ls32}"),
        format!("::(?:{h16}:){{5}}{ls32}"),
    ];
    // [ *k( h16 ":" ) h16 ] "::" tail
    let tails = [
        (0, format!("(?:{h16}:){{4}}{ls32}")),
        (1, format!("(?:{h16}:){{3}}{ls32}")),
        (2, format!("(?:{h16}:){{2}}{ls32}")),
        (3, format!("{h16}:{ls32}")),
        (4, ls32.clone()),
        (5, h16.clone()),
        (6, String::new()),
    ];
    for (k, tail) in tails {
        alts.push(format!("(?:(?:{h16}:){{0,{k}}}{h16})?::{tail}"));
    }
    format!("(?:{})", alts.join("|"))
}

/// RFC 3339 `full-date`, with month lengths and leap years.
fn date() -> String {
    let leap =
        "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00|0000)";
    let md = "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))";
    format!("(?:[0-9]{{4}}-{md}|{leap}-02-29)")
}

/// Minutes of the UTC offsets under which a leap second is accepted.
///
/// A leap second is valid only at 23:59 UTC, so its local time depends on the
/// offset: an exact regex ties the local hour and minute to the offset's,
/// 2 × 1440 cases that cost a 35 MB DFA. The offsets in use (whole hours,
/// `:30`, `:45`) keep it small; a leap second under another offset
/// (`+00:20`) is rejected although valid.
pub(crate) const LEAP_OFFSET_MINUTES: &[i32] = &[0, 30, 45];

/// RFC 3339 `full-time`; a leap second (`:60`) only at 23:59 UTC, under an
/// offset whose minutes are in [`LEAP_OFFSET_MINUTES`].
fn time() -> String {
    let frac = r"(?:\.[0-9]+)?";
    let hour = "(?:[01][0-9]|2[0-3])";
    let min = "[0-5][0-9]";
    let mut alts = vec![format!("{hour}:{min}:{min}{frac}(?:[Zz]|[+-]{hour}:{min})")];
    // Leap seconds: local time = 23:59 UTC + offset. Group the offsets by local time.
    let mut by_local: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for sign in [1i32, -1] {
        for off in (0..1440i32).filter(|o| LEAP_OFFSET_MINUTES.contains(&(o % 60))) {
            let local = (23 * 60 + 59 + sign * off).rem_euclid(1440) as u32;
            let s = if sign > 0 { '+' } else { '-' };
            by_local.entry(local).or_default().push(format!(
                "\\{s}{:02}:{:02}",
                off / 60,
                off % 60
            ));
        }
    }
    by_local
        .get_mut(&(23 * 60 + 59))
        .unwrap()
        .push("[Zz]".into());
    let leaps: Vec<String> = by_local
        .iter()
        .map(|(l, offs)| format!("{:02}:{:02}:60{frac}(?:{})", l / 60, l % 60, offs.join("|")))
        .collect();
    alts.push(format!("(?:{})", leaps.join("|")));
    format!("(?:{})", alts.join("|"))
}

/// RFC 3339 Appendix A `duration`.
fn duration() -> String {
    let d = "[0-9]+";
    let time = format!("T(?:{d}H(?:{d}M(?:{d}S)?)?|{d}M(?:{d}S)?|{d}S)");
    let date = format!("(?:{d}D|{d}M(?:{d}D)?|{d}Y(?:{d}M(?:{d}D)?)?)");
    format!("P(?:{date}(?:{time})?|{time}|{d}W)")
}

/// RFC 1123 label, at most 63 characters, without `--` in positions 3–4
/// (R-LDH labels, which include IDNA A-labels, are rejected).
const HOST_LABEL: &str =
    "[A-Za-z0-9](?:[A-Za-z0-9]|[A-Za-z0-9-][A-Za-z0-9]|[A-Za-z0-9-]{2}[A-Za-z0-9]|[A-Za-z0-9-](?:[A-Za-z0-9][A-Za-z0-9-]|-[A-Za-z0-9])[A-Za-z0-9-]{0,58}[A-Za-z0-9])?";

/// RFC 3987 `ucschar` (as a class body).
const UCSCHAR: &str = r"\x{A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}\x{10000}-\x{1FFFD}\x{20000}-\x{2FFFD}\x{30000}-\x{3FFFD}\x{40000}-\x{4FFFD}\x{50000}-\x{5FFFD}\x{60000}-\x{6FFFD}\x{70000}-\x{7FFFD}\x{80000}-\x{8FFFD}\x{90000}-\x{9FFFD}\x{A0000}-\x{AFFFD}\x{B0000}-\x{BFFFD}\x{C0000}-\x{CFFFD}\x{D0000}-\x{DFFFD}\x{E1000}-\x{EFFFD}";
/// RFC 3987 `iprivate` (as a class body).
const IPRIVATE: &str = r"\x{E000}-\x{F8FF}\x{F0000}-\x{FFFFD}\x{100000}-\x{10FFFD}";

/// RFC 3986 `URI` / `URI-reference`, or with `iri` the RFC 3987 forms.
fn uri(iri: bool, reference: bool) -> String {
    let (uc, pri) = if iri { (UCSCHAR, IPRIVATE) } else { ("", "") };
    let pct = format!("%{HEX}{{2}}");
    let unres = format!(r"A-Za-z0-9._~{uc}\-");
    let sub = "!$&'()*+,;=";
    let pchar = format!("(?:[{unres}{sub}:@]|{pct})");
    let scheme = "[A-Za-z][A-Za-z0-9+.-]*";
    let userinfo = format!("(?:[{unres}{sub}:]|{pct})*");
    let ip_literal = format!(r"\[(?:{}|[Vv]{HEX}+\.[A-Za-z0-9._~{sub}:-]+)\]", ipv6());
    let reg_name = format!("(?:[{unres}{sub}]|{pct})*");
    let host = format!("(?:{ip_literal}|{reg_name})");
    let authority = format!("(?:{userinfo}@)?{host}(?::[0-9]*)?");
    let abempty = format!("(?:/{pchar}*)*");
    let absolute = format!("/(?:{pchar}+(?:/{pchar}*)*)?");
    let rootless = format!("{pchar}+(?:/{pchar}*)*");
    let noscheme = format!("(?:[{unres}{sub}@]|{pct})+(?:/{pchar}*)*");
    let query = format!("(?:{pchar}|[/?{pri}])*");
    let fragment = format!("(?:{pchar}|[/?])*");
    let tail = format!(r"(?:\?{query})?(?:#{fragment})?");
    let absolute_uri = format!("{scheme}:(?://{authority}{abempty}|{absolute}|{rootless}|){tail}");
    if reference {
        let relative = format!("(?://{authority}{abempty}|{absolute}|{noscheme}|){tail}");
        format!("(?:{absolute_uri}|{relative})")
    } else {
        absolute_uri
    }
}

/// RFC 6570 URI Template (level 4).
fn uri_template() -> String {
    let pct = format!("%{HEX}{{2}}");
    let literal = format!(
        r"(?:[\x21\x23\x24\x26-\x3B\x3D\x3F-\x5B\x5D\x5F\x61-\x7A\x7E{UCSCHAR}{IPRIVATE}]|{pct})"
    );
    let varchar = format!("(?:[A-Za-z0-9_]|{pct})");
    let varname = format!(r"{varchar}(?:\.?{varchar})*");
    let varspec = format!(r"{varname}(?::[1-9][0-9]{{0,3}}|\*)?");
    let expression = format!(r"\{{[+#./;?&=,!@|]?{varspec}(?:,{varspec})*\}}");
    format!("(?:{literal}|{expression})*")
}

/// RFC 5321 `Mailbox` (with `idn`, RFC 6531: non-ASCII allowed in atoms,
/// quoted strings and domain labels).
fn email(idn: bool) -> String {
    let na = if idn { r"\x{80}-\x{10FFFF}" } else { "" };
    let atext = format!("[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~{na}-]");
    let dot_string = format!(r"{atext}+(?:\.{atext}+)*");
    let quoted = format!(r#""(?:[\x20\x21\x23-\x5B\x5D-\x7E{na}]|\\[\x20-\x7E])*""#);
    let label = if idn {
        format!("[A-Za-z0-9{na}](?:[A-Za-z0-9{na}-]*[A-Za-z0-9{na}])?")
    } else {
        "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?".to_string()
    };
    let domain = format!(r"{label}(?:\.{label})*");
    let literal = format!(r"\[(?:{}|[Ii][Pp][Vv]6:{})\]", ipv4(), ipv6());
    format!("(?:{dot_string}|{quoted})@(?:{domain}|{literal})")
}

/// The value-level regexes (Rust syntax, unanchored text, anchored by the
/// caller) of `format`, whose intersection is the format; `Ok(None)` if
/// unknown.
///
/// Deviations from the format's definition (besides those listed on
/// [`format_regexes`]): none known for `date`, `time`, `date-time` (leap
/// seconds only at 23:59 UTC, `T`/`Z` either case), `duration`, `ipv4` (no
/// leading zeros), `ipv6` (no zone id), `uri`, `uri-reference`, `iri`,
/// `iri-reference` (RFC 3986/3987 grammars; the host is not validated beyond
/// `reg-name`), `uri-template` (RFC 6570 level 4, with `'` allowed in
/// literals as the test suite expects), `uuid`, `json-pointer`
/// and `relative-json-pointer`.
pub(crate) fn format_source(format: &str) -> R<Option<Vec<String>>> {
    let one = |s: String| Ok(Some(vec![s]));
    let pointer = "(?:/(?:[^~/]|~[01])*)*";
    match format {
        "date" => one(date()),
        "time" => one(time()),
        "date-time" => one(format!("{}[Tt]{}", date(), time())),
        "duration" => one(duration()),
        "ipv4" => one(ipv4()),
        "ipv6" => one(ipv6()),
        "uuid" => one(format!(
            "{HEX}{{8}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{12}}"
        )),
        "hostname" => Ok(Some(vec![
            format!(r"{HOST_LABEL}(?:\.{HOST_LABEL})*"),
            "[A-Za-z0-9.-]{1,253}".to_string(),
        ])),
        "email" => one(email(false)),
        "idn-email" => one(email(true)),
        "uri" => one(uri(false, false)),
        "uri-reference" => one(uri(false, true)),
        "iri" => one(uri(true, false)),
        "iri-reference" => one(uri(true, true)),
        "uri-template" => one(uri_template()),
        "json-pointer" => one(pointer.to_string()),
        "relative-json-pointer" => one(format!("(?:0|[1-9][0-9]*)(?:#|{pointer})")),
        "idn-hostname" => Err(StringRegexError::UnsupportedFormat {
            format: format.into(),
            reason: "IDNA2008 validity (contextual rules, bidi, normalization) is not \
                     implemented"
                .into(),
        }),
        "regex" => Err(StringRegexError::UnsupportedFormat {
            format: format.into(),
            reason: "the valid ECMA-262 regexes are not a regular language".into(),
        }),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests;
