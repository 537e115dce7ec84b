//! The pest frontend: a `.pest` grammar, parsed at run time with `pest_meta`
//! and lowered into the grammar IR.
//!
//! # Lowering
//!
//! pest has no lexer: every rule works on characters. formwork splits a
//! grammar into lexemes (regexes) and context-free rules, and the split
//! follows pest's own notion of atomicity:
//!
//! * A rule in **atomic context** (`@{}` and `${}` rules, and every normal or
//!   silent rule they call) admits no implicit whitespace, so it becomes
//!   *one lexeme*: its body, with the rules it calls inlined, is turned into
//!   one regular expression. Such a body must be regular: an atomic rule that
//!   recurses is rejected with an error naming it.
//! * A rule in **non-atomic context** (normal `{}`, silent `_{}` and `!{}`
//!   rules reached from non-atomic rules) becomes an IR rule; its literals,
//!   ranges and atomic sub-rules become lexemes.
//! * `WHITESPACE` and `COMMENT` become the IR's ignore lexeme
//!   `(?:WHITESPACE|COMMENT)+`. pest skips them between the elements of a
//!   sequence and between repetitions of non-atomic rules, which is where
//!   formwork's lexer allows the ignore lexeme too. formwork also allows it
//!   at both ends of the output; pest does only where the start rule says
//!   `SOI ~ ... ~ EOI` (the usual form, used by every grammar in `grammars/`).
//! * `SOI` and `EOI` match the empty string: the whole output is always
//!   matched against the start rule. `ANY`, `ASCII_*`, `NEWLINE` and
//!   `'a'..'z'` ranges are character classes, `^"abc"` is ASCII
//!   case-insensitive (as in pest).
//!
//! # Separating words
//!
//! pest matches `^"select" ~ name` on `selectx` as well as on `select x`,
//! but a real SQL lexer reads `selectx` as one identifier. A grammar doc
//! comment `//! formwork: separate-words` (at the top of the file, where pest
//! allows grammar docs) turns on
//! [`Grammar::separate_words`]: two lexemes may then
//! touch only if they do not both have a word byte at the boundary. The
//! language becomes a subset of pest's, the one a tokenizing parser of the
//! target language accepts. Any other `formwork:` directive is an error.
//!
//! # Lookahead
//!
//! `!e` and `&e` consume nothing, so they cannot be lexemes. Inside an atomic
//! rule they are folded into the rule's regex with automata operations (see
//! `regular`): in `@{ !A ~ R }` the lexeme is `R ∖ A·Σ*`, in
//! `@{ &A ~ R }` it is `R ∩ A·Σ*`, and the repetition `(!P ~ Q)*` (the
//! "anything but `P`" idiom, as in `"/*" ~ (!"*/" ~ ANY)* ~ "*/"`) is `Q*`
//! minus the strings containing a `P`. In any other repetition a lookahead
//! sees its own iteration only (exact for one-character lookaheads such as
//! `(!"\"" ~ ANY | "\\" ~ ANY)*`). A lookahead sees the rest of its own
//! lexeme only: at the end of a lexeme it sees nothing. Lookahead in a
//! non-atomic rule, `PUSH`/`POP`/`PEEK`/`DROP` and stack slices cannot be
//! lowered and give [`GrammarError::PestUnsupported`] with the rule and its
//! line and column.
//!
//! # PEG versus CFG
//!
//! pest's choice is *ordered* and its repetitions are *possessive*; the IR's
//! choice is a set union and its repetition backtracks. The languages agree
//! when no alternative of a choice shadows a later one and no repetition
//! would need to give back what it matched; they differ where
//!
//! * a choice's earlier alternative matches a prefix of a later one that the
//!   rest of the sequence needs (`("a" | "ab") ~ "c"` rejects `abc` in pest);
//! * a repetition eats what follows it (`"a"* ~ "a"` matches nothing in pest);
//! * a lookahead would look beyond the end of its lexeme.
//!
//! In those places formwork accepts more than pest. The grammars shipped in
//! `grammars/` are written so that both agree, and the tests check it: every
//! string fuzzed from them must parse with `pest_vm`.
//!
//! # Passes
//!
//! A lowered grammar can be transformed further before it is compiled:
//! [`sql`] restricts a SQL grammar's names to those of one database.
//!
//! ```
//! let g = formwork::pest_grammar(r#"
//!     list = { SOI ~ "[" ~ (num ~ ("," ~ num)*)? ~ "]" ~ EOI }
//!     num = @{ ASCII_DIGIT+ }
//!     WHITESPACE = _{ " " }
//! "#, None).unwrap();
//! assert!(formwork::CompiledGrammar::new(&g).is_ok());
//!
//! let err = formwork::pest_grammar("a = { PUSH(\"x\") ~ POP }", None).unwrap_err();
//! assert!(err.to_string().contains("line 1"));
//! ```

