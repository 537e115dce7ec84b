//! Arrays: `items`/`prefixItems` as positions, `minItems`/`maxItems` as
//! counted repeats, `contains` by classing items on the subset of `contains`
//! schemas they match (with the counts in rules), and `uniqueItems` as a
//! grammar over finite item values or a distinct list checked by the parser.

use super::context::{unsupported, Compiled, Compiler, Node, Sub, R, T_BOOL, T_NULL};
use super::options::{MAX_ITEMS_BOUND, MAX_OBJECT_RULES};
use super::scalar::spell_value;
use crate::grammar::{Expr, MAX_COUNTED_ONCE, MAX_MEMBER_COUNT};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
impl<'a> Compiler<'a> {
    /// `uniqueItems: true`. Over items from a small finite set of values
    /// (an `enum`, booleans and `null`), each value is a member of an
    /// any-order list that may appear at most once, and the parser counts
    /// the members for `minItems`/`maxItems`: the grammar alone is exact.
    /// Over any other items the list is distinct ([`Expr::unique_list`]):
    /// the parser compares each item, as a JSON value, with the ones before
    /// it where the item completes.
    pub(super) fn unique_array(&mut self, n: &Node<'a>, u: &str, plen: usize) -> R<Option<Expr>> {
        let bound = u64::from(MAX_MEMBER_COUNT);
        if n.min_items > bound || n.max_items.is_some_and(|m| m > bound) || plen as u64 > bound {
            // The parser's item count stops at `bound`.
            return Err(unsupported(
                u,
                format!("minItems, maxItems or prefixItems above {bound} with uniqueItems: true"),
            ));
        }
        let (prefix, item, max) = self.array_items(n, plen, n.max_items)?;
        if plen > 0 || item.is_none() {
            let most = prefix.len() as u64 + if item.is_some() { bound } else { 0 };
            let max = max.map_or(most, |m| m.min(most));
            if n.min_items > max {
                return Ok(None);
            }
            return Ok(Some(Expr::seq([
                Expr::literal("["),
                Expr::unique_list(
                    prefix,
                    item.map(|c| c.expr),
                    Expr::literal(","),
                    n.min_items as u32,
                    (max < bound).then_some(max as u32),
                ),
                Expr::literal("]"),
            ])));
        }
        let item = item.expect("checked above");
        let finite = item.values.clone().or_else(|| {
            (item.types & !(T_NULL | T_BOOL) == 0).then(|| {
                let mut v = Vec::new();
                if item.types & T_NULL != 0 {
                    v.push(Value::Null);
                }
                if item.types & T_BOOL != 0 {
                    v.extend([Value::Bool(false), Value::Bool(true)]);
                }
                v
            })
        });
        let Some(vals) = finite.filter(|v| v.len() <= MAX_COUNTED_ONCE) else {
            if n.max_items.is_some_and(|m| m < n.min_items) {
                return Ok(None);
            }
            return Ok(Some(Expr::seq([
                Expr::literal("["),
                Expr::unique_list(
                    Vec::new(),
                    Some(item.expr),
                    Expr::literal(","),
                    n.min_items as u32,
                    n.max_items.map(|m| m as u32),
                ),
                Expr::literal("]"),
            ])));
        };
        let most = vals.len() as u64;
        let max = n.max_items.map_or(most, |m| m.min(most));
        if n.min_items > max {
            return Ok(None);
        }
        let members = vals
            .iter()
            .map(|v| Ok((spell_value(v, u)?, false, true)))
            .collect::<R<Vec<_>>>()?;
        Ok(Some(Expr::seq([
            Expr::literal("["),
            Expr::any_order_counted(
                members,
                Expr::literal(","),
                n.min_items as u32,
                Some(max as u32),
            ),
            Expr::literal("]"),
        ])))
    }

