//! Frontends: turn a user's constraint (a regex, JSON, a JSON Schema, a pest
//! grammar) into
//! the [`Grammar`](crate::grammar::Grammar) IR. Frontends never see tokens.

pub mod json;
pub mod pest;
pub mod regex;
pub mod schema;