use super::regular;
pub mod sql;

use crate::error::GrammarError;
use crate::grammar::{Expr, Grammar};
use pest_meta::ast::{Expr as PExpr, RuleType};
use pest_meta::parser::{self as pp, Rule as MetaRule};
use std::collections::{HashMap, HashSet};

/// Any string (the continuation a lookahead body is matched against).
const ANY_STAR: &str = r"(?s:.)*";

/// Builtin rules that are character classes or strings.
fn builtin_regex(name: &str) -> Option<&'static str> {
    Some(match name {
        "ANY" => r"(?s:.)",
        "ASCII_DIGIT" => "[0-9]",
        "ASCII_NONZERO_DIGIT" => "[1-9]",
        "ASCII_BIN_DIGIT" => "[01]",
        "ASCII_OCT_DIGIT" => "[0-7]",
        "ASCII_HEX_DIGIT" => "[0-9a-fA-F]",
        "ASCII_ALPHA_LOWER" => "[a-z]",
        "ASCII_ALPHA_UPPER" => "[A-Z]",
        "ASCII_ALPHA" => "[a-zA-Z]",
        "ASCII_ALPHANUMERIC" => "[a-zA-Z0-9]",
        "ASCII" => r"[\x00-\x7F]",
        "NEWLINE" => r"(?:\n|\r\n|\r)",
        _ => return None,
    })
}

/// Reads the `//! formwork: ...` directives of a grammar: returns whether
/// words are separated.
fn directives(text: &str) -> Result<bool, GrammarError> {
    let mut separate_words = false;
    for (i, line) in text.lines().enumerate() {
        let Some(doc) = line.trim_start().strip_prefix("//!") else {
            continue;
        };
        let Some(directive) = doc.trim().strip_prefix("formwork:") else {
            continue;
        };
        match directive.trim() {
            "separate-words" => separate_words = true,
            other => {
                return Err(GrammarError::PestSyntax {
                    line: i + 1,
                    column: line.len() - line.trim_start().len() + 1,
                    message: format!(
                        "unknown formwork directive `{other}`; the only one is `separate-words`"
                    ),
                })
            }
        }
    }
    Ok(separate_words)
}

/// Builtins that use pest's stack.
const STACK_BUILTINS: &[&str] = &["PUSH", "POP", "POP_ALL", "PEEK", "PEEK_ALL", "DROP"];

