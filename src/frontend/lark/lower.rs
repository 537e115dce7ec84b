//! Parsed Lark to the grammar IR (see the module docs of `lark`).

use super::common;
use super::parse::{parse, Alts, Def, Item, Lark};
use crate::error::GrammarError;
use crate::frontend::embed::{rename, spaced_punctuation};
use crate::frontend::regular;
use crate::frontend::schema::{compile as json_schema, SchemaOptions, Whitespace};
use crate::grammar::{Expr, Grammar};
use std::collections::HashMap;

/// Deepest nesting of `%lark {...}` grammars.
const MAX_NESTING: usize = 8;

/// Lowers Lark text; `depth` counts enclosing `%lark` blocks.
pub(super) fn lower(text: &str, depth: usize) -> Result<Grammar, GrammarError> {
    if depth > MAX_NESTING {
        return Err(err(1, format!("%lark nested more than {MAX_NESTING} deep")));
    }
    let lark = parse(text)?;
    let mut l = Lowering::new(&lark, depth)?;
    let mut g = Grammar::new("start");
    if !l.defs.contains_key("start") {
        return Err(err(1, "no rule named start"));
    }
    let names: Vec<String> = lark
        .defs
        .iter()
        .filter(|d| !d.terminal)
        .map(|d| d.name.clone())
        .collect();
    for name in names {
        let def = l.defs[name.as_str()];
        let e = l.rule(def)?;
        g.rule(name, e);
    }
    if !lark.ignore.is_empty() {
        let parts = lark
            .ignore
            .iter()
            .map(|i| l.term_item(i, 1))
            .collect::<Result<Vec<_>, _>>()?;
        // Any run of ignored text, as llguidance skips it.
        g.ignore(format!("(?:{})+", parts.join("|")));
    }
    for (name, e) in l.extra {
        g.rule(name, e);
    }
    if l.prune {
        g.prune_unproductive(true);
    }
    if let Some(inner) = l.inner_ignore {
        match &g.ignore {
            Some(outer) if *outer == inner => {}
            None if l.json_whole => {
                g.ignore(inner);
            }
            _ => {
                return Err(err(
                    1,
                    "a nested grammar with whitespace of its own (%lark with %ignore, or a \
                     %json inside other text with flexible whitespace) is not supported: the \
                     IR has one ignore lexeme per grammar",
                ))
            }
        }
    }
    Ok(g)
}

fn err(line: usize, message: impl Into<String>) -> GrammarError {
    GrammarError::GrammarSyntax {
        format: "Lark",
        line,
        column: 1,
        message: message.into(),
    }
}

struct Lowering<'a> {
    defs: HashMap<&'a str, &'a Def>,
    /// Imported common terminals, by local name.
    imports: HashMap<String, &'static str>,
    /// Terminal regexes made so far (and those being made, as `None`).
    terms: HashMap<String, Option<String>>,
    /// Rules of embedded grammars.
    extra: Vec<(String, Expr)>,
    embeds: usize,
    prune: bool,
    /// The ignore lexeme an embedded grammar needs.
    inner_ignore: Option<String>,
    /// The start rule is one `%json` and nothing else.
    json_whole: bool,
    depth: usize,
}

