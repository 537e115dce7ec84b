//! The compiler's driver: a schema compiled from its root (dialect, remote
//! documents, whitespace), a conjunction compiled into a cached rule
//! ([`Compiler::value`]), a [`Node`] emitted per type, and `holds`, the
//! compiler's own reading of the keywords applied to one value (used to
//! filter `enum`/`const` values next to other keywords).

use super::conjunction::pending_disjunction;
use super::context::{
    child, has_unevaluated, invalid, type_bit, unsupported, Compiled, Compiler, ConjKey, Node,
    NumKind, Sub, R, SKIP_ANYOF, SKIP_NO_EVAL, T_ALL, T_ARR, T_BOOL, T_NULL, T_NUM, T_OBJ, T_STR,
};
use super::dialect::{dialect, later_keywords, without_keywords};
use super::ids::{split_fragment, Resources};
use super::number::Decimal;
use super::object::key_subs;
use super::options::{SchemaOptions, Spelling, Whitespace, MAX_ENUM_NUMBERS, MAX_WORK};
use super::scalar::{
    exclude_spellings, number_constraint, number_expr, spell_number, spell_value, string_expr,
    string_ok,
};
use super::values::ValueSet;
use crate::error::GrammarError;
use crate::frontend::json::add_json_rules;
use crate::grammar::{spell_json_string as spell_string, Expr, Grammar};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use typed_arena::Arena;
/// Compiles a schema, which must be an object or a boolean.
pub(super) fn compile_root(schema: &Value, options: &SchemaOptions) -> R<Grammar> {
    match schema {
        Value::Bool(_) | Value::Object(_) => compile_schema(schema, options),
        _ => Err(GrammarError::InvalidSchema {
            pointer: String::new(),
            message: "a JSON Schema must be an object or a boolean".into(),
        }),
    }
}

/// Compiles a schema that is an object or a boolean.
pub(super) fn compile_schema(schema: &Value, options: &SchemaOptions) -> R<Grammar> {
    let (legacy, draft4) = dialect(schema, "")?.unwrap_or((false, false));
    // Keywords of later drafts are annotations under an older `$schema`.
    let later = later_keywords(schema);
    let stripped;
    let schema = if later.is_empty() {
        schema
    } else {
        stripped = without_keywords(schema.clone(), later);
        &stripped
    };
    let remote_docs: Vec<(String, Value)> = options
        .remote
        .iter()
        .map(|(k, v)| {
            let v = if later.is_empty() {
                v.clone()
            } else {
                without_keywords(v.clone(), later)
            };
            (split_fragment(k).0.to_string(), v)
        })
        .collect();
    let arena = Arena::new();
    let mut c = Compiler {
        draft4,
        root: schema,
        remotes: remote_docs.iter().map(|(k, v)| (k.clone(), v)).collect(),
        arena: &arena,
        registry: RefCell::new(Vec::new()),
        negations: RefCell::new(HashMap::new()),
        options,
        value_dfas: crate::lexer::DfaCache::default(),
        legacy,
        g: Grammar::new("start"),
        cache: HashMap::default(),
        any: false,
        n: 0,
        work: 0,
        depth: 0,
        resources: RefCell::new(Resources::new(schema, draft4, legacy)),
        resolved: RefCell::new(HashMap::new()),
    };
    let start = match c.value(vec![Sub::new(String::new(), schema)])? {
        Some(s) => s,
        None => {
            return Err(GrammarError::EmptyLanguage(
                "the schema accepts no value".into(),
            ))
        }
    };
    c.g.rule("start", start.expr);
    // Branches no value satisfies (an object whose property counts cannot
    // be met, a recursion that never ends) are pruned, not errors.
    c.g.prune_unproductive(true);
    if c.options.whitespace == Whitespace::Flexible {
        match c.options.max_whitespace {
            None => {
                c.g.ignore(crate::frontend::json::WHITESPACE);
            }
            Some(0) => {}
            Some(n) => {
                c.g.ignore(format!("[ \\t\\n\\r]{{1,{n}}}"));
            }
        }
    }
    Ok(c.g)
}

