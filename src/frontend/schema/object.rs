//! Objects: the known keys and their value schemas, the classes of other
//! keys by the `patternProperties` they match, and the members laid out in
//! any order (counted in the parser's item tags) or in the schema's order
//! (counted in rules, with witness sets as a rule dimension).

use super::context::{child, unsupported, Compiler, Node, Sub, R};
use super::keys::{key_lexeme, key_matches, key_pattern, key_pattern_complement};
use super::options::{
    PropertyOrder, MAX_OBJECT_RULES, MAX_PATTERN_PROPERTIES, MAX_WITNESSES, MAX_WITNESS_LISTS,
};
use super::scalar::{string_ok, string_parts};
use super::witness::{partitions, WitnessVariants};
use crate::frontend::json::STRING;
use crate::grammar::{spell_json_string as spell_string, Expr, MAX_COUNTED_ONCE, MAX_MEMBER_COUNT};
use crate::lexer::DfaCache;
use serde_json::Value;

impl<'a> Compiler<'a> {
    /// The merged `propertyNames` schemas as a node (None: no constraint).
    pub(super) fn names_node(&mut self, n: &Node<'a>) -> R<Option<Node<'a>>> {
        if n.names.is_empty() {
            return Ok(None);
        }
        let subs = match self.flatten(n.names.clone())? {
            Some(s) => s,
            None => return Ok(Some(Node::nothing())),
        };
        for s in &subs {
            if let Value::Object(m) = s.val {
                if m.contains_key("anyOf") || m.contains_key("oneOf") {
                    return Err(unsupported(
                        &s.ptr,
                        "propertyNames with anyOf/oneOf (or not/if) is not supported",
                    ));
                }
            }
        }
        Ok(Some(self.collect(&subs)?))
    }

    /// Members in any order: an [`Expr::AnyOrder`] list (without the
    /// braces), whose parser items track the set of required keys seen (no
    /// rule per subset). `count`: `minProperties`/`maxProperties`; each known
    /// key may then appear at most once (so may a witness member: a second
    /// one parses as a plain member).
    pub(super) fn any_order_object(
        &mut self,
        n: &Node<'a>,
        members: Vec<(Expr, bool)>,
        extra: Option<Expr>,
        count: Option<(u32, Option<u32>)>,
    ) -> R<Expr> {
        let r = members.iter().filter(|m| m.1).count();
        if r > 63 {
            return Err(unsupported(
                &n.objs.first().map_or(String::new(), |o| o.ptr.to_string()),
                format!(
                    "{r} required properties in any order is too many (at most 63 under \
                     property_order any; property_order schema has no limit)"
                ),
            ));
        }
        Ok(match count {
            None => {
                let mut members = members;
                if let Some(x) = extra {
                    members.push((x, false));
                }
                Expr::any_order(members, Expr::literal(","))
            }
            Some((min, max)) => {
                let mut m: Vec<(Expr, bool, bool)> =
                    members.into_iter().map(|(e, r)| (e, r, true)).collect();
                if let Some(x) = extra {
                    m.push((x, false, false));
                }
                Expr::any_order_counted(m, Expr::literal(","), min, max)
            }
        })
    }

    /// The grammar of an object: its known keys and their value schemas
    /// (`properties`, `required`), the classes of other keys
    /// (`patternProperties`, `additionalProperties`, `propertyNames`), then
    /// the members laid out in any order (counted in the parser) or in the
    /// schema's order (counted in rules), with witness members for negated
    /// object keywords.
    pub(super) fn object_expr(&mut self, n: &Node<'a>) -> R<Option<Expr>> {
        let names = self.names_node(n)?;
        let keys = known_keys(n);
        let pats = key_patterns(n)?;
        let Some((members, known)) = self.known_members(n, names.as_ref(), &keys, &pats)? else {
            return Ok(None);
        };
        let (extra, classes) = self.other_key_members(n, names.as_ref(), &keys, &pats)?;
        let (minp, maxp) = (n.min_props, n.max_props);
        if maxp.is_some_and(|m| m < minp) {
            return Ok(None);
        }
        let Some(wit) = self.witness_variants(n, &known, &classes)? else {
            return Ok(None);
        };
        let wit = wit.without_implied(&members);
        if wit.count > MAX_WITNESSES {
            return Err(unsupported(
                &n.exists[0].ptr,
                format!(
                    "more than {MAX_WITNESSES} negated additionalProperties/patternProperties/\
                     propertyNames in one object"
                ),
            ));
        }
        let nw = wit.count;
        if self.options.property_order == PropertyOrder::Any {
            // Counted in the parser's item tags while they have room; else
            // the canonical order below counts with rules.
            let bound = |x: u64| u32::try_from(x).ok().filter(|&x| x <= MAX_MEMBER_COUNT);
            let count = if minp == 0 && maxp.is_none() {
                Some(None)
            } else if let (Some(lo), Some(hi)) =
                (bound(minp), maxp.map_or(Some(None), |m| bound(m).map(Some)))
            {
                (members.len() + nw <= MAX_COUNTED_ONCE).then_some(Some((lo, hi)))
            } else {
                None
            };
            if let Some(count) = count {
                return self.any_order_witnessed(n, members, extra, &wit, count);
            }
        }
        self.schema_order_object(n, &members, extra, &wit)
    }

    /// Each known key's member (key and value expression, and whether it is
    /// required): per holder, its property schema and the matching
    /// patterns, or else its additionalProperties. None if a required key
    /// admits no value. Also each member's key and value schemas, for
    /// witness variants.
    #[allow(clippy::type_complexity)]
    pub(super) fn known_members(
        &mut self,
        n: &Node<'a>,
        names: Option<&Node<'a>>,
        keys: &[String],
        pats: &[KeyPattern<'a>],
    ) -> R<Option<(Vec<(Expr, bool)>, Vec<(String, Vec<Sub<'a>>)>)>> {
        // Each known key's schema: per holder, its property schema and the
        // matching patterns, or else its additionalProperties.
        let mut members: Vec<(Expr, bool)> = Vec::new();
        // Per member: its key and value schemas (for witness variants).
        let mut known: Vec<(String, Vec<Sub<'a>>)> = Vec::new();
        let props_ptrs: Vec<String> = n.objs.iter().map(|o| child(&o.ptr, "properties")).collect();
        for k in keys {
            let required = n.required.contains(k);
            let name_ok = match names {
                Some(nn) => string_ok(nn, k, &self.value_dfas)?,
                None => true,
            };
            let mut subs = Vec::new();
            let token = serde_json::to_string(k).unwrap_or_default();
            for (h, o) in n.objs.iter().enumerate() {
                let mut matched = false;
                if let Some(v) = o.props.and_then(|p| p.get(k)) {
                    subs.push(Sub::new(child(&props_ptrs[h], k), v));
                    matched = true;
                }
                for (ph, ptr, (rx, rx_except), v) in pats {
                    if *ph == h && key_matches(rx, rx_except, &token, ptr, &self.value_dfas)? {
                        subs.push(Sub::new(ptr.clone(), v));
                        matched = true;
                    }
                }
                if !matched {
                    if let Some(a) = o.additional {
                        subs.push(Sub::new(o.additional_ptr(), a));
                    }
                }
            }
            let c = if name_ok {
                self.value(subs.clone())?
            } else {
                None
            };
            match c {
                Some(c) => {
                    members.push((
                        Expr::seq([self.key_expr(k), Expr::literal(":"), c.expr]),
                        required,
                    ));
                    known.push((k.clone(), subs));
                }
                None => {
                    if required {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some((members, known)))
    }

    /// The member of keys other than the known ones (None if no such key
    /// is allowed), split by the set of patterns they match, and per class
    /// its key regexes (all, except) and value schemas when the node has
    /// witnesses.
    #[allow(clippy::type_complexity)]
    pub(super) fn other_key_members(
        &mut self,
        n: &Node<'a>,
        names: Option<&Node<'a>>,
        keys: &[String],
        pats: &[KeyPattern<'a>],
    ) -> R<(Option<Expr>, Vec<(Vec<String>, Vec<String>, Vec<Sub<'a>>)>)> {
        // Other keys, split by the set of patterns they match.
        let (name_all, name_except) = match names {
            None => (vec![STRING.to_string()], Vec::new()),
            Some(nn) => string_parts(nn, Vec::new(), &self.value_dfas)?.unwrap_or_default(),
        };
        let mut extra_alts = Vec::new();
        // Per other-key class: key regexes (all, except) and value schemas.
        let mut classes: Vec<(Vec<String>, Vec<String>, Vec<Sub<'a>>)> = Vec::new();
        if !name_all.is_empty() {
            let mut known_except = name_except.clone();
            // One excluded regex per key, not one alternation: each is the
            // key's own lexeme, already built (and cached across schemas),
            // where an alternation of hundreds of spellings would be parsed
            // and compiled anew.
            known_except.extend(keys.iter().map(|k| spell_string(k)));
            // A key class per subset of patterns matched; a pattern with
            // lookaheads is not matched in one of several disjoint ways.
            // (patterns matched, key regexes, excluded regexes, value schemas)
            type KeyClass<'v> = (u32, Vec<String>, Vec<String>, Vec<Sub<'v>>);
            let mut splits: Vec<KeyClass<'a>> = Vec::new();
            for mask in 0u32..(1 << pats.len()) {
                let mut parts = vec![(name_all.clone(), known_except.clone(), Vec::new())];
                for (j, (_, ptr, (rx, rx_except), v)) in pats.iter().enumerate() {
                    if mask & (1 << j) != 0 {
                        for (all, except, subs) in &mut parts {
                            all.extend(rx.iter().cloned());
                            except.extend(rx_except.iter().cloned());
                            subs.push(Sub::new(ptr.clone(), v));
                        }
                    } else if rx.len() == 1 && rx_except.is_empty() {
                        for (_, except, _) in &mut parts {
                            except.extend(rx.iter().cloned());
                        }
                    } else {
                        let alts = key_pattern_complement(rx, rx_except);
                        parts = parts
                            .into_iter()
                            .flat_map(|(all, except, subs)| {
                                alts.iter().map(move |(a, e)| {
                                    let mut all = all.clone();
                                    all.extend(a.iter().cloned());
                                    let mut except = except.clone();
                                    except.extend(e.iter().cloned());
                                    (all, except, subs.clone())
                                })
                            })
                            .collect();
                    }
                }
                splits.extend(parts.into_iter().map(|(a, e, s)| (mask, a, e, s)));
            }
            if splits.len() > 1 << MAX_PATTERN_PROPERTIES {
                return Err(unsupported(
                    &pats[0].1,
                    "too many key classes from patternProperties with lookaheads",
                ));
            }
            for (mask, all, except, mut subs) in splits {
                for (h, o) in n.objs.iter().enumerate() {
                    let by_pattern = pats
                        .iter()
                        .enumerate()
                        .any(|(j, p)| p.0 == h && mask & (1 << j) != 0);
                    if !by_pattern {
                        if let Some(a) = o.additional {
                            subs.push(Sub::new(o.additional_ptr(), a));
                        }
                    }
                }
                let Some(c) = self.value(subs.clone())? else {
                    continue;
                };
                // Kept for witness variants only.
                if !n.exists.is_empty() {
                    classes.push((all.clone(), except.clone(), subs));
                }
                extra_alts.push(Expr::seq([
                    key_lexeme(all, except),
                    Expr::literal(":"),
                    c.expr,
                ]));
            }
        }
        let extra = match extra_alts.len() {
            0 => None,
            1 => extra_alts.pop(),
            _ => Some(Expr::Choice(extra_alts)),
        };
        Ok((extra, classes))
    }

    /// An object in any property order with its witnesses: per partition of
    /// the witnesses into blocks and per assignment of a witness member to
    /// each block, one any-order list.
    pub(super) fn any_order_witnessed(
        &mut self,
        n: &Node<'a>,
        mut members: Vec<(Expr, bool)>,
        extra: Option<Expr>,
        wit: &WitnessVariants,
        count: Option<(u32, Option<u32>)>,
    ) -> R<Option<Expr>> {
        let nw = wit.count;
        let full: u32 = (1 << nw) - 1;
        let optional_known = |t: usize| {
            wit.known[t]
                .iter()
                .enumerate()
                .filter(|(i, v)| v.is_some() && !members[*i].1)
                .count()
        };
        if count.is_some() && (1..=full as usize).any(|t| optional_known(t) > 0) {
            // An optional known key as a witness could repeat the
            // key (its plain member is `once`) and be counted twice.
            return Err(unsupported(
                &n.exists[0].ptr,
                "a negated additionalProperties/patternProperties/propertyNames \
                 together with minProperties/maxProperties in any property order",
            ));
        }
        // Witnesses: per partition of them into blocks (one member
        // may witness several), each block is witnessed by a
        // required key (its member becomes the witness variant: it
        // occurs once, and must count for both) or by one more
        // required member (an optional known key or another key).
        // One list per partition and assignment.
        let mut lists = Vec::new();
        for blocks in partitions(nw) {
            let mut assign: Vec<Vec<Option<usize>>> = vec![Vec::new()];
            for &b in &blocks {
                let mut grown = Vec::new();
                for a in &assign {
                    let mut others = a.clone();
                    others.push(None);
                    grown.push(others);
                    for (i, v) in wit.known[b as usize].iter().enumerate() {
                        if v.is_some() && members[i].1 && !a.contains(&Some(i)) {
                            let mut with = a.clone();
                            with.push(Some(i));
                            grown.push(with);
                        }
                    }
                }
                assign = grown;
            }
            'assignment: for a in assign {
                // Without witnesses there is one assignment, the
                // last use of the members.
                let mut ms = if nw == 0 {
                    std::mem::take(&mut members)
                } else {
                    members.clone()
                };
                for (&b, who) in blocks.iter().zip(&a) {
                    let b = b as usize;
                    match who {
                        Some(i) => ms[*i].0 = wit.known[b][*i].clone().expect("a variant"),
                        None => {
                            let mut alts: Vec<Expr> = wit.known[b]
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| !members[*i].1)
                                .filter_map(|(_, v)| v.clone())
                                .collect();
                            alts.extend(wit.extra[b].iter().cloned());
                            if alts.is_empty() {
                                continue 'assignment;
                            }
                            ms.push((one_of(alts), true));
                        }
                    }
                }
                if lists.len() >= MAX_WITNESS_LISTS {
                    return Err(unsupported(
                        &n.exists[0].ptr,
                        "too many ways to witness negated additionalProperties/\
                         patternProperties/propertyNames with required keys",
                    ));
                }
                lists.push(self.any_order_object(n, ms, extra.clone(), count)?);
            }
        }
        Ok(match lists.len() {
            0 => None,
            _ => Some(Expr::seq([
                Expr::literal("{"),
                one_of(lists),
                Expr::literal("}"),
            ])),
        })
    }

    /// An object in the schema's property order, counted in rules.
    pub(super) fn schema_order_object(
        &mut self,
        n: &Node<'a>,
        members: &[(Expr, bool)],
        extra: Option<Expr>,
        wit: &WitnessVariants,
    ) -> R<Option<Expr>> {
        let (minp, maxp) = (n.min_props, n.max_props);
        let nw = wit.count;
        let full: u32 = (1 << nw) - 1;
        // S(i, c, f): members i.. with none before; T(i, c, f): members i..,
        // each after a comma; c members are present so far (capped where the
        // count no longer matters), f the set of witnesses found so far.
        let len = members.len();
        let cap = maxp.unwrap_or(minp);
        if (len as u64 + 1)
            .saturating_mul(cap + 1)
            .saturating_mul(1 << nw)
            > MAX_OBJECT_RULES
        {
            return Err(unsupported(
                &n.props_ptr,
                "minProperties/maxProperties too large for this many properties",
            ));
        }
        let next = |c: u64| match maxp {
            Some(_) => c + 1,
            None => (c + 1).min(minp),
        };
        let base = self.fresh("obj");
        let s_name = |i: usize, c: u64, f: u32| format!("{base}_s{i}_{c}_{f}");
        let t_name = |i: usize, c: u64, f: u32| format!("{base}_t{i}_{c}_{f}");
        let bound = |x: u64| u32::try_from(x).unwrap_or(u32::MAX);
        // The witness sets a member may newly satisfy when `f` are found.
        let new_sets = |f: u32| (1..=full).filter(move |t| t & f == 0);
        for c in 0..=cap {
            let lo = minp.saturating_sub(c);
            let hi = maxp.map(|m| m - c);
            let (sx, tx) = match &extra {
                Some(x) => {
                    let more = |lo: u64, hi: Option<u64>| {
                        Expr::repeat(
                            Expr::seq([Expr::literal(","), x.clone()]),
                            bound(lo),
                            hi.map(bound),
                        )
                    };
                    let first = Expr::seq([
                        x.clone(),
                        more(lo.saturating_sub(1), hi.map(|h| h.saturating_sub(1))),
                    ]);
                    let sx = match (lo, hi) {
                        (_, Some(0)) => Expr::Empty,
                        (0, _) => Expr::choice([Expr::Empty, first]),
                        _ => first,
                    };
                    (sx, more(lo, hi))
                }
                None if lo == 0 => (Expr::Empty, Expr::Empty),
                None => (Expr::Choice(Vec::new()), Expr::Choice(Vec::new())),
            };
            self.g.rule(s_name(len, c, full), sx);
            self.g.rule(t_name(len, c, full), tx);
            // Witnesses still missing: other keys one by one, until found.
            let take = maxp.is_none_or(|mx| c < mx);
            for f in (0..full).filter(|_| nw > 0) {
                let mut s_alts = Vec::new();
                let mut t_alts = Vec::new();
                if take {
                    let nc = next(c);
                    let mut steps: Vec<(Expr, u32)> = Vec::new();
                    if let Some(x) = &extra {
                        steps.push((x.clone(), f));
                    }
                    for t in new_sets(f) {
                        for v in &wit.extra[t as usize] {
                            steps.push((v.clone(), f | t));
                        }
                    }
                    for (e, nf) in steps {
                        s_alts.push(Expr::seq([e.clone(), Expr::rule(t_name(len, nc, nf))]));
                        t_alts.push(Expr::seq([
                            Expr::literal(","),
                            e,
                            Expr::rule(t_name(len, nc, nf)),
                        ]));
                    }
                }
                self.g.rule(s_name(len, c, f), Expr::Choice(s_alts));
                self.g.rule(t_name(len, c, f), Expr::Choice(t_alts));
            }
        }
        for i in (0..len).rev() {
            let (m, req) = &members[i];
            for c in 0..=cap {
                let take = maxp.is_none_or(|mx| c < mx);
                for f in 0..=full {
                    let mut s_alts = Vec::new();
                    let mut t_alts = Vec::new();
                    if take {
                        let nc = next(c);
                        let mut steps = vec![(m.clone(), f)];
                        for t in new_sets(f) {
                            if let Some(v) = &wit.known[t as usize][i] {
                                steps.push((v.clone(), f | t));
                            }
                        }
                        for (e, nf) in steps {
                            s_alts.push(Expr::seq([e.clone(), Expr::rule(t_name(i + 1, nc, nf))]));
                            t_alts.push(Expr::seq([
                                Expr::literal(","),
                                e,
                                Expr::rule(t_name(i + 1, nc, nf)),
                            ]));
                        }
                    }
                    if !req {
                        s_alts.push(Expr::rule(s_name(i + 1, c, f)));
                        t_alts.push(Expr::rule(t_name(i + 1, c, f)));
                    }
                    self.g.rule(s_name(i, c, f), one_of(s_alts));
                    self.g.rule(t_name(i, c, f), one_of(t_alts));
                }
            }
        }
        Ok(Some(Expr::seq([
            Expr::literal("{"),
            Expr::rule(s_name(0, 0, 0)),
            Expr::literal("}"),
        ])))
    }
}

/// Every `patternProperties` pattern of an object: its holder's index,
/// pointer, key regexes (all, except) and schema.
pub(super) type KeyPattern<'v> = (usize, String, (Vec<String>, Vec<String>), &'v Value);

/// An object's known keys in order: the properties of every holder, then
/// the other required keys.
pub(super) fn known_keys(n: &Node) -> Vec<String> {
    // Known keys in order: properties of every holder, then required.
    let mut keys: Vec<String> = Vec::new();
    for o in &n.objs {
        if let Some(p) = o.props {
            for k in p.keys() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    for r in &n.required {
        if !keys.contains(r) {
            keys.push(r.clone());
        }
    }
    keys
}

/// Every `patternProperties` pattern of the node's holders.
pub(super) fn key_patterns<'a>(n: &Node<'a>) -> R<Vec<KeyPattern<'a>>> {
    // Every patternProperties pattern, with its holder and regexes.
    let mut pats: Vec<KeyPattern<'a>> = Vec::new();
    for (h, o) in n.objs.iter().enumerate() {
        for (ptr, p, v) in &o.patterns {
            pats.push((h, ptr.clone(), key_pattern(p, ptr)?, *v));
        }
    }
    if pats.len() > MAX_PATTERN_PROPERTIES {
        return Err(unsupported(
            &pats[0].1,
            format!("more than {MAX_PATTERN_PROPERTIES} patternProperties in one object"),
        ));
    }
    Ok(pats)
}

pub(super) fn one_of(mut alts: Vec<Expr>) -> Expr {
    if alts.len() == 1 {
        alts.pop().unwrap()
    } else {
        Expr::Choice(alts)
    }
}

/// Whether the JSON string token `token` full-matches every regex of `rx`.
/// The schemas a member with key `key` gets from the object keywords of
/// `n`: per holder, its property schema and the patterns the key matches,
/// or else its additionalProperties (as `object_expr` lays out members).
pub(super) fn key_subs<'a>(n: &Node<'a>, key: &str, dfas: &DfaCache) -> R<Vec<Sub<'a>>> {
    let token = serde_json::to_string(key).unwrap_or_default();
    let mut subs = Vec::new();
    for o in &n.objs {
        let mut matched = false;
        if let Some(v) = o.props.and_then(|p| p.get(key)) {
            subs.push(Sub::new(child(&child(&o.ptr, "properties"), key), v));
            matched = true;
        }
        for (pp, p, v) in &o.patterns {
            let (all, except) = key_pattern(p, pp)?;
            if key_matches(&all, &except, &token, pp, dfas)? {
                subs.push(Sub::new(pp.clone(), v));
                matched = true;
            }
        }
        if !matched {
            if let Some(a) = o.additional {
                subs.push(Sub::new(o.additional_ptr(), a));
            }
        }
    }
    Ok(subs)
}
