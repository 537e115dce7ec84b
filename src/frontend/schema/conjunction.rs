//! Conjunctions: `$ref` and `allOf` flattened, the rewrites of
//! [`super::normalize`] added, `anyOf`/`oneOf` distributed over the rest
//! (branches whose plain keywords contradict dropped at once, disjoint
//! `oneOf` branches recognised so they need no negation of the others).

use super::context::{
    as_u64, child, has_flatten_keywords, has_unevaluated, invalid, node_is_empty, type_bit,
    unsupported, Compiled, Compiler, NumKind, SeenPointers, Sub, R, SKIP_ANYOF, SKIP_ONEOF, T_ALL,
    T_ARR, T_BOOL, T_NULL, T_NUM, T_OBJ, T_STR,
};
use super::object::key_subs;
use super::options::{MAX_DEPTH, MAX_WORK};
use super::values::ValueSet;
use crate::error::GrammarError;
use crate::grammar::Expr;
use serde_json::Value;
impl<'a> Compiler<'a> {
    /// Expands `$ref` and `allOf`; None if some part is `false`.
    pub(super) fn flatten(&self, subs: Vec<Sub<'a>>) -> R<Option<Vec<Sub<'a>>>> {
        let mut out: Vec<Sub<'a>> = Vec::new();
        // Each schema seen, by pointer: its place in `out`, or `None` if it
        // is not kept there (`true`, or a legacy `$ref` replaced by its
        // target).
        let mut seen = SeenPointers::default();
        let mut work = subs;
        work.reverse();
        while let Some(s) = work.pop() {
            // A schema occurs once per conjunction: its anyOf/oneOf already
            // distributed in one copy is satisfied in every copy (A ∧ A = A).
            match seen.get(&s.ptr) {
                Some(Some(i)) => {
                    out[i].skip |= s.skip;
                    continue;
                }
                Some(None) => continue,
                None => {}
            }
            seen.insert(&s.ptr, None);
            match s.val {
                Value::Bool(true) => continue,
                Value::Bool(false) => return Ok(None),
                Value::Object(m) => {
                    let mut extra = Vec::new();
                    // Most schemas hold none of the keywords looked up
                    // below: one pass over the keys says which to look up.
                    if !has_flatten_keywords(m) {
                        seen.insert(&s.ptr, Some(out.len()));
                        out.push(s);
                        continue;
                    }
                    if let Some(r) = m.get("$dynamicRef") {
                        let r = r.as_str().ok_or_else(|| {
                            invalid(
                                &child(&s.ptr, "$dynamicRef"),
                                "$dynamicRef must be a string",
                            )
                        })?;
                        let (p, v) = self.resolve_dynamic(r, &s.ptr)?;
                        extra.push(Sub::new(p, v));
                    }
                    if let Some(r) = m.get("$ref") {
                        let r = r.as_str().ok_or_else(|| {
                            invalid(&child(&s.ptr, "$ref"), "$ref must be a string")
                        })?;
                        let (p, v) = self.resolve(r, &s.ptr)?;
                        extra.push(Sub::new(p, v));
                        if self.legacy {
                            // Draft-07 and before: siblings of $ref are ignored.
                            for e in extra.into_iter().rev() {
                                work.push(s.adopt(e));
                            }
                            continue;
                        }
                    }
                    self.rewrites(&s, m, &mut extra)?;
                    if let Some(a) = m.get("allOf") {
                        let a = a.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                            invalid(&child(&s.ptr, "allOf"), "allOf must be a non-empty array")
                        })?;
                        for (i, b) in a.iter().enumerate() {
                            extra.push(Sub::new(format!("{}/allOf/{i}", s.ptr), b));
                        }
                    }
                    for e in extra.into_iter().rev() {
                        work.push(s.adopt(e));
                    }
                    seen.insert(&s.ptr, Some(out.len()));
                    out.push(s);
                }
                _ => return Err(invalid(&s.ptr, "a schema must be an object or a boolean")),
            }
        }
        Ok(Some(out))
    }
}

