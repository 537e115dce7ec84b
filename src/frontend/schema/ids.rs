//! Schema resources: base URIs from `$id`, and where `$ref`s point.
//!
//! A `$ref` is a URI reference resolved against the base URI of the schema
//! holding it; `$id` changes the base URI for its subtree (RFC 3986
//! resolution), and `$anchor` (or a draft-07 `$id: "#name"`) names a schema
//! inside its resource. [`Resources`] walks the document once, following only
//! schema positions (a property *named* `$id` under `properties` or a `$id`
//! inside an `enum` value is not an identifier), and records every resource
//! and anchor by absolute URI.
//!
//! Remote documents are never fetched. The caller may supply them by URI
//! ([`SchemaOptions::remote`](crate::frontend::schema::SchemaOptions::remote));
//! a document so supplied is indexed (with [`Resources::add_document`]) when a
//! `$ref` first points into it, with the supplied URI as its base (its own
//! root `$id`, if any, then applies as usual). Pointers into it are written
//! `URI#/json/pointer`, so they never clash with the main document's pointers
//! (which are empty or start with `/`). A reference to a document neither in
//! the schema nor supplied is an error naming it.

use serde_json::Value;
use std::collections::HashMap;

/// Base URI of a document without `$id`.
pub(crate) const DEFAULT_BASE: &str = "fw-root:/schema.json";

/// Keywords whose value is a map of schemas.
const MAP_KW: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// Keywords whose value is an array of schemas.
const ARRAY_KW: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value is one schema (or, for `items`/`dependencies`, more).
const ONE_KW: &[&str] = &[
    "not",
    "if",
    "then",
    "else",
    "additionalProperties",
    "propertyNames",
    "contains",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
    "items",
];

/// Every resource (by absolute URI without fragment) and anchor of a document,
/// as JSON pointers from the root.
#[derive(Debug, Default)]
pub(crate) struct Resources {
    ids: HashMap<String, String>,
    anchors: HashMap<(String, String), String>,
    /// `$dynamicAnchor`s only: (resource, name) -> pointer.
    dynamic: HashMap<(String, String), String>,
    legacy_id: bool,
    ref_overrides: bool,
    /// Whether a subschema below a document's root carries an identifier
    /// (else every position's base URI is its document root's).
    nested_ids: bool,
}

impl Resources {
    /// Indexes `root`. `legacy_id`: draft-04 spells `$id` as `id`;
    /// `ref_overrides`: draft-07 and before ignore the siblings of `$ref`.
    pub(crate) fn new(root: &Value, legacy_id: bool, ref_overrides: bool) -> Resources {
        let mut r = Resources {
            legacy_id,
            ref_overrides,
            ..Resources::default()
        };
        r.ids.insert(DEFAULT_BASE.to_string(), String::new());
        r.walk(root, DEFAULT_BASE, &mut String::new());
        r
    }

    /// Indexes a remote document retrieved from `uri` (absolute, without
    /// fragment). Its pointers are `"{uri}#{pointer}"`. Resources already
    /// known (the main document's first) keep their place.
    pub(crate) fn add_document(&mut self, uri: &str, doc: &Value) {
        let root = format!("{uri}#");
        self.ids.entry(uri.to_string()).or_insert(root.clone());
        self.walk(doc, uri, &mut root.clone());
    }

    /// True if the resource `uri` (absolute, without fragment) is known.
    pub(crate) fn has(&self, uri: &str) -> bool {
        self.ids.contains_key(uri)
    }

