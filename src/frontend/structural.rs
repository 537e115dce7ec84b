//! Structural tags (XGrammar's JSON format): free text, and tagged parts
//! whose content follows a JSON schema, a regex or a grammar. This is the
//! grammar behind `tool_choice: auto`: the model writes text until it
//! starts a tool call (`<tool_call>`, `<function=name>`, Harmony's
//! `<|channel|>…`); from there the arguments follow the tool's schema, and
//! after the call the text is free again.
//!
//! # Formats
//!
//! `{"type": "structural_tag", "format": F}` where `F` is one of
//! `const_string {value}`, `regex {pattern}` (XGrammar's regex flavour),
//! `any_text {excludes, max_chars}`, `json_schema {json_schema, style:
//! "json"}`, `grammar {grammar}` (XGrammar EBNF), `sequence {elements}`,
//! `or {elements}`, `repeat {content, min, max}`, `optional`, `plus`,
//! `star {content}`, `tag {begin, content, end}`, `triggered_tags
//! {triggers, tags, excludes, at_least_one, stop_after_first}` and
//! `tags_with_separator {tags, separator, at_least_one,
//! stop_after_first}`. Formats over token ids, and the XML argument
//! styles (`qwen_xml`, ...), are refused with an error naming them.
//!
//! # Free text and greedy lexing
//!
//! Free text ends where something else starts: a trigger, or the end
//! string of the tag around it. The IR's lexing is greedy, so free text as
//! a lexeme of its own would run on into the first bytes of `</tool_call>`
//! (`</tool_call` holds no end yet) and then fail. Free text is therefore
//! never a lexeme alone: it is fused with what ends it, into one lexeme
//! "text holding no stop string, then this string" (built on automata, see
//! `regular`). A tag whose content is regular is one lexeme from its begin
//! to its end, and adjacent regular parts of a sequence are fused too; a
//! JSON or grammar content stays a sub-grammar, with JSON whitespace
//! around its punctuation only (the IR's ignore lexeme would reach the
//! text around it).

use crate::error::GrammarError;
use crate::frontend::embed::{rename, spaced_punctuation_within};
use crate::frontend::gbnf::{ebnf_grammar, xgrammar_regex};
use crate::frontend::regular;
use crate::frontend::schema::{compile as json_schema, SchemaOptions};
use crate::grammar::{Expr, Grammar};
use serde_json::Value;

/// Deepest nesting of formats.
const MAX_DEPTH: usize = 64;

/// The grammar of a structural tag (the JSON object, or its `format`).
///
/// ```
/// use serde_json::json;
/// let tag = json!({"type": "structural_tag", "format": {
///     "type": "triggered_tags", "triggers": ["<tool_call>"],
///     "tags": [{"type": "tag", "begin": "<tool_call>",
///               "content": {"type": "json_schema", "json_schema": {
///                   "type": "object", "properties": {"q": {"type": "string"}},
///                   "required": ["q"]}},
///               "end": "</tool_call>"}]}});
/// let g = formwork::structural_tag_grammar(&tag)?;
/// assert!(formwork::CompiledGrammar::new(&g).is_ok());
/// # Ok::<(), formwork::GrammarError>(())
/// ```
pub fn structural_tag_grammar(tag: &Value) -> Result<Grammar, GrammarError> {
    let format = match tag.get("type").and_then(Value::as_str) {
        Some("structural_tag") => tag
            .get("format")
            .ok_or_else(|| err("", "a structural_tag needs a \"format\""))?,
        _ => tag,
    };
    let mut b = Builder {
        rules: Vec::new(),
        embeds: 0,
        prune: false,
    };
    let piece = b.format(format, None, "/format", 0)?;
    let mut g = Grammar::new("structural#start");
    g.rule("structural#start", piece.expr.into_expr());
    for (name, e) in b.rules {
        g.rule(name, e);
    }
    if b.prune {
        g.prune_unproductive(true);
    }
    Ok(g)
}

fn err(pointer: &str, message: impl Into<String>) -> GrammarError {
    GrammarError::InvalidSchema {
        pointer: format!("structural tag{pointer}"),
        message: message.into(),
    }
}

