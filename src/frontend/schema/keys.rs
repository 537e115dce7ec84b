//! Property keys against `patternProperties` patterns: a pattern as key
//! regexes (leading lookaheads as intersections and exclusions), whether a
//! key matches, the complement of a pattern, and a key lexeme.

use super::context::{unsupported, StrRule, R};
use super::string::{drop_trailing_lookahead, split_leading_lookaheads};
use crate::error::GrammarError;
use crate::grammar::Expr;
use crate::lexer::DfaCache;

/// A key lexeme: the intersection of `all` minus `except`.
pub(super) fn key_lexeme(mut all: Vec<String>, mut except: Vec<String>) -> Expr {
    all.sort();
    all.dedup();
    except.sort();
    except.dedup();
    if all.len() == 1 && except.is_empty() {
        Expr::regex(all.pop().unwrap())
    } else {
        Expr::Intersect { all, except }
    }
}

/// A `patternProperties` pattern as key regexes: a key matches when it
/// matches every regex of the first list and none of the second (a pattern
/// starting with lookaheads, see [`split_leading_lookaheads`]; otherwise
/// one regex and no exclusion).
pub(super) fn key_pattern(p: &str, ptr: &str) -> R<(Vec<String>, Vec<String>)> {
    let plain = drop_trailing_lookahead(p);
    let p = plain.as_deref().unwrap_or(p);
    let rx = |p: String| -> R<String> {
        Ok(StrRule::Pattern(p)
            .regexes(ptr)?
            .and_then(|mut v| v.pop())
            .unwrap_or_default())
    };
    match split_leading_lookaheads(p) {
        None => Ok((vec![rx(p.to_string())?], Vec::new())),
        Some((rest, pos, neg)) => {
            let mut all = vec![rx(format!("^{rest}"))?];
            for a in pos {
                all.push(rx(format!("^(?:{a})"))?);
            }
            let except = neg
                .into_iter()
                .map(|b| rx(format!("^(?:{b})")))
                .collect::<R<_>>()?;
            Ok((all, except))
        }
    }
}

/// Whether the string token `token` matches a [`key_pattern`].
/// `dfas` caches the patterns' DFAs (see [`token_matches`]).
pub(super) fn key_matches(
    all: &[String],
    except: &[String],
    token: &str,
    ptr: &str,
    dfas: &DfaCache,
) -> R<bool> {
    if !token_matches(all, token, ptr, dfas)? {
        return Ok(false);
    }
    for b in except {
        if token_matches(std::slice::from_ref(b), token, ptr, dfas)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The keys that do not match a [`key_pattern`], as disjoint (all,
/// except) alternatives: `¬(A₁ ∧ A₂ ∧ ¬B)` is `¬A₁`, `A₁ ∧ ¬A₂` or
/// `A₁ ∧ A₂ ∧ B`.
pub(super) fn key_pattern_complement(
    all: &[String],
    except: &[String],
) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    for i in 0..all.len() {
        out.push((all[..i].to_vec(), vec![all[i].clone()]));
    }
    for j in 0..except.len() {
        let mut a = all.to_vec();
        a.push(except[j].clone());
        out.push((a, except[..j].to_vec()));
    }
    out
}

/// Whether the JSON string token `token` matches every regex of `rx`.
/// The DFAs come from `dfas`, the compile's own cache: the same key
/// patterns are checked against many keys and branches.
pub(super) fn token_matches(rx: &[String], token: &str, ptr: &str, dfas: &DfaCache) -> R<bool> {
    use crate::lexer::{LexemeDfa, DEAD};
    for r in rx {
        let dfa = match LexemeDfa::new(r, dfas) {
            Ok(d) => d,
            Err(GrammarError::EmptyRegex { .. }) => return Ok(false),
            Err(e) => {
                return Err(unsupported(
                    ptr,
                    format!("pattern too large to evaluate: {e}"),
                ))
            }
        };
        let mut s = dfa.start;
        for b in token.bytes() {
            s = dfa.next(s, b);
            if s == DEAD {
                return Ok(false);
            }
        }
        if !dfa.is_accepting(s) {
            return Ok(false);
        }
    }
    Ok(true)
}
