//! Architecture checks over the sources in `src/` (the library and the
//! binary), in plain Rust so that a reviewer can run them with
//! `cargo test --release --test architecture -- --nocapture`:
//!
//! * **File size.** No source file is longer than [`MAX_LINES`] lines,
//!   except the files listed in [`LONG_FILES`] (tables or tests, by name)
//!   and test files (a `tests.rs`, a file declared only as
//!   `#[cfg(test)] mod x;`, or a file that is only a `#[cfg(test)]` module).
//! * **No import cycle between files.** Each file's paths `crate::…`,
//!   `super::…`, `self::…`, `child::…` (a module the file declares) and, in
//!   the binary, `formwork::…` are resolved to the file that defines the
//!   longest existing module prefix (`src/a/b.rs` or `src/a/b/mod.rs`); a
//!   strongly connected component of more than one file is a cycle. `mod x;`
//!   declarations are not edges; `#[cfg(test)] mod` blocks and test files are
//!   left out; comments and string literals are ignored. So a `pub use
//!   child::X` in a `mod.rs` is an edge `mod.rs → child`, and a child's
//!   `use super::X` an edge `child → mod.rs`.
//! * **One path per public item.** A `pub use` in a module that callers
//!   can reach, of a crate item whose own module path is public too
//!   (`pub use budget::Budget` beside `pub mod budget`), would be a second
//!   path to the item; so would two such re-exports of one item. Module
//!   paths are resolved as above; a path into an external crate is not
//!   checked.
//!
//! The test prints the largest files and the size of the module graph, so its
//! output shows what it checked; with `ARCH_EDGES=1` it also prints every
//! file-to-file edge.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

/// The longest a source file may be.
const MAX_LINES: usize = 1_500;

/// Files allowed to be longer than [`MAX_LINES`], by path under `src/`, with
/// the reason: data tables or tests only.
const LONG_FILES: &[(&str, &str)] = &[];

/// The name of the library crate, as the binary writes it.
const LIB_NAME: &str = "formwork";

#[test]
fn source_files_are_short() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tree = SourceTree::load(&src);
    let mut sizes: Vec<(usize, &String)> = tree.files.values().map(|f| (f.lines, &f.rel)).collect();
    sizes.sort_by(|a, b| b.cmp(a));
    println!("{} source files; the largest:", sizes.len());
    for (n, rel) in sizes.iter().take(12) {
        println!("  {n:>6}  src/{rel}");
    }
    let mut too_long = Vec::new();
    for f in tree.files.values() {
        let exempt = LONG_FILES.iter().any(|(name, _)| *name == f.rel);
        if f.lines > MAX_LINES && !exempt && !f.is_test {
            too_long.push(format!("src/{} ({} lines)", f.rel, f.lines));
        }
    }
    too_long.sort();
    assert!(
        too_long.is_empty(),
        "source files over {MAX_LINES} lines (split them, or list a table in LONG_FILES):\n  {}",
        too_long.join("\n  ")
    );
}

#[test]
fn no_import_cycles_between_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tree = SourceTree::load(&src);
    let graph = tree.edges();
    let n_edges: usize = graph.values().map(BTreeSet::len).sum();
    let in_graph = tree.files.values().filter(|f| !f.is_test).count();
    println!(
        "module graph: {} modules in {} files ({} test files left out), {} file-to-file edges",
        tree.modules.len(),
        in_graph,
        tree.files.len() - in_graph,
        n_edges
    );
    if std::env::var_os("ARCH_EDGES").is_some() {
        for (a, bs) in &graph {
            for b in bs {
                println!("  {a} → {b}");
            }
        }
    }
    let cycles = strongly_connected(&graph);
    let mut report = Vec::new();
    for comp in &cycles {
        let files: Vec<String> = comp.iter().map(|f| format!("src/{f}")).collect();
        let mut edges = Vec::new();
        for a in comp {
            for b in graph.get(a).into_iter().flatten() {
                if comp.contains(b) {
                    edges.push(format!("{a} → {b}"));
                }
            }
        }
        report.push(format!(
            "cycle of {} files: {}\n    edges: {}",
            comp.len(),
            files.join(", "),
            edges.join(", ")
        ));
    }
    for r in &report {
        println!("{r}");
    }
    assert!(
        cycles.is_empty(),
        "{} import cycle(s) between files:\n{}",
        cycles.len(),
        report.join("\n")
    );
}

