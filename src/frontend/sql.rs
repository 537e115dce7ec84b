//! Schema-aware SQL: restrict a SQL grammar's table and column names to
//! those of one database.
//!
//! [`SqlSchema::parse`] reads SQLite `CREATE TABLE` statements (the output of
//! `.schema`), and [`restrict_to_schema`] rewrites a grammar such as
//! `grammars/sql.pest`: its rule `table_name` becomes a choice of the
//! database's tables and its rule `column_name` a choice of their columns.
//! Names match in any ASCII case, as in SQLite; a name that is not a plain
//! identifier, or that is an SQL keyword, must be quoted with backquotes.
//!
//! This is a grammar transformation, so it works with any SQL grammar that
//! names those two rules, and everything downstream (masks, fuzzing,
//! generation) is unchanged. It cannot see scopes: a column of one table may
//! still be used in a query on another table. Fuzzed queries therefore
//! compile in SQLite only most of the time (see the README for the rate).
//!
//! ```
//! use formwork::frontend::sql::{restrict_to_schema, SqlSchema};
//! let schema = SqlSchema::parse("CREATE TABLE singer (id INTEGER PRIMARY KEY, name TEXT);").unwrap();
//! assert_eq!(schema.tables[0].columns, ["id", "name"]);
//! let mut g = formwork::pest_grammar(r#"
//!     q = { SOI ~ ^"select" ~ column_name ~ ^"from" ~ table_name ~ EOI }
//!     table_name = { ident }
//!     column_name = { ident }
//!     ident = @{ ASCII_ALPHA+ }
//!     WHITESPACE = _{ " " }
//! "#, None).unwrap();
//! restrict_to_schema(&mut g, &schema).unwrap();
//! assert!(formwork::CompiledGrammar::new(&g).is_ok());
//! ```

use crate::error::GrammarError;
use crate::grammar::{Expr, Grammar};

/// One table and its columns, in schema order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlTable {
    pub name: String,
    pub columns: Vec<String>,
}

/// The tables of a database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SqlSchema {
    pub tables: Vec<SqlTable>,
}

/// Words that must be quoted when used as names (the keywords of
/// `grammars/sql.pest`).
pub const KEYWORDS: &[&str] = &[
    "all",
    "and",
    "as",
    "asc",
    "between",
    "by",
    "case",
    "cast",
    "collate",
    "cross",
    "desc",
    "distinct",
    "else",
    "end",
    "escape",
    "except",
    "exists",
    "from",
    "full",
    "glob",
    "group",
    "having",
    "in",
    "inner",
    "intersect",
    "is",
    "join",
    "left",
    "like",
    "limit",
    "natural",
    "not",
    "null",
    "offset",
    "on",
    "or",
    "order",
    "outer",
    "right",
    "select",
    "then",
    "union",
    "using",
    "when",
    "where",
];