/// Parses pest grammar text and lowers it into a [`Grammar`] whose start
/// rule is `start`, or else the first rule of the file other than
/// `WHITESPACE` and `COMMENT`.
///
/// Errors: [`GrammarError::PestSyntax`] for text pest rejects (syntax errors,
/// undefined rules, left recursion, ...), with line and column;
/// [`GrammarError::PestUnsupported`] for constructs that cannot be lowered;
/// [`GrammarError::PestUnknownStart`] for a start rule that is not defined.
pub fn pest_grammar(text: &str, start: Option<&str>) -> Result<Grammar, GrammarError> {
    let pairs = pp::parse(MetaRule::grammar_rules, text).map_err(|e| syntax_error(&[e]))?;
    pest_meta::validator::validate_pairs(pairs.clone()).map_err(|e| syntax_error(&e))?;
    // Where each rule is defined (byte offsets of the whole definition).
    let mut spans: HashMap<String, (usize, usize)> = HashMap::new();
    for pair in pairs.clone().flatten() {
        if pair.as_rule() == MetaRule::grammar_rule {
            if let Some(id) = pair.clone().into_inner().next() {
                if id.as_rule() == MetaRule::identifier {
                    let s = pair.as_span();
                    spans.insert(id.as_str().to_string(), (s.start(), s.end()));
                }
            }
        }
    }
    check_literals(pairs.clone())?;
    // pest_meta panics on some literals it has accepted; never let that escape.
    let ast = std::panic::catch_unwind(|| pp::consume_rules(pairs))
        .map_err(|_| GrammarError::PestSyntax {
            line: 1,
            column: 1,
            message: "pest_meta could not read a literal of this grammar".into(),
        })?
        .map_err(|e| syntax_error(&e))?;
    let separate_words = directives(text)?;
    let order: Vec<String> = ast.iter().map(|r| r.name.clone()).collect();
    let rules: HashMap<String, (RuleType, PExpr)> =
        ast.into_iter().map(|r| (r.name, (r.ty, r.expr))).collect();
    let start = match start {
        Some(s) if rules.contains_key(s) => s.to_string(),
        Some(s) => {
            return Err(GrammarError::PestUnknownStart {
                rule: s.to_string(),
                defined: order.join(", "),
            })
        }
        None => order
            .iter()
            .find(|n| *n != "WHITESPACE" && *n != "COMMENT")
            .cloned()
            .ok_or(GrammarError::NoStart)?,
    };
    let mut l = Lower {
        text,
        rules,
        spans,
        grammar: Grammar::new(start.clone()),
        defined: HashSet::new(),
        queue: Vec::new(),
        atomic_cache: HashMap::new(),
        look_cache: HashMap::new(),
        inlining: Vec::new(),
        current: start.clone(),
    };
    l.grammar.separate_words(separate_words);
    // The ignore lexeme.
    let mut ignore = Vec::new();
    for name in ["WHITESPACE", "COMMENT"] {
        if l.rules.contains_key(name) {
            l.current = name.to_string();
            ignore.push(l.atomic_rule(name)?);
        }
    }
    if !ignore.is_empty() {
        l.grammar.ignore(format!("(?:{})+", ignore.join("|")));
    }
    l.current = start.clone();
    l.define(&start)?;
    while let Some(name) = l.queue.pop() {
        l.define(&name)?;
    }
    Ok(l.grammar)
}

/// Rejects string and character literals whose `\u{...}` escapes are not
/// Unicode scalar values (pest_meta would panic on them).
fn check_literals(pairs: pest::iterators::Pairs<'_, MetaRule>) -> Result<(), GrammarError> {
    for pair in pairs.flatten() {
        if pair.as_rule() != MetaRule::unicode {
            continue;
        }
        let hex: String = pair
            .as_str()
            .chars()
            .filter(|c| c.is_ascii_hexdigit())
            .collect();
        let ok = u32::from_str_radix(&hex, 16)
            .ok()
            .and_then(char::from_u32)
            .is_some();
        if !ok {
            let (line, column) = pair.as_span().start_pos().line_col();
            return Err(GrammarError::PestSyntax {
                line,
                column,
                message: format!(
                    "{} is not a Unicode scalar value (at most 10FFFF, no surrogates)",
                    pair.as_str()
                ),
            });
        }
    }
    Ok(())
}

fn syntax_error(errors: &[pest::error::Error<MetaRule>]) -> GrammarError {
    let e = errors[0].clone().renamed_rules(pp::rename_meta_rule);
    let (line, column) = match e.line_col {
        pest::error::LineColLocation::Pos(p) => p,
        pest::error::LineColLocation::Span(p, _) => p,
    };
    let mut message = e.variant.message().into_owned();
    if errors.len() > 1 {
        message.push_str(&format!(" (and {} more errors)", errors.len() - 1));
    }
    GrammarError::PestSyntax {
        line,
        column,
        message,
    }
}