impl<'a> Lowering<'a> {
    fn new(lark: &'a Lark, depth: usize) -> Result<Lowering<'a>, GrammarError> {
        let mut defs = HashMap::new();
        for d in &lark.defs {
            if defs.insert(d.name.as_str(), d).is_some() {
                let what = if d.terminal { "terminal" } else { "rule" };
                return Err(err(d.line, format!("duplicate {what} {:?}", d.name)));
            }
        }
        let mut imports = HashMap::new();
        for (name, alias) in &lark.imports {
            let re = common::terminal(name)
                .ok_or_else(|| err(1, format!("common.{name} is not a terminal of common.lark")))?;
            imports.insert(alias.clone(), re);
        }
        let json_whole = defs.get("start").is_some_and(|d| {
            matches!(d.body.as_slice(), [conj] if matches!(conj.as_slice(), [seq] if matches!(seq.as_slice(), [Item::Embed { kind, .. }] if kind == "json")))
        });
        Ok(Lowering {
            defs,
            imports,
            terms: HashMap::new(),
            extra: Vec::new(),
            embeds: 0,
            prune: false,
            inner_ignore: None,
            json_whole,
            depth,
        })
    }

    // ---- terminals: regexes ----

    fn terminal(&mut self, name: &str, line: usize) -> Result<String, GrammarError> {
        if let Some(re) = self.imports.get(name) {
            return Ok(format!("(?:{re})"));
        }
        match self.terms.get(name) {
            Some(Some(re)) => return Ok(re.clone()),
            Some(None) => return Err(err(line, format!("terminal {name} refers to itself"))),
            None => {}
        }
        let def = *self
            .defs
            .get(name)
            .ok_or_else(|| err(line, format!("unknown terminal {name}")))?;
        if !def.attrs.is_empty() {
            return Err(err(
                def.line,
                format!("attributes on terminal {name} are not supported"),
            ));
        }
        self.terms.insert(name.to_string(), None);
        let re = format!("(?:{})", self.term_alts(&def.body, def.line)?);
        self.terms.insert(name.to_string(), Some(re.clone()));
        Ok(re)
    }

    fn term_alts(&mut self, alts: &Alts, line: usize) -> Result<String, GrammarError> {
        let mut out = Vec::new();
        for conj in alts {
            let mut parts = Vec::new();
            for seq in conj {
                let mut s = String::new();
                for item in seq {
                    s.push_str(&self.term_item(item, line)?);
                }
                parts.push(s);
            }
            let mut re = parts[0].clone();
            for p in &parts[1..] {
                re = regular::intersection(&re, p)
                    .map_err(|e| err(line, format!("cannot intersect terminals: {e}")))?;
            }
            out.push(format!("(?:{re})"));
        }
        Ok(out.join("|"))
    }

    fn term_item(&mut self, item: &Item, line: usize) -> Result<String, GrammarError> {
        Ok(match item {
            Item::Str { text, ci } => {
                let e = regex_syntax::escape(text);
                if *ci {
                    format!("(?i:{e})")
                } else {
                    format!("(?:{e})")
                }
            }
            Item::Regex { pattern, flags } => regex_item(pattern, flags, line)?,
            Item::Name(n) if is_terminal(n) => self.terminal(n, line)?,
            Item::Name(n) => {
                return Err(err(line, format!("rule {n} cannot be used in a terminal")))
            }
            Item::Range(a, b) => format!(
                "[{}-{}]",
                regex_syntax::escape(&a.to_string()),
                regex_syntax::escape(&b.to_string())
            ),
            Item::Group(alts) => format!("(?:{})", self.term_alts(alts, line)?),
            Item::Repeat { item, min, max } => {
                let inner = self.term_item(item, line)?;
                match max {
                    None => format!("(?:{inner}){{{min},}}"),
                    Some(m) => format!("(?:{inner}){{{min},{m}}}"),
                }
            }
            Item::Not(item) => {
                let inner = self.term_item(item, line)?;
                let re = regular::difference("(?s:.)*", &inner)
                    .map_err(|e| err(line, format!("cannot negate a terminal: {e}")))?;
                format!("(?:{re})")
            }
            Item::Embed { kind, body } if kind == "regex" => regex_spec(body, line)?,
            Item::Embed { kind, .. } => {
                return Err(err(line, format!("%{kind} cannot be used in terminals")))
            }
            Item::Token(t) => return Err(token_error(t, line)),
        })
    }

    // ---- rules: expressions ----

    fn rule(&mut self, def: &'a Def) -> Result<Expr, GrammarError> {
        let mut lazy = false;
        for (key, _) in &def.attrs {
            match key.as_str() {
                "lazy" => lazy = true,
                "capture" | "temperature" => {}
                other => {
                    return Err(err(
                        def.line,
                        format!(
                            "the attribute {other} of rule {} is not supported: it counts or \
                             hides tokens, which a grammar over text cannot express",
                            def.name
                        ),
                    ))
                }
            }
        }
        if lazy {
            let re = self.term_alts(&def.body, def.line).map_err(|_| {
                err(
                    def.line,
                    format!("lazy rule {} must be terminal-like (regular)", def.name),
                )
            })?;
            let shortest = regular::difference(&format!("(?:{re})"), &format!("(?:{re})(?s:.)+"))
                .map_err(|e| err(def.line, format!("lazy rule {}: {e}", def.name)))?;
            return Ok(Expr::regex(shortest));
        }
        self.alts(&def.body, def.line)
    }

    fn alts(&mut self, alts: &Alts, line: usize) -> Result<Expr, GrammarError> {
        let mut out = Vec::new();
        for conj in alts {
            if conj.len() > 1 {
                return Err(err(line, "& is only supported for tokens, not rules"));
            }
            let seq = conj[0]
                .iter()
                .map(|i| self.item(i, line))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(if seq.len() == 1 {
                seq.into_iter().next().expect("one")
            } else {
                Expr::seq(seq)
            });
        }
        Ok(if out.len() == 1 {
            out.pop().expect("one")
        } else {
            Expr::choice(out)
        })
    }

    fn item(&mut self, item: &Item, line: usize) -> Result<Expr, GrammarError> {
        Ok(match item {
            Item::Str { text, ci: false } if !text.is_empty() => Expr::literal(text.clone()),
            Item::Str { text, .. } if text.is_empty() => Expr::Empty,
            Item::Name(n) if is_terminal(n) => {
                let re = self.terminal(n, line)?;
                self.lexeme(re)
            }
            Item::Name(n) => {
                if !self.defs.contains_key(n.as_str()) {
                    return Err(err(line, format!("unknown rule {n}")));
                }
                Expr::rule(n.clone())
            }
            Item::Group(alts) => self.alts(alts, line)?,
            Item::Repeat { item, min, max } => Expr::repeat(self.item(item, line)?, *min, *max),
            Item::Not(_) => return Err(err(line, "~ is only supported for tokens, not rules")),
            Item::Embed { kind, body } if kind == "json" => self.json(body, line)?,
            Item::Embed { kind, body } if kind == "lark" => self.lark(body, line)?,
            Item::Token(t) => return Err(token_error(t, line)),
            other => {
                let re = self.term_item(other, line)?;
                self.lexeme(re)
            }
        })
    }

    /// A lexeme; one whose language is empty (`/a/ & /b/`) is a rule that
    /// never finishes, pruned with the alternatives that use it, rather
    /// than an error, as in llguidance.
    fn lexeme(&mut self, re: String) -> Expr {
        // Only `&` and `~` make an empty language, and they write it so.
        let empty =
            re.contains(r"[^\s\S]") && regular::char_dfa(&re).is_ok_and(|d| d.start.is_none());
        if !empty {
            return Expr::regex(re);
        }
        self.prune = true;
        if !self.extra.iter().any(|(n, _)| n == "never#") {
            self.extra.push(("never#".into(), Expr::rule("never#")));
        }
        Expr::rule("never#")
    }

    fn json(&mut self, body: &str, line: usize) -> Result<Expr, GrammarError> {
        let schema: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| err(line, format!("%json: the schema is not JSON: {e}")))?;
        if schema.get("x-guidance").is_some() {
            return Err(err(
                line,
                "%json: llguidance's x-guidance options (separators, whitespace patterns, \
                 allowed escapes) are not supported",
            ));
        }
        let options = SchemaOptions {
            whitespace: if self.json_whole {
                Whitespace::Flexible
            } else {
                Whitespace::Compact
            },
            ..SchemaOptions::default()
        };
        let mut sub = json_schema(&schema, &options)?;
        if !self.json_whole {
            // JSON whitespace inside the JSON only: around its punctuation.
            for (_, e) in &mut sub.rules {
                *e = spaced_punctuation(e);
            }
        }
        self.embed(sub, "json")
    }

