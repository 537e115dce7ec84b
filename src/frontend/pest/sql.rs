//! Schema-aware SQL, a pass over pest grammars: restrict a SQL grammar's
//! table and column names to those of one database.
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
//! use formwork::sql::{restrict_to_schema, SqlSchema};
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
pub(crate) const KEYWORDS: &[&str] = &[
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
pub(crate) const FALLBACK_KEYWORDS: &[&str] =
    &["asc", "by", "cast", "desc", "end", "glob", "like", "offset"];

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
/// built-in functions ([`SQLITE_FUNCTIONS`]); a rule `function_call` (with a
/// rule `expr` for arguments) becomes their calls with the numbers of
/// arguments SQLite accepts. Qualifiers (`T1` in `T1.col`) stay free: they
/// may be table aliases.
pub fn restrict_to_schema(g: &mut Grammar, schema: &SqlSchema) -> Result<(), GrammarError> {
    let tables: Vec<String> = schema.tables.iter().map(|t| t.name.clone()).collect();
    replace_rule(g, "table_name", &tables)?;
    replace_rule(g, "column_name", &schema.all_columns())?;
    if g.rules.iter().any(|(n, _)| n == "function_name") {
        let f: Vec<String> = SQLITE_FUNCTIONS.iter().map(|s| s.to_string()).collect();
        replace_rule(g, "function_name", &f)?;
    }
    let has = |g: &Grammar, rule: &str| g.rules.iter().any(|(n, _)| n == rule);
    if has(g, "function_call") && has(g, "expr") {
        let nullary = has(g, "nullary_function");
        g.rules.retain(|(n, _)| n != "function_call");
        g.rule("function_call", function_calls(nullary));
    }
    Ok(())
}

/// Calls of [`SQLITE_FUNCTIONS`] with the numbers of arguments SQLite takes
/// (`DISTINCT` and `*` only where SQLite allows them): `avg(*)` or
/// `substr(x)` pass a grammar that knows only names, and fail in SQLite.
/// Arguments are the grammar's rule `expr`; `nullary` adds
/// `nullary_function()`.
fn function_calls(nullary: bool) -> Expr {
    let kw = |s: &str| Expr::regex(ascii_case_insensitive(s));
    let names = |list: &[&str]| Expr::choice(list.iter().map(|n| kw(n)));
    let e = || Expr::rule("expr");
    // `min` to `max` arguments, `min >= 1`.
    let args = |min: u32, max: Option<u32>| {
        Expr::seq([
            e(),
            Expr::repeat(
                Expr::seq([Expr::literal(","), e()]),
                min - 1,
                max.map(|m| m - 1),
            ),
        ])
    };
    let distinct_one = || Expr::seq([Expr::optional(kw("distinct")), e()]);
    let call = |f: Expr, inner: Expr| Expr::seq([f, Expr::literal("("), inner, Expr::literal(")")]);
    let mut calls = vec![
        call(
            kw("count"),
            Expr::choice([Expr::literal("*"), distinct_one()]),
        ),
        call(names(&["avg", "sum", "total"]), distinct_one()),
        // The aggregate (one argument) or the scalar (two or more).
        call(
            names(&["min", "max"]),
            Expr::choice([distinct_one(), args(2, None)]),
        ),
        call(
            kw("group_concat"),
            Expr::choice([distinct_one(), args(2, Some(2))]),
        ),
        call(
            names(&[
                "abs", "hex", "length", "lower", "upper", "quote", "typeof", "unicode",
            ]),
            args(1, Some(1)),
        ),
        call(
            names(&[
                "char",
                "printf",
                "date",
                "time",
                "datetime",
                "julianday",
                "strftime",
            ]),
            args(1, None),
        ),
        call(kw("coalesce"), args(2, None)),
        call(names(&["ifnull", "nullif", "instr"]), args(2, Some(2))),
        call(names(&["iif", "replace"]), args(3, Some(3))),
        call(kw("substr"), args(2, Some(3))),
        call(
            names(&["round", "trim", "ltrim", "rtrim"]),
            args(1, Some(2)),
        ),
    ];
    if nullary {
        calls.push(Expr::seq([
            Expr::rule("nullary_function"),
            Expr::literal("("),
            Expr::literal(")"),
        ]));
    }
    Expr::choice(calls)
}

/// Restricts `g`, already passed through [`restrict_to_schema`], to
/// single-table `SELECT`s whose column references all name columns of the
/// table in `FROM`: the queries that compile against the schema for sure as
/// far as names go.
///
/// A context-free grammar cannot check that `SELECT name FROM t` uses a
/// column of `t` (the column comes first). It can if it holds one copy of the
/// `SELECT` per table: `select_stmt` becomes a choice of `select_stmt` for
/// table 1, for table 2, ..., each with `column_name` restricted to that
/// table's columns, `qualifier` to its name and `from_clause` to
/// `FROM table`. The Earley parser keeps every copy whose columns fit alive
/// until `FROM` picks one. Subqueries (`IN (SELECT ...)`) are scoped the same
/// way, each on its own. Left out: joins, table aliases, compound queries
/// (`UNION`, ...), subqueries in `FROM` and queries without `FROM`. Still
/// possible: SQLite's checks beyond names (an aggregate inside `WHERE`).
///
/// The grammar must name the rules `query` (every query, subqueries
/// included), `select_stmt` (one `SELECT` with its `ORDER BY` and `LIMIT`),
/// `from_clause`, `column_name` and `qualifier`, as `grammars/sql.pest` does.
pub fn scope_to_tables(g: &mut Grammar, schema: &SqlSchema) -> Result<(), GrammarError> {
    const SCOPED: [&str; 3] = ["column_name", "qualifier", "from_clause"];
    for need in [
        "query",
        "select_stmt",
        "from_clause",
        "column_name",
        "qualifier",
    ] {
        if !g.rules.iter().any(|(n, _)| n == need) {
            return Err(GrammarError::SqlSchema(format!(
                "the grammar has no rule {need:?}; scoping needs the rules query, select_stmt, \
                 from_clause, column_name and qualifier (see grammars/sql.pest)"
            )));
        }
    }
    if schema.tables.is_empty() {
        return Err(GrammarError::SqlSchema("the schema has no table".into()));
    }
    // Rules that reach a scoped rule without going through `query` (a
    // subquery has a scope of its own).
    let mut reaches: std::collections::HashSet<String> =
        SCOPED.iter().map(|s| s.to_string()).collect();
    loop {
        let before = reaches.len();
        for (name, e) in &g.rules {
            if name != "query" && !reaches.contains(name) && refers_to(e, &reaches) {
                reaches.insert(name.clone());
            }
        }
        if reaches.len() == before {
            break;
        }
    }
    // Of those, the ones under `select_stmt`.
    let mut copied: std::collections::BTreeSet<String> = Default::default();
    let mut work = vec!["select_stmt".to_string()];
    while let Some(r) = work.pop() {
        if SCOPED.contains(&r.as_str()) || !copied.insert(r.clone()) {
            continue;
        }
        for (name, e) in &g.rules {
            if *name == r {
                let mut refs = Vec::new();
                collect_rules(e, &mut refs);
                work.extend(
                    refs.into_iter()
                        .filter(|x| x != "query" && reaches.contains(x)),
                );
            }
        }
    }
    let originals: Vec<(String, Expr)> = g
        .rules
        .iter()
        .filter(|(n, _)| copied.contains(n))
        .cloned()
        .collect();
    let mut scoped_queries = Vec::new();
    for (i, table) in schema.tables.iter().enumerate() {
        if table.columns.is_empty() {
            continue;
        }
        let suffix = format!("@table{i}");
        let rename =
            |n: &str| (copied.contains(n) || SCOPED.contains(&n)).then(|| format!("{n}{suffix}"));
        for (name, e) in &originals {
            g.rules
                .push((format!("{name}{suffix}"), rename_rules(e, &rename)));
        }
        let columns: Vec<Expr> = table
            .columns
            .iter()
            .map(|c| Expr::regex(ascii_case_insensitive(&sql_name(c))))
            .collect();
        let table_name = Expr::regex(ascii_case_insensitive(&sql_name(&table.name)));
        g.rules
            .push((format!("column_name{suffix}"), Expr::choice(columns)));
        g.rules
            .push((format!("qualifier{suffix}"), table_name.clone()));
        g.rules.push((
            format!("from_clause{suffix}"),
            Expr::seq([Expr::regex(ascii_case_insensitive("from")), table_name]),
        ));
        scoped_queries.push(Expr::rule(format!("select_stmt{suffix}")));
    }
    g.rules.retain(|(n, _)| n != "query");
    g.rules.push(("query".into(), Expr::choice(scoped_queries)));
    Ok(())
}

/// Whether `e` refers to one of `rules`.
fn refers_to(e: &Expr, rules: &std::collections::HashSet<String>) -> bool {
    let mut refs = Vec::new();
    collect_rules(e, &mut refs);
    refs.iter().any(|r| rules.contains(r))
}

/// The rules `e` refers to.
fn collect_rules(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Rule(r) => out.push(r.clone()),
        Expr::Seq(v) | Expr::Choice(v) => v.iter().for_each(|x| collect_rules(x, out)),
        Expr::Repeat { expr, .. } => collect_rules(expr, out),
        Expr::AnyOrder {
            members, separator, ..
        } => {
            members.iter().for_each(|x| collect_rules(x, out));
            collect_rules(separator, out);
        }
        Expr::Empty
        | Expr::Regex(_)
        | Expr::Literal(_)
        | Expr::JsonStrings(_)
        | Expr::Intersect { .. } => {}
    }
}