impl<'a> Compiler<'a> {
    /// Compiles a flattened conjunction inline.
    pub(super) fn conj(&mut self, subs: Vec<Sub<'a>>) -> R<Option<Compiled>> {
        self.depth += 1;
        let r = self.conj_inner(subs);
        self.depth -= 1;
        r
    }

    pub(super) fn conj_inner(&mut self, subs: Vec<Sub<'a>>) -> R<Option<Compiled>> {
        if self.depth > MAX_DEPTH {
            return Err(GrammarError::TooLarge(format!(
                "schema nesting deeper than {MAX_DEPTH} (through $ref, anyOf or oneOf)"
            )));
        }
        self.work += 1;
        if self.work > MAX_WORK {
            return Err(GrammarError::TooLarge(format!(
                "more than {MAX_WORK} schema combinations (nested anyOf/oneOf/allOf)"
            )));
        }
        // Distribute the last anyOf/oneOf over the conjunction: the one a
        // chosen branch just brought in (a negation's disjunction) goes
        // first, so a contradiction shows before other choices multiply.
        if let Some((i, kw, bit, a)) = pending_disjunction(&subs)? {
            let s = &subs[i];
            let m = s
                .val
                .as_object()
                .expect("a disjunction is in an object schema");
            let kptr = child(&s.ptr, kw);
            let mut branches = Vec::new();
            // Under unevaluated*, annotations come from every anyOf
            // branch that passes: split by the exact set that passes.
            // A negated schema yields no annotations: no split under it.
            let scoped = bit == SKIP_ANYOF
                && s.eval
                && !m.contains_key("$fw_exclusive")
                && subs
                    .iter()
                    .any(|u| u.eval && has_unevaluated(u.val) && s.in_scope_of(&u.ptr));
            if scoped {
                if a.len() > 4 {
                    return Err(unsupported(
                        &kptr,
                        "anyOf with more than 4 branches under unevaluatedProperties/Items",
                    ));
                }
                let all: Vec<Sub<'a>> = a
                    .iter()
                    .enumerate()
                    .map(|(j, b)| Sub::new(format!("{kptr}/{j}"), b))
                    .collect();
                for set in 1u32..(1 << all.len()) {
                    let mut ns = subs.clone();
                    ns[i].skip |= bit;
                    for (j, b) in all.iter().enumerate() {
                        if set & (1 << j) != 0 {
                            ns.push(s.adopt(b.clone()));
                        } else {
                            ns.push(s.adopt(self.negate(b)?));
                        }
                    }
                    branches.extend(self.branch(ns)?);
                }
                return Ok(merge_choice(branches));
            }
            for (j, b) in a.iter().enumerate() {
                let mut ns = subs.clone();
                ns[i].skip |= bit;
                ns.push(s.adopt(Sub::new(format!("{kptr}/{j}"), b)));
                branches.extend(self.branch(ns)?);
            }
            let overlap = bit == SKIP_ONEOF
                && (0..branches.len()).any(|x| {
                    (x + 1..branches.len()).any(|y| !disjoint(&branches[x], &branches[y]))
                })
                && !self.discriminated(&subs, &kptr, a);
            if overlap {
                // Exactly one: branch j and the negation of every other.
                branches.clear();
                let all: Vec<Sub<'a>> = a
                    .iter()
                    .enumerate()
                    .map(|(j, b)| Sub::new(format!("{kptr}/{j}"), b))
                    .collect();
                for j in 0..all.len() {
                    let mut ns = subs.clone();
                    ns[i].skip |= bit;
                    ns.push(s.adopt(all[j].clone()));
                    for (k, other) in all.iter().enumerate() {
                        if k != j {
                            ns.push(s.adopt(self.negate(other).map_err(|e| {
                            unsupported(
                                &kptr,
                                format!("oneOf whose branches may overlap needs their negation: {e}"),
                            )
                        })?));
                        }
                    }
                    branches.extend(self.branch(ns)?);
                }
            }
            return Ok(merge_choice(branches));
        }
        let node = self.collect(&subs)?;
        self.emit(node)
    }