impl<'a> Compiler<'a> {
    /// A known property name, spelled as [`Spelling`] says.
    pub(super) fn key_expr(&self, k: &str) -> Expr {
        match self.options.spelling {
            Spelling::Any => Expr::regex(spell_string(k)),
            Spelling::Canonical => {
                Expr::literal(serde_json::to_string(k).expect("a string serializes"))
            }
        }
    }
}

impl<'a> Compiler<'a> {
    /// Registers a subschema for made-up schemas to refer to.
    pub(super) fn register(&self, s: Sub<'a>) -> usize {
        let mut r = self.registry.borrow_mut();
        if let Some(i) = r.iter().position(|x| x.ptr == s.ptr) {
            return i;
        }
        r.push(s);
        r.len() - 1
    }

    pub(super) fn registered(&self, v: &Value, ptr: &str) -> R<Sub<'a>> {
        v.as_u64()
            .and_then(|i| self.registry.borrow().get(i as usize).cloned())
            .ok_or_else(|| invalid(ptr, "internal keyword used in the schema"))
    }

    pub(super) fn made_up(&self, v: Value) -> &'a Value {
        self.arena.alloc(v)
    }
}

impl<'a> Compiler<'a> {
    /// A value position: a named rule for the conjunction (shared and
    /// recursive), or None if no value can occur there.
    pub(super) fn value(&mut self, subs: Vec<Sub<'a>>) -> R<Option<Compiled>> {
        let subs = match self.flatten(subs)? {
            Some(s) => s,
            None => return Ok(None),
        };
        let mut key: ConjKey = subs
            .iter()
            .map(|s| {
                (
                    s.ptr.clone(),
                    s.skip | if s.eval { 0 } else { SKIP_NO_EVAL },
                )
            })
            .collect();
        key.sort();
        key.dedup();
        if let Some(c) = self.cache.get(&key) {
            return Ok(c.clone());
        }
        let name = format!("s{}", self.cache.len());
        // In progress: a recursive reference sees a rule that may hold anything.
        self.cache.insert(
            key.clone(),
            Some(Compiled {
                expr: Expr::rule(&name),
                types: T_ALL,
                values: None,
            }),
        );
        let c = self.conj(subs)?;
        let out = match c {
            Some(c) => {
                let simple = matches!(c.expr, Expr::Rule(_) | Expr::Literal(_) | Expr::Regex(_));
                let expr = if simple {
                    self.g.rule(&name, c.expr.clone());
                    c.expr
                } else {
                    self.g.rule(&name, c.expr);
                    Expr::rule(&name)
                };
                Some(Compiled {
                    expr,
                    types: c.types,
                    values: c.values,
                })
            }
            None => {
                // Recursive uses (if any) refer to a rule that derives nothing.
                self.g.rule(&name, Expr::Choice(Vec::new()));
                None
            }
        };
        self.cache.insert(key, out.clone());
        Ok(out)
    }

    pub(super) fn any(&mut self) -> Compiled {
        if !self.any {
            add_json_rules(&mut self.g, "any");
            self.any = true;
        }
        Compiled {
            expr: Expr::rule("any"),
            types: T_ALL,
            values: None,
        }
    }

    pub(super) fn fresh(&mut self, hint: &str) -> String {
        self.n += 1;
        format!("{hint}_{}", self.n)
    }
}

