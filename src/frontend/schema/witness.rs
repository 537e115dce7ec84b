//! Witnesses: a negated `additionalProperties`, `patternProperties` or
//! `propertyNames` says some member breaks it (`$fw_exists`), and the
//! object then has a member that does; here are the member variants that
//! witness each set of them.

use super::context::{child, invalid, unsupported, Compiler, Node, Sub, R, SKIP_ANYOF, SKIP_ONEOF};
use super::keys::key_lexeme;
use super::options::{MAX_DEPTH, MAX_KEY_NODES, MAX_WITNESSES_SEEN, MAX_WITNESS_LEXEMES, MAX_WORK};
use super::scalar::{string_ok, string_parts};
use crate::error::GrammarError;
use crate::grammar::Expr;
use serde_json::{Map, Value};
impl<'a> Compiler<'a> {
    /// Whether an object (an `enum`/`const` value) has the members all of
    /// the node's witnesses ask for.
    pub(super) fn witnessed(&mut self, m: &Map<String, Value>, n: &Node<'a>) -> R<bool> {
        for w in &n.exists {
            let mut found = false;
            for (k, x) in m {
                if self.holds(&Value::String(k.clone()), vec![w.key.clone()])?
                    && match &w.value {
                        Some(v) => self.holds(x, vec![v.clone()])?,
                        None => true,
                    }
                {
                    found = true;
                    break;
                }
            }
            if !found {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The string nodes whose union is a key schema (`anyOf` split into its
    /// branches, `oneOf` into each branch without the others; nodes without
    /// strings dropped).
    pub(super) fn key_nodes(&mut self, subs: Vec<Sub<'a>>, out: &mut Vec<Node<'a>>) -> R<()> {
        let Some(subs) = self.flatten(subs)? else {
            return Ok(());
        };
        self.work += 1;
        if self.work > MAX_WORK || out.len() >= MAX_KEY_NODES {
            return Err(GrammarError::TooLarge(format!(
                "too many key schemas for a negated propertyNames/additionalProperties at {}",
                subs.first().map_or("", |s| &*s.ptr)
            )));
        }
        for (i, s) in subs.iter().enumerate() {
            let Value::Object(m) = s.val else { continue };
            for (kw, bit) in [("anyOf", SKIP_ANYOF), ("oneOf", SKIP_ONEOF)] {
                let Some(a) = m.get(kw).filter(|_| s.skip & bit == 0) else {
                    continue;
                };
                let kptr = child(&s.ptr, kw);
                let a = a
                    .as_array()
                    .ok_or_else(|| invalid(&kptr, format!("{kw} must be an array")))?;
                let all: Vec<Sub<'a>> = a
                    .iter()
                    .enumerate()
                    .map(|(j, b)| Sub::new(format!("{kptr}/{j}"), b))
                    .collect();
                for j in 0..all.len() {
                    let mut ns = subs.clone();
                    ns[i].skip |= bit;
                    ns.push(s.adopt(all[j].clone()));
                    if bit == SKIP_ONEOF {
                        // Exactly one: this branch and no other.
                        for (k, other) in all.iter().enumerate() {
                            if k != j {
                                ns.push(s.adopt(self.negate(other)?));
                            }
                        }
                    }
                    self.depth += 1;
                    let r = if self.depth > MAX_DEPTH {
                        Err(GrammarError::TooLarge(format!(
                            "schema nesting deeper than {MAX_DEPTH} (key schema)"
                        )))
                    } else {
                        self.key_nodes(ns, out)
                    };
                    self.depth -= 1;
                    r?;
                }
                return Ok(());
            }
        }
        let node = self.collect(&subs)?;
        if string_parts(&node, Vec::new(), &self.value_dfas)?.is_some() {
            out.push(node);
        }
        Ok(())
    }

    /// For each set of the node's witnesses (`$fw_exists`), the members
    /// that satisfy all of them at once: per known member (in the order of
    /// `known`) and over the other-key `classes`. None if some witness can
    /// have no key at all.
    pub(super) fn witness_variants(
        &mut self,
        n: &Node<'a>,
        known: &[(String, Vec<Sub<'a>>)],
        classes: &[(Vec<String>, Vec<String>, Vec<Sub<'a>>)],
    ) -> R<Option<WitnessVariants>> {
        let nw = n.exists.len();
        let mut out = WitnessVariants {
            count: nw,
            known: vec![vec![None; known.len()]; 1 << nw],
            extra: vec![Vec::new(); 1 << nw],
        };
        if nw == 0 {
            return Ok(Some(out));
        }
        if nw > MAX_WITNESSES_SEEN {
            return Err(unsupported(
                &n.exists[0].ptr,
                format!(
                    "more than {MAX_WITNESSES_SEEN} negated additionalProperties/\
                     patternProperties/propertyNames in one object"
                ),
            ));
        }
        let mut nodes: Vec<Vec<Node<'a>>> = Vec::new();
        for w in &n.exists {
            let mut ks = Vec::new();
            self.key_nodes(vec![w.key.clone()], &mut ks)?;
            if ks.is_empty() {
                return Ok(None);
            }
            nodes.push(ks);
        }
        let mut parts: Vec<Vec<(Vec<String>, Vec<String>)>> = Vec::new();
        for ks in &nodes {
            let mut p = Vec::new();
            for k in ks {
                p.extend(string_parts(k, Vec::new(), &self.value_dfas)?);
            }
            parts.push(p);
        }
        let mut lexemes = 0usize;
        for t in 1u32..(1 << nw) {
            let ws: Vec<usize> = (0..nw).filter(|j| t & (1 << j) != 0).collect();
            let vals: Vec<Sub<'a>> = ws
                .iter()
                .filter_map(|&j| n.exists[j].value.clone())
                .collect();
            for (i, (k, subs)) in known.iter().enumerate() {
                let mut fits = true;
                for &j in &ws {
                    let mut any = false;
                    for kn in &nodes[j] {
                        if string_ok(kn, k, &self.value_dfas)? {
                            any = true;
                            break;
                        }
                    }
                    fits &= any;
                }
                if !fits {
                    continue;
                }
                let mut vs = subs.clone();
                vs.extend(vals.iter().cloned());
                if let Some(c) = self.value(vs)? {
                    out.known[t as usize][i] =
                        Some(Expr::seq([self.key_expr(k), Expr::literal(":"), c.expr]));
                }
            }
            for (all, except, subs) in classes {
                let mut vs = subs.clone();
                vs.extend(vals.iter().cloned());
                let Some(c) = self.value(vs)? else { continue };
                // One key lexeme per choice of a key node for each witness.
                let mut keys: Vec<(Vec<String>, Vec<String>)> = vec![(all.clone(), except.clone())];
                for &j in &ws {
                    let mut grown = Vec::new();
                    for (a, e) in &keys {
                        for (pa, pe) in &parts[j] {
                            let mut a = a.clone();
                            a.extend(pa.iter().cloned());
                            let mut e = e.clone();
                            e.extend(pe.iter().cloned());
                            grown.push((a, e));
                        }
                    }
                    keys = grown;
                }
                lexemes += keys.len();
                if lexemes > MAX_WITNESS_LEXEMES {
                    return Err(unsupported(
                        &n.exists[0].ptr,
                        "too many key lexemes for negated additionalProperties/\
                         patternProperties/propertyNames",
                    ));
                }
                for (a, e) in keys {
                    out.extra[t as usize].push(Expr::seq([
                        key_lexeme(a, e),
                        Expr::literal(":"),
                        c.expr.clone(),
                    ]));
                }
            }
        }
        Ok(Some(out))
    }
}

/// The members satisfying each set of an object's witnesses, indexed by
/// the set's bits (see [`Compiler::witness_variants`]).
pub(super) struct WitnessVariants {
    pub(super) count: usize,
    pub(super) known: Vec<Vec<Option<Expr>>>,
    pub(super) extra: Vec<Vec<Expr>>,
}

impl WitnessVariants {
    /// Without the witnesses a required member always satisfies (its
    /// witness variant is its plain member: a key outside a closed branch's
    /// `properties`, with any value), renumbered.
    pub(super) fn without_implied(self, members: &[(Expr, bool)]) -> WitnessVariants {
        let keep: Vec<usize> = (0..self.count)
            .filter(|&t| {
                !members
                    .iter()
                    .enumerate()
                    .any(|(i, (e, req))| *req && self.known[1 << t][i].as_ref() == Some(e))
            })
            .collect();
        if keep.len() == self.count {
            return self;
        }
        let expand = |set: usize| {
            keep.iter()
                .enumerate()
                .filter(|(j, _)| set & (1 << j) != 0)
                .fold(0usize, |acc, (_, &t)| acc | (1 << t))
        };
        let sets = 1usize << keep.len();
        WitnessVariants {
            count: keep.len(),
            known: (0..sets).map(|x| self.known[expand(x)].clone()).collect(),
            extra: (0..sets).map(|x| self.extra[expand(x)].clone()).collect(),
        }
    }
}

/// The partitions of witnesses `0..n` into blocks (as bit sets): each block
/// is witnessed by one member.
pub(super) fn partitions(n: usize) -> Vec<Vec<u32>> {
    fn go(i: usize, n: usize, blocks: &mut Vec<u32>, out: &mut Vec<Vec<u32>>) {
        if i == n {
            out.push(blocks.clone());
            return;
        }
        for b in 0..blocks.len() {
            blocks[b] |= 1 << i;
            go(i + 1, n, blocks, out);
            blocks[b] &= !(1 << i);
        }
        blocks.push(1 << i);
        go(i + 1, n, blocks, out);
        blocks.pop();
    }
    let mut out = Vec::new();
    go(0, n, &mut Vec::new(), &mut out);
    out
}
