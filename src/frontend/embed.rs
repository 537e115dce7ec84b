//! Helpers for grammars placed inside other grammars (`%json` in Lark, a
//! JSON schema or an EBNF grammar in a structural tag): rule renaming, and
//! JSON whitespace that stays inside the JSON.

use crate::grammar::Expr;

/// JSON whitespace written into the punctuation lexemes (`{`, `[`, `:`,
/// `,` before and after, `}`, `]` before): any JSON whitespace between
/// tokens, without an ignore lexeme that would reach the text around the
/// JSON. Literals of several characters (`{}` of an empty object) keep
/// their compact spelling, so this is a subset of the flexible language.
pub(crate) fn spaced_punctuation(e: &Expr) -> Expr {
    spaced_punctuation_within(e, None)
}

/// [`spaced_punctuation`] with at most `max` whitespace characters in a
/// row (`None`: any number).
pub(crate) fn spaced_punctuation_within(e: &Expr, max: Option<u32>) -> Expr {
    let ws = match max {
        None => "[ \\t\\n\\r]*".to_string(),
        Some(n) => format!("[ \\t\\n\\r]{{0,{n}}}"),
    };
    let (ws, r) = (ws.as_str(), |x: &Expr| spaced_punctuation_within(x, max));
    match e {
        Expr::Literal(l) => match l.as_str() {
            "," | ":" => Expr::regex(format!("{ws}{}{ws}", l)),
            "{" | "[" => Expr::regex(format!("\\{l}{ws}")),
            "}" | "]" => Expr::regex(format!("{ws}\\{l}")),
            _ => e.clone(),
        },
        other => map_children(other, r),
    }
}

/// `e` with every rule name prefixed.
pub(crate) fn rename(e: &Expr, prefix: &str) -> Expr {
    let r = |x: &Expr| rename(x, prefix);
    match e {
        Expr::Rule(n) => Expr::Rule(format!("{prefix}{n}")),
        other => map_children(other, r),
    }
}

/// `e` with `f` applied to each direct sub-expression (a leaf is cloned).
fn map_children(e: &Expr, f: impl Fn(&Expr) -> Expr) -> Expr {
    match e {
        Expr::Seq(v) => Expr::Seq(v.iter().map(&f).collect()),
        Expr::Choice(v) => Expr::Choice(v.iter().map(&f).collect()),
        Expr::Repeat { expr, min, max } => Expr::Repeat {
            expr: Box::new(f(expr)),
            min: *min,
            max: *max,
        },
        Expr::AnyOrder {
            members,
            required,
            separator,
            count,
        } => Expr::AnyOrder {
            members: members.iter().map(&f).collect(),
            required: required.clone(),
            separator: Box::new(f(separator)),
            count: count.clone(),
        },
        other => other.clone(),
    }
}
