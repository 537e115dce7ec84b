//! Merging a flattened conjunction into one [`Node`]: every keyword of every
//! schema read into the node (types and values intersected, bounds
//! tightened, object and array keywords kept per holder), then
//! `unevaluated*` over the annotations of each schema's own subtree.

use super::context::{
    as_u64, child, has_unevaluated, invalid, unsupported, ArrKw, Bound, Compiler, Node, NumKind,
    ObjKw, StrRule, Sub, Witness, IGNORED, R,
};
use super::number::Decimal;
use super::options::FormatMode;
use super::scalar::step_value;
use super::string::{drop_trailing_lookahead, split_leading_lookaheads};
use super::values::ValueSet;
use serde_json::{Map, Value};
impl<'a> Compiler<'a> {
    /// Merges the keywords of a flattened conjunction without anyOf/oneOf.
    pub(super) fn collect(&mut self, subs: &[Sub<'a>]) -> R<Node<'a>> {
        let mut n = Node::new();
        for s in subs {
            let m = match s.val {
                Value::Object(m) => m,
                _ => continue,
            };
            let mut obj = ObjKw {
                ptr: s.ptr.clone(),
                ..Default::default()
            };
            let mut has_obj = false;
            let mut arr = ArrKw {
                ptr: s.ptr.clone(),
                prefix: Vec::new(),
                rest: None,
            };
            let mut has_arr = false;
            let items_is_array = m.get("items").is_some_and(Value::is_array);
            for (k, v) in m {
                // The keyword's pointer, made only where it is kept or reported.
                let kp = || child(&s.ptr, k);
                match k.as_str() {
                    "format" if self.options.format == FormatMode::Assert => {
                        if let Some(f) = v.as_str() {
                            n.patterns.push((kp(), StrRule::Format(f.to_string())));
                        }
                    }
                    _ if IGNORED.contains(&k.as_str()) => {}
                    "anyOf" | "oneOf" => {}
                    // Rewritten into conjuncts by `rewrites`.
                    "$fw_all" | "$fw_not" | "$fw_nots" | "$fw_exclusive" | "not" | "if"
                    | "then" | "else" | "dependentRequired" | "dependentSchemas"
                    | "dependencies" => {}
                    "$fw_non_integer"
                    | "$fw_not_multiple_of"
                    | "$fw_not_values"
                    | "$fw_not_pattern"
                    | "$fw_exists"
                    | "$fw_not_format" => self.collect_internal(&mut n, &s.ptr, k, v)?,
                    "pattern" | "type" | "enum" | "const" | "minLength" | "maxLength" => {
                        self.collect_string_keyword(&mut n, &s.ptr, k, v)?
                    }
                    "minimum" | "exclusiveMinimum" | "maximum" | "exclusiveMaximum"
                    | "multipleOf" => self.collect_number_keyword(&mut n, m, &s.ptr, k, v)?,
                    "properties"
                    | "additionalProperties"
                    | "patternProperties"
                    | "propertyNames"
                    | "minProperties"
                    | "maxProperties"
                    | "required" => {
                        self.collect_object_keyword(&mut n, (&mut obj, &mut has_obj), &s.ptr, k, v)?
                    }
                    // Read after the loop, over the whole conjunction.
                    "unevaluatedProperties" | "unevaluatedItems" => {}
                    "items" | "prefixItems" | "minItems" | "maxItems" | "uniqueItems"
                    | "minContains" | "maxContains" | "contains" => self.collect_array_keyword(
                        &mut n,
                        (&mut arr, &mut has_arr),
                        m,
                        &s.ptr,
                        (k, v),
                    )?,
                    // Only meaningful next to an array-form `items` (else ignored).
                    "additionalItems" if items_is_array && !m.contains_key("prefixItems") => self
                        .collect_array_keyword(
                        &mut n,
                        (&mut arr, &mut has_arr),
                        m,
                        &s.ptr,
                        (k, v),
                    )?,
                    "$dynamicRef" => {} // resolved by `flatten`
                    "$recursiveRef" => {
                        return Err(unsupported(
                            &kp(),
                            format!("keyword {k:?} is not supported yet"),
                        ))
                    }
                    _ => {} // unknown keyword: validates nothing
                }
            }
            if has_obj {
                n.objs.push(obj);
            }
            if has_arr {
                n.arrs.push(arr);
            }
        }
        for u in subs {
            if has_unevaluated(u.val) {
                if !u.eval {
                    return Err(unsupported(
                        &u.ptr,
                        "unevaluatedProperties/Items under a negation is not supported",
                    ));
                }
                self.unevaluated(&mut n, u, subs)?;
            }
        }
        Ok(n)
    }

    /// Reads an internal keyword of a made-up schema (negations, witnesses).
    pub(super) fn collect_internal(
        &self,
        n: &mut Node<'a>,
        ptr: &str,
        k: &str,
        v: &'a Value,
    ) -> R<()> {
        let kp = || child(ptr, k);
        match k {
            "$fw_non_integer" => n.non_integer = true,
            "$fw_not_multiple_of" => {
                let d = step_value(v, &kp())?;
                n.not_multiple_of
                    .push((d, kp().replace("$fw_not_multiple_of", "multipleOf")));
            }
            "$fw_not_values" => {
                for x in v.as_array().into_iter().flatten() {
                    n.not_values.insert(x.clone());
                }
                n.not_values_ptr = kp();
            }
            "$fw_not_pattern" => {
                // One pattern, or a list (the keys of a negated
                // additionalProperties' patternProperties).
                let ps = match v {
                    Value::Array(a) => a.iter().collect(),
                    _ => vec![v],
                };
                for p in ps {
                    let p = p
                        .as_str()
                        .ok_or_else(|| invalid(&kp(), "pattern must be a string"))?;
                    n.not_patterns.push((
                        kp().replace("$fw_not_pattern", "pattern"),
                        StrRule::Pattern(p.to_string()),
                    ));
                }
            }
            "$fw_exists" => {
                let key = self.registered(&v["key"], &kp())?;
                let value = match v.get("value") {
                    Some(x) => Some(self.registered(x, &kp())?),
                    None => None,
                };
                n.exists.push(Witness {
                    ptr: ptr.to_string(),
                    key,
                    value,
                });
            }
            "$fw_not_format" => {
                let f = v.as_str().unwrap_or_default();
                n.not_patterns.push((
                    kp().replace("$fw_not_format", "format"),
                    StrRule::Format(f.to_string()),
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads `type`, `enum`/`const` or a string keyword (`pattern`, lengths).
    pub(super) fn collect_string_keyword(
        &self,
        n: &mut Node<'a>,
        ptr: &str,
        k: &str,
        v: &'a Value,
    ) -> R<()> {
        let kp = || child(ptr, k);
        match k {
            "pattern" => {
                let p = v
                    .as_str()
                    .ok_or_else(|| invalid(&kp(), "pattern must be a string"))?;
                let plain = drop_trailing_lookahead(p);
                let p = plain.as_deref().unwrap_or(p);
                match split_leading_lookaheads(p) {
                    // `^(?=A)(?!B)R`: `^R` and `^A` hold, `^B` does not.
                    Some((rest, pos, neg)) => {
                        n.patterns
                            .push((kp(), StrRule::Pattern(format!("^{rest}"))));
                        for a in pos {
                            n.patterns
                                .push((kp(), StrRule::Pattern(format!("^(?:{a})"))));
                        }
                        for b in neg {
                            n.not_patterns
                                .push((kp(), StrRule::Pattern(format!("^(?:{b})"))));
                        }
                    }
                    None => n.patterns.push((kp(), StrRule::Pattern(p.to_string()))),
                }
            }
            "type" => {
                let names: Vec<&Value> = match v {
                    Value::String(_) => vec![v],
                    Value::Array(a) => a.iter().collect(),
                    _ => return Err(invalid(&kp(), "type must be a string or an array")),
                };
                let (mut nu, mut bo, mut ob, mut ar, mut st) = (false, false, false, false, false);
                let mut num = NumKind::None;
                for t in names {
                    match t.as_str() {
                        Some("null") => nu = true,
                        Some("boolean") => bo = true,
                        Some("object") => ob = true,
                        Some("array") => ar = true,
                        Some("string") => st = true,
                        Some("number") => num = NumKind::Num,
                        Some("integer") => {
                            if num == NumKind::None {
                                num = NumKind::Int
                            }
                        }
                        _ => return Err(invalid(&kp(), format!("unknown type {t}"))),
                    }
                }
                n.null &= nu;
                n.boolean &= bo;
                n.object &= ob;
                n.array &= ar;
                n.string &= st;
                n.number = match (n.number, num) {
                    (NumKind::None, _) | (_, NumKind::None) => NumKind::None,
                    (NumKind::Int, _) | (_, NumKind::Int) => NumKind::Int,
                    _ => NumKind::Num,
                };
            }
            "enum" | "const" => {
                let vals: Vec<Value> = if k == "const" {
                    vec![v.clone()]
                } else {
                    v.as_array()
                        .ok_or_else(|| invalid(&kp(), "enum must be an array"))?
                        .clone()
                };
                let vals = ValueSet::from_values(vals);
                n.values = Some(match n.values.take() {
                    None => vals,
                    Some(mut old) => {
                        old.retain(|x| vals.contains(x));
                        old
                    }
                });
                n.values_ptr = kp();
            }
            "minLength" => {
                n.min_len = n.min_len.max(as_u64(v, &kp(), k)?);
                n.len_ptr = kp();
            }
            "maxLength" => {
                let x = as_u64(v, &kp(), k)?;
                n.len_ptr = kp();
                n.max_len = Some(n.max_len.map_or(x, |y| y.min(x)));
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads a numeric bound or `multipleOf`.
    pub(super) fn collect_number_keyword(
        &self,
        n: &mut Node<'a>,
        m: &'a Map<String, Value>,
        ptr: &str,
        k: &str,
        v: &'a Value,
    ) -> R<()> {
        let kp = || child(ptr, k);
        match k {
            "minimum" | "exclusiveMinimum" | "maximum" | "exclusiveMaximum" => {
                let is_min = k.ends_with("inimum");
                let (val, excl) = match v {
                    Value::Bool(b) => {
                        // Draft-04: modifies minimum/maximum.
                        if !*b {
                            return Ok(());
                        }
                        let base = if is_min { "minimum" } else { "maximum" };
                        match m.get(base) {
                            Some(Value::Number(x)) => (x, true),
                            _ => return Ok(()),
                        }
                    }
                    Value::Number(x) => {
                        let draft4_excl = !k.starts_with("exclusive")
                            && m.get(&format!(
                                "exclusive{}",
                                if is_min { "Minimum" } else { "Maximum" }
                            )) == Some(&Value::Bool(true));
                        if draft4_excl {
                            // Handled by the boolean keyword.
                            return Ok(());
                        }
                        (x, k.starts_with("exclusive"))
                    }
                    _ => return Err(invalid(&kp(), format!("{k} must be a number"))),
                };
                let d = Decimal::parse(&val.to_string())
                    .ok_or_else(|| unsupported(&kp(), format!("{k}: bound out of range")))?;
                n.bound_ptrs.push(kp());
                let b = Bound {
                    d,
                    excl,
                    ptr_kw: n.bound_ptrs.len() - 1,
                };
                if is_min {
                    n.lo = Some(match n.lo.take() {
                        Some(o) if o.d > b.d || (o.d == b.d && o.excl) => o,
                        _ => b,
                    });
                } else {
                    n.hi = Some(match n.hi.take() {
                        Some(o) if o.d < b.d || (o.d == b.d && o.excl) => o,
                        _ => b,
                    });
                }
            }
            "multipleOf" => {
                let d = step_value(v, &kp())?;
                // Multiples of both are the multiples of their lcm.
                match &n.multiple_of {
                    Some((o, op)) if *o != d => {
                        let l = o.lcm(&d).ok_or_else(|| {
                            unsupported(
                                &kp(),
                                "two multipleOf whose least common multiple has too many digits",
                            )
                        })?;
                        n.multiple_of = Some((l, op.clone()));
                    }
                    _ => n.multiple_of = Some((d, kp())),
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads an object keyword into the node or its holder `obj`.
    pub(super) fn collect_object_keyword(
        &self,
        n: &mut Node<'a>,
        (obj, has_obj): (&mut ObjKw<'a>, &mut bool),
        ptr: &str,
        k: &str,
        v: &'a Value,
    ) -> R<()> {
        let kp = || child(ptr, k);
        match k {
            "properties" => {
                obj.props = Some(
                    v.as_object()
                        .ok_or_else(|| invalid(&kp(), "properties must be an object"))?,
                );
                *has_obj = true;
            }
            "additionalProperties" => {
                obj.additional = Some(v);
                *has_obj = true;
            }
            "patternProperties" => {
                for (p, sub) in v
                    .as_object()
                    .ok_or_else(|| invalid(&kp(), "patternProperties must be an object"))?
                {
                    obj.patterns.push((child(&kp(), p), p.clone(), sub));
                }
                *has_obj = true;
            }
            "propertyNames" => n.names.push(Sub::new(kp(), v)),
            "minProperties" => n.min_props = n.min_props.max(as_u64(v, &kp(), k)?),
            "maxProperties" => {
                let x = as_u64(v, &kp(), k)?;
                n.max_props = Some(n.max_props.map_or(x, |y| y.min(x)));
                n.props_ptr = kp();
            }
            "required" => {
                for r in v
                    .as_array()
                    .ok_or_else(|| invalid(&kp(), "required must be an array"))?
                {
                    let r = r
                        .as_str()
                        .ok_or_else(|| invalid(&kp(), "required must list strings"))?;
                    if !n.required.iter().any(|x| x == r) {
                        n.required.push(r.to_string());
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads an array keyword into the node or its holder `arr`.
    pub(super) fn collect_array_keyword(
        &self,
        n: &mut Node<'a>,
        (arr, has_arr): (&mut ArrKw<'a>, &mut bool),
        m: &'a Map<String, Value>,
        ptr: &str,
        (k, v): (&str, &'a Value),
    ) -> R<()> {
        let items_is_array = m.get("items").is_some_and(Value::is_array);
        let kp = || child(ptr, k);
        match k {
            "items" => {
                *has_arr = true;
                match v {
                    Value::Array(a) => {
                        for (i, x) in a.iter().enumerate() {
                            arr.prefix.push((format!("{}/{i}", kp()), x));
                        }
                    }
                    _ => {
                        if m.contains_key("prefixItems") || !items_is_array {
                            arr.rest = Some((kp(), v));
                        }
                    }
                }
            }
            "prefixItems" => {
                *has_arr = true;
                if items_is_array {
                    return Err(unsupported(
                        &kp(),
                        "prefixItems together with an array items",
                    ));
                }
                for (i, x) in v
                    .as_array()
                    .ok_or_else(|| invalid(&kp(), "prefixItems must be an array"))?
                    .iter()
                    .enumerate()
                {
                    arr.prefix.push((format!("{}/{i}", kp()), x));
                }
            }
            // Only meaningful next to an array-form `items` (else ignored).
            "additionalItems" => {
                *has_arr = true;
                arr.rest = Some((kp(), v));
            }
            "minItems" => n.min_items = n.min_items.max(as_u64(v, &kp(), k)?),
            "maxItems" => {
                let x = as_u64(v, &kp(), k)?;
                n.max_items = Some(n.max_items.map_or(x, |y| y.min(x)));
            }
            "uniqueItems" => match v {
                Value::Bool(false) => {}
                Value::Bool(true) => n.unique = Some(kp()),
                _ => return Err(invalid(&kp(), "uniqueItems must be a boolean")),
            },
            "minContains" | "maxContains" => {} // read with `contains`
            "contains" => {
                let min = match m.get("minContains") {
                    Some(x) => as_u64(x, &child(ptr, "minContains"), "minContains")?,
                    None => 1,
                };
                let max = match m.get("maxContains") {
                    Some(x) => Some(as_u64(x, &child(ptr, "maxContains"), "maxContains")?),
                    None => None,
                };
                n.contains.push((kp(), v, min, max));
            }
            _ => {}
        }
        Ok(())
    }

    /// `unevaluatedProperties`/`unevaluatedItems` of `u`: the keys (items)
    /// that no schema of `u`'s subtree in this conjunction evaluates get
    /// `u`'s schema, like an `additionalProperties` (`items`) over the
    /// union of what the subtree evaluates.
    pub(super) fn unevaluated(&mut self, n: &mut Node<'a>, u: &Sub<'a>, subs: &[Sub<'a>]) -> R<()> {
        let scope: Vec<&Sub<'a>> = subs
            .iter()
            .filter(|s| s.eval && s.in_scope_of(&u.ptr))
            .collect();
        for s in &scope {
            if let Some(i) = s.val.get("if") {
                let alone = s.val.get("then").is_none() && s.val.get("else").is_none();
                if alone && self.negate(&Sub::new(child(&s.ptr, "if"), i)).is_err() {
                    return Err(unsupported(
                        &child(&s.ptr, "if"),
                        "the annotations of this `if` (for unevaluated*) need its negation, which is not supported",
                    ));
                }
            }
        }
        let yes: &'a Value = self.made_up(Value::Bool(true));
        let is_trivial =
            |v: &Value| v == &Value::Bool(true) || v.as_object().is_some_and(|o| o.is_empty());
        if let Some(uv) = u
            .val
            .get("unevaluatedProperties")
            .filter(|v| !is_trivial(v))
        {
            let mut all = false;
            let mut keys: Map<String, Value> = Map::new();
            let mut pats: Vec<(String, String, &'a Value)> = Vec::new();
            for s in &scope {
                let Value::Object(m) = s.val else { continue };
                if m.contains_key("additionalProperties")
                    || (s.ptr != u.ptr && m.contains_key("unevaluatedProperties"))
                {
                    all = true;
                }
                if let Some(Value::Object(p)) = m.get("properties") {
                    for k in p.keys() {
                        keys.insert(k.clone(), Value::Bool(true));
                    }
                }
                if let Some(Value::Object(p)) = m.get("patternProperties") {
                    for pat in p.keys() {
                        let pp = child(&format!("{}(evaluated)", u.ptr), pat);
                        pats.push((pp, pat.clone(), yes));
                    }
                }
            }
            if !all {
                let props: &'a Value = self.made_up(Value::Object(keys));
                n.objs.push(ObjKw {
                    ptr: u.ptr.clone(),
                    props: props.as_object(),
                    additional: Some(uv),
                    patterns: pats,
                    uneval: true,
                });
            }
        }
        if let Some(uv) = u.val.get("unevaluatedItems").filter(|v| !is_trivial(v)) {
            let mut all = false;
            let mut plen = 0;
            for s in &scope {
                let Value::Object(m) = s.val else { continue };
                if s.ptr != u.ptr && m.contains_key("unevaluatedItems") {
                    all = true;
                }
                if m.contains_key("contains") {
                    return Err(unsupported(
                        &child(&s.ptr, "contains"),
                        "contains next to unevaluatedItems is not supported",
                    ));
                }
                match m.get("items") {
                    Some(Value::Array(a)) => {
                        plen = plen.max(a.len());
                        if m.contains_key("additionalItems") {
                            all = true;
                        }
                    }
                    Some(_) => all = true,
                    None => {}
                }
                if let Some(Value::Array(a)) = m.get("prefixItems") {
                    plen = plen.max(a.len());
                }
            }
            if !all {
                n.arrs.push(ArrKw {
                    ptr: u.ptr.clone(),
                    prefix: (0..plen)
                        .map(|i| (format!("{}(evaluated)/{i}", u.ptr), yes))
                        .collect(),
                    rest: Some((child(&u.ptr, "unevaluatedItems"), uv)),
                });
            }
        }
        Ok(())
    }
}
