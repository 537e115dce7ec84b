//! `formwork repair`: malformed JSON from stdin, repaired (and, with
//! `--schema`, fitted to a schema) on stdout.

use crate::args::RepairArgs;
use crate::input::{read_text, schema_arg};
use crate::output::{note, Failure, Out};

pub fn command(a: RepairArgs) -> Result<(), Failure> {
    let RepairArgs {
        verbose,
        schema,
        salvage,
    } = a;
    use formwork::repair::{repair_with_schema, SchemaMode};
    let text = read_text(std::io::stdin().lock()).map_err(|e| format!("cannot read stdin: {e}"))?;
    let nothing = |e| format!("cannot repair: {e}");
    let (value, fixes, changes, violations) = match schema {
        Some(s) => {
            let mode = if salvage {
                SchemaMode::Salvage
            } else {
                SchemaMode::Standard
            };
            let schema = schema_arg(&s)?;
            let check = formwork::repair::SchemaCheck::new(&schema)
                .map_err(|e| format!("--schema {s}: {e}"))?;
            let r = repair_with_schema(&text, &schema, mode).map_err(nothing)?;
            let violations = check.violations(&r.value, 20);
            (r.value, r.fixes, r.changes, violations)
        }
        None => {
            let r = formwork::repair::repair(&text).map_err(nothing)?;
            (r.value, r.fixes, Vec::new(), Vec::new())
        }
    };
    if verbose {
        for f in formwork::repair::describe(&fixes, &text) {
            note!("fix: {f}");
        }
    }
    for c in &changes {
        note!("schema: {c}");
    }
    if !violations.is_empty() {
        for v in &violations {
            note!("does not fit the schema: {v}");
        }
        let hint = if salvage {
            ""
        } else {
            " (--salvage fills missing required properties that have a default, const or enum)"
        };
        return Err(format!(
            "the repaired value still does not fit the schema, so it is not printed; \
             fix the input or the schema{hint}"
        )
        .into());
    }
    let mut out = Out::new();
    out.line(serde_json::to_string_pretty(&value).unwrap())?;
    out.flush()
}