impl SqlSchema {
    /// Reads the `CREATE TABLE` statements of `ddl` (other statements are
    /// skipped). Table constraints (`PRIMARY KEY (...)`, `FOREIGN KEY`,
    /// `UNIQUE`, `CHECK`, `CONSTRAINT`) are not columns.
    pub fn parse(ddl: &str) -> Result<SqlSchema, GrammarError> {
        let mut tables = Vec::new();
        let lower = ddl.to_ascii_lowercase();
        let mut from = 0;
        while let Some(i) = lower[from..].find("create table") {
            let start = from + i + "create table".len();
            let open = ddl[start..]
                .find('(')
                .map(|j| start + j)
                .ok_or_else(|| GrammarError::SqlSchema("CREATE TABLE without '('".into()))?;
            let mut head = ddl[start..open].trim();
            if head.to_ascii_lowercase().starts_with("if not exists") {
                head = head["if not exists".len()..].trim();
            }
            let name = unquote(head);
            // Find the matching parenthesis, splitting items at top-level commas.
            let (mut depth, mut items, mut cur) = (0usize, Vec::new(), String::new());
            let mut end = None;
            let mut quote: Option<char> = None;
            for (k, c) in ddl[open..].char_indices() {
                if let Some(q) = quote {
                    if c == q {
                        quote = None;
                    }
                    cur.push(c);
                    continue;
                }
                match c {
                    '"' | '\'' | '`' => {
                        quote = Some(c);
                        cur.push(c);
                    }
                    '[' => {
                        quote = Some(']');
                        cur.push(c);
                    }
                    '(' => {
                        depth += 1;
                        if depth > 1 {
                            cur.push(c);
                        }
                    }
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            items.push(std::mem::take(&mut cur));
                            end = Some(open + k);
                            break;
                        }
                        cur.push(c);
                    }
                    ',' if depth == 1 => items.push(std::mem::take(&mut cur)),
                    _ => cur.push(c),
                }
            }
            let end = end.ok_or_else(|| {
                GrammarError::SqlSchema(format!("CREATE TABLE {name}: unbalanced parentheses"))
            })?;
            let mut columns = Vec::new();
            for item in items {
                let item = item.trim();
                let first = first_word(item);
                let kw = first.to_ascii_lowercase();
                if item.is_empty()
                    || ["primary", "foreign", "unique", "check", "constraint"]
                        .contains(&kw.as_str())
                {
                    continue;
                }
                columns.push(unquote(first));
            }
            if name.is_empty() || columns.is_empty() {
                return Err(GrammarError::SqlSchema(format!(
                    "CREATE TABLE {head:?} has no name or no columns"
                )));
            }
            tables.push(SqlTable { name, columns });
            from = end;
        }
        if tables.is_empty() {
            return Err(GrammarError::SqlSchema("no CREATE TABLE statement".into()));
        }
        Ok(SqlSchema { tables })
    }

    /// Every column name once, in schema order.
    pub fn all_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.tables {
            for c in &t.columns {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(c)) {
                    out.push(c.clone());
                }
            }
        }
        out
    }
}

