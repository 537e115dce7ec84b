// rxcheck: helper for make_regex_cases.py (not part of the formwork build).
// Reads JSONL {"regex": str, "strings": [str]} on stdin; writes one JSONL line per input:
//   looks: the look-around assertions in the regex-syntax HIR (e.g. ["Start","End"]),
//   stripped_looks: the same after removing a leading '^' and a trailing '$',
//   full: for each string, whether it matches `^(?:rx)$` (the regex crate),
//   dfa_bytes / dfa_error: a dense anchored whole-string DFA (regex-automata, 64 MiB limits),
//   error: the parse/compile error, if any.
// Build: a scratch crate with regex = "1", regex-syntax = "0.8", regex-automata = "0.4",
// serde_json = "1" and this file as src/main.rs; `cargo build --release`.
use std::io::{BufRead, Write};
use regex_syntax::hir::Look;
fn looks(p: &str) -> Result<Vec<String>, String> {
    let hir = regex_syntax::ParserBuilder::new().build().parse(p).map_err(|e| e.to_string())?;
    Ok(hir.properties().look_set().iter().map(|l: Look| format!("{:?}", l)).collect())
}
fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        if line.trim().is_empty() { continue; }
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let p = v["regex"].as_str().unwrap();
        let mut res = serde_json::json!({"regex": p});
        match looks(p) {
            Err(e) => { res["error"] = e.into(); }
            Ok(ls) => {
                res["looks"] = ls.into();
                // edge-stripped look set
                let mut q = p;
                if let Some(r) = q.strip_prefix('^') { q = r; }
                if q.ends_with('$') && !q.ends_with("\\$") { q = &q[..q.len()-1]; }
                res["stripped_looks"] = match looks(q) { Ok(l) => l.into(), Err(e) => format!("ERR {e}").into() };
                match regex::RegexBuilder::new(&format!("^(?:{p})$")).size_limit(1<<28).dfa_size_limit(1<<28).build() {
                    Err(e) => { res["error"] = e.to_string().into(); }
                    Ok(re) => {
                        let full: Vec<bool> = v["strings"].as_array().map(|a| a.iter().map(|s| re.is_match(s.as_str().unwrap())).collect()).unwrap_or_default();
                        res["full"] = full.into();
                    }
                }
                // dense DFA size (whole-string, anchored)
                let t = std::time::Instant::now();
                let dfa = regex_automata::dfa::dense::Builder::new()
                    .configure(regex_automata::dfa::dense::Config::new().dfa_size_limit(Some(64<<20)).determinize_size_limit(Some(64<<20)).start_kind(regex_automata::dfa::StartKind::Anchored))
                    .build(&format!("^(?:{p})$"));
                match dfa { Ok(d) => { res["dfa_bytes"] = d.memory_usage().into(); }
                            Err(e) => { res["dfa_error"] = e.to_string().into(); } }
                res["dfa_ms"] = (t.elapsed().as_secs_f64()*1000.0).into();
            }
        }
        writeln!(out, "{}", res).unwrap();
    }
}
