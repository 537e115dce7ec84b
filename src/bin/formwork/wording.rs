//! Library errors in the command line's words.
//!
//! The library's messages name its own API where they suggest a remedy
//! (`FormatMode::Annotate`, `SchemaOptions::remote`, `Budget::compile`), as
//! a library user needs. On the command line the same remedy is a flag, so
//! each such phrase is replaced by the flag that does the same; the rest of
//! the message, and the exit code, stay as they are.

use formwork::Stage;

/// Library phrases and their command-line wording (besides the budget
/// stages, which [`cli_message`] takes from [`Stage::knob`]).
const PHRASES: &[(&str, &str)] = &[
    // A `format` the schema frontend cannot enforce exactly.
    (
        "use FormatMode::Annotate to ignore formats",
        "use --format annotate to ignore formats, or --lenient to leave this one out",
    ),
    (
        "use FormatMode::Annotate",
        "use --format annotate to ignore formats, or --lenient to leave this one out",
    ),
    // A `$ref` into a document that is not in the schema.
    (
        "supply it in `SchemaOptions::remote` (CLI: `--remote URI=FILE`)",
        "supply it with `--remote URI=FILE`",
    ),
];

/// The part of the format remedy that a warning of `--lenient`, which has
/// already left the keyword out, does not need.
const LENIENT_REMEDY: &str = ", or --lenient to leave this one out";

/// A `--lenient` warning in the command line's words.
pub fn cli_warning(message: &str) -> String {
    cli_message(message).replace(LENIENT_REMEDY, "")
}

/// The flag that raises a stage's work budget.
fn budget_flag(stage: Stage) -> &'static str {
    match stage {
        Stage::Compile => "--compile-budget",
        Stage::Mask => "--mask-budget",
        Stage::Completion => "--completion-budget",
    }
}

/// `message` with every library remedy replaced by its flag.
pub fn cli_message(message: &str) -> String {
    let mut m = message.to_string();
    for (library, cli) in PHRASES {
        m = m.replace(library, cli);
    }
    for stage in [Stage::Compile, Stage::Mask, Stage::Completion] {
        m = m.replace(stage.knob(), budget_flag(stage));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remedies_become_flags() {
        let m = cli_message(
            "format \"idn-email\" cannot be enforced exactly (use FormatMode::Annotate)",
        );
        assert!(
            m.contains("(use --format annotate") && !m.contains("FormatMode"),
            "{m}"
        );
        let m = cli_message("raise the budget (Budget::compile, CLI --compile-budget) or");
        assert_eq!(m, "raise the budget (--compile-budget) or");
        let m = cli_message("supply it in `SchemaOptions::remote` (CLI: `--remote URI=FILE`)");
        assert_eq!(m, "supply it with `--remote URI=FILE`");
    }
}
