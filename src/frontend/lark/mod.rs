//! The Lark frontend, as llguidance reads Lark: terminals (upper-case
//! names, strings and regexes) are lexemes, rules are the context-free
//! layer, and `%ignore` is the IR's ignore lexeme.
//!
//! llguidance lexes greedily with a lexer that hands every terminal that
//! matches to the parser, which is exactly the IR's lexing, so a Lark
//! grammar lowers one to one: a terminal's definition (strings, regexes,
//! other terminals, `"a".."z"`, groups, repetitions, `&` and `~`) becomes
//! one regex, with `&` and `~` worked out on automata (see `regular`); a
//! string or regex written in a rule is a lexeme of its own. Priorities
//! (`.N`) are read and dropped: the parser is given every terminal that
//! matches, so a priority changes nothing unless two terminals match the
//! same text where only one fits (then formwork accepts both readings).
//!
//! * `%json {schema}` embeds formwork's JSON Schema compiler (compact JSON,
//!   or any JSON whitespace when the schema is the whole grammar: the IR
//!   has one ignore lexeme for the whole grammar).
//! * `%lark {grammar}` embeds a grammar; it may not have an `%ignore` of
//!   its own unless it is the outer one's.
//! * `%regex {"substring_words": ...}` and `"substring_chars"` are the
//!   runs of consecutive words or characters of a text.
//! * `%import common.NAME` (and `common (A, B)`) imports Lark's common
//!   terminals (numbers, words, whitespace, strings, comments).
//! * Rule attributes: `lazy` (the rule ends at its first possible end;
//!   its body must be regular), `capture` and `temperature` (no effect on
//!   the language). `max_tokens`, `stop`, `suffix` and token references
//!   (`<[id]>`, `<|name|>`) count or hide tokens, which a grammar over text
//!   cannot express: each is an error that names it.
//!
//! ```
//! let g = formwork::lark_grammar(r#"
//! start: item ("," item)*
//! item: NUMBER | WORD
//! %import common.NUMBER
//! %import common.WORD
//! %ignore " "
//! "#)?;
//! assert!(formwork::CompiledGrammar::new(&g).is_ok());
//! # Ok::<(), formwork::GrammarError>(())
//! ```

mod common;
mod lower;
mod parse;

use crate::error::GrammarError;
use crate::grammar::Grammar;

/// The grammar of Lark text (llguidance's dialect), starting at `start`.
/// Errors: [`GrammarError::GrammarSyntax`] with the line and column.
pub fn lark_grammar(text: &str) -> Result<Grammar, GrammarError> {
    lower::lower(text, 0)
}
