//! GBNF text to rules, with llama.cpp's syntax (`llama-grammar.cpp`'s
//! parser): rules `name ::= alternates` ending at a newline, `#` comments,
//! newlines inside parentheses and after `::=` and `|`, literals with the
//! escapes `\x \u \U \t \r \n \\ \" \[ \]`, character classes with ranges and
//! `^`, `.` for any character, and the postfix repetitions `* + ? {m} {m,}
//! {m,n}`. Names are ASCII letters, digits and `-`.

use crate::error::GrammarError;
use std::collections::HashMap;

/// The most copies a repetition's lower bound may ask for (llama.cpp's
/// `MAX_REPETITION_THRESHOLD`).
pub(super) const MAX_MIN_REPEAT: u32 = 2000;

/// The most nested repetitions may multiply to (`(x{0,99}){0,99}` is
/// 9,801): past it the language is a grammar no engine can hold.
pub(super) const MAX_REPEAT_PRODUCT: u64 = 1 << 20;

/// Deepest nesting of parentheses.
const MAX_DEPTH: usize = 200;

/// One parsed node, numbered so that the lowering can mark it.
#[derive(Clone, Debug)]
pub(super) struct Node {
    pub(super) id: u32,
    pub(super) kind: Kind,
}

#[derive(Clone, Debug)]
pub(super) enum Kind {
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

/// Parses GBNF text. Errors carry the line and column.
pub(super) fn parse(text: &str) -> Result<Rules, GrammarError> {
    let mut p = Parser {
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
                format: "GBNF",
                line,
                column,
                message: format!("undefined rule identifier {:?}", p.rules.names[i]),
            });
        }
    }
    Ok(p.rules)
}

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    ids: HashMap<String, usize>,
    rules: Rules,
    depth: usize,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

impl Parser<'_> {
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
            format: "GBNF",
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

    /// Skips blanks and comments; newlines too where `newline_ok`.
    fn space(&mut self, newline_ok: bool) {
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
        while is_word(self.peek()) {
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
        self.space(false);
        if !self.src[self.pos..].starts_with(b"::=") {
            return Err(self.error(format!("expecting ::= after the rule name {name:?}")));
        }
        self.pos += 3;
        self.space(true);
        let body = self.alternates(false)?;
        let id = self.rule_id(&name, at);
        // As in llama.cpp, a later definition of a name replaces the
        // earlier one.
        self.rules.bodies[id] = Some(body);
        match self.peek() {
            b'\r' => self.pos += if self.at(1) == b'\n' { 2 } else { 1 },
            b'\n' => self.pos += 1,
            0 if self.pos >= self.src.len() => {}
            _ => return Err(self.error("expecting a newline or the end of the grammar")),
        }
        self.space(true);
        Ok(())
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

    fn sequence(&mut self, nested: bool) -> Result<Node, GrammarError> {
        let mut items: Vec<Node> = Vec::new();
        loop {
            let c = self.peek();
            if c == b'"' {
                self.pos += 1;
                let mut chars = Vec::new();
                while self.peek() != b'"' {
                    if self.pos >= self.src.len() {
                        return Err(self.error("unexpected end of input in a literal"));
                    }
                    chars.push(self.char()?);
                }
                self.pos += 1;
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
            } else if is_word(c) {
                let at = self.pos;
                let name = self.name()?;
                let id = self.rule_id(&name, at);
                self.space(nested);
                let n = self.node(Kind::Ref(id));
                items.push(n);
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
            } else {
                break;
            }
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
        Kind::Chars(_) | Kind::Class { .. } | Kind::Ref(_) => 1,
        Kind::Seq(v) | Kind::Alt(v) => v.iter().map(repeat_weight).max().unwrap_or(1),
        Kind::Repeat { node, min, max } => {
            u64::from(max.unwrap_or(*min).max(1)).saturating_mul(repeat_weight(node))
        }
    }
}
