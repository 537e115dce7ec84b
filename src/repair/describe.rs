//! Fixes in words, with their line and column, for people reading a repair
//! log (`formwork repair --verbose`).
//!
//! ```
//! use formwork::repair::repair;
//!
//! let text = "{\n  \"a\": 1,\n}";
//! let r = repair(text)?;
//! assert_eq!(r.describe_fixes(text), ["line 2, column 9: removed a trailing or extra comma"]);
//! # Ok::<(), formwork::repair::RepairError>(())
//! ```

use super::types::{Fix, RepairKind, Repaired};
use std::fmt;

impl RepairKind {
    /// What the fix did, as a short phrase ("removed a comment").
    pub fn description(self) -> &'static str {
        use RepairKind::*;
        match self {
            StrippedCodeFence => "removed a Markdown code fence",
            SkippedLeadingText => "skipped text before the JSON",
            SkippedTrailingText => "skipped text after a JSON value",
            SkippedJunk => "dropped a character or word that belongs to no value",
            RemovedComment => "removed a comment",
            NormalizedQuotes => "replaced single, curly or backtick quotes by double quotes",
            QuotedKey => "added quotes around an object key",
            QuotedValue => "quoted an unquoted word",
            AddedMissingQuote => "added a missing quote",
            EscapedQuote => "escaped a quote inside a string",
            EscapedControlChar => "escaped a raw newline, tab or control character in a string",
            FixedInvalidEscape => "kept an invalid or cut-off escape sequence as text",
            InsertedComma => "inserted a missing comma",
            RemovedComma => "removed a trailing or extra comma",
            InsertedColon => "inserted a missing colon",
            InsertedNull => "the text ended after a key: used null as its value",
            EmptyValue => "a key had no value: used \"\"",
            ClosedString => "closed a string that the end of the text left open",
            ClosedContainer => "closed the array or object that opens here, left open",
            RemovedBracket => "removed a closing bracket that matches nothing",
            MismatchedBracket => "closed a container whose closing bracket was of the wrong kind",
            ConvertedLiteral => "converted a literal (True, None, undefined) to JSON",
            ConvertedNonFinite => "replaced NaN or Infinity by null",
            FixedNumber => "completed or normalised a number",
            NumberAsString => "kept a number with leading zeros as a string",
            RemovedStrayQuote => "removed a stray quote after a number",
            ConcatenatedStrings => "joined strings concatenated with +",
            RemovedWrapper => "removed a function-call wrapper (JSONP)",
            RemovedEllipsis => "removed an ellipsis (...)",
            WrappedDocuments => "wrapped several JSON documents in an array",
            DroppedDocument => {
                "dropped a document (empty, a scalar next to objects, or replaced by a later one of the same shape)"
            }
            ConvertedTuple => "converted a Python tuple to an array",
            ConvertedSet => "converted a set literal to an array",
            WrappedMemberInObject => "wrapped a key-value pair found in an array in an object",
            DuplicateKey => "kept the last value of a duplicated key",
            UnescapedText => "unescaped JSON text that was written as an escaped string",
        }
    }
}

impl fmt::Display for RepairKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A line and column in a text, both counted from 1, the column in
/// characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

impl Position {
    /// The positions of character `offsets` in `text`, in one pass over the
    /// text. An offset past the end is placed just after the last character.
    pub fn of_offsets(text: &str, offsets: &[usize]) -> Vec<Position> {
        let mut order: Vec<usize> = (0..offsets.len()).collect();
        order.sort_by_key(|&i| offsets[i]);
        let mut out = vec![Position { line: 1, column: 1 }; offsets.len()];
        let mut chars = text.chars();
        let (mut at, mut pos) = (0usize, Position { line: 1, column: 1 });
        for i in order {
            while at < offsets[i] {
                match chars.next() {
                    Some('\n') => {
                        pos = Position {
                            line: pos.line + 1,
                            column: 1,
                        }
                    }
                    Some(_) => pos.column += 1,
                    None => break,
                }
                at += 1;
            }
            out[i] = pos;
        }
        out
    }
}

impl Fix {
    /// Where the fix is in `text` (the text that was repaired).
    pub fn position(&self, text: &str) -> Position {
        Position::of_offsets(text, &[self.offset])[0]
    }
}

impl Repaired {
    /// Each fix as `line L, column C: what was done`, in the order of
    /// [`Repaired::fixes`]. `text` is the text that was repaired.
    pub fn describe_fixes(&self, text: &str) -> Vec<String> {
        describe(&self.fixes, text)
    }
}

/// [`Repaired::describe_fixes`] for any list of fixes of `text`.
pub fn describe(fixes: &[Fix], text: &str) -> Vec<String> {
    let offsets: Vec<usize> = fixes.iter().map(|f| f.offset).collect();
    Position::of_offsets(text, &offsets)
        .into_iter()
        .zip(fixes)
        .map(|(p, f)| format!("{p}: {}", f.kind))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let text = "ab\ncd\n\né";
        let p = Position::of_offsets(text, &[7, 0, 3, 4, 6, 99]);
        let lc: Vec<(usize, usize)> = p.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(lc, [(4, 1), (1, 1), (2, 1), (2, 2), (3, 1), (4, 2)]);
    }
}