/// A lowered part: a regex (fusable with its neighbours) or an expression.
enum Part {
    Re(String),
    Ex(Expr),
}

impl Part {
    fn into_expr(self) -> Expr {
        match self {
            Part::Re(r) => Expr::regex(r),
            Part::Ex(e) => e,
        }
    }
}

/// What follows a format: the end of the tag around it, one of a few
/// strings.
struct Follow {
    /// The strings, as a regex.
    re: String,
    /// The strings themselves, which free text may not hold.
    stops: Vec<String>,
}

impl Follow {
    fn of(ends: &[String]) -> Option<Follow> {
        if ends.iter().all(String::is_empty) {
            return None;
        }
        let alts: Vec<String> = ends.iter().map(|e| regex_syntax::escape(e)).collect();
        Some(Follow {
            re: format!("(?:{})", alts.join("|")),
            stops: ends.iter().filter(|e| !e.is_empty()).cloned().collect(),
        })
    }
}

/// A lowered format, and whether it took the string that follows it (the
/// end of the tag around it) into itself.
struct Lowered {
    expr: Part,
    took_follow: bool,
}

fn lowered(expr: Part) -> Lowered {
    Lowered {
        expr,
        took_follow: false,
    }
}

/// Parts in a row, adjacent regexes fused into one. A regex next to an
/// intersection lexeme (a bounded JSON number) is fused into each of its
/// parts: `x·(A ∩ B)·y = xAy ∩ xBy` for fixed strings, and so for regexes
/// of fixed strings, which is all this fuses (`begin`, `end`). A number
/// followed by an end string starting with `E` then cannot be read as an
/// exponent.
fn fuse(parts: Vec<Part>) -> Part {
    let mut out: Vec<Part> = Vec::new();
    for p in parts {
        match (out.last_mut(), p) {
            (Some(Part::Re(a)), Part::Re(b)) => a.push_str(&b),
            (Some(Part::Ex(Expr::Intersect { all, except })), Part::Re(b)) => {
                all.iter_mut().chain(except.iter_mut()).for_each(|x| {
                    *x = format!("(?:{x}){b}");
                })
            }
            (Some(Part::Re(a)), Part::Ex(Expr::Intersect { all, except })) => {
                let a = std::mem::take(a);
                out.pop();
                out.push(Part::Ex(Expr::Intersect {
                    all: all.iter().map(|x| format!("{a}(?:{x})")).collect(),
                    except: except.iter().map(|x| format!("{a}(?:{x})")).collect(),
                }));
            }
            (_, p) => out.push(p),
        }
    }
    if out.len() == 1 {
        return out.pop().expect("one part");
    }
    Part::Ex(Expr::seq(out.into_iter().map(Part::into_expr)))
}

fn lit(s: &str) -> String {
    format!("(?:{})", regex_syntax::escape(s))
}

const ANY: &str = "(?s:.)*";

/// Text holding none of `stops`.
fn free_text(stops: &[String], pointer: &str) -> Result<String, GrammarError> {
    let stops: Vec<String> = stops
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| regex_syntax::escape(s))
        .collect();
    if stops.is_empty() {
        return Ok(ANY.into());
    }
    let holds = format!("{ANY}(?:{}){ANY}", stops.join("|"));
    regular::difference(ANY, &holds)
        .map(|r| format!("(?:{r})"))
        .map_err(|e| err(pointer, format!("free text: {e}")))
}

struct Builder {
    rules: Vec<(String, Expr)>,
    embeds: usize,
    prune: bool,
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn flag(f: &Value, key: &str, default: bool) -> Result<bool, GrammarError> {
    match f.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| err("", format!("{key} must be a boolean"))),
    }
}

