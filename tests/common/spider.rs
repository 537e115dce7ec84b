//! The Spider text-to-SQL dataset's schemas as SQLite DDL, for the SQL
//! tests and the `spider_sql` example (which includes this file with
//! `#[path]`): Spider describes each database as a `tables.json` record,
//! and formwork's SQL pass reads `CREATE TABLE` statements.

use formwork::GrammarError;

/// SQLite `CREATE TABLE` statements for a Spider `tables.json` record
/// (`table_names_original`, `column_names_original`, `column_types`): names
/// in double quotes, `number` columns `NUMERIC`, every other type `TEXT`.
/// The result reads back with `SqlSchema::parse`. SQLite's own tables
/// (`sqlite_sequence`, which Spider lists for databases that use
/// `AUTOINCREMENT`) are left out: SQLite refuses to create them, and a query
/// has no business naming them.
///
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
        if name.to_ascii_lowercase().starts_with("sqlite_") {
            continue;
        }
        out.push_str(&format!(
            "CREATE TABLE \"{}\" ({});\n",
            name.replace('"', "\"\""),
            cols.join(", ")
        ));
    }
    Ok(out)
}