struct Lower<'t> {
    text: &'t str,
    rules: HashMap<String, (RuleType, PExpr)>,
    spans: HashMap<String, (usize, usize)>,
    grammar: Grammar,
    /// IR rules defined or queued.
    defined: HashSet<String>,
    queue: Vec<String>,
    /// The regex of each rule in atomic context (rules without lookahead).
    atomic_cache: HashMap<String, String>,
    look_cache: HashMap<String, bool>,
    /// Rules being inlined into a lexeme, outermost first.
    inlining: Vec<String>,
    /// The rule being lowered, for error messages.
    current: String,
}

/// Wraps a regex so that it can be concatenated or repeated.
fn group(re: &str) -> String {
    format!("(?:{re})")
}

fn is_atomic(ty: RuleType) -> bool {
    matches!(ty, RuleType::Atomic | RuleType::CompoundAtomic)
}

impl Lower<'_> {
    /// Line and column of `needle` inside the definition of `rule` (of the
    /// definition itself if the needle is not found).
    fn locate(&self, rule: &str, needle: &str) -> (usize, usize) {
        let (s, e) = self.spans.get(rule).copied().unwrap_or((0, 0));
        let off = self.text[s..e]
            .find(needle)
            .map_or(s, |i| s + i)
            .min(self.text.len());
        let before = &self.text[..off];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, column)
    }

    fn unsupported(&self, needle: &str, message: impl Into<String>) -> GrammarError {
        let rule = self.inlining.last().unwrap_or(&self.current).clone();
        let (line, column) = self.locate(&rule, needle);
        GrammarError::PestUnsupported {
            rule,
            line,
            column,
            message: message.into(),
        }
    }

    /// Defines the IR rule `name` for a use in non-atomic context.
    fn define(&mut self, name: &str) -> Result<(), GrammarError> {
        self.defined.insert(name.to_string());
        let (ty, body) = self.rules[name].clone();
        self.current = name.to_string();
        let e = if is_atomic(ty) {
            Expr::Regex(self.atomic_rule(name)?)
        } else {
            self.non_atomic(&body)?
        };
        self.grammar.rule(name, e);
        Ok(())
    }

    /// A reference from non-atomic context to rule or builtin `name`.
    fn reference(&mut self, name: &str) -> Result<Expr, GrammarError> {
        if name == "SOI" || name == "EOI" {
            return Ok(Expr::Empty);
        }
        if let Some(re) = builtin_regex(name) {
            return Ok(Expr::regex(re));
        }
        if STACK_BUILTINS.contains(&name) {
            return Err(self.unsupported(
                name,
                format!("the stack builtin {name} cannot be lowered to a context-free grammar"),
            ));
        }
        if !self.rules.contains_key(name) {
            return Err(self.unsupported(name, format!("unknown builtin rule {name}")));
        }
        if !self.defined.contains(name) {
            self.defined.insert(name.to_string());
            self.queue.push(name.to_string());
        }
        Ok(Expr::rule(name))
    }

    fn non_atomic(&mut self, e: &PExpr) -> Result<Expr, GrammarError> {
        Ok(match e {
            PExpr::Str(s) if s.is_empty() => Expr::Empty,
            PExpr::Str(s) => Expr::literal(s.clone()),
            PExpr::Insens(_) | PExpr::Range(..) => Expr::Regex(self.plain(e)?),
            PExpr::Ident(name) => self.reference(name)?,
            PExpr::Seq(a, b) => {
                let mut items = Vec::new();
                for x in [a, b] {
                    match self.non_atomic(x)? {
                        Expr::Seq(v) => items.extend(v),
                        other => items.push(other),
                    }
                }
                Expr::Seq(items)
            }
            PExpr::Choice(a, b) => {
                let mut items = Vec::new();
                for x in [a, b] {
                    match self.non_atomic(x)? {
                        Expr::Choice(v) => items.extend(v),
                        other => items.push(other),
                    }
                }
                Expr::Choice(items)
            }
            PExpr::Opt(x) => Expr::optional(self.non_atomic(x)?),
            PExpr::Rep(x) => Expr::repeat(self.non_atomic(x)?, 0, None),
            PExpr::RepOnce(x) => Expr::repeat(self.non_atomic(x)?, 1, None),
            PExpr::RepExact(x, n) => Expr::repeat(self.non_atomic(x)?, *n, Some(*n)),
            PExpr::RepMin(x, n) => Expr::repeat(self.non_atomic(x)?, *n, None),
            PExpr::RepMax(x, n) => Expr::repeat(self.non_atomic(x)?, 0, Some(*n)),
            PExpr::RepMinMax(x, a, b) => Expr::repeat(self.non_atomic(x)?, *a, Some(*b)),
            PExpr::NegPred(_) | PExpr::PosPred(_) => {
                let needle = if matches!(e, PExpr::NegPred(_)) {
                    "!"
                } else {
                    "&"
                };
                return Err(self.unsupported(
                    needle,
                    "lookahead in a non-atomic rule cannot be expressed on lexemes; \
                     move it into an atomic rule (@{...}) together with what it guards",
                ));
            }
            PExpr::Push(_) => return Err(self.stack_error("PUSH")),
            PExpr::PeekSlice(..) => return Err(self.stack_error("PEEK")),
            PExpr::Skip(_) => return Err(self.unsupported("", "internal skip expression")),
        })
    }

    fn stack_error(&self, what: &str) -> GrammarError {
        self.unsupported(
            what,
            format!("the stack operation {what} cannot be lowered to a context-free grammar"),
        )
    }

    /// The regex of rule `name` in atomic context.
    fn atomic_rule(&mut self, name: &str) -> Result<String, GrammarError> {
        if let Some(re) = self.atomic_cache.get(name) {
            return Ok(re.clone());
        }
        let re = self.with_cont(&PExpr::Ident(name.to_string()), "")?;
        self.atomic_cache.insert(name.to_string(), re.clone());
        Ok(re)
    }

    /// Does `e` (with the rules it inlines) contain a lookahead?
    fn has_look(&mut self, e: &PExpr) -> bool {
        match e {
            PExpr::NegPred(_) | PExpr::PosPred(_) => true,
            PExpr::Ident(n) => {
                if let Some(&v) = self.look_cache.get(n) {
                    return v;
                }
                let Some((_, body)) = self.rules.get(n).cloned() else {
                    return false;
                };
                self.look_cache.insert(n.clone(), false); // cycles: decided below
                let v = self.has_look(&body);
                self.look_cache.insert(n.clone(), v);
                v
            }
            PExpr::Seq(a, b) | PExpr::Choice(a, b) => self.has_look(a) || self.has_look(b),
            PExpr::Opt(x)
            | PExpr::Rep(x)
            | PExpr::RepOnce(x)
            | PExpr::RepExact(x, _)
            | PExpr::RepMin(x, _)
            | PExpr::RepMax(x, _)
            | PExpr::RepMinMax(x, _, _)
            | PExpr::Push(x) => self.has_look(x),
            _ => false,
        }
    }

    /// The regex of the strings `e` matches, without lookahead.
    fn plain(&mut self, e: &PExpr) -> Result<String, GrammarError> {
        Ok(match e {
            PExpr::Str(s) => group(&regex_syntax::escape(s)),
            PExpr::Insens(s) => {
                let mut out = String::new();
                for c in s.chars() {
                    if c.is_ascii_alphabetic() {
                        out.push_str(&format!(
                            "[{}{}]",
                            c.to_ascii_lowercase(),
                            c.to_ascii_uppercase()
                        ));
                    } else {
                        out.push_str(&regex_syntax::escape(c.encode_utf8(&mut [0; 4])));
                    }
                }
                group(&out)
            }
            PExpr::Range(a, b) => {
                let (Some(lo), Some(hi)) = (single_char(a), single_char(b)) else {
                    return Err(self.unsupported(a, "a range bound is not one character"));
                };
                if lo > hi {
                    // pest's range is empty then: it never matches.
                    return Ok(r"[^\s\S]".into());
                }
                format!(
                    "[{}-{}]",
                    regex_syntax::escape(lo.encode_utf8(&mut [0; 4])),
                    regex_syntax::escape(hi.encode_utf8(&mut [0; 4]))
                )
            }
            PExpr::Ident(name) => {
                if name == "SOI" || name == "EOI" {
                    return Ok(String::new());
                }
                if let Some(re) = builtin_regex(name) {
                    return Ok(re.to_string());
                }
                self.inline(name, |l, body| l.plain(body))?
            }
            PExpr::Seq(a, b) => format!("{}{}", self.plain(a)?, self.plain(b)?),
            PExpr::Choice(a, b) => group(&format!("{}|{}", self.plain(a)?, self.plain(b)?)),
            PExpr::Opt(x) => format!("{}?", group(&self.plain(x)?)),
            PExpr::Rep(x) => format!("{}*", group(&self.plain(x)?)),
            PExpr::RepOnce(x) => format!("{}+", group(&self.plain(x)?)),
            PExpr::RepExact(x, n) => format!("{}{{{n}}}", group(&self.plain(x)?)),
            PExpr::RepMin(x, n) => format!("{}{{{n},}}", group(&self.plain(x)?)),
            PExpr::RepMax(x, n) => format!("{}{{0,{n}}}", group(&self.plain(x)?)),
            PExpr::RepMinMax(x, a, b) => format!("{}{{{a},{b}}}", group(&self.plain(x)?)),
            PExpr::NegPred(_) | PExpr::PosPred(_) => unreachable!("plain() without lookahead"),
            PExpr::Push(_) => return Err(self.stack_error("PUSH")),
            PExpr::PeekSlice(..) => return Err(self.stack_error("PEEK")),
            PExpr::Skip(_) => return Err(self.unsupported("", "internal skip expression")),
        })
    }

    /// Inlines rule `name` into the lexeme being built, guarding against
    /// recursion, and lowers its body with `f`.
    fn inline(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Self, &PExpr) -> Result<String, GrammarError>,
    ) -> Result<String, GrammarError> {
        if STACK_BUILTINS.contains(&name) {
            return Err(self.stack_error(name));
        }
        let Some((ty, body)) = self.rules.get(name).cloned() else {
            return Err(self.unsupported(name, format!("unknown builtin rule {name}")));
        };
        if self.inlining.iter().any(|n| n == name) {
            let outer = self.inlining[0].clone();
            return Err(self.unsupported(
                name,
                format!(
                    "rule {name} is recursive inside the atomic rule {outer}: an atomic rule \
                     becomes one lexeme (a regular expression) and cannot recurse"
                ),
            ));
        }
        if ty == RuleType::NonAtomic && !self.inlining.is_empty() {
            return Err(self.unsupported(
                name,
                format!(
                    "the non-atomic rule {name} (!{{...}}) is called from atomic context; \
                     this is not supported"
                ),
            ));
        }
        let cacheable = !self.has_look(&body);
        if cacheable {
            if let Some(re) = self.atomic_cache.get(name) {
                return Ok(re.clone());
            }
        }
        self.inlining.push(name.to_string());
        let r = f(self, &body);
        self.inlining.pop();
        let re = group(&r?);
        if cacheable {
            self.atomic_cache.insert(name.to_string(), re.clone());
        }
        Ok(re)
    }

    /// The regex of `e` followed by `cont` (a regex), with the lookaheads in
    /// `e` seeing the text `e` and `cont` match.
    fn with_cont(&mut self, e: &PExpr, cont: &str) -> Result<String, GrammarError> {
        if !self.has_look(e) {
            return Ok(format!("{}{}", self.plain(e)?, cont));
        }
        Ok(match e {
            PExpr::Seq(a, b) => {
                let rest = self.with_cont(b, cont)?;
                self.with_cont(a, &group(&rest))?
            }
            PExpr::Choice(a, b) => group(&format!(
                "{}|{}",
                self.with_cont(a, cont)?,
                self.with_cont(b, cont)?
            )),
            PExpr::Opt(x) => group(&format!("{}|{}", cont, self.with_cont(x, cont)?)),
            PExpr::NegPred(x) | PExpr::PosPred(x) => {
                let look = self.with_cont(x, ANY_STAR)?;
                let cont = if cont.is_empty() { "(?:)" } else { cont };
                let r = if matches!(e, PExpr::NegPred(_)) {
                    regular::difference(cont, &look)
                } else {
                    regular::intersection(cont, &look)
                };
                group(&r.map_err(|m| {
                    self.unsupported("!", format!("cannot lower this lookahead: {m}"))
                })?)
            }
            PExpr::Ident(name) => {
                let cont = cont.to_string();
                self.inline(name, |l, body| l.with_cont(body, &cont))?
            }
            PExpr::Rep(x)
            | PExpr::RepOnce(x)
            | PExpr::RepExact(x, _)
            | PExpr::RepMin(x, _)
            | PExpr::RepMax(x, _)
            | PExpr::RepMinMax(x, _, _) => {
                let (min, max) = match e {
                    PExpr::Rep(_) => (0, None),
                    PExpr::RepOnce(_) => (1, None),
                    PExpr::RepExact(_, n) => (*n, Some(*n)),
                    PExpr::RepMin(_, n) => (*n, None),
                    PExpr::RepMax(_, n) => (0, Some(*n)),
                    PExpr::RepMinMax(_, a, b) => (*a, Some(*b)),
                    _ => unreachable!(),
                };
                let bounds = match max {
                    None => format!("{{{min},}}"),
                    Some(m) => format!("{{{min},{m}}}"),
                };
                // `(!P ~ Q)*`: no `P` may start anywhere in the repeated text.
                // Any other repetition: each lookahead sees its own iteration.
                let global = match &**x {
                    PExpr::Seq(p, q) => match &**p {
                        PExpr::NegPred(p) if !self.has_look(q) => Some((p.clone(), q.clone())),
                        _ => None,
                    },
                    _ => None,
                };
                let Some((p, q)) = global else {
                    let one = group(&self.with_cont(x, "")?);
                    return Ok(format!("{one}{bounds}{cont}"));
                };
                let reps = format!("{}{bounds}", group(&self.plain(&q)?));
                let p = self.with_cont(&p, ANY_STAR)?;
                let forbidden = format!("{ANY_STAR}{}", group(&p));
                let r = regular::difference(&reps, &forbidden).map_err(|m| {
                    self.unsupported("!", format!("cannot lower this lookahead: {m}"))
                })?;
                format!("{}{cont}", group(&r))
            }
            PExpr::Push(_) => return Err(self.stack_error("PUSH")),
            _ => return Err(self.unsupported("", "internal expression")),
        })
    }
}