#[test]
fn every_public_item_has_one_path() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tree = SourceTree::load(&src);
    let lib = |m: &[String]| tree.modules.get(&("lib".to_string(), m.to_vec()));
    // The library's modules declared `pub mod` (exactly `pub`, not `pub(…)`).
    let mut public_decl: BTreeSet<Vec<String>> = BTreeSet::new();
    // (re-exporting module, item path as written, resolved absolute path).
    let mut reexports: Vec<(Vec<String>, String, Vec<String>)> = Vec::new();
    for f in tree.files.values() {
        if f.krate != "lib" || f.is_test {
            continue;
        }
        let toks = tokens(&f.code);
        let t = |i: usize| toks.get(i).map(|x| x.1.as_str()).unwrap_or("");
        let mut depth = 0usize;
        for i in 0..toks.len() {
            match t(i) {
                "{" => depth += 1,
                "}" => depth = depth.saturating_sub(1),
                "pub" if depth == 0 && t(i + 1) == "mod" && is_ident(t(i + 2)) => {
                    let mut m = f.module.clone();
                    m.push(t(i + 2).to_string());
                    public_decl.insert(m);
                }
                "pub" if depth == 0 && t(i + 1) == "use" => {
                    let end = (i..toks.len()).find(|&j| t(j) == ";").unwrap_or(toks.len());
                    let tree_toks: Vec<&str> = (i + 2..end).map(t).collect();
                    for path in expand_use(&tree_toks) {
                        if let Some(abs) = resolve_use(&f.module, &path, |m| lib(m).is_some()) {
                            reexports.push((f.module.clone(), path.join("::"), abs));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    // A module path is public when each of its modules is declared `pub`.
    let public = |m: &[String]| (1..=m.len()).all(|n| public_decl.contains(&m[..n]));
    let mut paths: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (module, written, abs) in &reexports {
        if !public(module) {
            continue;
        }
        let at = if module.is_empty() {
            "crate root".to_string()
        } else {
            module.join("::")
        };
        let e = paths.entry(abs.clone()).or_default();
        // The item's own path: its modules must all be known and public.
        let parent = &abs[..abs.len() - 1];
        if e.is_empty() && (1..=parent.len()).all(|n| lib(&parent[..n]).is_some()) && public(parent)
        {
            e.push(format!("{} (where it is defined)", abs.join("::")));
        }
        e.push(format!("`pub use {written}` in {at}"));
    }
    println!(
        "{} public re-exports checked, {} public modules",
        paths.values().map(Vec::len).sum::<usize>(),
        public_decl.iter().filter(|m| public(m)).count()
    );
    let twice: Vec<String> = paths
        .iter()
        .filter(|(_, p)| p.len() > 1)
        .map(|(abs, p)| format!("{}: {}", abs.join("::"), p.join(", ")))
        .collect();
    assert!(
        twice.is_empty(),
        "public items reachable by more than one path (make the defining module private, \
         or drop the re-export):\n  {}",
        twice.join("\n  ")
    );
}

/// The paths a `use` tree names (`a::{b, c::{d, e as f}}` → `a::b`, `a::c::d`,
/// `a::c::e`); a renaming `as` is dropped, a glob stays as `*`.
fn expand_use(toks: &[&str]) -> Vec<Vec<String>> {
    fn tree(toks: &[&str], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let mut path = prefix.to_vec();
        while *i < toks.len() {
            match toks[*i] {
                "::" => *i += 1,
                "{" => {
                    *i += 1;
                    while *i < toks.len() && toks[*i] != "}" {
                        tree(toks, i, &path, out);
                        if toks.get(*i) == Some(&",") {
                            *i += 1;
                        }
                    }
                    *i += 1;
                    return;
                }
                "," | "}" => break,
                "as" => *i += 2,
                seg => {
                    path.push(seg.to_string());
                    *i += 1;
                }
            }
        }
        out.push(path);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        tree(toks, &mut i, &[], &mut out);
        i += 1;
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The absolute path of a `use` path written in `module`, or `None` when it
/// leads out of the crate (or to an item of `module` itself).
fn resolve_use(
    module: &[String],
    path: &[String],
    is_module: impl Fn(&[String]) -> bool,
) -> Option<Vec<String>> {
    let mut abs = module.to_vec();
    let mut rest = path;
    match path.first()?.as_str() {
        "crate" => {
            abs.clear();
            rest = &path[1..];
        }
        "self" => rest = &path[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                abs.pop()?;
                rest = &rest[1..];
            }
        }
        first => {
            let mut child = module.to_vec();
            child.push(first.to_string());
            if !is_module(&child) {
                return None;
            }
        }
    }
    abs.extend(rest.iter().cloned());
    (abs.len() > module.len() || !abs.starts_with(module)).then_some(abs)
}

/// One source file.
struct SourceFile {
    /// Path under `src/`, with `/`.
    rel: String,
    lines: usize,
    /// The code with comments, string and char literals blanked out and
    /// `#[cfg(test)] mod` blocks removed.
    code: String,
    /// Module path within its crate (`["repair", "parser"]`).
    module: Vec<String>,
    /// Which crate: the library, or a binary's root file.
    krate: String,
    is_test: bool,
}

struct SourceTree {
    /// By path under `src/`.
    files: BTreeMap<String, SourceFile>,
    /// `(crate, module path)` → file.
    modules: HashMap<(String, Vec<String>), String>,
}

impl SourceTree {
    fn load(src: &Path) -> SourceTree {
        let mut tree = SourceTree {
            files: BTreeMap::new(),
            modules: HashMap::new(),
        };
        let lib = src.join("lib.rs");
        if lib.exists() {
            tree.walk(src, &lib, src, "lib", Vec::new(), false);
        }
        let mut bins = Vec::new();
        if src.join("main.rs").exists() {
            bins.push((src.join("main.rs"), src.to_path_buf()));
        }
        if let Ok(rd) = fs::read_dir(src.join("bin")) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() && p.join("main.rs").exists() {
                    bins.push((p.join("main.rs"), p.clone()));
                } else if p.extension().is_some_and(|x| x == "rs") {
                    bins.push((p.clone(), p.with_extension("")));
                }
            }
        }
        for (root, dir) in bins {
            let krate = rel(src, &root);
            tree.walk(src, &root, &dir, &krate, Vec::new(), false);
        }
        // Files no `mod` declaration reaches still get their size checked.
        let mut all = Vec::new();
        list_rs(src, &mut all);
        for p in all {
            let r = rel(src, &p);
            if !tree.files.contains_key(&r) {
                let text = fs::read_to_string(&p).unwrap();
                let (code, _) = strip(&text);
                let is_test = r.ends_with("tests.rs") || code.trim().is_empty();
                tree.files.insert(
                    r.clone(),
                    SourceFile {
                        rel: r,
                        lines: text.lines().count(),
                        code,
                        module: Vec::new(),
                        krate: "unreached".into(),
                        is_test,
                    },
                );
            }
        }
        tree
    }

    /// Reads `file` (module `module` of crate `krate`, whose children live in
    /// `dir`) and the files of the modules it declares.
    fn walk(
        &mut self,
        src: &Path,
        file: &Path,
        dir: &Path,
        krate: &str,
        module: Vec<String>,
        test: bool,
    ) {
        let r = rel(src, file);
        if self.files.contains_key(&r) {
            return;
        }
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let (code, decls) = strip(&text);
        let is_test = test || r.ends_with("tests.rs") || code.trim().is_empty();
        self.modules
            .insert((krate.to_string(), module.clone()), r.clone());
        self.files.insert(
            r.clone(),
            SourceFile {
                rel: r,
                lines: text.lines().count(),
                code,
                module: module.clone(),
                krate: krate.to_string(),
                is_test,
            },
        );
        for (name, test_only) in decls {
            let a = dir.join(format!("{name}.rs"));
            let b = dir.join(&name).join("mod.rs");
            let (child, child_dir) = if a.exists() {
                (a, dir.join(&name))
            } else if b.exists() {
                (b, dir.join(&name))
            } else {
                continue;
            };
            let mut m = module.clone();
            m.push(name);
            self.walk(src, &child, &child_dir, krate, m, is_test || test_only);
        }
    }

    /// File-to-file edges (no self-loops), test files left out.
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in self.files.values() {
            if f.is_test || f.krate == "unreached" {
                continue;
            }
            let out = g.entry(f.rel.clone()).or_default();
            let children: BTreeSet<&str> = self
                .modules
                .keys()
                .filter(|(k, m)| {
                    *k == f.krate && m.len() == f.module.len() + 1 && m.starts_with(&f.module)
                })
                .map(|(_, m)| m[m.len() - 1].as_str())
                .collect();
            for (krate, path) in paths(f, &children) {
                if let Some(target) = self.resolve(&krate, &path) {
                    if target != f.rel && !self.files[&target].is_test {
                        out.insert(target);
                    }
                }
            }
        }
        g
    }

    /// The file defining the longest existing module prefix of `path`.
    fn resolve(&self, krate: &str, path: &[String]) -> Option<String> {
        (0..=path.len()).rev().find_map(|n| {
            self.modules
                .get(&(krate.to_string(), path[..n].to_vec()))
                .cloned()
        })
    }
}

fn rel(src: &Path, p: &Path) -> String {
    p.strip_prefix(src)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn list_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            list_rs(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Blanks comments, string and char literals, drops `#[cfg(test)] mod`
/// blocks, and returns the code with the file's `mod name;` declarations
/// (`true` when the declaration is `#[cfg(test)]`).
fn strip(text: &str) -> (String, Vec<(String, bool)>) {
    let code = blank_literals(text);
    let toks = tokens(&code);
    let mut keep = vec![true; toks.len()];
    let mut decls = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        // `mod name;` at any position (inline modules' declarations would be
        // relative to their directory; formwork has none).
        if toks[i].1 == "mod"
            && toks.get(i + 1).is_some_and(|t| is_ident(&t.1))
            && toks.get(i + 2).is_some_and(|t| t.1 == ";")
        {
            let test_only = cfg_test_before(&toks, i);
            decls.push((toks[i + 1].1.clone(), test_only));
        }
        if toks[i].1 == "#" && is_cfg_test(&toks, i) {
            // Skip the attributes, then a `mod x { … }` block goes.
            let mut j = i;
            while toks.get(j).is_some_and(|t| t.1 == "#") {
                j = skip_attr(&toks, j);
            }
            if toks.get(j).is_some_and(|t| t.1 == "pub") {
                j += 1;
                if toks.get(j).is_some_and(|t| t.1 == "(") {
                    while toks.get(j).is_some_and(|t| t.1 != ")") {
                        j += 1;
                    }
                    j += 1;
                }
            }
            if toks.get(j).is_some_and(|t| t.1 == "mod")
                && toks.get(j + 2).is_some_and(|t| t.1 == "{")
            {
                let mut depth = 0;
                let mut k = j + 2;
                while k < toks.len() {
                    match toks[k].1.as_str() {
                        "{" => depth += 1,
                        "}" => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    k += 1;
                }
                for x in keep.iter_mut().take(k + 1).skip(i) {
                    *x = false;
                }
                i = k + 1;
                continue;
            }
        }
        i += 1;
    }
    // Rebuild the code from the tokens kept (one per line keeps it simple).
    let mut out = String::new();
    for (t, k) in toks.iter().zip(&keep) {
        if *k {
            out.push_str(&t.1);
            out.push(' ');
        }
    }
    (out, decls)
}

/// Whether the attribute starting at token `i` (`#`) is `#[cfg(test)]`.
fn is_cfg_test(toks: &[(usize, String)], i: usize) -> bool {
    let want = ["#", "[", "cfg", "(", "test", ")", "]"];
    want.iter()
        .enumerate()
        .all(|(k, w)| toks.get(i + k).is_some_and(|t| t.1 == *w))
}

/// Whether a `#[cfg(test)]` is among the attributes right before token `i`
/// (`mod`), possibly with a visibility between.
fn cfg_test_before(toks: &[(usize, String)], i: usize) -> bool {
    // Walk back over `pub`, `pub(crate)` and attributes.
    let mut j = i;
    while j > 0 {
        let t = toks[j - 1].1.as_str();
        if t == "pub" || t == "crate" || t == "super" || t == "(" || t == ")" {
            j -= 1;
            continue;
        }
        if t == "]" {
            // Find the `#` that opens this attribute.
            let mut k = j - 1;
            let mut depth = 0;
            loop {
                match toks[k].1.as_str() {
                    "]" => depth += 1,
                    "[" => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                if k == 0 {
                    return false;
                }
                k -= 1;
            }
            if k == 0 {
                return false;
            }
            if is_cfg_test(toks, k - 1) {
                return true;
            }
            j = k - 1;
            continue;
        }
        break;
    }
    false
}

/// The index after the attribute starting at token `i` (`#`).
fn skip_attr(toks: &[(usize, String)], i: usize) -> usize {
    let mut j = i + 1;
    if toks.get(j).is_some_and(|t| t.1 == "!") {
        j += 1;
    }
    let mut depth = 0;
    while j < toks.len() {
        match toks[j].1.as_str() {
            "[" => depth += 1,
            "]" => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    j
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Replaces comments and the contents of string and char literals with
/// spaces (newlines kept).
fn blank_literals(text: &str) -> String {
    let s: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(s[i]));
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r'))) && !prev_is_ident(&s, i) && {
            let k = if c == 'b' { i + 2 } else { i + 1 };
            let mut h = k;
            while s.get(h) == Some(&'#') {
                h += 1;
            }
            s.get(h) == Some(&'"')
        } {
            // Raw string r#"…"#.
            let mut k = if c == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while s.get(k) == Some(&'#') {
                hashes += 1;
                k += 1;
            }
            out.push('"');
            i = k + 1;
            while i < s.len() {
                if s[i] == '"' && (1..=hashes).all(|h| s.get(i + h) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(s[i]));
                i += 1;
            }
            out.push('"');
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < s.len() && s[i] != '"' {
                if s[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < s.len() {
                    out.push(blank(s[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' {
            // A char literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime.
            if next == Some('\\') {
                let mut k = i + 2;
                while k < s.len() && s[k] != '\'' {
                    k += 1;
                }
                out.push_str("' '");
                i = k + 1;
            } else if s.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(s: &[char], i: usize) -> bool {
    i > 0 && (s[i - 1].is_alphanumeric() || s[i - 1] == '_')
}

/// Identifiers, `::` and single punctuation characters, with their offsets.
fn tokens(code: &str) -> Vec<(usize, String)> {
    let s: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            i += 1;
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            out.push((start, s[start..i].iter().collect()));
        } else if c == ':' && s.get(i + 1) == Some(&':') {
            out.push((i, "::".to_string()));
            i += 2;
        } else {
            out.push((i, c.to_string()));
            i += 1;
        }
    }
    out
}

/// Every module path `f` refers to, as `(crate, absolute module path)`.
fn paths(f: &SourceFile, children: &BTreeSet<&str>) -> Vec<(String, Vec<String>)> {
    let toks = tokens(&f.code);
    let t = |i: usize| toks.get(i).map(|x| x.1.as_str()).unwrap_or("");
    let mut out = Vec::new();
    // Inline (non-test) modules: their depth in braces and name.
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match t(i) {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(d, _)| *d == depth) {
                    inline.pop();
                }
            }
            "mod" if is_ident(t(i + 1)) && t(i + 2) == "{" => {
                inline.push((depth, t(i + 1).to_string()));
            }
            _ => {}
        }
        let start = t(i);
        let mid_path = i > 0 && matches!(t(i - 1), "::" | ".");
        let is_start = !mid_path
            && t(i + 1) == "::"
            && (matches!(start, "crate" | "$crate" | "super" | "self")
                || (start == LIB_NAME && f.krate != "lib")
                || (inline.is_empty() && children.contains(start)));
        if !is_start {
            i += 1;
            continue;
        }
        // The module the path is relative to.
        let mut here: Vec<String> = f.module.clone();
        here.extend(inline.iter().map(|(_, n)| n.clone()));
        let (krate, base): (String, Vec<String>) = match start {
            "crate" | "$crate" => (f.krate.clone(), Vec::new()),
            s if s == LIB_NAME && f.krate != "lib" => ("lib".to_string(), Vec::new()),
            "self" => (f.krate.clone(), here.clone()),
            "super" => (f.krate.clone(), here.clone()),
            child => {
                let mut b = here.clone();
                b.push(child.to_string());
                (f.krate.clone(), b)
            }
        };
        let mut base = base;
        let mut j = i;
        if start == "super" {
            base.pop();
            j += 1; // past `super`
            while t(j) == "::" && t(j + 1) == "super" {
                base.pop();
                j += 2;
            }
        } else {
            j += 1;
        }
        // Now at `::` followed by the rest of the path.
        let end = path_tail(&toks, j, base, &krate, &mut out);
        i = end.max(i + 1);
    }
    out
}

/// Reads `::seg::seg…` (and `::{…}` groups) from token `j`, pushing each
/// full path; returns the index after it.
fn path_tail(
    toks: &[(usize, String)],
    mut j: usize,
    mut base: Vec<String>,
    krate: &str,
    out: &mut Vec<(String, Vec<String>)>,
) -> usize {
    let t = |i: usize| toks.get(i).map(|x| x.1.as_str()).unwrap_or("");
    while t(j) == "::" {
        let seg = t(j + 1);
        if seg == "{" {
            // A group: each item is a path relative to `base`.
            let mut k = j + 2;
            loop {
                match t(k) {
                    "}" => return k + 1,
                    "," => k += 1,
                    "" => return k,
                    "self" => {
                        out.push((krate.to_string(), base.clone()));
                        k += 1;
                    }
                    "*" => {
                        out.push((krate.to_string(), base.clone()));
                        k += 1;
                    }
                    "as" => k += 2,
                    s if is_ident(s) => {
                        let mut b = base.clone();
                        b.push(s.to_string());
                        k = path_tail(toks, k + 1, b, krate, out);
                    }
                    _ => k += 1,
                }
            }
        }
        if seg == "*" || !is_ident(seg) {
            break;
        }
        base.push(seg.to_string());
        j += 2;
    }
    out.push((krate.to_string(), base));
    j
}

/// The strongly connected components of more than one node (Tarjan).
fn strongly_connected(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct St<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        on: BTreeSet<&'a str>,
        stack: Vec<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(st: &mut St<'a>, v: &'a str) {
        st.index.insert(v, st.next);
        st.low.insert(v, st.next);
        st.next += 1;
        st.stack.push(v);
        st.on.insert(v);
        if let Some(ws) = st.g.get(v) {
            for w in ws {
                let w = w.as_str();
                if !st.index.contains_key(w) {
                    visit(st, w);
                    let lw = st.low[w];
                    let lv = st.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if st.on.contains(w) {
                    let iw = st.index[w];
                    let lv = st.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
        }
        if st.low[v] == st.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = st.stack.pop().unwrap();
                st.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                st.out.push(comp);
            }
        }
    }
    let mut st = St {
        g,
        index: HashMap::new(),
        low: HashMap::new(),
        on: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !st.index.contains_key(v.as_str()) {
            visit(&mut st, v);
        }
    }
    st.out.sort();
    st.out
}

#[test]
fn the_checker_sees_paths_groups_and_test_blocks() {
    let text = r#"
        use super::{a::B, c, d::{self, E}};
        use crate::x::y::Z; // use crate::commented::Out;
        pub use child::Thing;
        fn f() { let s = "crate::in_string::X"; crate::p::q(); }
        #[cfg(test)]
        mod tests { use crate::test_only::X; }
        #[cfg(test)]
        mod more;
        mod child;
    "#;
    let (code, decls) = strip(text);
    assert_eq!(
        decls,
        vec![("more".to_string(), true), ("child".to_string(), false)]
    );
    let f = SourceFile {
        rel: "m/n.rs".into(),
        lines: 0,
        code,
        module: vec!["m".into(), "n".into()],
        krate: "lib".into(),
        is_test: false,
    };
    let children: BTreeSet<&str> = ["child"].into_iter().collect();
    let got: BTreeSet<String> = paths(&f, &children)
        .into_iter()
        .map(|(_, p)| p.join("::"))
        .collect();
    let want: BTreeSet<String> = [
        "m::a::B",
        "m::c",
        "m::d",
        "m::d::E",
        "x::y::Z",
        "m::n::child::Thing",
        "p::q",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(got, want);
}
