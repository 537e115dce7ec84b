//! GBNF text to rules, in two dialects.
//!
//! * [`Dialect::Gbnf`], llama.cpp's syntax (`llama-grammar.cpp`'s parser):
//!   rules `name ::= alternates` ending at a newline, `#` comments, newlines
//!   inside parentheses and after `::=` and `|`, literals with the escapes
//!   `\x \u \U \t \r \n \\ \" \[ \]`, character classes with ranges and
//!   `^`, `.` for any character, and the postfix repetitions `* + ? {m}
//!   {m,} {m,n}`. Names are ASCII letters, digits and `-`.
//! * [`Dialect::Ebnf`], XGrammar's EBNF: the same elements, but a rule runs
//!   until the next `name ::=` (newlines are blanks), names may hold `_`,
//!   more escapes (`\' \? \/ \- \b \f \v \0`), a lookahead assertion
//!   `(= ...)` at the end of a rule (a hint to XGrammar's parser that does
//!   not change the language of a consistent grammar; it is read and
//!   dropped), the attribute `name[max_chars=N]`, and the macros
//!   `Regex("...")`, `Substring("...", ...)` and `TagDispatch(...)`.

use crate::error::GrammarError;
use std::collections::HashMap;

/// The most copies a repetition's lower bound may ask for (llama.cpp's
/// `MAX_REPETITION_THRESHOLD`).
pub(super) const MAX_MIN_REPEAT: u32 = 2000;

/// The most nested repetitions may multiply to (`(x{0,99}){0,99}` is
/// 9,801): past it the language is a grammar no engine can hold.
pub(super) const MAX_REPEAT_PRODUCT: u64 = 1 << 20;

/// `max_chars` bounds from this one up are not enforced.
pub(super) const MAX_CHARS_ENFORCED: u32 = 1_000_000;

/// Most repetition operators applied in a row (`"a"***`).
const MAX_CHAIN: usize = 16;

/// Deepest nesting of parentheses.
const MAX_DEPTH: usize = 200;

/// One parsed node, numbered so that the lowering can mark it.
#[derive(Clone, Debug)]
pub(super) struct Node {
    pub(super) id: u32,
    pub(super) kind: Kind,
}

/// The two GBNF-family syntaxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Gbnf,
    Ebnf,
}

impl Dialect {
    pub(super) fn name(self) -> &'static str {
        match self {
            Dialect::Gbnf => "GBNF",
            Dialect::Ebnf => "EBNF",
        }
    }
}