/// The first word of a column definition (a quoted name counts as one word).
fn first_word(item: &str) -> &str {
    let close = match item.chars().next() {
        Some('"') => Some('"'),
        Some('`') => Some('`'),
        Some('[') => Some(']'),
        Some('\'') => Some('\''),
        _ => None,
    };
    match close {
        Some(q) => match item[1..].find(q) {
            Some(j) => &item[..j + 2],
            None => item,
        },
        None => item.split(|c: char| c.is_whitespace()).next().unwrap_or(""),
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() >= 2
        && matches!(
            (b[0], b[b.len() - 1]),
            (b'"', b'"') | (b'`', b'`') | (b'[', b']') | (b'\'', b'\'')
        )
    {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// Keywords that SQLite also accepts as plain names (its fallback tokens).
pub const FALLBACK_KEYWORDS: &[&str] =
    &["asc", "by", "cast", "desc", "end", "glob", "like", "offset"];

/// SQLite `CREATE TABLE` statements for a Spider `tables.json` record
/// (`table_names_original`, `column_names_original`, `column_types`): names
/// in double quotes, `number` columns `NUMERIC`, every other type `TEXT`.
/// The result reads back with [`SqlSchema::parse`].
///
/// ```
/// let record = serde_json::json!({
///     "table_names_original": ["singer"],
///     "column_names_original": [[-1, "*"], [0, "Singer_ID"], [0, "Name"]],
///     "column_types": ["text", "number", "text"],
/// });
/// let ddl = formwork::frontend::sql::spider_ddl(&record).unwrap();
/// assert_eq!(ddl, "CREATE TABLE \"singer\" (\"Singer_ID\" NUMERIC, \"Name\" TEXT);\n");
/// ```
pub fn spider_ddl(record: &serde_json::Value) -> Result<String, GrammarError> {
    let bad = |what: &str| GrammarError::SqlSchema(format!("Spider tables record: {what}"));
    let tables = record["table_names_original"]
        .as_array()
        .ok_or_else(|| bad("no table_names_original array"))?;
    let columns = record["column_names_original"]
        .as_array()
        .ok_or_else(|| bad("no column_names_original array"))?;
    let types = record["column_types"]
        .as_array()
        .ok_or_else(|| bad("no column_types array"))?;
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); tables.len()];
    for (c, ty) in columns.iter().zip(types) {
        let (Some(t), Some(name)) = (c[0].as_i64(), c[1].as_str()) else {
            return Err(bad("a column is not [table index, name]"));
        };
        if t < 0 {
            continue; // the `*` pseudo-column
        }
        let list = cols
            .get_mut(t as usize)
            .ok_or_else(|| bad("column of a table index out of range"))?;
        let ty = if ty.as_str() == Some("number") {
            "NUMERIC"
        } else {
            "TEXT"
        };
        list.push(format!("\"{}\" {ty}", name.replace('"', "\"\"")));
    }
    let mut out = String::new();
    for (t, cols) in tables.iter().zip(cols) {
        let name = t
            .as_str()
            .ok_or_else(|| bad("a table name is not a string"))?;
        out.push_str(&format!(
            "CREATE TABLE \"{}\" ({});\n",
            name.replace('"', "\"\""),
            cols.join(", ")
        ));
    }
    Ok(out)
}

/// How `name` is written in a query: as it is if it is a plain identifier
/// and not a keyword, else in backquotes.
pub fn sql_name(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain && !KEYWORDS.contains(&name.to_ascii_lowercase().as_str()) {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

/// Replaces the rules `table_name` and `column_name` of `g` by choices of
/// the schema's tables and columns.
///
/// If the grammar also has a rule `function_name`, it becomes SQLite's
/// built-in functions ([`SQLITE_FUNCTIONS`]). Qualifiers (`T1` in `T1.col`)
/// stay free: they may be table aliases.
pub fn restrict_to_schema(g: &mut Grammar, schema: &SqlSchema) -> Result<(), GrammarError> {
    let tables: Vec<String> = schema.tables.iter().map(|t| t.name.clone()).collect();
    replace_rule(g, "table_name", &tables)?;
    replace_rule(g, "column_name", &schema.all_columns())?;
    if g.rules.iter().any(|(n, _)| n == "function_name") {
        let f: Vec<String> = SQLITE_FUNCTIONS.iter().map(|s| s.to_string()).collect();
        replace_rule(g, "function_name", &f)?;
    }
    Ok(())
}

/// SQLite's aggregate and core scalar functions that take one argument or
/// more (the names a schema-aware grammar allows in calls).
pub const SQLITE_FUNCTIONS: &[&str] = &[
    "abs",
    "avg",
    "char",
    "coalesce",
    "count",
    "date",
    "datetime",
    "group_concat",
    "hex",
    "ifnull",
    "iif",
    "instr",
    "julianday",
    "length",
    "lower",
    "ltrim",
    "max",
    "min",
    "nullif",
    "printf",
    "quote",
    "replace",
    "round",
    "rtrim",
    "strftime",
    "substr",
    "sum",
    "time",
    "total",
    "trim",
    "typeof",
    "unicode",
    "upper",
];

fn ascii_case_insensitive(text: &str) -> String {
    let mut re = String::new();
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            re.push_str(&format!(
                "[{}{}]",
                c.to_ascii_lowercase(),
                c.to_ascii_uppercase()
            ));
        } else {
            re.push_str(&regex_syntax::escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    re
}

fn replace_rule(g: &mut Grammar, rule: &str, names: &[String]) -> Result<(), GrammarError> {
    if !g.rules.iter().any(|(n, _)| n == rule) {
        return Err(GrammarError::SqlSchema(format!(
            "the grammar has no rule {rule:?} to restrict; name the rule of table names \
             `table_name` and the rule of column names `column_name`"
        )));
    }
    g.rules.retain(|(n, _)| n != rule);
    // SQLite matches names case-insensitively (ASCII), and so does the grammar.
    let mut alts = Vec::new();
    for n in names {
        alts.push(Expr::regex(ascii_case_insensitive(&sql_name(n))));
        // SQLite also takes its fallback keywords (a table named CAST) bare.
        if FALLBACK_KEYWORDS.contains(&n.to_ascii_lowercase().as_str()) {
            alts.push(Expr::regex(ascii_case_insensitive(n)));
        }
    }
    g.rule(rule, Expr::choice(alts));
    Ok(())
}
