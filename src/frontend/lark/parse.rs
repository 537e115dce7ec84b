//! Lark text to definitions, as llguidance reads it: rules (`name:`, with
//! `?name`/`!name` and `.priority`), terminals (`NAME:`), `|` alternatives
//! that may continue on lines starting with `|`, strings `"..."i`, regexes
//! `/.../flags`, ranges `"a".."z"`, groups, `[optional]`, `? * +`,
//! `{n}`/`{m,n}`, `&` and `~` on terminals, `%json {...}`, `%regex {...}`,
//! `%lark {...}`, rule attributes `name[...]`, and the directives
//! `%ignore`, `%import common...` and `%llguidance {...}`. Comments run from
//! `//` or `#` to the end of the line.

use crate::error::GrammarError;

/// One item of an expansion.
#[derive(Clone, Debug)]
pub(super) enum Item {
    /// A string literal; `ci`: ASCII case-insensitive (`"..."i`).
    Str {
        text: String,
        ci: bool,
    },
    /// A regex literal `/.../flags`.
    Regex {
        pattern: String,
        flags: String,
    },
    /// A rule or terminal name.
    Name(String),
    /// `"a".."z"`.
    Range(char, char),
    Group(Alts),
    Repeat {
        item: Box<Item>,
        min: u32,
        max: Option<u32>,
    },
    /// `~item`: any text but the item's (terminals only).
    Not(Box<Item>),
    /// `%json {...}`, `%regex {...}`, `%lark {...}`: the keyword and the
    /// text between the braces (braces included for JSON).
    Embed {
        kind: String,
        body: String,
    },
    /// `<[id]>`, `<|name|>`: token references.
    Token(String),
}

/// Alternatives, each a conjunction (`&`) of sequences.
pub(super) type Alts = Vec<Vec<Vec<Item>>>;

/// A definition.
#[derive(Clone, Debug)]
pub(super) struct Def {
    pub(super) name: String,
    pub(super) terminal: bool,
    pub(super) attrs: Vec<(String, String)>,
    pub(super) body: Alts,
    pub(super) line: usize,
}

/// A parsed grammar.
#[derive(Default, Debug)]
pub(super) struct Lark {
    pub(super) defs: Vec<Def>,
    pub(super) ignore: Vec<Item>,
    /// `%import common.X -> Y`: (X, Y).
    pub(super) imports: Vec<(String, String)>,
}

pub(super) fn parse(text: &str) -> Result<Lark, GrammarError> {
    let mut p = P {
        c: text.chars().collect(),
        i: 0,
        depth: 0,
    };
    let mut out = Lark::default();
    loop {
        p.blank_lines();
        if p.i >= p.c.len() {
            return Ok(out);
        }
        let line = p.line();
        if p.peek() == '%' {
            p.i += 1;
            let word = p.word();
            p.inline_space();
            match word.as_str() {
                "ignore" => {
                    let alts = p.alts()?;
                    out.ignore.push(Item::Group(alts));
                }
                "import" => {
                    let path = p.dotted();
                    p.inline_space();
                    let Some(module) = path.strip_prefix("common") else {
                        return Err(p.error(format!(
                            "%import {path}: only the `common` module is available"
                        )));
                    };
                    if let Some(name) = module.strip_prefix('.') {
                        p.inline_space();
                        let alias = if p.eat_str("->") {
                            p.inline_space();
                            p.word()
                        } else {
                            name.to_string()
                        };
                        out.imports.push((name.to_string(), alias));
                    } else if p.peek() == '(' {
                        p.i += 1;
                        loop {
                            p.space();
                            if p.peek() == ')' {
                                p.i += 1;
                                break;
                            }
                            let n = p.word();
                            if n.is_empty() {
                                return Err(p.error("expecting a name in %import (...)"));
                            }
                            out.imports.push((n.clone(), n));
                            p.space();
                            if p.peek() == ',' {
                                p.i += 1;
                            }
                        }
                    } else {
                        return Err(p.error("expecting %import common.NAME or common (A, B)"));
                    }
                }
                "llguidance" => {
                    // Options of llguidance's parser; none changes the
                    // language, but they must be well-formed.
                    let body = p.braced()?;
                    let ok = serde_json::from_str::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v.as_object().map(|o| o.values().all(|x| x.is_boolean())))
                        .unwrap_or(false);
                    if !ok {
                        return Err(p.error(
                            "failed to parse %llguidance declaration: expecting an object of booleans",
                        ));
                    }
                }
                other => return Err(p.error(format!("unknown directive %{other}"))),
            }
            p.end_of_definition()?;
            continue;
        }
        let mut name = String::new();
        if matches!(p.peek(), '?' | '!') {
            p.i += 1;
        }
        name.push_str(&p.word());
        if name.is_empty() {
            return Err(p.error("expecting a rule or terminal definition"));
        }
        let terminal = name
            .trim_start_matches('_')
            .starts_with(|c: char| c.is_ascii_uppercase());
        let mut attrs = Vec::new();
        if p.peek() == '[' {
            p.i += 1;
            loop {
                p.space();
                if p.peek() == ']' {
                    p.i += 1;
                    break;
                }
                let key = p.word();
                if key.is_empty() {
                    return Err(p.error("expecting an attribute name"));
                }
                p.space();
                let mut value = String::new();
                if p.peek() == '=' {
                    p.i += 1;
                    p.space();
                    if p.peek() == '"' {
                        value = p.string()?;
                    } else {
                        while !matches!(p.peek(), ',' | ']' | '\0') {
                            value.push(p.peek());
                            p.i += 1;
                        }
                        value = value.trim().to_string();
                    }
                }
                attrs.push((key, value));
                p.space();
                if p.peek() == ',' {
                    p.i += 1;
                }
            }
        }
        if p.peek() == '.' {
            // A priority: read and dropped (the lexer gives the parser every
            // terminal that matches; see the module docs).
            p.i += 1;
            if p.peek() == '-' {
                p.i += 1;
            }
            if p.word().is_empty() {
                return Err(p.error("expecting a priority after '.'"));
            }
        }
        p.inline_space();
        if p.peek() == ':' && p.at(1) == ':' {
            return Err(p.error(format!("parametric rules ({name}::...) are not supported")));
        }
        if p.peek() != ':' {
            return Err(p.error(format!("expecting ':' after {name}")));
        }
        p.i += 1;
        p.inline_space();
        let body = p.alts()?;
        p.end_of_definition()?;
        out.defs.push(Def {
            name,
            terminal,
            attrs,
            body,
            line,
        });
    }
}