    fn lark(&mut self, body: &str, line: usize) -> Result<Expr, GrammarError> {
        let inner = &body[1..body.len() - 1];
        let sub = lower(inner, self.depth + 1).map_err(|e| match e {
            GrammarError::GrammarSyntax { message, .. } => {
                err(line, format!("in %lark {{...}}: {message}"))
            }
            other => other,
        })?;
        self.embed(sub, "lark")
    }

    /// Adds an embedded grammar's rules under fresh names; returns its
    /// start.
    fn embed(&mut self, sub: Grammar, kind: &str) -> Result<Expr, GrammarError> {
        self.embeds += 1;
        let prefix = format!("{kind}#{}/", self.embeds);
        if let Some(ig) = &sub.ignore {
            match &self.inner_ignore {
                Some(other) if other != ig => {
                    return Err(err(1, "embedded grammars with different whitespace"))
                }
                _ => self.inner_ignore = Some(ig.clone()),
            }
        }
        self.prune |= sub.prune_unproductive;
        for (name, e) in &sub.rules {
            self.extra
                .push((format!("{prefix}{name}"), rename(e, &prefix)));
        }
        Ok(Expr::rule(format!("{prefix}{}", sub.start)))
    }
}

fn is_terminal(name: &str) -> bool {
    name.trim_start_matches('_')
        .starts_with(|c: char| c.is_ascii_uppercase())
}

