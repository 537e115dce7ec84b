//! The GBNF frontend: llama.cpp's grammar format, lowered into the grammar
//! IR with the same language.
//!
//! # Syntax
//!
//! As llama.cpp's parser reads it: `name ::= alternates`, one rule per line
//! (newlines are allowed after `::=`, after `|` and inside parentheses),
//! `#` comments, literals `"..."` with the escapes `\x.. \u.... \U........
//! \t \r \n \\ \" \[ \]`, classes `[a-z]` and `[^...]`, `.` for any
//! character, groups, and `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}` after an
//! item. The start rule is `root` unless the caller names another. A
//! reference to an undefined rule, left recursion, and a repetition of more
//! than 2,000 required copies are errors, as in llama.cpp; so are nested
//! repetitions whose bounds multiply past about a million. Token references
//! (`<[id]>`, `!<[id]>`) are not supported: formwork's grammars are over
//! text. Errors carry the line and column.
//!
//! # Lowering
//!
//! GBNF is a context-free grammar over characters, and llama.cpp matches it
//! character by character. The IR is faster with bigger lexemes, but its
//! lexing is greedy: a lexeme extends while any lexeme the parser allows
//! can continue. The lowering therefore chooses lexemes in rounds:
//!
//! 1. Every *regular* part (a rule that reaches no recursion, and each
//!    literal, class or group made only of such parts) becomes one lexeme,
//!    and so does each run of regular items in a sequence. So `string`,
//!    `number` and `"{" ws` of `json.gbnf` are lexemes, and the recursive
//!    `value`, `object` and `array` stay rules.
//! 2. For every lexeme `L` the bytes that may follow it in the grammar are
//!    computed (FIRST and FOLLOW sets over the lowered rules). Greedy
//!    lexing is exact unless some lexeme `M` (maybe `L` itself) can continue
//!    a complete string of `L` with such a byte: then the lexer would run
//!    past the end of `L`. `[a-z]+ "b"` is the simplest case, and `"int"
//!    ws` against an identifier (`int = 1;`) a real one in `c.gbnf`.
//!    Each pair is decided on the two DFAs.
//! 3. Both lexemes of every such pair are split into their parts (a
//!    sequence into its items, a rule reference into the rule, a literal
//!    into characters), and the round starts again. A single character
//!    never conflicts (UTF-8 is prefix-free), so the rounds end, at worst
//!    with one lexeme per character where the grammar needs it.
//!
//! The result has exactly the GBNF grammar's language, and the lexemes are
//! as large as that allows.
//!
//! ```
//! let g = formwork::gbnf_grammar(r#"
//! root ::= item+
//! item ::= "- " [a-z]+ "\n"
//! "#)?;
//! let compiled = formwork::CompiledGrammar::new(&g)?;
//! assert!(compiled.lexeme_count() >= 1);
//! # Ok::<(), formwork::GrammarError>(())
//! ```

mod lower;
mod parse;

use crate::error::GrammarError;
use crate::grammar::Grammar;
pub(crate) use parse::xgrammar_regex;
use parse::Dialect;

/// The grammar of GBNF text (llama.cpp's format), starting at `root`.
/// Errors: [`GrammarError::GrammarSyntax`] with the line and column.
pub fn gbnf_grammar(text: &str) -> Result<Grammar, GrammarError> {
    gbnf_grammar_rooted(text, "root")
}

/// The grammar of GBNF text starting at the rule `root` (llama.cpp's
/// `grammar_root`).
pub fn gbnf_grammar_rooted(text: &str, root: &str) -> Result<Grammar, GrammarError> {
    family_grammar(text, root, Dialect::Gbnf)
}

/// The grammar of XGrammar EBNF text, starting at `root` (XGrammar's
/// `root_rule_name`, by default `root`). Errors:
/// [`GrammarError::GrammarSyntax`] with the line and column.
///
/// ```
/// let g = formwork::ebnf_grammar(r#"
/// root ::= "id: " digits
/// digits ::= Regex("[0-9]{1,4}")
/// "#, "root")?;
/// assert!(formwork::CompiledGrammar::new(&g).is_ok());
/// # Ok::<(), formwork::GrammarError>(())
/// ```
pub fn ebnf_grammar(text: &str, root: &str) -> Result<Grammar, GrammarError> {
    family_grammar(text, root, Dialect::Ebnf)
}

fn family_grammar(text: &str, root: &str, dialect: Dialect) -> Result<Grammar, GrammarError> {
    let rules = parse::parse(text, dialect)?;
    let Some(r) = rules.index(root) else {
        return Err(GrammarError::GrammarSyntax {
            format: dialect.name(),
            line: 1,
            column: 1,
            message: format!(
                "no rule named {root:?} (the start rule); the grammar defines {}",
                rules.names.join(", ")
            ),
        });
    };
    lower::lower(&rules, r, dialect)
}