    /// True if no two `branches` of a oneOf (at `kptr`, distributed over
    /// the conjunction `subs`) share an instance because each pins a
    /// property to values the others rule out: `{"kind": {"const": "a"}}`
    /// in one branch, `{"kind": {"enum": ["b", "c"]}}` in another, with
    /// `kind` required (by the branch or the conjunction); or one branch
    /// requires a property another closes out (`additionalProperties:
    /// false` without naming it). Then the oneOf
    /// is an anyOf, with no negations to build. Only objects can tell the
    /// branches apart this way, so the conjunction or each branch must say
    /// `type: object`. Looks at the branches' own keywords, their `$ref`
    /// targets and `allOf` members (a few levels deep); `false` when unsure.
    pub(super) fn discriminated(
        &self,
        subs: &[Sub<'a>],
        kptr: &str,
        branches: &'a [Value],
    ) -> bool {
        let object_type = |t: Option<&Value>| match t {
            Some(Value::String(t)) => t == "object",
            Some(Value::Array(t)) => t.len() == 1 && t[0] == "object",
            _ => false,
        };
        let object_only = |v: &Value| object_type(v.get("type"));
        let parts: Vec<Vec<&Value>> = branches
            .iter()
            .enumerate()
            .map(|(j, b)| {
                let mut out = Vec::new();
                self.conjuncts(b, &format!("{kptr}/{j}"), 3, &mut out);
                out
            })
            .collect();
        let context: Vec<&Value> = subs.iter().map(|s| s.val).collect();
        let in_context = context.iter().any(|v| object_only(v));
        if !in_context && !parts.iter().all(|p| p.iter().any(|v| object_only(v))) {
            return false;
        }
        // Values a branch allows for property `key` (one part's `const` or
        // `enum` suffices: the branch allows a subset of it).
        let values = |p: &[&Value], key: &str| -> Option<Vec<Value>> {
            p.iter().find_map(|v| {
                let prop = v.get("properties")?.get(key)?;
                if self.legacy && prop.get("$ref").is_some() {
                    return None; // its siblings are ignored
                }
                match (prop.get("const"), prop.get("enum")) {
                    (Some(c), _) => Some(vec![c.clone()]),
                    (None, Some(Value::Array(e))) => Some(e.clone()),
                    _ => None,
                }
            })
        };
        let requires = |p: &[&Value], key: &str| {
            p.iter().any(|v| {
                v.get("required")
                    .and_then(Value::as_array)
                    .is_some_and(|r| r.iter().any(|k| k == key))
            })
        };
        // `y` admits no member `key`: some part closes the object
        // (`additionalProperties: false`, no patterns) without naming it.
        let forbids = |y: &[&Value], key: &str| {
            y.iter().any(|v| {
                v.get("additionalProperties") == Some(&Value::Bool(false))
                    && v.get("patternProperties").is_none()
                    && v.get("properties").and_then(|p| p.get(key)).is_none()
            })
        };
        let pair = |x: &[&Value], y: &[&Value]| {
            let keys = x
                .iter()
                .chain(&context)
                .filter_map(|v| v.get("required")?.as_array());
            keys.flatten().filter_map(Value::as_str).any(|key| {
                if requires(x, key) && forbids(y, key) {
                    return true;
                }
                match (values(x, key), values(y, key)) {
                    (Some(vx), Some(vy)) => {
                        (requires(x, key) || requires(&context, key)) && {
                            let vy = ValueSet::from_values(vy);
                            !vx.iter().any(|a| vy.contains(a))
                        }
                    }
                    _ => false,
                }
            })
        };
        (0..parts.len()).all(|x| {
            (x + 1..parts.len()).all(|y| pair(&parts[x], &parts[y]) || pair(&parts[y], &parts[x]))
        })
    }

    /// `v` and the schemas it is the conjunction of: its `$ref` target
    /// (only that, before draft 2019-09) and `allOf` members, `depth`
    /// levels down. A `$ref` that does not resolve adds nothing.
    pub(super) fn conjuncts(&self, v: &'a Value, ptr: &str, depth: u32, out: &mut Vec<&'a Value>) {
        let Some(m) = v.as_object() else {
            return;
        };
        if let Some(r) = m.get("$ref").and_then(Value::as_str) {
            if depth > 0 {
                if let Ok((p, t)) = self.resolve(r, ptr) {
                    self.conjuncts(t, &p, depth - 1, out);
                }
            }
            if self.legacy {
                return;
            }
        }
        out.push(v);
        if let (Some(Value::Array(a)), true) = (m.get("allOf"), depth > 0) {
            for (j, x) in a.iter().enumerate() {
                self.conjuncts(x, &format!("{ptr}/allOf/{j}"), depth - 1, out);
            }
        }
    }

    /// One branch of a distributed disjunction: the conjunction `ns`
    /// flattened and compiled, or `None` if it is plainly empty.
    pub(super) fn branch(&mut self, ns: Vec<Sub<'a>>) -> R<Option<Compiled>> {
        let Some(ns) = self.flatten(ns)? else {
            return Ok(None);
        };
        if self.prunable(&ns) {
            return Ok(None);
        }
        self.conj(ns)
    }

    /// True if a branch being distributed can be dropped: [`infeasible`]
    /// on the raw keywords (cheap, and it sees keywords `collect` may
    /// refuse), then [`Self::plainly_empty`] on the merged ones.
    pub(super) fn prunable(&mut self, subs: &[Sub<'a>]) -> bool {
        infeasible(subs) || self.plainly_empty(subs)
    }

    /// True if a flattened conjunction is empty on its plain keywords alone:
    /// its anyOf/oneOf (and the negations, which are anyOfs) left out, so
    /// the set checked is a superset and "empty" is exact. Checked before a
    /// branch is distributed further: allOf of many if/then (each a choice
    /// of two) is a product of choices, and most combinations contradict
    /// each other in a discriminating property (`type: {const: ..}` of
    /// two different values, so the key must be absent, but another
    /// branch requires it). Pruning them early keeps the product small.
    pub(super) fn plainly_empty(&mut self, subs: &[Sub<'a>]) -> bool {
        let Ok(n) = self.collect(subs) else {
            return false;
        };
        if node_is_empty(&n) {
            return true;
        }
        let only_objects =
            n.object && !(n.null || n.boolean || n.array || n.string || n.number != NumKind::None);
        if !only_objects {
            return false;
        }
        // A required property no value can take.
        for r in &n.required {
            let Ok(ps) = key_subs(&n, r, &self.value_dfas) else {
                return false;
            };
            match self.flatten(ps) {
                Ok(None) => return true,
                Ok(Some(ps)) => {
                    if self.collect(&ps).is_ok_and(|m| node_is_empty(&m)) {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }
}

pub(super) fn merge_choice(branches: Vec<Compiled>) -> Option<Compiled> {
    if branches.is_empty() {
        return None;
    }
    if branches.len() == 1 {
        return branches.into_iter().next();
    }
    let types = branches.iter().fold(0, |t, b| t | b.types);
    let values = if branches.iter().all(|b| b.values.is_some()) {
        Some(
            branches
                .iter()
                .flat_map(|b| b.values.clone().unwrap())
                .collect(),
        )
    } else {
        None
    };
    Some(Compiled {
        expr: Expr::Choice(branches.into_iter().map(|b| b.expr).collect()),
        types,
        values,
    })
}

/// (index in `subs`, keyword, skip bit, branches) of a pending disjunction.
pub(super) type Disjunction<'a> = (usize, &'static str, u8, &'a [Value]);

/// The anyOf/oneOf of a flattened conjunction to distribute next, the most
/// recently added first (see `conj_inner`); `None` when every one is
/// distributed.
pub(super) fn pending_disjunction<'a>(subs: &[Sub<'a>]) -> R<Option<Disjunction<'a>>> {
    for (i, s) in subs.iter().enumerate().rev() {
        let Value::Object(m) = s.val else { continue };
        for (kw, bit) in [("anyOf", SKIP_ANYOF), ("oneOf", SKIP_ONEOF)] {
            if s.skip & bit != 0 {
                continue;
            }
            let Some(a) = m.get(kw) else { continue };
            let a = a.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                invalid(
                    &child(&s.ptr, kw),
                    format!("{kw} must be a non-empty array"),
                )
            })?;
            return Ok(Some((i, kw, bit, a.as_slice())));
        }
    }
    Ok(None)
}

/// A quick test that a flattened conjunction accepts nothing, so that
/// distributing `anyOf`/`oneOf` (and the negations a `oneOf` adds) skips it
/// early instead of spending the combination budget on it. Sound, not
/// complete: no type in common, or objects only and a required key that
/// some schema forbids (a `properties` entry `false`, or
/// `additionalProperties: false` without it in `properties` and without
/// `patternProperties`), or fewer `maxProperties` than required keys.
pub(super) fn infeasible(subs: &[Sub]) -> bool {
    let mut types = T_ALL;
    let mut required: Vec<&str> = Vec::new();
    let mut max_props = u64::MAX;
    for s in subs {
        let Value::Object(m) = s.val else { continue };
        match m.get("type") {
            Some(Value::String(t)) => types &= type_name_bit(t),
            Some(Value::Array(a)) => {
                types &= a
                    .iter()
                    .map(|t| t.as_str().map_or(T_ALL, type_name_bit))
                    .fold(0, |x, y| x | y)
            }
            _ => {}
        }
        if let Some(Value::Array(r)) = m.get("required") {
            required.extend(r.iter().filter_map(Value::as_str));
        }
        if let Some(x) = m.get("maxProperties").and_then(|v| as_u64(v, "", "").ok()) {
            max_props = max_props.min(x);
        }
    }
    if types == 0 {
        return true;
    }
    if types != T_OBJ || required.is_empty() {
        return false;
    }
    required.sort_unstable();
    required.dedup();
    if required.len() as u64 > max_props {
        return true;
    }
    subs.iter().any(|s| {
        let Value::Object(m) = s.val else {
            return false;
        };
        let props = m.get("properties").and_then(Value::as_object);
        let closed = m.get("additionalProperties") == Some(&Value::Bool(false))
            && !m.contains_key("patternProperties");
        required
            .iter()
            .any(|r| match props.and_then(|p| p.get(*r)) {
                Some(v) => v == &Value::Bool(false),
                None => closed,
            })
    })
}

/// The type bit of a `type` name (`T_ALL` for an unknown one: no pruning).
pub(super) fn type_name_bit(t: &str) -> u8 {
    match t {
        "null" => T_NULL,
        "boolean" => T_BOOL,
        "object" => T_OBJ,
        "array" => T_ARR,
        "string" => T_STR,
        "number" | "integer" => T_NUM,
        _ => T_ALL,
    }
}

pub(super) fn disjoint(a: &Compiled, b: &Compiled) -> bool {
    if a.types & b.types == 0 {
        return true;
    }
    match (&a.values, &b.values) {
        (Some(x), Some(y)) => {
            let y = ValueSet::from_values(y.iter().cloned());
            !x.iter().any(|v| y.contains(v))
        }
        (Some(x), None) => x.iter().all(|v| type_bit(v) & b.types == 0),
        (None, Some(y)) => y.iter().all(|v| type_bit(v) & a.types == 0),
        _ => false,
    }
}
