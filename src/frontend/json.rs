//! The JSON frontend: any JSON value (RFC 8259), in every valid spelling.
//!
//! Lexemes are the JSON tokens (strings with every escape, numbers with
//! fractions and exponents, the three literals, punctuation); whitespace
//! (space, tab, newline, carriage return) is the ignore lexeme, so it may
//! appear between any two tokens and around the value. Strings must be valid
//! UTF-8 and may not contain raw control characters, as RFC 8259 requires.
//!
//! JSON Schemas accepting everything (`{}` and `true`) map to this grammar;
//! the JSON Schema frontend ([`crate::frontend::schema`]) builds on the same
//! lexemes and rules. This module is a leaf: it uses no other frontend.

use crate::grammar::{Expr, Grammar};

/// A JSON string lexeme (quotes included).
pub(crate) const STRING: &str = r#""(?:[^"\\\x00-\x1F]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*""#;
/// A JSON number lexeme.
pub(crate) const NUMBER: &str = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?";
/// JSON insignificant whitespace.
pub(crate) const WHITESPACE: &str = r"[ \t\n\r]+";

/// The grammar of any JSON value.
///
/// ```
/// let g = formwork::json_grammar();
/// let c = formwork::CompiledGrammar::new(&g).unwrap();
/// assert!(c.lexeme_count() >= 10);
/// ```
pub fn json_grammar() -> Grammar {
    let mut g = Grammar::new("value");
    add_json_rules(&mut g, "value");
    g.ignore(WHITESPACE);
    g
}

/// Adds the rules of any JSON value under the name `value` (and helper rules
/// prefixed with it) to `g`.
pub(crate) fn add_json_rules(g: &mut Grammar, value: &str) {
    let object = format!("{value}_object");
    let array = format!("{value}_array");
    let members = format!("{value}_members");
    let elements = format!("{value}_elements");
    g.rule(
        value,
        Expr::choice([
            Expr::rule(&object),
            Expr::rule(&array),
            Expr::regex(STRING),
            Expr::regex(NUMBER),
            Expr::literal("true"),
            Expr::literal("false"),
            Expr::literal("null"),
        ]),
    );
    g.rule(
        &object,
        Expr::seq([
            Expr::literal("{"),
            Expr::optional(Expr::rule(&members)),
            Expr::literal("}"),
        ]),
    );
    g.rule(
        &members,
        Expr::seq([
            Expr::regex(STRING),
            Expr::literal(":"),
            Expr::rule(value),
            Expr::repeat(
                Expr::seq([
                    Expr::literal(","),
                    Expr::regex(STRING),
                    Expr::literal(":"),
                    Expr::rule(value),
                ]),
                0,
                None,
            ),
        ]),
    );
    g.rule(
        &array,
        Expr::seq([
            Expr::literal("["),
            Expr::optional(Expr::rule(&elements)),
            Expr::literal("]"),
        ]),
    );
    g.rule(
        &elements,
        Expr::seq([
            Expr::rule(value),
            Expr::repeat(Expr::seq([Expr::literal(","), Expr::rule(value)]), 0, None),
        ]),
    );
}