fn single_char(s: &str) -> Option<char> {
    let mut it = s.chars();
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_json_like_grammar() {
        let g = pest_grammar(
            r#"
            value = { SOI ~ item ~ EOI }
            item = _{ num | list }
            list = { "[" ~ (item ~ ("," ~ item)*)? ~ "]" }
            num = @{ "-"? ~ ASCII_DIGIT+ }
            WHITESPACE = _{ " " | "\t" }
            "#,
            None,
        )
        .unwrap();
        assert_eq!(g.start(), "value");
        assert!(g.ignore.is_some());
        crate::CompiledGrammar::new(&g).unwrap();
    }

    #[test]
    fn lookahead_in_atomic_rule() {
        let g = pest_grammar(
            r#"
            start = { SOI ~ ident ~ EOI }
            ident = @{ !(kw ~ !ASCII_ALPHA) ~ ASCII_ALPHA+ }
            kw = { ^"select" | ^"from" }
            "#,
            None,
        )
        .unwrap();
        let Expr::Regex(re) = &g.rules.iter().find(|r| r.0 == "ident").unwrap().1 else {
            panic!()
        };
        let re = regex::Regex::new(&format!("^(?:{re})$")).unwrap();
        assert!(re.is_match("selects") && re.is_match("x"));
        assert!(!re.is_match("SELECT") && !re.is_match("from"));
    }
}
