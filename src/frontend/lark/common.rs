//! Lark's `common` terminals (`common.lark`), as regexes.

/// The regex of common terminal `name`.
pub(super) fn terminal(name: &str) -> Option<&'static str> {
    Some(match name {
        "DIGIT" => "[0-9]",
        "HEXDIGIT" => "[0-9a-fA-F]",
        "INT" => "[0-9]+",
        "SIGNED_INT" => "[+-]?[0-9]+",
        "DECIMAL" => r"[0-9]+\.[0-9]*|\.[0-9]+",
        "_EXP" => "[eE][+-]?[0-9]+",
        "FLOAT" => r"[0-9]+[eE][+-]?[0-9]+|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?",
        "SIGNED_FLOAT" => {
            r"[+-]?(?:[0-9]+[eE][+-]?[0-9]+|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
        }
        "NUMBER" => r"[0-9]+[eE][+-]?[0-9]+|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+",
        "SIGNED_NUMBER" => {
            r"[+-]?(?:[0-9]+[eE][+-]?[0-9]+|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+)"
        }
        "ESCAPED_STRING" => r#""(?:[^"\\\n]|\\.)*""#,
        "LCASE_LETTER" => "[a-z]",
        "UCASE_LETTER" => "[A-Z]",
        "LETTER" => "[A-Za-z]",
        "WORD" => "[A-Za-z]+",
        "CNAME" => "[_A-Za-z][_A-Za-z0-9]*",
        "WS_INLINE" => "[ \t]+",
        "WS" => "[ \t\x0C\r\n]+",
        "CR" => "\r",
        "LF" => "\n",
        "NEWLINE" => "(?:\r?\n)+",
        "SH_COMMENT" => "#[^\n]*",
        "CPP_COMMENT" => "//[^\n]*",
        "C_COMMENT" => r"/\*(?:[^*]|\*+[^*/])*\*+/",
        "SQL_COMMENT" => "--[^\n]*",
        _ => return None,
    })
}