    fn own_id<'v>(&self, m: &'v serde_json::Map<String, Value>) -> Option<&'v str> {
        let id = m.get("$id").and_then(Value::as_str);
        let id = if self.legacy_id {
            id.or_else(|| m.get("id").and_then(Value::as_str))
        } else {
            id
        };
        // Beside a `$ref`, draft-07 and before ignore `$id`.
        if self.ref_overrides && m.contains_key("$ref") {
            return None;
        }
        id
    }

    /// Records the identifiers and anchors of `v` (at pointer `ptr`) and of
    /// every subschema under it. `ptr` is a buffer that ends as it began.
    fn walk(&mut self, v: &Value, base: &str, ptr: &mut String) {
        let Value::Object(m) = v else { return };
        let mut own_base = None;
        if let Some(id) = self.own_id(m) {
            let abs = resolve(base, id);
            let (doc, frag) = split_fragment(&abs);
            if !frag.is_empty() && !doc.is_empty() && id.starts_with('#') {
                // Draft-07 location-independent identifier: an anchor.
                self.anchors
                    .entry((doc.to_string(), frag.to_string()))
                    .or_insert_with(|| ptr.clone());
            } else {
                self.ids
                    .entry(doc.to_string())
                    .or_insert_with(|| ptr.clone());
                own_base = Some(doc.to_string());
            }
        }
        if own_base.is_some() && !ptr.is_empty() {
            self.nested_ids = true;
        }
        let base = own_base.as_deref().unwrap_or(base);
        for k in ["$anchor", "$dynamicAnchor"] {
            if let Some(a) = m.get(k).and_then(Value::as_str) {
                self.anchors
                    .entry((base.to_string(), a.to_string()))
                    .or_insert_with(|| ptr.clone());
                if k == "$dynamicAnchor" {
                    self.dynamic
                        .entry((base.to_string(), a.to_string()))
                        .or_insert_with(|| ptr.clone());
                }
            }
        }
        let len = ptr.len();
        for (k, x) in m {
            let map = MAP_KW.contains(&k.as_str()) || (k == "dependencies" && x.is_object());
            let array = !map && (ARRAY_KW.contains(&k.as_str()) || (k == "items" && x.is_array()));
            let one = !map && !array && ONE_KW.contains(&k.as_str());
            if !(map || array || one) {
                continue;
            }
            ptr.push('/');
            push_escaped(ptr, k);
            let klen = ptr.len();
            match x {
                Value::Object(sub) if map => {
                    for (name, s) in sub {
                        ptr.push('/');
                        push_escaped(ptr, name);
                        self.walk(s, base, ptr);
                        ptr.truncate(klen);
                    }
                }
                Value::Array(a) if array => {
                    for (i, s) in a.iter().enumerate() {
                        use std::fmt::Write;
                        let _ = write!(ptr, "/{i}");
                        self.walk(s, base, ptr);
                        ptr.truncate(klen);
                    }
                }
                _ if one => self.walk(x, base, ptr),
                _ => {}
            }
            ptr.truncate(len);
        }
    }

    /// The base URI in force at `ptr` (a schema position, possibly followed
    /// by compiler-made parts that do not resolve) in the document `root`
    /// whose own base URI is `doc_base`.
    pub(crate) fn base_at(&self, root: &Value, doc_base: &str, ptr: &str) -> String {
        let mut base = doc_base.to_string();
        let mut cur = root;
        let apply = |cur: &Value, base: &mut String| {
            if let Value::Object(m) = cur {
                if let Some(id) = self.own_id(m) {
                    let abs = resolve(base, id);
                    let (doc, _) = split_fragment(&abs);
                    if !id.starts_with('#') {
                        *base = doc.to_string();
                    }
                }
            }
        };
        apply(cur, &mut base);
        if !self.nested_ids {
            // Only document roots carry identifiers: the root's base holds
            // everywhere below it.
            return base;
        }
        let toks: Vec<String> = if ptr.is_empty() {
            Vec::new()
        } else {
            ptr[1..]
                .split('/')
                .map(|t| t.replace("~1", "/").replace("~0", "~"))
                .collect()
        };
        let mut i = 0;
        while i < toks.len() {
            let k = toks[i].as_str();
            let Value::Object(m) = cur else { break };
            let Some(x) = m.get(k) else { break };
            let container = MAP_KW.contains(&k)
                || ARRAY_KW.contains(&k)
                || (k == "items" && x.is_array())
                || (k == "dependencies" && x.is_object());
            if container {
                let Some(t) = toks.get(i + 1) else { break };
                let next = match x {
                    Value::Object(s) => s.get(t),
                    Value::Array(a) => t.parse::<usize>().ok().and_then(|j| a.get(j)),
                    _ => None,
                };
                let Some(next) = next else { break };
                cur = next;
                i += 2;
            } else if ONE_KW.contains(&k) {
                cur = x;
                i += 1;
            } else {
                break;
            }
            apply(cur, &mut base);
        }
        base
    }

    /// The schema (a pointer) of resource `base` that carries
    /// `$dynamicAnchor: name`, if any.
    pub(crate) fn dynamic_anchor(&self, base: &str, name: &str) -> Option<&String> {
        self.dynamic.get(&(base.to_string(), name.to_string()))
    }

    /// How many resources indexed so far carry `$dynamicAnchor: name`.
    pub(crate) fn dynamic_anchor_count(&self, name: &str) -> usize {
        self.dynamic.keys().filter(|(_, n)| n == name).count()
    }

    /// Where `reference`, found under base `base`, points: a JSON pointer
    /// from the root, then the rest of a JSON-pointer fragment to follow.
    pub(crate) fn lookup(&self, base: &str, reference: &str) -> Result<(String, String), String> {
        let abs = resolve(base, reference);
        let (doc, frag) = split_fragment(&abs);
        let frag = percent_decode(frag).ok_or("bad percent-encoding")?;
        let Some(res) = self.ids.get(doc) else {
            return Err(format!(
                "it points to {doc}, a document not in this schema; \
                 supply it in `SchemaOptions::remote` (CLI: `--remote URI=FILE`)"
            ));
        };
        if frag.is_empty() || frag.starts_with('/') {
            return Ok((res.clone(), frag));
        }
        self.anchors
            .get(&(doc.to_string(), frag.clone()))
            .map(|p| (p.clone(), String::new()))
            .ok_or_else(|| format!("anchor {frag:?} not found"))
    }
}