fn token_error(t: &str, line: usize) -> GrammarError {
    err(
        line,
        format!(
            "the token reference {t} is not supported: formwork's grammars are over text, not \
             token ids"
        ),
    )
}

/// A regex literal with its flags, in Rust syntax.
fn regex_item(pattern: &str, flags: &str, line: usize) -> Result<String, GrammarError> {
    let mut f = String::new();
    for c in flags.chars() {
        match c {
            'i' | 's' | 'm' | 'x' | 'u' => f.push(c),
            other => return Err(err(line, format!("regex flag {other:?} is not supported"))),
        }
    }
    regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| err(line, format!("invalid regex /{pattern}/: {e}")))?;
    Ok(if f.is_empty() {
        format!("(?:{pattern})")
    } else {
        format!("(?{f}:{pattern})")
    })
}

/// llguidance's `%regex {...}`: `substring_words` (a run of consecutive
/// words and blanks of a text, cut only between a word and a blank) and
/// `substring_chars` (any substring); `substring_chunks` (a run of the
/// given pieces).
fn regex_spec(body: &str, line: usize) -> Result<String, GrammarError> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| err(line, format!("%regex: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| err(line, "%regex takes a JSON object"))?;
    if obj.len() != 1 {
        return Err(err(line, "%regex takes exactly one field"));
    }
    let (key, value) = obj.iter().next().expect("one");
    let pieces: Vec<String> = match (key.as_str(), value) {
        ("substring_words", serde_json::Value::String(s)) => {
            // Words and the runs of blanks between them, each a piece.
            let mut out: Vec<String> = Vec::new();
            for c in s.chars() {
                match out.last_mut() {
                    Some(last) if last.ends_with(char::is_whitespace) == c.is_whitespace() => {
                        last.push(c)
                    }
                    _ => out.push(c.to_string()),
                }
            }
            out
        }
        ("substring_chars", serde_json::Value::String(s)) => s.chars().map(String::from).collect(),
        ("substring_chunks", serde_json::Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(String::from))
            .collect::<Option<_>>()
            .ok_or_else(|| err(line, "substring_chunks takes strings"))?,
        (k, _) => return Err(err(line, format!("%regex: unknown field {k:?}"))),
    };
    let esc: Vec<String> = pieces.iter().map(|p| regex_syntax::escape(p)).collect();
    let mut alts = Vec::new();
    for i in 0..esc.len() {
        let mut tail = String::new();
        for e in esc[i + 1..].iter().rev() {
            tail = format!("(?:{e}{tail})?");
        }
        alts.push(format!("{}{tail}", esc[i]));
    }
    // The empty run too.
    Ok(format!("(?:|{})", alts.join("|")))
}