#[derive(Clone, Debug)]
pub(super) enum Kind {
    /// A regular expression (Rust syntax), from `Regex(...)` or
    /// `Substring(...)`: one lexeme, never split.
    Regex(String),
    /// XGrammar's `TagDispatch`: free text until one of the tags, then the
    /// tag's rule; again (with `loop_after`) or the end. No exclude string
    /// may occur in the free text.
    TagDispatch {
        tags: Vec<(String, usize)>,
        excludes: Vec<String>,
        loop_after: bool,
    },
    /// XGrammar's `[lazy]` rule: the strings of a regular node none of whose
    /// proper prefixes is one (the rule ends as soon as it can).
    Lazy(Box<Node>),
    /// The strings of a regular node that also match the regex `within`:
    /// `[max_chars=N]` (at most N characters) and `Regex(...,
    /// json_string=true)` (no quote, backslash or control character).
    Within {
        node: Box<Node>,
        within: String,
    },
    /// A literal (possibly empty).
    Chars(Vec<char>),
    /// A character class: inclusive ranges, or their complement.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// A rule, by index.
    Ref(usize),
    Seq(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

/// Parsed rules: names, bodies (`None` for a name only referred to), and
/// where each name was first referred to.
pub(super) struct Rules {
    pub(super) names: Vec<String>,
    pub(super) bodies: Vec<Option<Node>>,
    first_use: Vec<(usize, usize)>,
    pub(super) nodes: u32,
}

impl Rules {
    pub(super) fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// Parses GBNF-family text. Errors carry the line and column.
pub(super) fn parse(text: &str, dialect: Dialect) -> Result<Rules, GrammarError> {
    let mut p = Parser {
        dialect,
        src: text.as_bytes(),
        text,
        pos: 0,
        ids: HashMap::new(),
        rules: Rules {
            names: Vec::new(),
            bodies: Vec::new(),
            first_use: Vec::new(),
            nodes: 0,
        },
        depth: 0,
    };
    p.space(true);
    while p.pos < p.src.len() {
        p.rule()?;
    }
    for (i, body) in p.rules.bodies.iter().enumerate() {
        if body.is_none() {
            let (line, column) = p.rules.first_use[i];
            return Err(GrammarError::GrammarSyntax {
                format: dialect.name(),
                line,
                column,
                message: format!("rule {:?} is not defined", p.rules.names[i]),
            });
        }
    }
    Ok(p.rules)
}

struct Parser<'a> {
    dialect: Dialect,
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    ids: HashMap<String, usize>,
    rules: Rules,
    depth: usize,
}

impl Parser<'_> {
    fn is_word(&self, b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'-' || (b == b'_' && self.dialect == Dialect::Ebnf)
    }

    fn peek(&self) -> u8 {
        self.src.get(self.pos).copied().unwrap_or(0)
    }

    fn at(&self, k: usize) -> u8 {
        self.src.get(self.pos + k).copied().unwrap_or(0)
    }

    fn line_col(&self, pos: usize) -> (usize, usize) {
        let before = &self.text[..pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn error(&self, message: impl Into<String>) -> GrammarError {
        let (line, column) = self.line_col(self.pos);
        GrammarError::GrammarSyntax {
            format: self.dialect.name(),
            line,
            column,
            message: message.into(),
        }
    }

    fn node(&mut self, kind: Kind) -> Node {
        self.rules.nodes += 1;
        Node {
            id: self.rules.nodes,
            kind,
        }
    }

    /// Skips blanks and comments; newlines too where `newline_ok` (always
    /// in EBNF).
    fn space(&mut self, newline_ok: bool) {
        let newline_ok = newline_ok || self.dialect == Dialect::Ebnf;
        loop {
            match self.peek() {
                b' ' | b'\t' => self.pos += 1,
                b'\r' | b'\n' if newline_ok => self.pos += 1,
                b'#' => {
                    while !matches!(self.peek(), 0 | b'\r' | b'\n') {
                        self.pos += 1;
                    }
                    if self.pos >= self.src.len() {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    fn name(&mut self) -> Result<String, GrammarError> {
        let start = self.pos;
        while self.is_word(self.peek()) {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.error("expecting a rule name"));
        }
        Ok(self.text[start..self.pos].to_string())
    }

    fn rule_id(&mut self, name: &str, at: usize) -> usize {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = self.rules.names.len();
        self.ids.insert(name.to_string(), i);
        self.rules.names.push(name.to_string());
        self.rules.bodies.push(None);
        let lc = self.line_col(at);
        self.rules.first_use.push(lc);
        i
    }

    fn rule(&mut self) -> Result<(), GrammarError> {
        let at = self.pos;
        let name = self.name()?;
        let (max_chars, lazy) = if self.dialect == Dialect::Ebnf && self.peek() == b'[' {
            self.attributes()?
        } else {
            (None, false)
        };
        self.space(false);
        if !self.src[self.pos..].starts_with(b"::=") {
            return Err(self.error(format!("expecting ::= after the rule name {name:?}")));
        }
        self.pos += 3;
        self.space(true);
        let mut body = self.alternates(false)?;
        if lazy {
            body = self.node(Kind::Lazy(Box::new(body)));
        }
        if let Some(max) = max_chars {
            // No output is a million characters long: a larger bound is
            // not enforced (it would only cost a large automaton).
            if max < MAX_CHARS_ENFORCED {
                body = self.node(Kind::Within {
                    node: Box::new(body),
                    within: format!("(?s:.){{0,{max}}}"),
                });
            }
        }
        let id = self.rule_id(&name, at);
        // As in llama.cpp, a later definition of a name replaces the
        // earlier one.
        self.rules.bodies[id] = Some(body);
        if self.dialect == Dialect::Ebnf {
            if self.pos < self.src.len() && !self.at_rule_start() {
                return Err(self.error("expecting a rule name"));
            }
            return Ok(());
        }
        match self.peek() {
            b'\r' => self.pos += if self.at(1) == b'\n' { 2 } else { 1 },
            b'\n' => self.pos += 1,
            0 if self.pos >= self.src.len() => {}
            _ => return Err(self.error("expecting a newline or the end of the grammar")),
        }
        self.space(true);
        Ok(())
    }

    /// `[max_chars=N, lazy, capture="name"]` after an EBNF rule's name
    /// (a capture name changes nothing here); other attributes are refused,
    /// naming them. Returns the bound and whether the rule is lazy.
    fn attributes(&mut self) -> Result<(Option<u32>, bool), GrammarError> {
        self.pos += 1;
        let (mut max, mut lazy) = (None::<u32>, false);
        loop {
            self.space(true);
            let key = self.name()?;
            self.space(true);
            match key.as_str() {
                "lazy" => lazy = true,
                "max_chars" | "capture" => {
                    if self.peek() != b'=' {
                        return Err(self.error(format!("expecting '=' after {key}")));
                    }
                    self.pos += 1;
                    self.space(true);
                    if key == "capture" {
                        self.string()?;
                    } else {
                        let n = self.int()?;
                        max = Some(max.map_or(n, |m| m.min(n)));
                    }
                }
                other => {
                    return Err(self.error(format!(
                        "the rule attribute {other:?} is not supported (max_chars, lazy and \
                         capture are)"
                    )))
                }
            }
            self.space(true);
            match self.peek() {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok((max, lazy));
                }
                _ => return Err(self.error("expecting ',' or ']' in rule attributes")),
            }
        }
    }

    /// Whether a new EBNF rule starts here: a name, attributes maybe, `::=`.
    fn at_rule_start(&self) -> bool {
        let mut i = self.pos;
        while i < self.src.len() && self.is_word(self.src[i]) {
            i += 1;
        }
        if i == self.pos {
            return false;
        }
        if self.src.get(i) == Some(&b'[') {
            while i < self.src.len() && self.src[i] != b']' {
                i += 1;
            }
            i += 1;
        }
        while matches!(self.src.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            i += 1;
        }
        self.src[i.min(self.src.len())..].starts_with(b"::=")
    }

    /// A string literal (the opening quote next), escapes decoded.
    fn string(&mut self) -> Result<String, GrammarError> {
        if self.peek() != b'"' {
            return Err(self.error("expecting a string literal"));
        }
        self.pos += 1;
        let mut out = String::new();
        while self.peek() != b'"' {
            if self.pos >= self.src.len() {
                return Err(self.error("unexpected end of input in a literal"));
            }
            out.push(self.char()?);
        }
        self.pos += 1;
        Ok(out)
    }

    /// An EBNF macro call, the name read and `(` next.
    fn macro_call(&mut self, name: &str, at: usize) -> Result<Kind, GrammarError> {
        self.pos += 1;
        self.space(true);
        let here = self.pos;
        let kind = match name {
            "Regex" => {
                if self.peek() != b'"' {
                    return Err(if self.peek() == b')' {
                        self.error("Regex expects exactly one string argument")
                    } else {
                        self.error("Regex pattern must be a string literal")
                    });
                }
                let pattern = self.string()?;
                let mut flags: Option<String> = None;
                let mut json_string = false;
                loop {
                    self.space(true);
                    if self.peek() != b',' {
                        break;
                    }
                    self.pos += 1;
                    self.space(true);
                    if self.peek() == b'"' {
                        return Err(self.error("Regex expects exactly one string argument"));
                    }
                    let key = self.name()?;
                    self.space(true);
                    if self.peek() != b'=' {
                        return Err(self.error(format!("expecting '=' after {key}")));
                    }
                    self.pos += 1;
                    self.space(true);
                    match key.as_str() {
                        "json_string" => {
                            json_string = self
                                .bool_value()
                                .ok_or_else(|| self.error("json_string must be a boolean"))?
                        }
                        "flags" => {
                            let f = self.string()?;
                            if let Some(bad) = f.chars().find(|c| !matches!(c, 'i' | 's' | 'u')) {
                                return Err(self.error(format!(
                                    "regular-expression flag '{bad}' is not supported"
                                )));
                            }
                            flags = Some(f);
                        }
                        other => {
                            return Err(
                                self.error(format!("unknown named argument for Regex: {other}"))
                            )
                        }
                    }
                }
                let fold = pattern.starts_with("(?i)")
                    || flags.as_deref().is_some_and(|f| f.contains('i'));
                let re = xgrammar_regex(&pattern, flags.as_deref()).map_err(|m| self.error(m))?;
                // Refused here, so that the error names the place.
                let hir = regex_syntax::Parser::new()
                    .parse(&re)
                    .map_err(|e| self.error(format!("invalid regex {pattern:?}: {e}")))?;
                let mut node = self
                    .hir_node(&hir)
                    .map_err(|m| self.error(format!("{m} in {pattern:?}")))?;
                if fold {
                    fold_ascii(&mut node);
                }
                if json_string {
                    // The text of a JSON string as written, unescaped.
                    Kind::Within {
                        node: Box::new(node),
                        within: r#"[^"\\\x00-\x1F]*"#.into(),
                    }
                } else {
                    Kind::Seq(vec![node])
                }
            }
            "Substring" => {
                let mut pieces = Vec::new();
                loop {
                    self.space(true);
                    if self.peek() == b')' {
                        break;
                    }
                    if self.peek() != b'"' {
                        return Err(self.error("Substring() arguments must be strings"));
                    }
                    pieces.push(self.string()?);
                    self.space(true);
                    if self.peek() == b',' {
                        self.pos += 1;
                    }
                }
                Kind::Regex(substring_regex(&pieces))
            }
            "TagDispatch" => self.tag_dispatch()?,
            _ => {
                self.pos = at;
                return Err(self.error(format!("unknown macro {name}")));
            }
        };
        let _ = here;
        self.space(true);
        if self.peek() != b')' {
            return Err(self.error(format!("expecting ')' to close {name}(...)")));
        }
        self.pos += 1;
        Ok(kind)
    }

    /// A parsed regex as nodes, so that the lowering can split it like any
    /// other part (`(ab){2,50000}` becomes a repetition, not one huge
    /// automaton).
    fn hir_node(&mut self, h: &regex_syntax::hir::Hir) -> Result<Node, String> {
        use regex_syntax::hir::{Class, HirKind, Look};
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("a regex nested more than {MAX_DEPTH} deep"));
        }
        let kind = match h.kind() {
            HirKind::Empty => Kind::Chars(Vec::new()),
            HirKind::Literal(l) => Kind::Chars(
                std::str::from_utf8(&l.0)
                    .map_err(|_| "a literal that is not UTF-8".to_string())?
                    .chars()
                    .collect(),
            ),
            HirKind::Class(Class::Unicode(c)) => Kind::Class {
                negated: false,
                ranges: c.iter().map(|r| (r.start(), r.end())).collect(),
            },
            HirKind::Class(Class::Bytes(c)) if c.ranges().is_empty() => Kind::Class {
                negated: false,
                ranges: Vec::new(),
            },
            HirKind::Class(Class::Bytes(_)) => return Err("a byte class".into()),
            // `^` and `$` are the ends of the text, which the whole
            // pattern spans anyway (XGrammar's reading).
            HirKind::Look(
                Look::Start
                | Look::End
                | Look::StartLF
                | Look::EndLF
                | Look::StartCRLF
                | Look::EndCRLF,
            ) => Kind::Chars(Vec::new()),
            HirKind::Look(_) => {
                return Err("word boundaries and look-around are not supported".into())
            }
            HirKind::Repetition(r) => {
                let sub = self.hir_node(&r.sub)?;
                check_product(&sub, r.min, r.max)?;
                Kind::Repeat {
                    node: Box::new(sub),
                    min: r.min,
                    max: r.max,
                }
            }
            HirKind::Capture(c) => Kind::Seq(vec![self.hir_node(&c.sub)?]),
            HirKind::Concat(v) => Kind::Seq(
                v.iter()
                    .map(|x| self.hir_node(x))
                    .collect::<Result<_, _>>()?,
            ),
            HirKind::Alternation(v) => Kind::Alt(
                v.iter()
                    .map(|x| self.hir_node(x))
                    .collect::<Result<_, _>>()?,
            ),
        };
        self.depth -= 1;
        Ok(self.node(kind))
    }

    fn bool_value(&mut self) -> Option<bool> {
        for (word, v) in [("true", true), ("false", false)] {
            if self.src[self.pos..].starts_with(word.as_bytes()) {
                self.pos += word.len();
                return Some(v);
            }
        }
        None
    }

    /// A tuple of strings `("a", "b")`, or one string.
    fn strings(&mut self) -> Result<Vec<String>, GrammarError> {
        if self.peek() == b'"' {
            return Ok(vec![self.string()?]);
        }
        if self.peek() != b'(' {
            return Err(self.error("expecting a string or a tuple of strings"));
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            self.space(true);
            if self.peek() == b')' {
                self.pos += 1;
                return Ok(out);
            }
            out.push(self.string()?);
            self.space(true);
            if self.peek() == b',' {
                self.pos += 1;
            }
        }
    }

    fn tag_dispatch(&mut self) -> Result<Kind, GrammarError> {
        let mut tags = Vec::new();
        let mut excludes = Vec::new();
        let mut loop_after = true;
        loop {
            self.space(true);
            match self.peek() {
                b')' => break,
                b'(' => {
                    self.pos += 1;
                    self.space(true);
                    let tag = if self.peek() == b'"' {
                        self.string()?
                    } else {
                        String::new()
                    };
                    if tag.is_empty() {
                        return Err(self.error("Tag must be a non-empty string literal"));
                    }
                    self.space(true);
                    if self.peek() != b',' {
                        return Err(self.error("Expect , or ) in tuple"));
                    }
                    self.pos += 1;
                    self.space(true);
                    let at = self.pos;
                    let rule = self.name()?;
                    let id = self.rule_id(&rule, at);
                    self.space(true);
                    if self.peek() != b')' {
                        return Err(self.error("Expect , or ) in tuple"));
                    }
                    self.pos += 1;
                    tags.push((tag, id));
                }
                _ => {
                    let key = self.name()?;
                    self.space(true);
                    if self.peek() != b'=' {
                        return Err(self.error(format!("expecting '=' after {key}")));
                    }
                    self.pos += 1;
                    self.space(true);
                    match key.as_str() {
                        "excludes" => excludes = self.strings()?,
                        "loop_after_dispatch" => {
                            loop_after = self.bool_value().ok_or_else(|| {
                                self.error("loop_after_dispatch must be a boolean")
                            })?
                        }
                        other => {
                            return Err(self
                                .error(format!("Unknown named argument for TagDispatch: {other}")))
                        }
                    }
                }
            }
            self.space(true);
            if self.peek() == b',' {
                self.pos += 1;
            }
        }
        for e in &excludes {
            if let Some((t, _)) = tags.iter().find(|(t, _)| t.starts_with(e.as_str())) {
                return Err(self.error(format!(
                    "Exclude string must not be a prefix of trigger string: {t}"
                )));
            }
        }
        Ok(Kind::TagDispatch {
            tags,
            excludes,
            loop_after,
        })
    }

    fn alternates(&mut self, nested: bool) -> Result<Node, GrammarError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("parentheses nested more than {MAX_DEPTH} deep")));
        }
        let mut alts = vec![self.sequence(nested)?];
        while self.peek() == b'|' {
            self.pos += 1;
            self.space(true);
            alts.push(self.sequence(nested)?);
        }
        self.depth -= 1;
        Ok(if alts.len() == 1 {
            alts.pop().expect("one alternative")
        } else {
            self.node(Kind::Alt(alts))
        })
    }