impl Builder {
    /// Lowers format `f`; `follow` is the string right after it (the end
    /// of the tag around it), which free text at its end must stop at.
    fn format(
        &mut self,
        f: &Value,
        follow: Option<&Follow>,
        ptr: &str,
        depth: usize,
    ) -> Result<Lowered, GrammarError> {
        if depth > MAX_DEPTH {
            return Err(err(
                ptr,
                format!("formats nested more than {MAX_DEPTH} deep"),
            ));
        }
        let ty = f
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| err(ptr, "a format needs a \"type\""))?;
        let text = |key: &str| -> Result<String, GrammarError> {
            f.get(key)
                .and_then(Value::as_str)
                .map(String::from)
                .ok_or_else(|| err(ptr, format!("{ty} needs a string \"{key}\"")))
        };
        Ok(match ty {
            "const_string" => lowered(Part::Re(lit(&text("value")?))),
            "regex" => {
                let re = xgrammar_regex(&text("pattern")?, None).map_err(|e| err(ptr, e))?;
                regex_syntax::Parser::new()
                    .parse(&re)
                    .map_err(|e| err(ptr, format!("invalid regex: {e}")))?;
                lowered(Part::Re(format!("(?:{re})")))
            }
            "any_text" => {
                let mut stops = strs(f.get("excludes"));
                stops.extend(follow.iter().flat_map(|fl| fl.stops.iter().cloned()));
                let mut re = free_text(&stops, ptr)?;
                if let Some(max) = f.get("max_chars").filter(|v| !v.is_null()) {
                    let max = max
                        .as_u64()
                        .filter(|&m| m <= u64::from(u32::MAX / 2))
                        .ok_or_else(|| {
                            err(ptr, "max_chars must be a non-negative 32-bit integer")
                        })?;
                    re = regular::intersection(&re, &format!("(?s:.){{0,{max}}}"))
                        .map(|r| format!("(?:{r})"))
                        .map_err(|e| err(ptr, format!("max_chars: {e}")))?;
                }
                if f.get("max_tokens").is_some_and(|v| !v.is_null()) {
                    return Err(err(ptr, "any_text max_tokens counts tokens; not supported"));
                }
                match follow {
                    Some(end) => Lowered {
                        expr: Part::Re(format!("{re}{}", end.re)),
                        took_follow: true,
                    },
                    None => lowered(Part::Re(re)),
                }
            }
            "json_schema" => {
                let style = f.get("style").and_then(Value::as_str).unwrap_or("json");
                if style != "json" {
                    return Err(err(
                        ptr,
                        format!("json_schema style {style:?} is not supported (only \"json\")"),
                    ));
                }
                let schema = f
                    .get("json_schema")
                    .ok_or_else(|| err(ptr, "json_schema needs \"json_schema\""))?;
                let options = SchemaOptions {
                    property_order: if flag(f, "any_order", false)? {
                        crate::frontend::schema::PropertyOrder::Any
                    } else {
                        crate::frontend::schema::PropertyOrder::Schema
                    },
                    ..SchemaOptions::default()
                };
                let mut sub = json_schema(schema, &options)?;
                // A schema that is one lexeme (a number, a string) is a part
                // to fuse with its neighbours: a number before an end string
                // starting with `E` must not read the `E` as its exponent.
                let start = sub
                    .rules
                    .iter()
                    .filter(|(n, _)| *n == sub.start)
                    .map(|(_, e)| e)
                    .collect::<Vec<_>>();
                if let ([e], None) = (start.as_slice(), &sub.ignore) {
                    match e {
                        Expr::Regex(r) => return Ok(lowered(Part::Re(format!("(?:{r})")))),
                        Expr::Literal(l) => return Ok(lowered(Part::Re(lit(l)))),
                        Expr::Intersect { .. } => return Ok(lowered(Part::Ex((*e).clone()))),
                        _ => {}
                    }
                }
                let max_ws = f
                    .get("max_whitespace_cnt")
                    .and_then(Value::as_u64)
                    .map(|n| n.min(u64::from(u32::MAX)) as u32);
                for (_, e) in &mut sub.rules {
                    *e = spaced_punctuation_within(e, max_ws);
                }
                lowered(Part::Ex(self.embed(sub, "json")))
            }
            "grammar" => {
                let sub = ebnf_grammar(&text("grammar")?, "root")?;
                if sub.ignore.is_some() {
                    return Err(err(
                        ptr,
                        "a grammar with an ignore lexeme inside a structural tag",
                    ));
                }
                lowered(Part::Ex(self.embed(sub, "grammar")))
            }
            "sequence" => {
                let elems = f
                    .get("elements")
                    .and_then(Value::as_array)
                    .ok_or_else(|| err(ptr, "sequence needs \"elements\""))?;
                if elems.is_empty() {
                    return Err(err(ptr, "sequence needs at least one element"));
                }
                let mut parts = Vec::new();
                let mut took = false;
                for (i, e) in elems.iter().enumerate() {
                    let last = i + 1 == elems.len();
                    let l = self.format(
                        e,
                        if last { follow } else { None },
                        &format!("{ptr}/elements/{i}"),
                        depth + 1,
                    )?;
                    took |= last && l.took_follow;
                    parts.push(l.expr);
                }
                Lowered {
                    expr: fuse(parts),
                    took_follow: took,
                }
            }
            "or" => {
                let elems = f
                    .get("elements")
                    .and_then(Value::as_array)
                    .ok_or_else(|| err(ptr, "or needs \"elements\""))?;
                if elems.is_empty() {
                    return Err(err(ptr, "or needs at least one element"));
                }
                // Each branch takes the follow itself, so that they agree.
                let mut branches = Vec::new();
                for (i, e) in elems.iter().enumerate() {
                    let l = self.format(e, follow, &format!("{ptr}/elements/{i}"), depth + 1)?;
                    branches.push(self.with_follow(l, follow));
                }
                let all_re = branches.iter().all(|b| matches!(b, Part::Re(_)));
                let expr = if all_re {
                    Part::Re(format!(
                        "(?:{})",
                        branches
                            .into_iter()
                            .map(|b| match b {
                                Part::Re(r) => r,
                                Part::Ex(_) => unreachable!(),
                            })
                            .collect::<Vec<_>>()
                            .join("|")
                    ))
                } else {
                    Part::Ex(Expr::choice(branches.into_iter().map(Part::into_expr)))
                };
                Lowered {
                    expr,
                    took_follow: follow.is_some(),
                }
            }
            "repeat" | "optional" | "plus" | "star" => {
                let content = f
                    .get("content")
                    .ok_or_else(|| err(ptr, format!("{ty} needs \"content\"")))?;
                let (min, max) = match ty {
                    "optional" => (0, Some(1)),
                    "plus" => (1, None),
                    "star" => (0, None),
                    _ => {
                        let min = match f.get("min") {
                            None => 0,
                            Some(v) => v
                                .as_u64()
                                .filter(|&m| m <= u64::from(u32::MAX))
                                .ok_or_else(|| {
                                    err(ptr, "repeat: min must be a non-negative integer")
                                })?,
                        };
                        let max =
                            match f.get("max").map(|v| v.as_i64()) {
                                None | Some(Some(-1)) => None,
                                Some(Some(m))
                                    if m >= 0 && m as u64 >= min && m <= i64::from(u32::MAX) =>
                                {
                                    Some(m as u32)
                                }
                                _ => return Err(err(
                                    ptr,
                                    "repeat: max must be -1 (no bound) or an integer at least min",
                                )),
                            };
                        (min as u32, max)
                    }
                };
                let inner = self.format(content, None, &format!("{ptr}/content"), depth + 1)?;
                let expr = match inner.expr {
                    Part::Re(r) => Part::Re(match max {
                        None => format!("(?:{r}){{{min},}}"),
                        Some(m) => format!("(?:{r}){{{min},{m}}}"),
                    }),
                    Part::Ex(e) => Part::Ex(Expr::repeat(e, min, max)),
                };
                lowered(expr)
            }
            "tag" => lowered(self.tag(f, ptr, depth, false)?),
            "dispatch" => {
                // XGrammar's TagDispatch as a format: free text until a
                // tag, then that tag's format; again with `loop`.
                let rules = f
                    .get("rules")
                    .and_then(Value::as_array)
                    .ok_or_else(|| err(ptr, "dispatch needs \"rules\""))?;
                let mut tags = Vec::new();
                let mut triggers = Vec::new();
                for (i, r) in rules.iter().enumerate() {
                    let (Some(tag), Some(content)) = (r.get(0).and_then(Value::as_str), r.get(1))
                    else {
                        return Err(err(&format!("{ptr}/rules/{i}"), "a rule is [tag, format]"));
                    };
                    triggers.push(Value::String(tag.into()));
                    tags.push(serde_json::json!({"type": "tag", "begin": tag, "content": content, "end": ""}));
                }
                let as_triggered = serde_json::json!({
                    "type": "triggered_tags", "triggers": triggers, "tags": tags,
                    "excludes": f.get("excludes").cloned().unwrap_or(Value::Array(Vec::new())),
                    "at_least_one": false,
                    "stop_after_first": !flag(f, "loop", true)?,
                });
                self.triggered(&as_triggered, follow, ptr, depth)?
            }
            "triggered_tags" => self.triggered(f, follow, ptr, depth)?,
            "tags_with_separator" => {
                let tags = self.tags(f, ptr, depth, false)?;
                let sep = match f.get("separator") {
                    None => "",
                    Some(v) => v
                        .as_str()
                        .ok_or_else(|| err(ptr, "separator must be a string"))?,
                };
                let one = Part::Ex(Expr::choice(tags.into_iter().map(Part::into_expr)));
                let one = one.into_expr();
                let (alo, saf) = (
                    flag(f, "at_least_one", false)?,
                    flag(f, "stop_after_first", false)?,
                );
                let more = if sep.is_empty() {
                    Expr::repeat(one.clone(), 0, None)
                } else {
                    Expr::repeat(Expr::seq([Expr::regex(lit(sep)), one.clone()]), 0, None)
                };
                let expr = match (alo, saf) {
                    (_, true) if alo => one,
                    (_, true) => Expr::optional(one),
                    (true, false) => Expr::seq([one, more]),
                    (false, false) => Expr::optional(Expr::seq([one, more])),
                };
                lowered(Part::Ex(expr))
            }
            "qwen_xml_parameter" => {
                return Err(err(
                    ptr,
                    "the XML argument format qwen_xml_parameter is not supported",
                ))
            }
            "token"
            | "exclude_token"
            | "token_triggered_tags"
            | "any_tokens"
            | "token_dispatch" => {
                return Err(err(
                    ptr,
                    format!("the format {ty} is over token ids; not supported"),
                ))
            }
            other => {
                return Err(err(
                    ptr,
                    format!("unknown or unsupported format type {other:?}"),
                ))
            }
        })
    }

    /// `l` with `follow` appended if it did not take it.
    fn with_follow(&mut self, l: Lowered, follow: Option<&Follow>) -> Part {
        match follow {
            Some(end) if !l.took_follow => fuse(vec![l.expr, Part::Re(end.re.clone())]),
            _ => l.expr,
        }
    }

    fn tag(
        &mut self,
        f: &Value,
        ptr: &str,
        depth: usize,
        in_triggered: bool,
    ) -> Result<Part, GrammarError> {
        let begin = f
            .get("begin")
            .and_then(Value::as_str)
            .ok_or_else(|| err(ptr, "a tag needs \"begin\""))?;
        let ends: Vec<String> = match f.get("end") {
            Some(Value::String(e)) => vec![e.clone()],
            Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(|e| e.as_str().map(String::from))
                .collect(),
            _ => {
                return Err(err(
                    ptr,
                    "a tag needs \"end\": a string or a list of strings",
                ))
            }
        };
        let content = f
            .get("content")
            .ok_or_else(|| err(ptr, "a tag needs \"content\""))?;
        let follow = Follow::of(&ends);
        let content_type = content.get("type").and_then(Value::as_str);
        if follow.is_none()
            && !in_triggered
            && matches!(content_type, Some("any_text" | "tags_with_separator"))
        {
            // Nothing would end the content: XGrammar refuses such a tag.
            return Err(err(
                ptr,
                format!(
                    "Invalid structural tag error: {} in a tag needs an end",
                    content_type.unwrap_or("")
                ),
            ));
        }
        let inner = self.format(
            content,
            follow.as_ref(),
            &format!("{ptr}/content"),
            depth + 1,
        )?;
        let body = self.with_follow(inner, follow.as_ref());
        Ok(fuse(vec![Part::Re(lit(begin)), body]))
    }

    fn tags(
        &mut self,
        f: &Value,
        ptr: &str,
        depth: usize,
        in_triggered: bool,
    ) -> Result<Vec<Part>, GrammarError> {
        let tags = f
            .get("tags")
            .and_then(Value::as_array)
            .ok_or_else(|| err(ptr, "needs \"tags\""))?;
        if tags.is_empty() {
            return Err(err(ptr, "needs at least one tag"));
        }
        tags.iter()
            .enumerate()
            .map(|(i, t)| self.tag(t, &format!("{ptr}/tags/{i}"), depth + 1, in_triggered))
            .collect()
    }

    /// Free text with tags that start at triggers.
    fn triggered(
        &mut self,
        f: &Value,
        follow: Option<&Follow>,
        ptr: &str,
        depth: usize,
    ) -> Result<Lowered, GrammarError> {
        let triggers = strs(f.get("triggers"));
        if triggers.is_empty() || triggers.iter().any(String::is_empty) {
            return Err(err(ptr, "triggered_tags needs non-empty triggers"));
        }
        for a in &triggers {
            if let Some(b) = triggers
                .iter()
                .find(|b| *b != a && b.starts_with(a.as_str()))
            {
                return Err(err(
                    ptr,
                    format!(
                        "Invalid structural tag error: trigger {a:?} is a prefix of trigger {b:?}"
                    ),
                ));
            }
        }
        let tag_defs = f
            .get("tags")
            .and_then(Value::as_array)
            .ok_or_else(|| err(ptr, "triggered_tags needs \"tags\""))?;
        for (i, t) in tag_defs.iter().enumerate() {
            let begin = t.get("begin").and_then(Value::as_str).unwrap_or("");
            if !triggers.iter().any(|tr| begin.starts_with(tr.as_str())) {
                return Err(err(
                    &format!("{ptr}/tags/{i}"),
                    format!("the tag begin {begin:?} starts with none of the triggers"),
                ));
            }
        }
        let tags = self.tags(f, ptr, depth, true)?;
        let mut stops = triggers.clone();
        stops.extend(strs(f.get("excludes")));
        stops.extend(follow.iter().flat_map(|fl| fl.stops.iter().cloned()));
        let text = free_text(&stops, ptr)?;
        let (alo, saf) = (
            flag(f, "at_least_one", false)?,
            flag(f, "stop_after_first", false)?,
        );
        // A tag after free text: the text is fused with the tag's start.
        let after_text: Vec<Expr> = tags
            .iter()
            .map(|t| match t {
                Part::Re(r) => Expr::regex(format!("{text}{r}")),
                Part::Ex(Expr::Seq(items)) if matches!(items.first(), Some(Expr::Regex(_))) => {
                    let mut items = items.clone();
                    if let Expr::Regex(r) = &items[0] {
                        items[0] = Expr::regex(format!("{text}{r}"));
                    }
                    Expr::Seq(items)
                }
                Part::Ex(e) => Expr::seq([Expr::regex(text.clone()), e.clone()]),
            })
            .collect();
        let bare: Vec<Expr> = tags.into_iter().map(Part::into_expr).collect();
        let end_text = match follow {
            Some(end) => Expr::regex(format!("{text}{}", end.re)),
            None => Expr::regex(text.clone()),
        };
        let end_only = match follow {
            Some(end) => Expr::regex(end.re.clone()),
            None => Expr::Empty,
        };
        let any_tag = Expr::choice(after_text);
        let first = Expr::choice(bare);
        let expr = match (alo, saf) {
            (false, false) => Expr::seq([Expr::repeat(any_tag, 0, None), end_text]),
            (true, false) => Expr::seq([first, Expr::repeat(any_tag, 0, None), end_text]),
            (false, true) => Expr::choice([end_text, Expr::seq([any_tag, end_only])]),
            (true, true) => Expr::seq([first, end_only]),
        };
        Ok(Lowered {
            expr: Part::Ex(expr),
            took_follow: follow.is_some(),
        })
    }

    /// Adds an embedded grammar's rules under fresh names; returns its
    /// start.
    fn embed(&mut self, sub: Grammar, kind: &str) -> Expr {
        self.embeds += 1;
        let prefix = format!("{kind}#{}/", self.embeds);
        self.prune |= sub.prune_unproductive;
        for (name, e) in &sub.rules {
            self.rules
                .push((format!("{prefix}{name}"), rename(e, &prefix)));
        }
        Expr::rule(format!("{prefix}{}", sub.start))
    }
}
