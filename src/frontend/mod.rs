//! Frontends: turn a user's constraint (a regex, JSON, a JSON Schema, a pest
//! GBNF, EBNF or Lark grammar) into
//! the [`Grammar`](crate::grammar::Grammar) IR. Frontends never see tokens.

pub(crate) mod embed;
pub(crate) mod gbnf;
pub(crate) mod json;
pub(crate) mod lark;
pub(crate) mod pest;
pub(crate) mod regex;
pub(crate) mod regular;
pub(crate) mod schema;
pub(crate) mod structural;