    fn lookahead_next(&self) -> bool {
        let mut i = self.pos + 1;
        while matches!(self.src.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            i += 1;
        }
        self.src.get(i) == Some(&b'=')
    }

    fn sequence(&mut self, nested: bool) -> Result<Node, GrammarError> {
        let mut items: Vec<Node> = Vec::new();
        let mut just_repeated = false;
        let mut chain = 0usize;
        loop {
            let c = self.peek();
            if c == b'"' {
                let chars = self.string()?.chars().collect();
                self.space(nested);
                let n = self.node(Kind::Chars(chars));
                items.push(n);
            } else if c == b'[' {
                self.pos += 1;
                let negated = self.peek() == b'^';
                if negated {
                    self.pos += 1;
                }
                let mut ranges = Vec::new();
                while self.peek() != b']' {
                    if self.pos >= self.src.len() {
                        return Err(self.error("unexpected end of input in a character class"));
                    }
                    let lo = self.char()?;
                    let mut hi = lo;
                    if self.peek() == b'-' && self.at(1) != b']' {
                        if self.pos + 1 >= self.src.len() {
                            return Err(self.error("unexpected end of input in a character class"));
                        }
                        self.pos += 1;
                        hi = self.char()?;
                    }
                    // llama.cpp matches nothing for a reversed range.
                    if lo <= hi {
                        ranges.push((lo, hi));
                    }
                }
                self.pos += 1;
                self.space(nested);
                let n = self.node(Kind::Class { negated, ranges });
                items.push(n);
            } else if self.is_word(c) {
                if self.dialect == Dialect::Ebnf && self.at_rule_start() {
                    break;
                }
                let at = self.pos;
                let name = self.name()?;
                let kind = if self.dialect == Dialect::Ebnf && self.peek() == b'(' {
                    self.macro_call(&name, at)?
                } else {
                    Kind::Ref(self.rule_id(&name, at))
                };
                self.space(nested);
                let n = self.node(kind);
                items.push(n);
            } else if c == b'(' && self.dialect == Dialect::Ebnf && self.lookahead_next() {
                // `(= ...)`: read, checked, dropped; it must end the rule.
                self.pos += 1;
                self.space(true);
                self.pos += 1;
                self.space(true);
                if self.src[self.pos..].starts_with(b"Substring") {
                    return Err(self.error("Substring should not be in lookahead assertion"));
                }
                self.alternates(true)?;
                if self.peek() != b')' {
                    return Err(self.error("expecting ')' to close the lookahead assertion"));
                }
                self.pos += 1;
                self.space(true);
                if nested || (self.pos < self.src.len() && !self.at_rule_start()) {
                    return Err(self.error("expecting a rule name after a lookahead assertion"));
                }
                break;
            } else if c == b'(' {
                self.pos += 1;
                self.space(true);
                let inner = self.alternates(true)?;
                if self.peek() != b')' {
                    return Err(self.error("expecting ')'"));
                }
                self.pos += 1;
                self.space(nested);
                // A group is its own node, so that a repetition applies to
                // all of it.
                let n = self.node(Kind::Seq(vec![inner]));
                items.push(n);
            } else if c == b'.' {
                self.pos += 1;
                self.space(nested);
                let n = self.node(Kind::Class {
                    negated: true,
                    ranges: Vec::new(),
                });
                items.push(n);
            } else if c == b'<' || (c == b'!' && self.at(1) == b'<') {
                return Err(self.error(
                    "token references (<[id]>, !<[id]>, <|name|>) are not supported: \
                     formwork's grammars are over text, not token ids; write the token's text as a literal",
                ));
            } else if matches!(c, b'*' | b'+' | b'?' | b'{') {
                if self.dialect == Dialect::Ebnf && just_repeated {
                    return Err(self.error(format!("Expect element, but got {}", c as char)));
                }
                chain += 1;
                if chain > MAX_CHAIN {
                    return Err(self.error(format!(
                        "more than {MAX_CHAIN} repetition operators in a row"
                    )));
                }
                let (min, max) = self.repetition(nested)?;
                let Some(last) = items.pop() else {
                    return Err(self.error("expecting an item before */+/?/{"));
                };
                check_product(&last, min, max).map_err(|m| self.error(m))?;
                let n = self.node(Kind::Repeat {
                    node: Box::new(last),
                    min,
                    max,
                });
                items.push(n);
                just_repeated = true;
                continue;
            } else {
                break;
            }
            just_repeated = false;
            chain = 0;
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            self.node(Kind::Seq(items))
        })
    }

    /// A postfix repetition operator, with the space after it.
    fn repetition(&mut self, nested: bool) -> Result<(u32, Option<u32>), GrammarError> {
        let c = self.peek();
        self.pos += 1;
        let bounds = match c {
            b'*' => (0, None),
            b'+' => (1, None),
            b'?' => (0, Some(1)),
            _ => {
                self.space(nested);
                let min = self.int()?;
                self.space(nested);
                let max = match self.peek() {
                    b'}' => Some(min),
                    b',' => {
                        self.pos += 1;
                        self.space(nested);
                        let max = if self.peek().is_ascii_digit() {
                            Some(self.int()?)
                        } else {
                            None
                        };
                        self.space(nested);
                        if self.peek() != b'}' {
                            return Err(self.error("expecting '}'"));
                        }
                        max
                    }
                    _ => return Err(self.error("expecting ',' or '}'")),
                };
                self.pos += 1;
                if min > MAX_MIN_REPEAT {
                    return Err(self.error(format!(
                        "number of repetitions exceeds sane defaults: at most {MAX_MIN_REPEAT} \
                         required copies (as llama.cpp)"
                    )));
                }
                if max.is_some_and(|m| m < min) {
                    return Err(self.error(format!(
                        "repetition bounds {{{min},{}}}: the maximum is below the minimum",
                        max.unwrap_or(0)
                    )));
                }
                (min, max)
            }
        };
        self.space(nested);
        Ok(bounds)
    }

    fn int(&mut self) -> Result<u32, GrammarError> {
        let start = self.pos;
        while self.peek().is_ascii_digit() {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.error("expecting an integer"));
        }
        self.text[start..self.pos]
            .parse()
            .map_err(|_| self.error("repetition count too large"))
    }

    /// One character of a literal or class, escapes decoded.
    fn char(&mut self) -> Result<char, GrammarError> {
        if self.peek() == b'\\' {
            let e = self.at(1);
            let hex = |p: &mut Self, n: usize| -> Result<char, GrammarError> {
                let start = p.pos + 2;
                let digits = p.text.get(start..start + n).unwrap_or("");
                let v = (digits.len() == n && digits.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| u32::from_str_radix(digits, 16).ok())
                    .flatten()
                    .ok_or_else(|| {
                        p.error(format!("expecting {n} hex digits after \\{}", e as char))
                    })?;
                let c = char::from_u32(v).ok_or_else(|| {
                    p.error(format!(
                        "\\{}{digits} is not a Unicode scalar value",
                        e as char
                    ))
                })?;
                p.pos = start + n;
                Ok(c)
            };
            return match e {
                b'x' => hex(self, 2),
                b'u' => hex(self, 4),
                b'U' => hex(self, 8),
                b't' | b'r' | b'n' | b'\\' | b'"' | b'[' | b']' => {
                    self.pos += 2;
                    Ok(match e {
                        b't' => '\t',
                        b'r' => '\r',
                        b'n' => '\n',
                        other => other as char,
                    })
                }
                b'\'' | b'?' | b'/' | b'-' | b'^' | b'b' | b'f' | b'v' | b'0' | b'a'
                    if self.dialect == Dialect::Ebnf =>
                {
                    self.pos += 2;
                    Ok(match e {
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'v' => '\u{b}',
                        b'0' => '\0',
                        b'a' => '\u{7}',
                        other => other as char,
                    })
                }
                _ => Err(self.error("unknown escape")),
            };
        }
        let c = self.text[self.pos..]
            .chars()
            .next()
            .ok_or_else(|| self.error("unexpected end of input"))?;
        self.pos += c.len_utf8();
        Ok(c)
    }
}