    /// An array under `contains`: items from `prefixItems`/`items`, of
    /// which between minContains and maxContains match each `contains`;
    /// the rules count items (exactly through the prefix) and matches.
    ///
    /// An item is written as one of the classes "matches exactly the
    /// `contains` schemas of a subset S": for a `contains` with a
    /// maxContains the class includes its negation when it is not in S (its
    /// count must be exact); for one without, matching items may also be
    /// left uncounted, which can only lower a count that has no upper bound.
    pub(super) fn contains_expr(&mut self, n: &Node<'a>) -> R<Option<Expr>> {
        let cptr = n.contains[0].0.clone();
        let ptr = n.arrs.first().map_or(cptr.clone(), |a| a.ptr.to_string());
        if n.unique.is_some() {
            return Err(unsupported(
                &cptr,
                "contains with uniqueItems is not supported yet",
            ));
        }
        let plen = n.arrs.iter().map(|a| a.prefix.len()).max().unwrap_or(0);
        let k = n.contains.len();
        if k > 6 || (plen + 1) << k > 1024 {
            return Err(unsupported(
                &cptr,
                "more than 6 contains, or too many prefixItems next to contains",
            ));
        }
        // The item schemas at position p (p == plen: every later position).
        let at = |p: usize| -> Vec<Sub<'a>> {
            let mut subs = Vec::new();
            for a in &n.arrs {
                if let Some((q, v)) = a.prefix.get(p) {
                    subs.push(Sub::new(q.clone(), v));
                } else if let Some((q, v)) = &a.rest {
                    subs.push(Sub::new(q.clone(), v));
                }
            }
            subs
        };
        let mut items: HashMap<(usize, usize), Option<Expr>> = HashMap::new();
        for p in 0..=plen {
            for set in 0..1usize << k {
                let mut subs = at(p);
                for (c, (cp, cv, _, cmax)) in n.contains.iter().enumerate() {
                    let csub = Sub::new(cp.clone(), cv);
                    if set & (1 << c) != 0 {
                        subs.push(csub);
                    } else if cmax.is_some() {
                        subs.push(self.negate(&csub)?);
                    }
                }
                items.insert((p, set), self.value(subs)?.map(|c| c.expr));
            }
        }
        let (imin, imax) = (n.min_items, n.max_items);
        let icap = imax.unwrap_or(imin.max(1).max(plen as u64));
        let jcaps: Vec<u64> = n
            .contains
            .iter()
            .map(|(_, _, cmin, cmax)| cmax.unwrap_or(*cmin))
            .collect();
        let states = jcaps.iter().try_fold(icap.saturating_add(1), |a, &j| {
            a.checked_mul(j.saturating_add(1))
        });
        if states.is_none_or(|s| s > MAX_OBJECT_RULES) {
            return Err(unsupported(
                &ptr,
                "minItems/maxItems/minContains/maxContains too large together",
            ));
        }
        let base = self.fresh("arr");
        let name = |i: u64, js: &[u64]| {
            let mut s = format!("{base}_{i}");
            for j in js {
                let _ = write!(s, "_{j}");
            }
            s
        };
        let ni = |i: u64| {
            if imax.is_some() {
                i + 1
            } else {
                (i + 1).min(icap)
            }
        };
        // Every count vector, in odometer order.
        let mut all_js: Vec<Vec<u64>> = vec![Vec::new()];
        for &cap in &jcaps {
            all_js = all_js
                .into_iter()
                .flat_map(|js| {
                    (0..=cap).map(move |j| {
                        let mut v = js.clone();
                        v.push(j);
                        v
                    })
                })
                .collect();
        }
        for i in 0..=icap {
            let p = (i as usize).min(plen);
            for js in &all_js {
                let mut alts = Vec::new();
                let done = n
                    .contains
                    .iter()
                    .zip(js)
                    .all(|((_, _, cmin, _), j)| j >= cmin);
                if i >= imin && done {
                    alts.push(Expr::Empty);
                }
                if imax.is_none_or(|m| i < m) {
                    for set in 0..1usize << k {
                        let Some(e) = &items[&(p, set)] else { continue };
                        let mut next = js.clone();
                        let mut fits = true;
                        for (c, (_, _, cmin, cmax)) in n.contains.iter().enumerate() {
                            if set & (1 << c) != 0 {
                                match cmax {
                                    Some(m) if next[c] >= *m => fits = false,
                                    Some(_) => next[c] += 1,
                                    None => next[c] = (next[c] + 1).min(*cmin),
                                }
                            }
                        }
                        if !fits {
                            continue;
                        }
                        let e = if i == 0 {
                            e.clone()
                        } else {
                            Expr::seq([Expr::literal(","), e.clone()])
                        };
                        alts.push(Expr::seq([e, Expr::rule(name(ni(i), &next))]));
                    }
                }
                self.g.rule(name(i, js), Expr::Choice(alts));
            }
        }
        let zeros = vec![0; k];
        Ok(Some(Expr::seq([
            Expr::literal("["),
            Expr::rule(name(0, &zeros)),
            Expr::literal("]"),
        ])))
    }

    /// An array's item schemas, compiled: one per `prefixItems` position (up
    /// to `max` items; a position no value can fill ends the array there),
    /// and the rest (`items`) if an item may follow the prefix. Returns them
    /// and the bound on the number of items, lowered by such a position.
    pub(super) fn array_items(
        &mut self,
        n: &Node<'a>,
        plen: usize,
        mut max: Option<u64>,
    ) -> R<(Vec<Expr>, Option<Compiled>, Option<u64>)> {
        let mut prefix = Vec::new();
        for i in 0..plen {
            if max.is_some_and(|m| i as u64 >= m) {
                break;
            }
            let mut subs = Vec::new();
            for a in &n.arrs {
                if let Some((p, v)) = a.prefix.get(i) {
                    subs.push(Sub::new(p.clone(), v));
                } else if let Some((p, v)) = &a.rest {
                    subs.push(Sub::new(p.clone(), v));
                }
            }
            match self.value(subs)? {
                Some(c) => prefix.push(c.expr),
                None => {
                    max = Some(i as u64);
                    break;
                }
            }
        }
        let mut rest = None;
        if max.is_none_or(|m| m > prefix.len() as u64) && prefix.len() == plen {
            let subs: Vec<Sub<'a>> = n
                .arrs
                .iter()
                .filter_map(|a| a.rest.as_ref().map(|(p, v)| Sub::new(p.clone(), v)))
                .collect();
            rest = self.value(subs)?;
        }
        Ok((prefix, rest, max))
    }

    pub(super) fn array_expr(&mut self, n: &Node<'a>) -> R<Option<Expr>> {
        if !n.contains.is_empty() {
            return self.contains_expr(n);
        }
        let plen = n.arrs.iter().map(|a| a.prefix.len()).max().unwrap_or(0);
        let max = n.max_items;
        let min = n.min_items;
        if let Some(u) = &n.unique {
            if max.is_none_or(|m| m > 1) {
                return self.unique_array(n, u, plen);
            }
        }
        let ptr = n.arrs.first().map_or(String::new(), |a| a.ptr.to_string());
        if min > MAX_ITEMS_BOUND || plen as u64 > MAX_ITEMS_BOUND {
            return Err(unsupported(
                &ptr,
                format!("minItems/prefix length above {MAX_ITEMS_BOUND}"),
            ));
        }
        let (pos, rest, max) = self.array_items(n, plen, max)?;
        let rest = rest.map(|c| c.expr);
        let max = match (rest.is_some(), max) {
            (false, _) => Some(max.map_or(pos.len() as u64, |m| m.min(pos.len() as u64))),
            (true, m) => m,
        };
        if max.is_some_and(|m| m < min) {
            return Ok(None);
        }
        // Elements from position i on, each after a comma (no comma at 0).
        let comma = |i: usize, e: Expr| {
            if i == 0 {
                e
            } else {
                Expr::seq([Expr::literal(","), e])
            }
        };
        let np = pos.len();
        let mut tail = match &rest {
            Some(r) if max.is_none_or(|m| m > np as u64) => {
                if max.is_some_and(|m| m > MAX_ITEMS_BOUND) {
                    return Err(unsupported(
                        &ptr,
                        format!("maxItems above {MAX_ITEMS_BOUND} is not supported"),
                    ));
                }
                let lo = min.saturating_sub(np as u64) as u32;
                let hi = max.map(|m| (m - np as u64) as u32);
                if np == 0 {
                    // First element has no comma.
                    let more = |lo: u32, hi: Option<u32>| {
                        Expr::repeat(Expr::seq([Expr::literal(","), r.clone()]), lo, hi)
                    };
                    if lo == 0 {
                        Expr::optional(Expr::seq([
                            r.clone(),
                            more(0, hi.map(|h| h.saturating_sub(1))),
                        ]))
                    } else {
                        Expr::seq([r.clone(), more(lo - 1, hi.map(|h| h - 1))])
                    }
                } else {
                    Expr::repeat(Expr::seq([Expr::literal(","), r.clone()]), lo, hi)
                }
            }
            _ => Expr::Empty,
        };
        for i in (0..np).rev() {
            let e = Expr::seq([comma(i, pos[i].clone()), tail]);
            tail = if (i as u64) < min {
                e
            } else {
                Expr::optional(e)
            };
        }
        Ok(Some(Expr::seq([
            Expr::literal("["),
            tail,
            Expr::literal("]"),
        ])))
    }
}