impl<'a> Compiler<'a> {
    pub(super) fn emit(&mut self, n: Node<'a>) -> R<Option<Compiled>> {
        if n.is_trivial() {
            return Ok(Some(self.any()));
        }
        if let Some(vals) = &n.values {
            let vals = vals
                .iter()
                .filter(|v| !n.not_values.contains(v))
                .cloned()
                .collect();
            return self.emit_values(&n, vals);
        }
        // Values excluded by a negated enum/const: by type.
        let mut not_num: Vec<String> = Vec::new();
        let (mut no_null, mut no_true, mut no_false) = (false, false, false);
        for v in &n.not_values {
            match v {
                Value::Null => no_null = true,
                Value::Bool(true) => no_true = true,
                Value::Bool(false) => no_false = true,
                // Excluded by the string lexeme itself (`string_parts`).
                Value::String(_) => {}
                Value::Number(x) => not_num.push(spell_number(x, &n.not_values_ptr)?),
                _ => {
                    return Err(unsupported(
                        &n.not_values_ptr,
                        "a negated enum/const with an object or array value is not supported",
                    ))
                }
            }
        }
        let mut alts: Vec<Expr> = Vec::new();
        let mut types = 0u8;
        if n.null && !no_null {
            alts.push(Expr::literal("null"));
            types |= T_NULL;
        }
        if n.boolean && !(no_true && no_false) {
            if !no_true {
                alts.push(Expr::literal("true"));
            }
            if !no_false {
                alts.push(Expr::literal("false"));
            }
            types |= T_BOOL;
        }
        if n.string {
            if let Some(e) = string_expr(&n, Vec::new(), &self.value_dfas)? {
                alts.push(e);
                types |= T_STR;
            }
        }
        if n.number != NumKind::None {
            let plain_integers = self.draft4 || self.options.spelling == Spelling::Canonical;
            if let Some(e) = number_expr(&n, plain_integers, self.draft4)? {
                let e = exclude_spellings(e, &not_num);
                alts.push(e);
                types |= T_NUM;
            }
        }
        if n.object {
            if let Some(e) = self.object_expr(&n)? {
                alts.push(e);
                types |= T_OBJ;
            }
        }
        if n.array {
            if let Some(e) = self.array_expr(&n)? {
                alts.push(e);
                types |= T_ARR;
            }
        }
        Ok(match alts.len() {
            0 => None,
            1 => Some(Compiled {
                expr: alts.pop().unwrap(),
                types,
                values: None,
            }),
            _ => Some(Compiled {
                expr: Expr::Choice(alts),
                types,
                values: None,
            }),
        })
    }

    /// The values `vals` (distinct) that the rest of `n` accepts, spelled:
    /// strings as one set lexeme (a trie, however many), other values each
    /// in its own spellings.
    pub(super) fn emit_values(&mut self, n: &Node<'a>, vals: Vec<Value>) -> R<Option<Compiled>> {
        let mut kept: Vec<Value> = Vec::new();
        for v in vals {
            if self.node_holds(&v, n)? {
                kept.push(v);
            }
        }
        if kept.is_empty() {
            return Ok(None);
        }
        if kept.iter().filter(|v| v.is_number()).count() > MAX_ENUM_NUMBERS {
            return Err(unsupported(
                &n.values_ptr,
                format!(
                    "an enum of more than {MAX_ENUM_NUMBERS} numbers (each number is a lexeme \
                     of its own); list them as strings, or describe them with \
                     minimum/maximum/multipleOf"
                ),
            ));
        }
        let mut alts = Vec::new();
        let mut strings = Vec::new();
        let mut types = 0;
        for v in &kept {
            match v {
                Value::String(s) => strings.push(s.clone()),
                _ => alts.push(spell_value(v, &n.values_ptr)?),
            }
            types |= type_bit(v);
        }
        match strings.len() {
            0 => {}
            1 => alts.push(Expr::regex(spell_string(&strings[0]))),
            _ => alts.push(Expr::JsonStrings(strings)),
        }
        Ok(Some(Compiled {
            expr: if alts.len() == 1 {
                alts.pop().unwrap()
            } else {
                Expr::Choice(alts)
            },
            types,
            values: Some(kept),
        }))
    }

    /// Whether the value `x` validates against the conjunction `subs`.
    ///
    /// This is the compiler's own reading of the keywords applied to one
    /// value, so a value and the grammar agree by construction. It filters
    /// `enum`/`const` values next to object and array keywords: each member
    /// and item must validate against the schemas the keywords give it.
    /// `anyOf`/`oneOf` are evaluated branch by branch (`oneOf`: exactly one
    /// passes), `not` and conditionals through their rewrites.
    pub(super) fn holds(&mut self, x: &Value, subs: Vec<Sub<'a>>) -> R<bool> {
        self.work += 1;
        if self.work > MAX_WORK {
            return Err(GrammarError::TooLarge(format!(
                "more than {MAX_WORK} schema combinations (checking enum/const values)"
            )));
        }
        let Some(subs) = self.flatten(subs)? else {
            return Ok(false);
        };
        if let Some(u) = subs.iter().find(|u| has_unevaluated(u.val)) {
            // Their annotations would need every passing anyOf branch.
            return Err(unsupported(
                &u.ptr,
                "an enum/const value checked against unevaluatedProperties/Items is not supported",
            ));
        }
        if let Some((i, kw, bit, a)) = pending_disjunction(&subs)? {
            let s = &subs[i];
            let kptr = child(&s.ptr, kw);
            let mut passing = 0;
            for (j, b) in a.iter().enumerate() {
                let mut ns = subs.clone();
                ns[i].skip |= bit;
                ns.push(s.adopt(Sub::new(format!("{kptr}/{j}"), b)));
                if self.holds(x, ns)? {
                    passing += 1;
                    if bit == SKIP_ANYOF || passing > 1 {
                        break;
                    }
                }
            }
            return Ok(passing == 1 || (bit == SKIP_ANYOF && passing > 0));
        }
        let n = self.collect(&subs)?;
        self.node_holds(x, &n)
    }