struct P {
    c: Vec<char>,
    i: usize,
    depth: usize,
}

impl P {
    fn peek(&self) -> char {
        self.c.get(self.i).copied().unwrap_or('\0')
    }

    fn at(&self, k: usize) -> char {
        self.c.get(self.i + k).copied().unwrap_or('\0')
    }

    fn line(&self) -> usize {
        self.c[..self.i.min(self.c.len())]
            .iter()
            .filter(|&&c| c == '\n')
            .count()
            + 1
    }

    fn error(&self, message: impl Into<String>) -> GrammarError {
        let line = self.line();
        let start = self.c[..self.i.min(self.c.len())]
            .iter()
            .rposition(|&c| c == '\n')
            .map_or(0, |p| p + 1);
        GrammarError::GrammarSyntax {
            format: "Lark",
            line,
            column: self.i.saturating_sub(start) + 1,
            message: message.into(),
        }
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        let rest = self.c.get(self.i..).unwrap_or(&[]);
        if rest.iter().take(n).copied().eq(s.chars()) {
            self.i += n;
            true
        } else {
            false
        }
    }

    fn comment(&mut self) -> bool {
        if self.peek() == '#' || (self.peek() == '/' && self.at(1) == '/') {
            while !matches!(self.peek(), '\n' | '\0') {
                self.i += 1;
            }
            true
        } else {
            false
        }
    }

    /// Blanks and comments on this line.
    fn inline_space(&mut self) {
        loop {
            match self.peek() {
                ' ' | '\t' | '\r' => self.i += 1,
                _ if self.comment() => {}
                _ => return,
            }
        }
    }

    /// Blanks, comments and newlines.
    fn space(&mut self) {
        loop {
            match self.peek() {
                ' ' | '\t' | '\r' | '\n' => self.i += 1,
                _ if self.comment() => {}
                _ => return,
            }
        }
    }

    fn blank_lines(&mut self) {
        self.space();
    }

    /// Space inside an expansion: newlines too inside brackets, or before
    /// a continuation line starting with `|`.
    fn expansion_space(&mut self) {
        if self.depth > 0 {
            self.space();
            return;
        }
        self.inline_space();
        let save = self.i;
        self.space();
        if self.peek() != '|' {
            self.i = save;
        }
    }

    fn end_of_definition(&mut self) -> Result<(), GrammarError> {
        self.inline_space();
        match self.peek() {
            '\n' | '\0' => Ok(()),
            c => Err(self.error(format!("unexpected {c:?}"))),
        }
    }

