//! Frontends: turn a user's constraint (a regex, JSON, a JSON Schema) into
//! the [`Grammar`](crate::grammar::Grammar) IR. Frontends never see tokens.

pub mod json;
pub mod number_regex;
pub mod regex;
pub mod schema;
mod schema_ids;
pub mod string_regex;
