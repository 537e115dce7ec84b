//! The regex frontend: one regular expression, matched against the whole output.

use crate::error::GrammarError;
use crate::grammar::{Expr, Grammar};

/// A grammar whose language is exactly the strings `pattern` matches in full
/// (Rust `regex` syntax; the pattern is anchored at both ends).
///
/// ```
/// let g = formwork::regex_grammar(r"\d{3}-\d{4}").unwrap();
/// assert!(formwork::CompiledGrammar::new(&g).is_ok());
/// assert!(formwork::regex_grammar("(unclosed").is_err());
/// ```
pub fn regex_grammar(pattern: &str) -> Result<Grammar, GrammarError> {
    // Parse early so that a syntax error names the pattern, not a lexeme.
    regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| GrammarError::InvalidRegex {
            pattern: pattern.to_string(),
            message: e.to_string(),
        })?;
    let mut g = Grammar::new("start");
    g.rule("start", Expr::regex(pattern));
    Ok(g)
}
