//! Scalars: strings (lengths, patterns, formats, exclusions), numbers
//! (bounds and steps through [`super::number`]), and `enum`/`const` values
//! spelled in every JSON spelling.

use super::context::{invalid, unsupported, Node, NumKind, R};
use super::keys::token_matches;
use super::number::{
    number_regex, value_regex, Decimal, Keyword, NumberConstraint, MAX_BOUND_DIGITS,
    MAX_BOUND_MAGNITUDE,
};
use super::options::{
    MAX_ENUM_OBJECT_KEYS, MAX_PLAIN_STRING_BOUND, MAX_STRING_BOUND, PLAIN_INTEGER,
};
use crate::frontend::json::{NUMBER, STRING};
use crate::grammar::{json_strings_key, spell_json_string as spell_string, Expr, MAX_COUNTED_ONCE};
use crate::lexer::DfaCache;
use serde_json::Value;
/// Whether the string `s` satisfies a node (its string keywords).
pub(super) fn string_ok(n: &Node, s: &str, dfas: &DfaCache) -> R<bool> {
    let v = Value::String(s.to_string());
    if !n.string || n.not_values.contains(&v) {
        return Ok(false);
    }
    if n.values.as_ref().is_some_and(|vals| !vals.contains(&v)) {
        return Ok(false);
    }
    let len = s.chars().count() as u64;
    if len < n.min_len || n.max_len.is_some_and(|m| len > m) {
        return Ok(false);
    }
    let token = serde_json::to_string(s).unwrap_or_default();
    for (ptr, rule) in &n.patterns {
        if let Some(rx) = rule.regexes(ptr)? {
            if !token_matches(&rx, &token, ptr, dfas)? {
                return Ok(false);
            }
        }
    }
    for (ptr, rule) in &n.not_patterns {
        if let Some(rx) = rule.regexes(ptr)? {
            if token_matches(&rx, &token, ptr, dfas)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The string lexeme: length bounds, patterns, and the exclusions `except`
/// (regexes of excluded spellings) intersected.
pub(super) fn string_expr(n: &Node, except: Vec<String>, dfas: &DfaCache) -> R<Option<Expr>> {
    Ok(string_parts(n, except, dfas)?.map(|(mut all, except)| {
        if all.len() == 1 && except.is_empty() {
            Expr::regex(all.pop().unwrap())
        } else {
            Expr::Intersect { all, except }
        }
    }))
}

/// The regexes whose intersection, minus `except`, is the node's strings.
pub(super) fn string_parts(
    n: &Node,
    mut except: Vec<String>,
    dfas: &DfaCache,
) -> R<Option<(Vec<String>, Vec<String>)>> {
    if !n.string || n.max_len.is_some_and(|m| m < n.min_len) {
        return Ok(None);
    }
    if let Some(vals) = &n.values {
        // A finite set: the values that qualify, as one trie.
        let mut kept = Vec::new();
        for v in vals {
            if let Value::String(s) = v {
                if string_ok(n, s, dfas)? {
                    kept.push(s.clone());
                }
            }
        }
        return Ok(match kept.len() {
            0 => None,
            1 => Some((vec![spell_string(&kept[0])], Vec::new())),
            _ => Some((vec![json_strings_key(&kept)], Vec::new())),
        });
    }
    // Excluded values: as one trie when there are several.
    let excluded: Vec<String> = n
        .not_values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    match excluded.len() {
        0 => {}
        1 => except.push(spell_string(&excluded[0])),
        _ => except.push(json_strings_key(&excluded)),
    }
    let mut all = Vec::new();
    if n.min_len > 0 || n.max_len.is_some() || n.patterns.is_empty() {
        let alone = n.patterns.is_empty() && n.not_patterns.is_empty() && except.is_empty();
        all.push(length_regex(n, alone)?);
    }
    for (ptr, rule) in &n.patterns {
        all.extend(rule.regexes(ptr)?.into_iter().flatten());
    }
    if all.is_empty() {
        all.push(STRING.to_string());
    }
    for (ptr, rule) in &n.not_patterns {
        except.extend(rule.regexes(ptr)?.into_iter().flatten());
    }
    all.sort();
    all.dedup();
    except.sort();
    except.dedup();
    Ok(Some((all, except)))
}

/// A JSON string with the node's length bounds; `alone`: it is the whole
/// lexeme (no pattern or exclusion to intersect it with).
pub(super) fn length_regex(n: &Node, alone: bool) -> R<String> {
    if n.min_len == 0 && n.max_len.is_none() {
        return Ok(STRING.to_string());
    }
    let bound = n.min_len.max(n.max_len.unwrap_or(0));
    if alone && bound > MAX_PLAIN_STRING_BOUND {
        return Err(unsupported(
            &n.len_ptr,
            format!("minLength/maxLength above {MAX_PLAIN_STRING_BOUND} is not supported"),
        ));
    }
    if !alone && (n.min_len > MAX_STRING_BOUND || bound > MAX_PLAIN_STRING_BOUND) {
        return Err(unsupported(
            &n.len_ptr,
            format!(
                "minLength above {MAX_STRING_BOUND} (or maxLength above \
                 {MAX_PLAIN_STRING_BOUND}) together with a pattern, format or excluded values \
                 is not supported"
            ),
        ));
    }
    // A code point is one raw char, one escape, or a surrogate-pair escape;
    // lone surrogate escapes are rejected under length bounds.
    let cp_exact = r#"(?:[^"\\\x00-\x1F]|\\(?:["\\/bfnrt]|u(?:[0-9a-cA-CefEF][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}|[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})))"#;
    let max = n.max_len.map_or(String::new(), |m| m.to_string());
    Ok(format!("\"{cp_exact}{{{},{max}}}\"", n.min_len))
}

/// The node's numeric keywords as a [`NumberConstraint`].
pub(super) fn number_constraint(n: &Node) -> NumberConstraint {
    NumberConstraint {
        integer: n.number == NumKind::Int,
        minimum: n.lo.as_ref().map(|b| (b.d.clone(), b.excl)),
        maximum: n.hi.as_ref().map(|b| (b.d.clone(), b.excl)),
        multiple_of: n.multiple_of.as_ref().map(|(d, _)| d.clone()),
    }
}

/// The number lexeme: exact bounds, integrality and `multipleOf` through
/// [`number_regex`] (regexes to intersect).
/// The number lexeme of `n`; `plain_integers`: an integer is written
/// without fraction or exponent (draft 4's notion, or canonical spelling).
pub(super) fn number_expr(n: &Node, plain_integers: bool, draft4: bool) -> R<Option<Expr>> {
    let c = number_constraint(n);
    let regexes = |c: &NumberConstraint| {
        number_regex(c).map_err(|e| {
            let ptr = match e.keyword() {
                Keyword::MultipleOf => n.multiple_of.as_ref().map(|(_, p)| p.clone()),
                Keyword::Minimum => n.lo.as_ref().map(|b| n.bound_ptrs[b.ptr_kw].clone()),
                Keyword::Maximum => n.hi.as_ref().map(|b| n.bound_ptrs[b.ptr_kw].clone()),
            };
            unsupported(&ptr.unwrap_or_default(), e.to_string())
        })
    };
    if n.non_integer || !n.not_multiple_of.is_empty() {
        // Numbers minus integers (or minus multiples of a step): those are
        // an intersection of regexes, so what is left is the union of their
        // complements, one lexeme each; with several exclusions, one lexeme
        // per choice of a complement from each (draft 4: the integers are
        // the plain ones).
        if n.non_integer && c.integer {
            return Ok(None);
        }
        if let Some(s) = &c.multiple_of {
            if n.not_multiple_of.iter().any(|(m, _)| s.is_multiple_of(m)) {
                return Ok(None);
            }
        }
        let all = if c == NumberConstraint::default() {
            vec![NUMBER.to_string()]
        } else {
            match regexes(&c)? {
                Some(p) => p,
                None => return Ok(None),
            }
        };
        let mut excluded: Vec<Vec<String>> = Vec::new();
        if n.non_integer {
            excluded.push(if draft4 {
                vec![PLAIN_INTEGER.to_string()]
            } else {
                let int = NumberConstraint {
                    integer: true,
                    ..NumberConstraint::default()
                };
                regexes(&int)?.unwrap_or_default()
            });
        }
        for (m, ptr) in &n.not_multiple_of {
            let step = NumberConstraint {
                multiple_of: Some(m.clone()),
                ..NumberConstraint::default()
            };
            let parts = number_regex(&step).map_err(|e| unsupported(ptr, e.to_string()))?;
            excluded.push(parts.unwrap_or_default());
        }
        let mut alts: Vec<Vec<String>> = vec![Vec::new()];
        for parts in excluded {
            let parts: Vec<String> = parts.into_iter().filter(|r| r != NUMBER).collect();
            alts = alts
                .iter()
                .flat_map(|a| {
                    parts.iter().map(move |r| {
                        let mut a = a.clone();
                        a.push(r.clone());
                        a
                    })
                })
                .collect();
            if alts.len() > 16 {
                let ptr = n.not_multiple_of.first().map_or("", |p| p.1.as_str());
                return Err(unsupported(
                    ptr,
                    "more than one negated multipleOf (or type: integer) on one value is not supported",
                ));
            }
        }
        let alts: Vec<Expr> = alts
            .into_iter()
            .filter(|ex| !ex.is_empty())
            .map(|except| Expr::Intersect {
                all: all.clone(),
                except,
            })
            .collect();
        return Ok((!alts.is_empty()).then(|| Expr::choice(alts)));
    }
    if c == NumberConstraint::default() {
        return Ok(Some(Expr::regex(NUMBER)));
    }
    let plain = (plain_integers && c.integer).then(|| PLAIN_INTEGER.to_string());
    let parts = regexes(&c)?;
    Ok(parts.map(|mut p| {
        p.extend(plain);
        if p.len() == 1 {
            Expr::regex(p.pop().unwrap())
        } else {
            Expr::Intersect {
                all: p,
                except: Vec::new(),
            }
        }
    }))
}

/// A `multipleOf` value: a number above 0.
pub(super) fn step_value(v: &Value, kp: &str) -> R<Decimal> {
    match v {
        Value::Number(x) => Decimal::parse(&x.to_string()),
        _ => None,
    }
    .filter(|d| *d > Decimal::parse("0").unwrap())
    .ok_or_else(|| invalid(kp, "multipleOf must be a number above 0"))
}

/// `e`, a number lexeme (a regex, an intersection, or a choice of them),
/// minus the spellings `except`.
pub(super) fn exclude_spellings(e: Expr, except: &[String]) -> Expr {
    if except.is_empty() {
        return e;
    }
    match e {
        Expr::Regex(r) => Expr::Intersect {
            all: vec![r],
            except: except.to_vec(),
        },
        Expr::Intersect {
            all,
            except: mut ex,
        } => {
            ex.extend(except.iter().cloned());
            Expr::Intersect { all, except: ex }
        }
        Expr::Choice(alts) => Expr::Choice(
            alts.into_iter()
                .map(|a| exclude_spellings(a, except))
                .collect(),
        ),
        e => e,
    }
}

/// Every spelling of a number value (see [`value_regex`]).
pub(super) fn spell_number(x: &serde_json::Number, ptr: &str) -> R<String> {
    Decimal::parse(&x.to_string())
        .and_then(|d| value_regex(&d))
        .ok_or_else(|| {
            unsupported(
                ptr,
                format!(
                    "enum/const number {x} has more than {MAX_BOUND_DIGITS} significant digits \
                     or a magnitude beyond 10^±{MAX_BOUND_MAGNITUDE}"
                ),
            )
        })
}

/// An expression accepting every JSON spelling of `v`.
pub(super) fn spell_value(v: &Value, ptr: &str) -> R<Expr> {
    Ok(match v {
        Value::Null => Expr::literal("null"),
        Value::Bool(b) => Expr::literal(if *b { "true" } else { "false" }),
        Value::String(s) => Expr::regex(spell_string(s)),
        Value::Number(x) => Expr::regex(spell_number(x, ptr)?),
        Value::Array(a) => {
            let mut items = vec![Expr::literal("[")];
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    items.push(Expr::literal(","));
                }
                items.push(spell_value(x, ptr)?);
            }
            items.push(Expr::literal("]"));
            Expr::Seq(items)
        }
        Value::Object(m) => {
            if m.len() > MAX_COUNTED_ONCE {
                return Err(unsupported(
                    ptr,
                    format!(
                        "enum/const object with more than {MAX_COUNTED_ONCE} keys (any key order)"
                    ),
                ));
            }
            let members: Vec<Expr> = m
                .iter()
                .map(|(k, x)| {
                    Ok(Expr::seq([
                        Expr::regex(spell_string(k)),
                        Expr::literal(":"),
                        spell_value(x, ptr)?,
                    ]))
                })
                .collect::<R<_>>()?;
            if m.len() > MAX_ENUM_OBJECT_KEYS {
                // Every key exactly once, in any order: the parser counts
                // them instead of a rule per permutation.
                let n = m.len() as u32;
                return Ok(Expr::seq([
                    Expr::literal("{"),
                    Expr::any_order_counted(
                        members.into_iter().map(|e| (e, true, true)),
                        Expr::literal(","),
                        n,
                        Some(n),
                    ),
                    Expr::literal("}"),
                ]));
            }
            let mut perms = Vec::new();
            permute(&mut (0..members.len()).collect::<Vec<_>>(), 0, &mut perms);
            let alts: Vec<Expr> = perms
                .into_iter()
                .map(|p| {
                    let mut items = vec![Expr::literal("{")];
                    for (i, &j) in p.iter().enumerate() {
                        if i > 0 {
                            items.push(Expr::literal(","));
                        }
                        items.push(members[j].clone());
                    }
                    items.push(Expr::literal("}"));
                    Expr::Seq(items)
                })
                .collect();
            if alts.len() == 1 {
                alts.into_iter().next().unwrap()
            } else {
                Expr::Choice(alts)
            }
        }
    })
}

pub(super) fn permute(v: &mut Vec<usize>, k: usize, out: &mut Vec<Vec<usize>>) {
    if k >= v.len() {
        out.push(v.clone());
        return;
    }
    for i in k..v.len() {
        v.swap(k, i);
        permute(v, k + 1, out);
        v.swap(k, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::meta::Regex;

    fn full(re: &str) -> Regex {
        Regex::new(&format!("^(?:{re})$")).unwrap()
    }

    #[test]
    fn number_spellings() {
        let n = |s: &str| full(&spell_number(&serde_json::from_str(s).unwrap(), "").unwrap());
        let one = n("1");
        for ok in ["1", "1.0", "1e0", "10e-1", "0.1e1", "1.000E+0"] {
            assert!(one.is_match(ok), "{ok}");
        }
        for bad in ["11", "0.1", "1e1", "-1"] {
            assert!(!one.is_match(bad), "{bad}");
        }
        let x = n("-12.5");
        for ok in ["-12.5", "-1.25e1", "-125e-1", "-12.50"] {
            assert!(x.is_match(ok), "{ok}");
        }
        assert!(!x.is_match("12.5"));
    }

    #[test]
    fn string_spellings() {
        let s = full(&spell_string("a/\""));
        assert!(s.is_match(r#""a\/\"""#));
        assert!(s.is_match(r#""\u0061/\u0022""#));
        assert!(!s.is_match(r#""a/""#));
    }
}