    /// Whether the value `x` satisfies the merged keywords of `n` (members
    /// and items through [`Self::holds`]).
    pub(super) fn node_holds(&mut self, x: &Value, n: &Node<'a>) -> R<bool> {
        if n.values.as_ref().is_some_and(|v| !v.contains(x)) || n.not_values.contains(x) {
            return Ok(false);
        }
        let ptr = if n.values_ptr.is_empty() {
            n.arrs
                .first()
                .map(|a| a.ptr.to_string())
                .or_else(|| n.objs.first().map(|o| o.ptr.to_string()))
                .unwrap_or_default()
        } else {
            n.values_ptr.clone()
        };
        Ok(match x {
            Value::Null => n.null,
            Value::Bool(_) => n.boolean,
            Value::String(s) => string_ok(n, s, &self.value_dfas)?,
            Value::Number(v) => match (n.number, Decimal::parse(&v.to_string())) {
                (NumKind::None, _) => false,
                (_, Some(d)) => {
                    let plain = !v.to_string().contains(['.', 'e', 'E']);
                    let integral = if self.draft4 { plain } else { d.is_integer() };
                    number_constraint(n).contains(&d)
                        && !(self.draft4 && n.number == NumKind::Int && !plain)
                        && !(n.non_integer && integral)
                        && !n.not_multiple_of.iter().any(|(m, _)| d.is_multiple_of(m))
                }
                (_, None) => return Err(unsupported(&ptr, "enum/const number out of range")),
            },
            Value::Object(m) => {
                let count = m.len() as u64;
                if !n.object
                    || !n.required.iter().all(|r| m.contains_key(r))
                    || count < n.min_props
                    || n.max_props.is_some_and(|mx| count > mx)
                    || !self.witnessed(m, n)?
                {
                    return Ok(false);
                }
                for (k, v) in m {
                    if !n.names.is_empty()
                        && !self.holds(&Value::String(k.clone()), n.names.clone())?
                    {
                        return Ok(false);
                    }
                    let subs = key_subs(n, k, &self.value_dfas)?;
                    if !subs.is_empty() && !self.holds(v, subs)? {
                        return Ok(false);
                    }
                }
                true
            }
            Value::Array(a) => {
                let count = a.len() as u64;
                if !n.array || count < n.min_items || n.max_items.is_some_and(|mx| count > mx) {
                    return Ok(false);
                }
                let mut seen = ValueSet::default();
                if n.unique.is_some() && a.iter().any(|x| !seen.insert(x.clone())) {
                    return Ok(false);
                }
                for (i, item) in a.iter().enumerate() {
                    let mut subs = Vec::new();
                    for arr in &n.arrs {
                        if let Some((p, s)) = arr.prefix.get(i) {
                            subs.push(Sub::new(p.clone(), s));
                        } else if let Some((p, s)) = &arr.rest {
                            subs.push(Sub::new(p.clone(), s));
                        }
                    }
                    if !subs.is_empty() && !self.holds(item, subs)? {
                        return Ok(false);
                    }
                }
                for (cp, cs, lo, hi) in &n.contains {
                    let mut found = 0u64;
                    for item in a {
                        if self.holds(item, vec![Sub::new(cp.clone(), cs)])? {
                            found += 1;
                        }
                    }
                    if found < *lo || hi.is_some_and(|h| found > h) {
                        return Ok(false);
                    }
                }
                true
            }
        })
    }
}