/// Appends `k` escaped as a JSON pointer token (`~` as `~0`, `/` as `~1`).
pub(crate) fn push_escaped(out: &mut String, k: &str) {
    for c in k.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

pub(crate) fn split_fragment(u: &str) -> (&str, &str) {
    match u.split_once('#') {
        Some((d, f)) => (d, f),
        None => (u, ""),
    }
}

/// Percent-decodes a URI fragment.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// RFC 3986 reference resolution (section 5.2), for the URIs schemas use.
pub(crate) fn resolve(base: &str, r: &str) -> String {
    fn scheme_len(s: &str) -> Option<usize> {
        let i = s.find(':')?;
        let sch = &s[..i];
        (!sch.is_empty()
            && sch.chars().next()?.is_ascii_alphabetic()
            && sch
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
        .then_some(i)
    }
    if scheme_len(r).is_some() {
        return remove_dots_in(r);
    }
    let Some(si) = scheme_len(base) else {
        return r.to_string();
    };
    let (scheme, rest) = (&base[..si], &base[si + 1..]);
    let (base_no_frag, _) = split_fragment(rest);
    let (base_no_q, base_q) = match base_no_frag.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (base_no_frag, None),
    };
    let (auth, bpath) = if let Some(a) = base_no_q.strip_prefix("//") {
        match a.find('/') {
            Some(j) => (Some(&a[..j]), &a[j..]),
            None => (Some(a), ""),
        }
    } else {
        (None, base_no_q)
    };
    let join = |auth: Option<&str>, path: &str| match auth {
        Some(a) => format!("{scheme}://{a}{path}"),
        None => format!("{scheme}:{path}"),
    };
    if let Some(x) = r.strip_prefix("//") {
        return format!("{scheme}://{x}");
    }
    if r.is_empty() {
        return match base_q {
            Some(q) => join(auth, &format!("{bpath}?{q}")),
            None => join(auth, bpath),
        };
    }
    if r.starts_with('#') {
        let q = base_q.map_or(String::new(), |q| format!("?{q}"));
        return format!("{}{q}{r}", join(auth, bpath));
    }
    if r.starts_with('?') {
        return join(auth, &format!("{bpath}{r}"));
    }
    let (rpath, tail) = match r.find(['?', '#']) {
        Some(j) => (&r[..j], &r[j..]),
        None => (r, ""),
    };
    let merged = if rpath.starts_with('/') {
        rpath.to_string()
    } else if auth.is_some() && bpath.is_empty() {
        format!("/{rpath}")
    } else {
        match bpath.rfind('/') {
            Some(j) => format!("{}{rpath}", &bpath[..=j]),
            None => rpath.to_string(),
        }
    };
    format!("{}{tail}", join(auth, &remove_dots(&merged)))
}

fn remove_dots_in(u: &str) -> String {
    // Only hierarchical URIs with an authority have dot segments to remove.
    if let Some(i) = u.find("://") {
        let after = &u[i + 3..];
        if let Some(j) = after.find('/') {
            let (path, tail) = match after[j..].find(['?', '#']) {
                Some(k) => (&after[j..j + k], &after[j + k..]),
                None => (&after[j..], ""),
            };
            return format!("{}{}{}{tail}", &u[..i + 3], &after[..j], remove_dots(path));
        }
    }
    u.to_string()
}

fn remove_dots(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segs: Vec<&str> = path.split('/').collect();
    for (i, s) in segs.iter().enumerate() {
        match *s {
            "." => {
                if i == segs.len() - 1 {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == segs.len() - 1 {
                    out.push("");
                }
            }
            _ => out.push(s),
        }
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn rfc3986_examples() {
        let b = "http://a/b/c/d;p?q";
        for (r, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("", "http://a/b/c/d;p?q"),
            ("urn:x:y", "urn:x:y"),
        ] {
            assert_eq!(resolve(b, r), want, "{r}");
        }
        assert_eq!(resolve("urn:uuid:1234", "#foo"), "urn:uuid:1234#foo");
        assert_eq!(
            resolve("fw-root:/schema.json", "#/a"),
            "fw-root:/schema.json#/a"
        );
        assert_eq!(resolve("fw-root:/schema.json", "x.json"), "fw-root:/x.json");
    }
}
