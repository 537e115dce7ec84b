//! From the command line's constraint flags (and the benchmark's case
//! kinds) to a [`Grammar`]: the one place where a constraint's kind picks its
//! frontend.

use crate::args::{ConstraintArgs, SchemaFlags};
use crate::input::{read_file, schema_arg};
use crate::output::note;
use formwork::grammar::Grammar;
use formwork::{
    json_error_message, json_schema, json_schema_lenient, FormatMode, GrammarError, PropertyOrder,
    SchemaOptions, Spelling, Whitespace,
};

/// A constraint of one of the kinds formwork compiles.
pub enum Source<'a> {
    /// A regex the whole output must match.
    Regex(&'a str),
    /// A JSON Schema; `lenient` leaves out (with a warning on stderr) the
    /// keywords that cannot be enforced instead of failing.
    JsonSchema {
        schema: &'a serde_json::Value,
        options: &'a SchemaOptions,
        lenient: bool,
    },
    /// A pest grammar's text and its start rule (default: the first rule).
    Pest {
        text: &'a str,
        start: Option<&'a str>,
    },
    /// A GBNF grammar's text and its start rule (default: `root`).
    Gbnf {
        text: &'a str,
        start: Option<&'a str>,
    },
    /// A Lark grammar's text (llguidance's dialect; start rule `start`).
    Lark(&'a str),
    /// An XGrammar EBNF grammar's text and its start rule (default `root`).
    Ebnf {
        text: &'a str,
        start: Option<&'a str>,
    },
    /// An XGrammar structural tag.
    StructuralTag(&'a serde_json::Value),
}

/// The benchmark's names of the kinds, as in its case files.
pub const KIND_NAMES: &str = "regex, json_schema, pest, gbnf, lark, ebnf, structural_tag";

/// The grammar of a constraint.
pub fn grammar(source: Source) -> Result<Grammar, GrammarError> {
    match source {
        Source::Regex(r) => formwork::regex_grammar(r),
        Source::JsonSchema {
            schema,
            options,
            lenient: true,
        } => json_schema_lenient(schema, options).map(|(g, warnings)| {
            for w in warnings {
                note!(
                    "formwork: warning: {}",
                    crate::wording::cli_warning(&w.to_string())
                );
            }
            g
        }),
        Source::JsonSchema {
            schema, options, ..
        } => json_schema(schema, options),
        Source::Pest { text, start } => formwork::pest_grammar(text, start),
        Source::Gbnf { text, start } => {
            formwork::gbnf_grammar_rooted(text, start.unwrap_or("root"))
        }
        Source::Lark(text) => formwork::lark_grammar(text),
        Source::Ebnf { text, start } => formwork::ebnf_grammar(text, start.unwrap_or("root")),
        Source::StructuralTag(tag) => formwork::structural_tag_grammar(tag),
    }
}

impl SchemaFlags {
    /// Options for checking documents (mask, bench) or for generating.
    pub fn options(&self, default_ws: Whitespace) -> Result<SchemaOptions, String> {
        let checking = default_ws == Whitespace::Flexible;
        let mut remote = std::collections::BTreeMap::new();
        for r in &self.remote {
            let (uri, file) = r
                .split_once('=')
                .ok_or_else(|| format!("--remote {r:?}: expected URI=FILE"))?;
            let text = read_file(file).map_err(|e| format!("--remote {file}: {e}"))?;
            let doc: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("--remote {file}: {}", json_error_message(&e)))?;
            remote.insert(uri.to_string(), doc);
        }
        Ok(SchemaOptions {
            remote,
            property_order: match self.property_order.as_deref() {
                Some("any") => PropertyOrder::Any,
                Some(_) => PropertyOrder::Schema,
                None if checking => PropertyOrder::Any,
                None => PropertyOrder::Schema,
            },
            whitespace: match self.whitespace.as_deref() {
                Some("compact") => Whitespace::Compact,
                Some("flexible") => Whitespace::Flexible,
                _ => default_ws,
            },
            max_whitespace: self.max_whitespace,
            spelling: match self.spelling.as_deref() {
                Some("any") => Spelling::Any,
                Some(_) => Spelling::Canonical,
                None if checking => Spelling::Any,
                None => Spelling::Canonical,
            },
            format: if self.format == "annotate" {
                FormatMode::Annotate
            } else {
                FormatMode::Assert
            },
        })
    }
}

impl ConstraintArgs {
    /// The constraint's grammar, or `None` if no constraint was given.
    /// `default_ws`: JSON whitespace unless `--whitespace` says otherwise.
    pub fn grammar(&self, default_ws: Whitespace) -> Result<Option<Grammar>, String> {
        let start = self.start.as_deref();
        if let Some(arg) = &self.structural_tag {
            let tag = schema_arg(arg)?;
            return grammar(Source::StructuralTag(&tag))
                .map(Some)
                .map_err(|e| e.to_string());
        }
        for (path, kind) in [
            (&self.gbnf, "gbnf"),
            (&self.lark, "lark"),
            (&self.ebnf, "ebnf"),
        ] {
            let Some(path) = path else { continue };
            let text =
                read_file(path).map_err(|e| format!("cannot read grammar file {path}: {e}"))?;
            let source = match kind {
                "gbnf" => Source::Gbnf { text: &text, start },
                "lark" => Source::Lark(&text),
                _ => Source::Ebnf { text: &text, start },
            };
            return grammar(source)
                .map(Some)
                .map_err(|e| format!("{path}: {e}"));
        }
        let g = match (&self.schema, &self.regex, &self.grammar) {
            (Some(s), None, None) => grammar(Source::JsonSchema {
                schema: &schema_arg(s)?,
                options: &self.schema_flags.options(default_ws)?,
                lenient: self.schema_flags.lenient,
            }),
            (None, Some(r), None) => grammar(Source::Regex(r)),
            (None, None, Some(path)) => {
                let text =
                    read_file(path).map_err(|e| format!("cannot read grammar file {path}: {e}"))?;
                let mut g = grammar(Source::Pest {
                    text: &text,
                    start: self.start.as_deref(),
                })
                .map_err(|e| format!("{path}: {e}"))?;
                if let Some(ddl) = &self.sql_schema {
                    use formwork::sql::{restrict_to_schema, scope_to_tables, SqlSchema};
                    let ddl = read_file(ddl)
                        .map_err(|e| format!("cannot read SQL schema file {ddl}: {e}"))?;
                    let schema = SqlSchema::parse(&ddl).map_err(|e| e.to_string())?;
                    restrict_to_schema(&mut g, &schema).map_err(|e| e.to_string())?;
                    if self.sql_scoped {
                        scope_to_tables(&mut g, &schema).map_err(|e| e.to_string())?;
                    }
                }
                Ok(g)
            }
            (None, None, None) => return Ok(None),
            _ => return Err("give at most one of --schema, --regex, --grammar".into()),
        };
        g.map(Some).map_err(|e| e.to_string())
    }
}