    fn word(&mut self) -> String {
        let start = self.i;
        while self.peek().is_ascii_alphanumeric()
            || self.peek() == '_'
            || (self.peek() == '-' && self.i > start && self.at(1).is_ascii_alphanumeric())
        {
            self.i += 1;
        }
        self.c[start..self.i].iter().collect()
    }

    fn dotted(&mut self) -> String {
        let start = self.i;
        while self.peek().is_ascii_alphanumeric() || matches!(self.peek(), '_' | '.') {
            self.i += 1;
        }
        self.c[start..self.i].iter().collect()
    }

    fn alts(&mut self) -> Result<Alts, GrammarError> {
        self.depth += 1;
        if self.depth > 200 {
            return Err(self.error("expansions nested more than 200 deep"));
        }
        self.depth -= 1;
        let mut alts = vec![self.conj()?];
        loop {
            self.expansion_space();
            if self.peek() != '|' {
                return Ok(alts);
            }
            self.i += 1;
            self.expansion_space();
            alts.push(self.conj()?);
        }
    }

    fn conj(&mut self) -> Result<Vec<Vec<Item>>, GrammarError> {
        let mut parts = vec![self.seq()?];
        loop {
            self.expansion_space();
            if self.peek() != '&' {
                return Ok(parts);
            }
            self.i += 1;
            self.expansion_space();
            parts.push(self.seq()?);
        }
    }

    fn seq(&mut self) -> Result<Vec<Item>, GrammarError> {
        let mut items = Vec::new();
        loop {
            self.expansion_space();
            match self.peek() {
                '|' | '&' | ')' | ']' | '}' | '\0' | '\n' => return Ok(items),
                _ => {}
            }
            let item = self.postfix()?;
            items.push(item);
        }
    }

    fn postfix(&mut self) -> Result<Item, GrammarError> {
        let mut item = self.atom()?;
        loop {
            let (min, max) = match self.peek() {
                '?' => (0, Some(1)),
                '*' => (0, None),
                '+' => (1, None),
                '~' if self.at(1).is_ascii_digit() || self.at(1) == ' ' => {
                    // Lark's `item ~ n` / `item ~ m..n` repetition.
                    self.i += 1;
                    self.inline_space();
                    let m = self.int()?;
                    let n = if self.eat_str("..") { self.int()? } else { m };
                    item = Item::Repeat {
                        item: Box::new(item),
                        min: m,
                        max: Some(n),
                    };
                    continue;
                }
                '{' => {
                    self.i += 1;
                    self.inline_space();
                    let m = if self.peek() == ',' { 0 } else { self.int()? };
                    self.inline_space();
                    let n = if self.peek() == ',' {
                        self.i += 1;
                        self.inline_space();
                        if self.peek() == '}' {
                            None
                        } else {
                            let neg = self.peek() == '-';
                            let n = self.int()?;
                            if neg || n < m {
                                return Err(self.error("range end must be >= start"));
                            }
                            Some(n)
                        }
                    } else {
                        Some(m)
                    };
                    self.inline_space();
                    if self.peek() != '}' {
                        return Err(self.error("expecting '}'"));
                    }
                    self.i += 1;
                    item = Item::Repeat {
                        item: Box::new(item),
                        min: m,
                        max: n,
                    };
                    continue;
                }
                _ => return Ok(item),
            };
            self.i += 1;
            item = Item::Repeat {
                item: Box::new(item),
                min,
                max,
            };
        }
    }

    fn int(&mut self) -> Result<u32, GrammarError> {
        let neg = self.peek() == '-';
        if neg {
            self.i += 1;
        }
        let start = self.i;
        while self.peek().is_ascii_digit() {
            self.i += 1;
        }
        if start == self.i {
            return Err(self.error("expecting an integer"));
        }
        let s: String = self.c[start..self.i].iter().collect();
        if neg {
            return Err(self.error("range end must be >= start"));
        }
        s.parse()
            .map_err(|_| self.error("repetition count too large"))
    }

