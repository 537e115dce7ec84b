//! Rewrites that turn keywords into conjuncts: internal references,
//! `not` (a negation built as a made-up schema, keyword by keyword),
//! `if`/`then`/`else` and `dependent*` as disjunctions.

use super::context::{as_u64, child, invalid, unsupported, Compiler, StrRule, Sub, IGNORED, R};
use super::options::FormatMode;
use super::string::{drop_trailing_lookahead, split_leading_lookaheads};
use crate::error::GrammarError;
use serde_json::{Map, Value};
/// A numeric keyword's value, checked to be a number.
pub(super) fn number_keyword(v: &Value, kp: &str, k: &str) -> R<Value> {
    match v {
        Value::Number(_) => Ok(v.clone()),
        _ => Err(invalid(kp, format!("{k} must be a number"))),
    }
}

/// The error for a keyword whose negation is not expressible.
pub(super) fn cannot_negate(kp: &str, k: &str) -> GrammarError {
    unsupported(
        kp,
        format!("keyword {k:?} under `not` (or a negated `if`) cannot be negated yet"),
    )
}

impl<'a> Compiler<'a> {
    /// The conjuncts a schema adds beside its own keywords: internal
    /// references, and conditionals rewritten as disjunctions:
    ///
    /// * `not: S` is the negation of S, built as a schema ([`Self::negate`]);
    /// * `if: I, then: T, else: E` is `anyOf: [I ∧ T, ¬I ∧ E]`;
    /// * `dependentRequired: {k: [a]}` is `anyOf: [k absent, k and a present]`;
    /// * `dependentSchemas: {k: S}` is `anyOf: [k absent, k present ∧ S]`.
    pub(super) fn rewrites(
        &self,
        s: &Sub<'a>,
        m: &'a Map<String, Value>,
        extra: &mut Vec<Sub<'a>>,
    ) -> R<()> {
        if let Some(v) = m.get("$fw_all") {
            for x in v.as_array().into_iter().flatten() {
                extra.push(self.registered(x, &s.ptr)?);
            }
        }
        if let Some(v) = m.get("$fw_not") {
            let t = self.registered(v, &s.ptr)?;
            extra.push(self.negate(&t)?);
        }
        if let Some(v) = m.get("$fw_nots") {
            for x in v.as_array().into_iter().flatten() {
                let t = self.registered(x, &s.ptr)?;
                extra.push(self.negate(&t)?);
            }
        }
        if let Some(v) = m.get("not") {
            extra.push(self.negate(&Sub::new(child(&s.ptr, "not"), v))?);
        }
        if let Some(i) = m.get("if") {
            // Alone, `if` validates nothing, but when it passes its
            // annotations count for unevaluated*: split on it when its
            // negation is expressible.
            let alone = !m.contains_key("then") && !m.contains_key("else");
            let splittable =
                !alone || (i.is_object() && self.negate(&Sub::new(child(&s.ptr, "if"), i)).is_ok());
            if splittable {
                let ip = self.register(Sub::new(child(&s.ptr, "if"), i));
                let mut branches = Vec::new();
                let t = match m.get("then") {
                    Some(t) => vec![ip, self.register(Sub::new(child(&s.ptr, "then"), t))],
                    None => vec![ip],
                };
                branches.push(serde_json::json!({ "$fw_all": t }));
                let mut b = serde_json::json!({ "$fw_not": ip });
                if let Some(e) = m.get("else") {
                    b["$fw_all"] =
                        serde_json::json!([self.register(Sub::new(child(&s.ptr, "else"), e))]);
                }
                branches.push(b);
                extra.push(Sub::new(
                    format!("{}/if(cond)", s.ptr),
                    self.made_up(serde_json::json!({ "anyOf": branches, "$fw_exclusive": true })),
                ));
            }
        }
        for kw in ["dependentRequired", "dependentSchemas", "dependencies"] {
            let Some(d) = m.get(kw) else { continue };
            let kp = child(&s.ptr, kw);
            let d = d
                .as_object()
                .ok_or_else(|| invalid(&kp, format!("{kw} must be an object")))?;
            for (k, v) in d {
                let vp = child(&kp, k);
                let present = match v {
                    Value::Array(a) if kw != "dependentSchemas" => {
                        let mut req = vec![Value::String(k.clone())];
                        for x in a {
                            if !x.is_string() {
                                return Err(invalid(&vp, "dependencies must list strings"));
                            }
                            req.push(x.clone());
                        }
                        serde_json::json!({ "required": req })
                    }
                    Value::Object(_) | Value::Bool(_) if kw != "dependentRequired" => {
                        let n = self.register(Sub::new(vp.clone(), v));
                        serde_json::json!({ "required": [k], "$fw_all": [n] })
                    }
                    _ => return Err(invalid(&vp, format!("bad {kw} value"))),
                };
                let absent = serde_json::json!({ "properties": { k.clone(): false } });
                extra.push(Sub::new(
                    format!("{vp}(dep)"),
                    self.made_up(
                        serde_json::json!({ "anyOf": [absent, present], "$fw_exclusive": true }),
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The negation of a schema, as a made-up schema (a disjunction).
    ///
    /// Each keyword is negated on its own (¬(a ∧ b) = ¬a ∨ ¬b). A keyword
    /// that constrains one type only holds for every other type, so its
    /// negation holds for that type only (¬minLength: a short *string*).
    /// Subschemas are
    /// negated lazily through `$fw_not`, so recursive schemas terminate.
    /// Keywords whose negation is not expressible are reported.
    pub(super) fn negate(&self, s: &Sub<'a>) -> R<Sub<'a>> {
        let ptr = format!("{}(not)", s.ptr);
        let cached = self.negations.borrow().get(&ptr).copied();
        let v = match cached {
            Some(v) => v,
            None => {
                let v: &'a Value = self.made_up(self.negation(s)?);
                self.negations.borrow_mut().insert(ptr.clone(), v);
                v
            }
        };
        // A negation passes where its schema fails: no annotations.
        let mut n = Sub::new(ptr, v);
        n.eval = false;
        Ok(n)
    }

    pub(super) fn negation(&self, s: &Sub<'a>) -> R<Value> {
        use serde_json::json;
        let m = match s.val {
            Value::Bool(b) => return Ok(Value::Bool(!b)),
            Value::Object(m) => m,
            _ => return Err(invalid(&s.ptr, "a schema must be an object or a boolean")),
        };
        let mut branches: Vec<Value> = Vec::new();
        let reg = |p: String, v: &'a Value| self.register(Sub::new(p, v));
        if let Some(r) = m.get("$ref") {
            let r = r
                .as_str()
                .ok_or_else(|| invalid(&child(&s.ptr, "$ref"), "$ref must be a string"))?;
            let (p, v) = self.resolve(r, &s.ptr)?;
            branches.push(json!({ "$fw_not": reg(p, v) }));
            if self.legacy {
                return Ok(json!({ "anyOf": branches }));
            }
        }
        for (k, v) in m {
            let kp = child(&s.ptr, k);
            let kv = (k.as_str(), v);
            let (kp, branches) = (kp.as_str(), &mut branches);
            match k.as_str() {
                "$ref" | "then" | "else" | "minContains" | "maxContains" => {}
                "$fw_all" | "$fw_not" | "$fw_nots" => {
                    self.negate_combinator(s, m, kv, kp, branches)?
                }
                "$fw_not_values" | "$fw_not_pattern" | "$fw_not_format" => {
                    return Err(cannot_negate(kp, k))
                }
                "multipleOf" | "$fw_not_multiple_of" | "$fw_non_integer" => {
                    self.negate_value_keyword(kv, kp, branches)?
                }
                "format" if self.options.format == FormatMode::Assert => {
                    self.negate_value_keyword(kv, kp, branches)?
                }
                _ if IGNORED.contains(&k.as_str()) && k != "allOf" => {}
                "allOf" | "anyOf" | "oneOf" | "not" | "if" => {
                    self.negate_combinator(s, m, kv, kp, branches)?
                }
                "type" | "enum" | "const" => self.negate_value_keyword(kv, kp, branches)?,
                "required" | "properties" => self.negate_object_keyword(m, kv, kp, branches)?,
                "items" | "prefixItems" | "contains" => {
                    self.negate_array_keyword(m, kv, kp, branches)?
                }
                "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
                | "maxProperties" | "minimum" | "maximum" | "exclusiveMinimum"
                | "exclusiveMaximum" | "pattern" => self.negate_bound(m, kv, kp, branches)?,
                "uniqueItems" if v == &Value::Bool(false) => {}
                "dependentRequired" | "dependentSchemas" | "dependencies" => {
                    self.negate_object_keyword(m, kv, kp, branches)?
                }
                "additionalProperties"
                | "patternProperties"
                | "propertyNames"
                | "unevaluatedProperties"
                | "unevaluatedItems"
                | "additionalItems"
                    if v == &Value::Bool(true) || v.as_object().is_some_and(|o| o.is_empty()) => {}
                "additionalProperties" | "patternProperties" | "propertyNames" => {
                    self.negate_object_keyword(m, kv, kp, branches)?
                }
                "unevaluatedProperties"
                | "unevaluatedItems"
                | "additionalItems"
                | "uniqueItems"
                | "$fw_exists"
                | "$recursiveRef" => return Err(cannot_negate(kp, k)),
                "$dynamicRef" => self.negate_combinator(s, m, kv, kp, branches)?,
                _ => {} // unknown keyword: validates nothing, its negation is false
            }
        }
        Ok(if branches.is_empty() {
            Value::Bool(false)
        } else {
            json!({ "anyOf": branches })
        })
    }
    /// The negation of an applicator keyword (`allOf`, `anyOf`, `oneOf`,
    /// `not`, `if`, `$dynamicRef` and the internal `$fw_*` references).
    pub(super) fn negate_combinator(
        &self,
        s: &Sub<'a>,
        m: &'a Map<String, Value>,
        (k, v): (&str, &'a Value),
        kp: &str,
        branches: &mut Vec<Value>,
    ) -> R<()> {
        use serde_json::json;
        let reg = |p: String, v: &'a Value| self.register(Sub::new(p, v));
        match k {
            "$fw_all" => {
                for x in v.as_array().into_iter().flatten() {
                    branches.push(json!({ "$fw_not": x }));
                }
            }
            "$fw_not" => branches.push(json!({ "$fw_all": [v] })),
            "$fw_nots" => {
                for x in v.as_array().into_iter().flatten() {
                    branches.push(json!({ "$fw_all": [x] }));
                }
            }
            "allOf" => {
                for (i, b) in v.as_array().into_iter().flatten().enumerate() {
                    branches.push(json!({ "$fw_not": reg(format!("{kp}/{i}"), b) }));
                }
            }
            "anyOf" => {
                let all: Vec<usize> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, b)| reg(format!("{kp}/{i}"), b))
                    .collect();
                branches.push(json!({ "$fw_nots": all }));
            }
            "oneOf" => {
                // None holds, or at least two hold.
                let all: Vec<usize> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, b)| reg(format!("{kp}/{i}"), b))
                    .collect();
                branches.push(json!({ "$fw_nots": all }));
                for x in 0..all.len() {
                    for y in x + 1..all.len() {
                        branches.push(json!({ "$fw_all": [all[x], all[y]] }));
                    }
                }
            }
            "not" => branches.push(json!({ "$fw_all": [reg(kp.to_string(), v)] })),
            "if" => {
                let i = reg(kp.to_string(), v);
                if let Some(t) = m.get("then") {
                    let t = reg(child(&s.ptr, "then"), t);
                    branches.push(json!({ "$fw_all": [i], "$fw_not": t }));
                }
                if let Some(e) = m.get("else") {
                    let e = reg(child(&s.ptr, "else"), e);
                    branches.push(json!({ "$fw_nots": [i, e] }));
                }
            }
            "$dynamicRef" => {
                let r = v
                    .as_str()
                    .ok_or_else(|| invalid(kp, "$dynamicRef must be a string"))?;
                let (p, t) = self.resolve_dynamic(r, &s.ptr)?;
                branches.push(json!({ "$fw_not": reg(p, t) }));
            }
            _ => {}
        }
        Ok(())
    }

    /// The negation of `type`, `enum`/`const`, `multipleOf` or an asserted
    /// `format`.
    pub(super) fn negate_value_keyword(
        &self,
        (k, v): (&str, &'a Value),
        kp: &str,
        branches: &mut Vec<Value>,
    ) -> R<()> {
        use serde_json::json;
        const TYPES: [&str; 6] = ["null", "boolean", "object", "array", "string", "number"];
        let reg = |p: String, v: &'a Value| self.register(Sub::new(p, v));
        match k {
            "multipleOf" => {
                number_keyword(v, kp, k)?;
                branches.push(json!({ "type": "number", "$fw_not_multiple_of": v }));
            }
            "$fw_not_multiple_of" => branches.push(json!({ "multipleOf": v })),
            // Not a non-integer number: anything but a number, or an integer.
            "$fw_non_integer" => branches.push(json!({
                "type": ["null", "boolean", "object", "array", "string", "integer"]
            })),
            "format" if self.options.format == FormatMode::Assert => {
                let f = v.as_str().unwrap_or("");
                match StrRule::Format(f.to_string()).regexes(kp)? {
                    // Not of the format: a string its regex rejects.
                    Some(r) if r.len() == 1 => branches.push(json!({
                        "type": "string", "$fw_not_format": f
                    })),
                    // An intersection of regexes cannot be an exclusion.
                    Some(_) => return Err(cannot_negate(kp, k)),
                    None => {}
                }
            }
            "type" => {
                let names: Vec<&str> = match v {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => return Err(invalid(kp, "type must be a string or an array")),
                };
                // Not an integer: another type, or a number that is
                // not an integer.
                let only_integer = names.contains(&"integer") && !names.contains(&"number");
                let rest: Vec<&str> = TYPES
                    .iter()
                    .copied()
                    .filter(|t| !(names.contains(t) || (only_integer && *t == "number")))
                    .collect();
                if !rest.is_empty() {
                    branches.push(json!({ "type": rest }));
                }
                if only_integer {
                    branches.push(json!({ "type": "number", "$fw_non_integer": true }));
                }
            }
            "enum" | "const" => {
                let vals = if k == "const" {
                    vec![v.clone()]
                } else {
                    v.as_array()
                        .ok_or_else(|| invalid(kp, "enum must be an array"))?
                        .clone()
                };
                // Not any of them: scalars are excluded spellings; an
                // object or array value is negated as the schema that
                // holds exactly it (every key/position with its const).
                let (scalars, structured): (Vec<Value>, Vec<Value>) = vals
                    .into_iter()
                    .partition(|x| !(x.is_object() || x.is_array()));
                let mut b = json!({ "$fw_not_values": scalars });
                if !structured.is_empty() {
                    let regs: Vec<usize> = structured
                        .iter()
                        .enumerate()
                        .map(|(i, x)| reg(format!("{kp}/{i}(value)"), self.made_up(exactly(x))))
                        .collect();
                    b["$fw_nots"] = json!(regs);
                }
                branches.push(b);
            }
            _ => {}
        }
        Ok(())
    }

    /// The negation of an object keyword: a missing required key, a member
    /// failing its schema, a broken dependency, a witness member.
    pub(super) fn negate_object_keyword(
        &self,
        m: &'a Map<String, Value>,
        (k, v): (&str, &'a Value),
        kp: &str,
        branches: &mut Vec<Value>,
    ) -> R<()> {
        use serde_json::json;
        let reg = |p: String, v: &'a Value| self.register(Sub::new(p, v));
        match k {
            "required" => {
                for r in v.as_array().into_iter().flatten() {
                    let r = r
                        .as_str()
                        .ok_or_else(|| invalid(kp, "required must list strings"))?;
                    branches.push(json!({ "type": "object", "properties": { r: false } }));
                }
            }
            "properties" => {
                let p = v
                    .as_object()
                    .ok_or_else(|| invalid(kp, "properties must be an object"))?;
                for (name, sub) in p {
                    // `{}` never fails: no branch (it would be unsatisfiable).
                    if sub == &Value::Bool(true) || sub.as_object().is_some_and(|o| o.is_empty()) {
                        continue;
                    }
                    let n = reg(child(kp, name), sub);
                    branches.push(json!({ "type": "object", "required": [name],
                        "properties": { name.clone(): { "$fw_not": n } } }));
                }
            }
            "dependentRequired" | "dependentSchemas" | "dependencies" => {
                let d = v
                    .as_object()
                    .ok_or_else(|| invalid(kp, format!("{k} must be an object")))?;
                for (key, dv) in d {
                    match dv {
                        Value::Array(a) => {
                            for x in a {
                                let x = x
                                    .as_str()
                                    .ok_or_else(|| invalid(kp, "dependencies must list strings"))?;
                                branches.push(json!({ "type": "object", "required": [key],
                                    "properties": { x: false } }));
                            }
                        }
                        _ => {
                            let n = reg(child(kp, key), dv);
                            branches.push(json!({ "type": "object", "required": [key],
                                "$fw_not": n }));
                        }
                    }
                }
            }
            // Some member breaks it: a key of the keyword's kind (not
            // in `properties`, matching no pattern; matching this
            // pattern; any key) whose value fails the subschema, or
            // (propertyNames) a key failing it. See `$fw_exists`.
            "additionalProperties" => {
                if m.contains_key("unevaluatedProperties") {
                    return Err(cannot_negate(kp, k));
                }
                let known: Vec<Value> = match m.get("properties") {
                    Some(Value::Object(p)) => p.keys().map(|k| json!(k)).collect(),
                    _ => Vec::new(),
                };
                let pats: Vec<Value> = match m.get("patternProperties") {
                    Some(Value::Object(p)) => p.keys().map(|k| json!(k)).collect(),
                    _ => Vec::new(),
                };
                let key = self.made_up(json!({ "type": "string",
                    "$fw_not_values": known, "$fw_not_pattern": pats }));
                let key = reg(format!("{kp}(key)"), key);
                let value = self.register(self.negate(&Sub::new(kp.to_string(), v))?);
                branches.push(json!({ "type": "object",
                    "$fw_exists": { "key": key, "value": value } }));
            }
            "patternProperties" => {
                let p = v
                    .as_object()
                    .ok_or_else(|| invalid(kp, "patternProperties must be an object"))?;
                for (pat, sub) in p {
                    if sub == &Value::Bool(true) || sub.as_object().is_some_and(|o| o.is_empty()) {
                        continue;
                    }
                    let pp = child(kp, pat);
                    let key = self.made_up(json!({ "type": "string", "pattern": pat }));
                    let key = reg(format!("{pp}(key)"), key);
                    let value = self.register(self.negate(&Sub::new(pp, sub))?);
                    branches.push(json!({ "type": "object",
                        "$fw_exists": { "key": key, "value": value } }));
                }
            }
            "propertyNames" => {
                let key = self.register(self.negate(&Sub::new(kp.to_string(), v))?);
                branches.push(json!({ "type": "object", "$fw_exists": { "key": key } }));
            }
            _ => {}
        }
        Ok(())
    }

    /// The negation of `items`, `prefixItems` or `contains`.
    pub(super) fn negate_array_keyword(
        &self,
        m: &'a Map<String, Value>,
        (k, v): (&str, &'a Value),
        kp: &str,
        branches: &mut Vec<Value>,
    ) -> R<()> {
        use serde_json::json;
        let reg = |p: String, v: &'a Value| self.register(Sub::new(p, v));
        match k {
            "items" | "prefixItems" => match v {
                Value::Array(a) => {
                    if k == "items" && m.contains_key("prefixItems") {
                        return Ok(());
                    }
                    for (i, sub) in a.iter().enumerate() {
                        let n = reg(format!("{kp}/{i}"), sub);
                        let mut prefix = vec![Value::Bool(true); i];
                        prefix.push(json!({ "$fw_not": n }));
                        branches.push(json!({ "type": "array", "prefixItems": prefix }));
                    }
                }
                _ if k == "items" => {
                    if m.contains_key("prefixItems") {
                        return Err(cannot_negate(kp, k));
                    }
                    if v == &Value::Bool(true) {
                        return Ok(());
                    }
                    let n = reg(kp.to_string(), v);
                    branches.push(json!({ "type": "array", "contains": { "$fw_not": n } }));
                }
                _ => return Err(invalid(kp, "prefixItems must be an array")),
            },
            "contains" => {
                if m.contains_key("minContains") || m.contains_key("maxContains") {
                    return Err(cannot_negate(kp, k));
                }
                let n = reg(kp.to_string(), v);
                branches.push(json!({ "type": "array", "items": { "$fw_not": n } }));
            }
            _ => {}
        }
        Ok(())
    }

    /// The negation of a count (`minLength`, `maxItems`, …), a numeric
    /// bound or a `pattern`.
    pub(super) fn negate_bound(
        &self,
        m: &'a Map<String, Value>,
        (k, v): (&str, &'a Value),
        kp: &str,
        branches: &mut Vec<Value>,
    ) -> R<()> {
        use serde_json::json;
        match k {
            "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
            | "maxProperties" => {
                let x = as_u64(v, kp, k)?;
                let (t, flip) = match k {
                    "minItems" => ("array", "maxItems"),
                    "maxItems" => ("array", "minItems"),
                    "minLength" => ("string", "maxLength"),
                    "maxLength" => ("string", "minLength"),
                    "minProperties" => ("object", "maxProperties"),
                    _ => ("object", "minProperties"),
                };
                if k.starts_with("min") && x == 0 {
                    return Ok(());
                }
                let y = if k.starts_with("min") {
                    x - 1
                } else {
                    x.saturating_add(1)
                };
                branches.push(json!({ "type": t, flip: y }));
            }
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                let is_min = k.ends_with("inimum");
                let (bound, excl) = match v {
                    Value::Bool(_) => return Ok(()), // draft-04 modifier: read below
                    _ if !k.starts_with("exclusive") => {
                        let draft4 = m.get(if is_min {
                            "exclusiveMinimum"
                        } else {
                            "exclusiveMaximum"
                        }) == Some(&Value::Bool(true));
                        (number_keyword(v, kp, k)?, draft4)
                    }
                    _ => (number_keyword(v, kp, k)?, true),
                };
                let flip = match (is_min, excl) {
                    (true, false) => "exclusiveMaximum",
                    (true, true) => "maximum",
                    (false, false) => "exclusiveMinimum",
                    (false, true) => "minimum",
                };
                branches.push(json!({ "type": "number", flip: bound }));
            }
            "pattern" => match split_leading_lookaheads(&{
                let p = v.as_str().unwrap_or_default();
                drop_trailing_lookahead(p).unwrap_or_else(|| p.to_string())
            }) {
                // Not (^R and ^A and not ^B): one of them fails.
                Some((rest, pos, neg)) => {
                    branches
                        .push(json!({ "type": "string", "$fw_not_pattern": format!("^{rest}") }));
                    for a in pos {
                        branches.push(
                            json!({ "type": "string", "$fw_not_pattern": format!("^(?:{a})") }),
                        );
                    }
                    for b in neg {
                        branches.push(json!({ "type": "string", "pattern": format!("^(?:{b})") }));
                    }
                }
                None => {
                    let p = v.as_str().unwrap_or_default();
                    let p = drop_trailing_lookahead(p).unwrap_or_else(|| p.to_string());
                    branches.push(json!({ "type": "string", "$fw_not_pattern": p }))
                }
            },
            _ => {}
        }
        Ok(())
    }
}

/// The schema whose only instance is the object or array `x` (its keys
/// or positions each with their `const`), so that "not `x`" can be built
/// as a negation.
pub(super) fn exactly(x: &Value) -> Value {
    use serde_json::json;
    match x {
        Value::Object(m) => {
            let props: Map<String, Value> = m
                .iter()
                .map(|(k, v)| (k.clone(), json!({ "enum": [v] })))
                .collect();
            json!({ "type": "object", "required": m.keys().collect::<Vec<_>>(),
                    "properties": props, "additionalProperties": false })
        }
        Value::Array(a) => {
            let items: Vec<Value> = a.iter().map(|v| json!({ "enum": [v] })).collect();
            json!({ "type": "array", "minItems": a.len(), "maxItems": a.len(), "items": items })
        }
        v => json!({ "enum": [v] }),
    }
}
