//! `$ref` and `$dynamicRef`: where a reference points, in the main
//! document or a supplied remote one, with the `$id`/anchor index of
//! [`super::ids`].

use super::context::{unsupported, Compiler, R};
use super::dialect::dialect;
use super::ids::{resolve as resolve_uri, split_fragment, DEFAULT_BASE};
use crate::error::GrammarError;
use serde_json::Value;
/// The value at JSON pointer `ptr` (RFC 6901; `""` is `v` itself) below `v`.
pub(super) fn follow_pointer<'v>(v: &'v Value, ptr: &str) -> Option<&'v Value> {
    let Some(rest) = ptr.strip_prefix('/') else {
        return ptr.is_empty().then_some(v);
    };
    rest.split('/').try_fold(v, |cur, tok| {
        let key = tok.replace("~1", "/").replace("~0", "~");
        match cur {
            Value::Object(m) => m.get(&key),
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
    })
}

impl<'a> Compiler<'a> {
    /// The document a pointer is in, that document's own base URI, and the
    /// pointer inside it: the main document for `""` and `/...` (and the
    /// compiler's made-up names), a remote one for `URI#/...`.
    pub(super) fn locate<'p>(&self, ptr: &'p str) -> (&'a Value, &'p str, &'p str) {
        if !ptr.is_empty() && !ptr.starts_with('/') {
            if let Some((uri, inner)) = ptr.split_once('#') {
                if let Some(doc) = self.remotes.get(uri) {
                    return (doc, uri, inner);
                }
            }
        }
        (self.root, DEFAULT_BASE, ptr)
    }

    pub(super) fn resolve(&self, r: &str, ptr: &str) -> R<(String, &'a Value)> {
        let (doc, doc_base, inner) = self.locate(ptr);
        let base = self.resources.borrow().base_at(doc, doc_base, inner);
        if let Some(hit) = self.resolved.borrow().get(&base).and_then(|m| m.get(r)) {
            return Ok(hit.clone());
        }
        let out = self.resolve_uncached(r, ptr, &base)?;
        self.resolved
            .borrow_mut()
            .entry(base)
            .or_default()
            .insert(r.to_string(), out.clone());
        Ok(out)
    }

    pub(super) fn resolve_uncached(
        &self,
        r: &str,
        ptr: &str,
        base: &str,
    ) -> R<(String, &'a Value)> {
        let here = format!("{ptr}/$ref");
        // A supplied remote document is indexed when first reached.
        let abs = resolve_uri(base, r);
        let target = split_fragment(&abs).0;
        if !self.resources.borrow().has(target) {
            if let Some((uri, remote)) = self.remotes.get_key_value(target) {
                let at = format!("{uri}#");
                if let Some(d) = dialect(remote, &at)? {
                    if d != (self.legacy, self.draft4) {
                        return Err(unsupported(
                            &format!("{at}/$schema"),
                            format!(
                                "remote document {uri} (reached by $ref {r:?} at {here}) \
                                 declares a draft other than the main schema's"
                            ),
                        ));
                    }
                }
                self.resources.borrow_mut().add_document(uri, remote);
            }
        }
        let (res_ptr, frag) = self
            .resources
            .borrow()
            .lookup(base, r)
            .map_err(|e| unsupported(&here, format!("$ref {r:?}: {e}")))?;
        // The resource itself, then the fragment's JSON pointer inside it.
        let fail = || unsupported(&here, format!("$ref {r:?} does not resolve"));
        let (doc, _, inner) = self.locate(&res_ptr);
        let cur = follow_pointer(doc, inner).ok_or_else(fail)?;
        let cur = follow_pointer(cur, &frag).ok_or_else(fail)?;
        let out = format!("{res_ptr}{frag}");
        Ok((out, cur))
    }

    /// Where a `$dynamicRef` points. It starts where a `$ref` would; if that
    /// schema carries the matching `$dynamicAnchor`, the target is the one in
    /// the outermost resource of the dynamic scope that carries it. The
    /// scope depends on the path by which evaluation got here, which the
    /// compiler does not track; two cases do not depend on it and are
    /// compiled: the root resource carries the anchor (the root is always
    /// the outermost scope), or no other resource in the schema or in the
    /// supplied remote documents does. Anything else is unsupported.
    pub(super) fn resolve_dynamic(&self, r: &str, ptr: &str) -> R<(String, &'a Value)> {
        let (p, v) = self.resolve(r, ptr).map_err(|e| match e {
            // Reported at the keyword that was written.
            GrammarError::UnsupportedSchema { pointer, message } => {
                GrammarError::UnsupportedSchema {
                    pointer: format!("{}/$dynamicRef", pointer.trim_end_matches("/$ref")),
                    message: message.replacen("$ref", "$dynamicRef", 1),
                }
            }
            e => e,
        })?;
        let name = split_fragment(r).1;
        let anchored = !name.is_empty()
            && !name.starts_with('/')
            && v.get("$dynamicAnchor").and_then(Value::as_str) == Some(name);
        if !anchored {
            return Ok((p, v));
        }
        let res = self.resources.borrow();
        let root_base = res.base_at(self.root, DEFAULT_BASE, "");
        if let Some(at) = res.dynamic_anchor(&root_base, name).cloned() {
            drop(res);
            let fail = || {
                unsupported(
                    &format!("{ptr}/$dynamicRef"),
                    "$dynamicRef does not resolve",
                )
            };
            let target = follow_pointer(self.root, &at).ok_or_else(fail)?;
            return Ok((at, target));
        }
        let needle = format!("\"$dynamicAnchor\":{}", Value::String(name.to_string()));
        let in_remotes = self
            .remotes
            .values()
            .any(|d| serde_json::to_string(d).is_ok_and(|t| t.contains(&needle)));
        if res.dynamic_anchor_count(name) <= 1 && !in_remotes {
            return Ok((p, v));
        }
        Err(unsupported(
            &format!("{ptr}/$dynamicRef"),
            format!(
                "$dynamicRef {r:?}: several resources carry $dynamicAnchor {name:?} and the \
                 root does not, so the target depends on the evaluation path"
            ),
        ))
    }
}