    fn atom(&mut self) -> Result<Item, GrammarError> {
        match self.peek() {
            '"' => {
                let text = self.string()?;
                if self.peek() == '.' && self.at(1) == '.' {
                    self.i += 2;
                    let end = self.string()?;
                    let (mut a, mut b) = (text.chars(), end.chars());
                    return match (a.next(), a.next(), b.next(), b.next()) {
                        (Some(lo), None, Some(hi), None) if lo <= hi => Ok(Item::Range(lo, hi)),
                        _ => Err(self.error("a range is two one-character strings, low..high")),
                    };
                }
                let ci = self.peek() == 'i' && !self.at(1).is_ascii_alphanumeric();
                if ci {
                    self.i += 1;
                }
                Ok(Item::Str { text, ci })
            }
            '/' => {
                self.i += 1;
                let mut pattern = String::new();
                loop {
                    match self.peek() {
                        '\0' | '\n' => return Err(self.error("unterminated regex")),
                        '\\' if self.at(1) == '/' => {
                            pattern.push('/');
                            self.i += 2;
                        }
                        '\\' => {
                            pattern.push('\\');
                            pattern.push(self.at(1));
                            self.i += 2;
                        }
                        '/' => {
                            self.i += 1;
                            break;
                        }
                        c => {
                            pattern.push(c);
                            self.i += 1;
                        }
                    }
                }
                let mut flags = String::new();
                while matches!(self.peek(), 'i' | 's' | 'm' | 'x' | 'u' | 'l') {
                    flags.push(self.peek());
                    self.i += 1;
                }
                Ok(Item::Regex { pattern, flags })
            }
            '(' => {
                self.i += 1;
                self.depth += 1;
                let alts = self.alts()?;
                self.space();
                self.depth -= 1;
                if self.peek() != ')' {
                    return Err(self.error("expecting ')'"));
                }
                self.i += 1;
                Ok(Item::Group(alts))
            }
            '[' => {
                self.i += 1;
                self.depth += 1;
                let alts = self.alts()?;
                self.space();
                self.depth -= 1;
                if self.peek() != ']' {
                    return Err(self.error("expecting ']'"));
                }
                self.i += 1;
                Ok(Item::Repeat {
                    item: Box::new(Item::Group(alts)),
                    min: 0,
                    max: Some(1),
                })
            }
            '~' => {
                self.i += 1;
                self.inline_space();
                Ok(Item::Not(Box::new(self.postfix()?)))
            }
            '%' => {
                self.i += 1;
                let kind = self.word();
                self.space();
                if !matches!(kind.as_str(), "json" | "regex" | "lark") {
                    return Err(self.error(format!("unknown %{kind} in an expansion")));
                }
                let body = self.braced()?;
                Ok(Item::Embed { kind, body })
            }
            '<' if matches!(self.at(1), '[' | '|') => {
                let start = self.i;
                while !matches!(self.peek(), '>' | '\0' | '\n') {
                    self.i += 1;
                }
                self.i += 1;
                Ok(Item::Token(
                    self.c[start..self.i.min(self.c.len())].iter().collect(),
                ))
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let name = self.word();
                if self.peek() == ':' && self.at(1) == ':' {
                    return Err(
                        self.error(format!("parametric rules ({name}::...) are not supported"))
                    );
                }
                Ok(Item::Name(name))
            }
            c => Err(self.error(format!("unexpected {c:?}"))),
        }
    }

    /// A `{...}` block, braces balanced outside JSON strings; returns it
    /// with its braces.
    fn braced(&mut self) -> Result<String, GrammarError> {
        if self.peek() != '{' {
            return Err(self.error("expecting '{'"));
        }
        let start = self.i;
        let mut depth = 0usize;
        let mut in_str = false;
        while self.i < self.c.len() {
            let c = self.c[self.i];
            self.i += 1;
            if in_str {
                match c {
                    '\\' => self.i += 1,
                    '"' => in_str = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_str = true,
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(self.c[start..self.i].iter().collect());
                    }
                }
                _ => {}
            }
        }
        Err(self.error("unbalanced braces"))
    }

    /// A string literal, escapes decoded (`\n \t \r \\ \" \xHH \uHHHH`).
    fn string(&mut self) -> Result<String, GrammarError> {
        if self.peek() != '"' {
            return Err(self.error("expecting a string"));
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                '\0' => return Err(self.error("unterminated string")),
                '"' => {
                    self.i += 1;
                    return Ok(out);
                }
                '\\' => {
                    let e = self.at(1);
                    self.i += 2;
                    let hex = |p: &mut P, n: usize| -> Result<char, GrammarError> {
                        let s: String = p.c.iter().skip(p.i).take(n).collect();
                        let v = (s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit()))
                            .then(|| u32::from_str_radix(&s, 16).ok())
                            .flatten()
                            .and_then(char::from_u32)
                            .ok_or_else(|| p.error("lexer error: bad escape in a string"))?;
                        p.i += n;
                        Ok(v)
                    };
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        '\\' | '"' | '\'' => out.push(e),
                        'x' => out.push(hex(self, 2)?),
                        'u' => out.push(hex(self, 4)?),
                        'U' => out.push(hex(self, 8)?),
                        _ => return Err(self.error(format!("lexer error: unknown escape \\{e}"))),
                    }
                }
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}
