//! Character classes of the repair parser.

/// A C0 control character other than tab, newline, carriage return,
/// backspace and form feed (which JSON strings escape as `\t` … `\f`).
pub(super) fn is_binary_control(c: char) -> bool {
    (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r' | '\u{8}' | '\u{c}')
}

pub(super) fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\r' | '\u{a0}' | '\u{180e}' | '\u{2000}'
            ..='\u{200b}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

pub(super) fn is_double_quote_like(c: char) -> bool {
    matches!(c, '"' | '\u{201c}' | '\u{201d}')
}

pub(super) fn is_single_quote_like(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '`' | '\u{b4}')
}

pub(super) fn is_quote(c: char) -> bool {
    is_double_quote_like(c) || is_single_quote_like(c)
}

/// Characters that end a value or separate tokens.
pub(super) fn is_delimiter(c: char) -> bool {
    matches!(
        c,
        ',' | ':' | '[' | ']' | '/' | '{' | '}' | '(' | ')' | '\n' | '+'
    )
}

/// Characters that end an unquoted string (besides quotes).
pub(super) fn is_unquoted_delimiter(c: char) -> bool {
    matches!(c, ',' | '[' | ']' | '{' | '}' | '\n' | '+')
}

pub(super) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$'
}

pub(super) fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

pub(super) fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#@!$&'()*+;=%".contains(c)
}

pub(super) fn is_value_start(c: char) -> bool {
    is_quote(c)
        || c.is_ascii_digit()
        || matches!(c, '{' | '[' | '(' | '-' | '.')
        || c.is_alphabetic()
        || c == '_'
        || c == '$'
}