/// Refuses nested bounded repetitions whose product passes
/// [`MAX_REPEAT_PRODUCT`].
fn check_product(node: &Node, min: u32, max: Option<u32>) -> Result<(), String> {
    let outer = u64::from(max.unwrap_or(min).max(1));
    let product = outer.saturating_mul(repeat_weight(node));
    if product > MAX_REPEAT_PRODUCT {
        return Err(format!(
            "nested repetitions multiply to more than {MAX_REPEAT_PRODUCT} copies; lower their bounds"
        ));
    }
    Ok(())
}

/// The largest product of repetition bounds nested in `node`.
fn repeat_weight(node: &Node) -> u64 {
    match &node.kind {
        Kind::Chars(_)
        | Kind::Class { .. }
        | Kind::Ref(_)
        | Kind::Regex(_)
        | Kind::TagDispatch { .. } => 1,
        Kind::Within { node, .. } | Kind::Lazy(node) => repeat_weight(node),
        Kind::Seq(v) | Kind::Alt(v) => v.iter().map(repeat_weight).max().unwrap_or(1),
        Kind::Repeat { node, min, max } => {
            u64::from(max.unwrap_or(*min).max(1)).saturating_mul(repeat_weight(node))
        }
    }
}

/// An XGrammar `Regex(...)` pattern in Rust syntax: `.` matches newlines
/// unless flags are given without `s` (as in XGrammar), `\d \w \s` and
/// their complements are ASCII, and the escapes Rust's syntax lacks
/// (`\e \0 \' \" \/`) are spelled out. A quantifier on a quantifier
/// (`a++`, possessive in some engines) is refused, as XGrammar does.
pub(crate) fn xgrammar_regex(pattern: &str, flags: Option<&str>) -> Result<String, String> {
    // Case-insensitivity is ASCII-only in XGrammar (`Σ` does not match
    // `σ`): the caller folds ASCII letters itself (see `fold_ascii`).
    let pattern = pattern.strip_prefix("(?i)").unwrap_or(pattern);
    let mut out = String::from("(?");
    if flags.is_none_or(|f| f.contains('s')) {
        out.push('s');
    }
    out.push(':');
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut after_quantifier = false;
    while let Some(c) = chars.next() {
        let quantifier = !in_class && matches!(c, '*' | '+' | '?' | '{');
        if quantifier && after_quantifier && c != '?' {
            return Err(format!("a quantifier follows a quantifier in {pattern:?}"));
        }
        after_quantifier = quantifier && c != '{';
        if c == '{' && !in_class {
            // Copy the bounds through; the quantifier ends at '}'.
            out.push('{');
            for d in chars.by_ref() {
                out.push(d);
                if d == '}' {
                    break;
                }
            }
            after_quantifier = true;
            continue;
        }
        if c == '[' && !in_class {
            // JavaScript's `[]` (nothing) and `[^]` (any character).
            let rest: String = chars.clone().take(2).collect();
            if rest.starts_with(']') {
                chars.next();
                out.push_str(r"[^\s\S]");
                continue;
            }
            if rest == "^]" {
                chars.next();
                chars.next();
                out.push_str(r"[\s\S]");
                continue;
            }
            in_class = true;
        } else if c == ']' && in_class {
            in_class = false;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str("[0-9]"),
            Some('D') => out.push_str("[^0-9]"),
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('W') => out.push_str("[^0-9A-Za-z_]"),
            Some('s') => out.push_str(r"[\t\n\x0B\x0C\r ]"),
            Some('S') => out.push_str(r"[^\t\n\x0B\x0C\r ]"),
            Some('e') => out.push_str(r"\x1B"),
            Some('u') if chars.peek() == Some(&'{') => out.push_str(r"\x"),
            Some('u') => out.push_str(r"\u"),
            Some('c') => match chars.next() {
                Some(l) if l.is_ascii_alphabetic() => {
                    out.push_str(&format!(r"\x{:02X}", (l.to_ascii_uppercase() as u8) & 0x1F))
                }
                _ => return Err(format!("\\c needs a letter in {pattern:?}")),
            },
            Some('0') => out.push_str(r"\x00"),
            Some('a') => out.push_str(r"\x07"),
            Some(q @ ('\'' | '"' | '/')) => out.push(q),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out.push(')');
    Ok(out)
}

/// XGrammar's `Substring(p1, p2, ...)`: a run of consecutive pieces,
/// possibly none.
fn substring_regex(pieces: &[String]) -> String {
    let esc: Vec<String> = pieces.iter().map(|p| regex_syntax::escape(p)).collect();
    let mut alts = vec![String::new()];
    for i in 0..esc.len() {
        // p_i (p_{i+1} (p_{i+2} ...)?)?
        let mut tail = String::new();
        for e in esc[i + 1..].iter().rev() {
            tail = format!("(?:{e}{tail})?");
        }
        alts.push(format!("{}{tail}", esc[i]));
    }
    format!("(?:{})", alts.join("|"))
}

/// ASCII case-insensitivity: every ASCII letter of a literal or class also
/// matches its other case.
fn fold_ascii(node: &mut Node) {
    let fold = |ranges: &mut Vec<(char, char)>| {
        let mut extra = Vec::new();
        for &(lo, hi) in ranges.iter() {
            for (a, b, delta) in [('a', 'z', -32i32), ('A', 'Z', 32)] {
                let (l, h) = (lo.max(a), hi.min(b));
                if l <= h {
                    let shift = |c: char| char::from_u32((c as i32 + delta) as u32).unwrap_or(c);
                    extra.push((shift(l), shift(h)));
                }
            }
        }
        ranges.extend(extra);
    };
    match &mut node.kind {
        Kind::Chars(cs) if cs.iter().any(char::is_ascii_alphabetic) => {
            let items = cs
                .iter()
                .map(|&c| {
                    let mut ranges = vec![(c, c)];
                    fold(&mut ranges);
                    Node {
                        id: node.id,
                        kind: Kind::Class {
                            negated: false,
                            ranges,
                        },
                    }
                })
                .collect();
            node.kind = Kind::Seq(items);
        }
        // A negated class (`[^k]`) comes out of the regex parser already
        // complemented; it is folded as the complement of its folded
        // complement, so that `(?i)[^k]` refuses `K` too.
        Kind::Class {
            negated: false,
            ranges,
        } if ranges.iter().any(|r| r.1 == char::MAX) => {
            let mut inside = complement(ranges);
            fold(&mut inside);
            *ranges = complement(&inside);
        }
        Kind::Class {
            negated: false,
            ranges,
        } => fold(ranges),
        Kind::Seq(v) | Kind::Alt(v) => v.iter_mut().for_each(fold_ascii),
        Kind::Repeat { node, .. } | Kind::Within { node, .. } | Kind::Lazy(node) => {
            fold_ascii(node)
        }
        _ => {}
    }
}

/// The characters outside `ranges`.
fn complement(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut sorted: Vec<(u32, u32)> = ranges.iter().map(|&(a, b)| (a as u32, b as u32)).collect();
    sorted.sort_unstable();
    let mut out = Vec::new();
    let mut next = 0u32;
    for (a, b) in sorted {
        if a > next {
            out.push((next, a - 1));
        }
        next = next.max(b + 1);
    }
    if next <= 0x10FFFF {
        out.push((next, 0x10FFFF));
    }
    // Surrogates are no characters; cut them out of the ranges.
    out.into_iter()
        .flat_map(|(a, b)| [(a, b.min(0xD7FF)), (a.max(0xE000), b)])
        .filter(|(a, b)| a <= b)
        .filter_map(|(a, b)| Some((char::from_u32(a)?, char::from_u32(b)?)))
        .collect()
}