/// `e` with each rule reference `r` for which `rename(r)` is `Some` renamed,
/// and an optional `from_clause` made mandatory (column references need
/// their table).
fn rename_rules(e: &Expr, rename: &dyn Fn(&str) -> Option<String>) -> Expr {
    match e {
        Expr::Repeat {
            expr,
            min: 0,
            max: Some(1),
        } if matches!(&**expr, Expr::Rule(r) if r == "from_clause") => rename_rules(expr, rename),
        Expr::Rule(r) => Expr::Rule(rename(r).unwrap_or_else(|| r.clone())),
        Expr::Seq(v) => Expr::Seq(v.iter().map(|x| rename_rules(x, rename)).collect()),
        Expr::Choice(v) => Expr::Choice(v.iter().map(|x| rename_rules(x, rename)).collect()),
        Expr::Repeat { expr, min, max } => Expr::Repeat {
            expr: Box::new(rename_rules(expr, rename)),
            min: *min,
            max: *max,
        },
        Expr::AnyOrder {
            members,
            required,
            separator,
            count,
        } => Expr::AnyOrder {
            members: members.iter().map(|x| rename_rules(x, rename)).collect(),
            required: required.clone(),
            separator: Box::new(rename_rules(separator, rename)),
            count: count.clone(),
        },
        other => other.clone(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_function_has_an_arity() {
        let calls = format!("{:?}", function_calls(true));
        for f in SQLITE_FUNCTIONS {
            let re = ascii_case_insensitive(f);
            assert!(calls.contains(&format!("{re:?}")), "{f} has no call form");
        }
    }
}
