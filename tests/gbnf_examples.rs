//! llama.cpp's 8 example grammars (`tests/data/grammars/gbnf`): each
//! compiles, and strings fuzzed from it through formwork's masks are checked
//! by an independent recogniser written here from the GBNF text: its own
//! small GBNF reader (llama.cpp's rewrite of repetitions into rules) and a
//! character-level Earley recogniser, sharing no code with the frontend.
//! Strings generated at random from that reference grammar are checked the
//! other way: formwork must accept every one.
//!
//! `GBNF_FUZZ=N` sets the number of fuzzed strings per grammar (default
//! 1,000; CI's whole-corpus step runs 10,000, about four minutes).

mod common;

use formwork::fuzzer::Fuzzer;
use formwork::{gbnf_grammar, CompiledGrammar, Matcher};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

// ---- the reference grammar: rules of alternatives of symbol sequences ----

#[derive(Clone, Debug)]
enum Sym {
    /// One character in (or, negated, outside) inclusive ranges.
    Chars {
        neg: bool,
        ranges: Vec<(char, char)>,
    },
    Rule(usize),
}

#[derive(Default)]
struct Reference {
    names: HashMap<String, usize>,
    alts: Vec<Vec<Vec<Sym>>>,
}

impl Reference {
    fn rule_id(&mut self, name: &str) -> usize {
        if let Some(&i) = self.names.get(name) {
            return i;
        }
        let i = self.fresh();
        self.names.insert(name.to_string(), i);
        i
    }

    fn fresh(&mut self) -> usize {
        self.alts.push(Vec::new());
        self.alts.len() - 1
    }

    fn read(text: &str) -> Reference {
        let mut g = Reference::default();
        let cs: Vec<char> = text.chars().collect();
        let mut p = 0;
        loop {
            skip(&cs, &mut p, true);
            if p >= cs.len() {
                break;
            }
            let name = word(&cs, &mut p);
            skip(&cs, &mut p, false);
            assert_eq!(&cs[p..p + 3], &[':', ':', '='], "::= after {name}");
            p += 3;
            skip(&cs, &mut p, true);
            let alts = g.alternates(&cs, &mut p, false);
            let id = g.rule_id(&name);
            g.alts[id] = alts;
        }
        g
    }

    fn alternates(&mut self, cs: &[char], p: &mut usize, nested: bool) -> Vec<Vec<Sym>> {
        let mut alts = vec![self.sequence(cs, p, nested)];
        while *p < cs.len() && cs[*p] == '|' {
            *p += 1;
            skip(cs, p, true);
            alts.push(self.sequence(cs, p, nested));
        }
        alts
    }

    fn sequence(&mut self, cs: &[char], p: &mut usize, nested: bool) -> Vec<Sym> {
        let mut seq: Vec<Sym> = Vec::new();
        let mut last: Option<usize> = None; // where the last item starts in `seq`
        while *p < cs.len() {
            let c = cs[*p];
            let start = seq.len();
            if c == '"' {
                *p += 1;
                while cs[*p] != '"' {
                    let ch = esc(cs, p);
                    seq.push(Sym::Chars {
                        neg: false,
                        ranges: vec![(ch, ch)],
                    });
                }
                *p += 1;
            } else if c == '[' {
                *p += 1;
                let neg = cs[*p] == '^';
                if neg {
                    *p += 1;
                }
                let mut ranges = Vec::new();
                while cs[*p] != ']' {
                    let lo = esc(cs, p);
                    let mut hi = lo;
                    if cs[*p] == '-' && cs[*p + 1] != ']' {
                        *p += 1;
                        hi = esc(cs, p);
                    }
                    ranges.push((lo, hi));
                }
                *p += 1;
                seq.push(Sym::Chars { neg, ranges });
            } else if c.is_ascii_alphanumeric() || c == '-' {
                let name = word(cs, p);
                let id = self.rule_id(&name);
                seq.push(Sym::Rule(id));
            } else if c == '(' {
                *p += 1;
                skip(cs, p, true);
                let alts = self.alternates(cs, p, true);
                assert_eq!(cs[*p], ')');
                *p += 1;
                let id = self.fresh();
                self.alts[id] = alts;
                seq.push(Sym::Rule(id));
            } else if c == '.' {
                *p += 1;
                seq.push(Sym::Chars {
                    neg: true,
                    ranges: vec![],
                });
            } else if matches!(c, '*' | '+' | '?' | '{') {
                *p += 1;
                let (min, max) = match c {
                    '*' => (0, None),
                    '+' => (1, None),
                    '?' => (0, Some(1)),
                    _ => {
                        let n = |cs: &[char], p: &mut usize| {
                            let s = *p;
                            while cs[*p].is_ascii_digit() {
                                *p += 1;
                            }
                            cs[s..*p].iter().collect::<String>().parse::<usize>().ok()
                        };
                        skip(cs, p, nested);
                        let min = n(cs, p).unwrap();
                        skip(cs, p, nested);
                        let max = if cs[*p] == ',' {
                            *p += 1;
                            skip(cs, p, nested);
                            n(cs, p)
                        } else {
                            Some(min)
                        };
                        skip(cs, p, nested);
                        assert_eq!(cs[*p], '}');
                        *p += 1;
                        (min, max)
                    }
                };
                let from = last.expect("an item before a repetition");
                let item: Vec<Sym> = seq.split_off(from);
                // llama.cpp's rewrite: min copies, then a chain of optional
                // copies (or one recursive rule when unbounded).
                for _ in 0..min {
                    seq.extend(item.iter().cloned());
                }
                match max {
                    None => {
                        let r = self.fresh();
                        let mut rec = item.clone();
                        rec.push(Sym::Rule(r));
                        self.alts[r] = vec![rec, vec![]];
                        seq.push(Sym::Rule(r));
                    }
                    Some(max) => {
                        let mut prev: Option<usize> = None;
                        for _ in min..max {
                            let r = self.fresh();
                            let mut alt = item.clone();
                            if let Some(q) = prev {
                                alt.push(Sym::Rule(q));
                            }
                            self.alts[r] = vec![alt, vec![]];
                            prev = Some(r);
                        }
                        if let Some(q) = prev {
                            seq.push(Sym::Rule(q));
                        }
                    }
                }
                skip(cs, p, nested);
                last = None;
                continue;
            } else {
                break;
            }
            last = Some(start);
            skip(cs, p, nested);
        }
        seq
    }

    /// Whether `text` is in the language of rule `root`: Earley over
    /// characters.
    fn recognises(&self, root: usize, text: &str) -> bool {
        let cs: Vec<char> = text.chars().collect();
        let nullable = self.nullable();
        // An item: (rule, alternative, dot, origin).
        type Item = (usize, usize, usize, usize);
        let mut sets: Vec<Vec<Item>> = vec![Vec::new(); cs.len() + 1];
        let mut seen: Vec<HashSet<Item>> = vec![HashSet::new(); cs.len() + 1];
        for a in 0..self.alts[root].len() {
            if seen[0].insert((root, a, 0, 0)) {
                sets[0].push((root, a, 0, 0));
            }
        }
        for i in 0..=cs.len() {
            let mut k = 0;
            while k < sets[i].len() {
                let (r, a, d, o) = sets[i][k];
                k += 1;
                let alt = &self.alts[r][a];
                if d == alt.len() {
                    // Complete: advance the items at `o` waiting for `r`.
                    let waiting: Vec<Item> = sets[o]
                        .iter()
                        .copied()
                        .filter(|&(r2, a2, d2, _)| matches!(self.alts[r2][a2].get(d2), Some(Sym::Rule(x)) if *x == r))
                        .collect();
                    for (r2, a2, d2, o2) in waiting {
                        let it = (r2, a2, d2 + 1, o2);
                        if seen[i].insert(it) {
                            sets[i].push(it);
                        }
                    }
                    continue;
                }
                match &alt[d] {
                    Sym::Rule(x) => {
                        for a2 in 0..self.alts[*x].len() {
                            let it = (*x, a2, 0, i);
                            if seen[i].insert(it) {
                                sets[i].push(it);
                            }
                        }
                        if nullable[*x] {
                            let it = (r, a, d + 1, o);
                            if seen[i].insert(it) {
                                sets[i].push(it);
                            }
                        }
                    }
                    Sym::Chars { neg, ranges } => {
                        if i < cs.len() {
                            let c = cs[i];
                            let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                            if inside != *neg {
                                let it = (r, a, d + 1, o);
                                if seen[i + 1].insert(it) {
                                    sets[i + 1].push(it);
                                }
                            }
                        }
                    }
                }
            }
        }
        sets[cs.len()]
            .iter()
            .any(|&(r, a, d, o)| r == root && o == 0 && d == self.alts[r][a].len())
    }

    fn nullable(&self) -> Vec<bool> {
        let mut n = vec![false; self.alts.len()];
        loop {
            let mut changed = false;
            for r in 0..self.alts.len() {
                if !n[r]
                    && self.alts[r]
                        .iter()
                        .any(|alt| alt.iter().all(|s| matches!(s, Sym::Rule(x) if n[*x])))
                {
                    n[r] = true;
                    changed = true;
                }
            }
            if !changed {
                return n;
            }
        }
    }

    /// A random string of rule `r`, depth-limited (`None` if the limit is
    /// hit).
    fn generate(&self, r: usize, rng: &mut u64, depth: usize, out: &mut String) -> Option<()> {
        if depth == 0 || out.len() > 400 {
            return None;
        }
        let alts = &self.alts[r];
        let a = (next(rng) % alts.len() as u64) as usize;
        for s in &alts[a] {
            match s {
                Sym::Rule(x) => self.generate(*x, rng, depth - 1, out)?,
                Sym::Chars { neg, ranges } => {
                    let c = if *neg {
                        // A printable character outside the ranges.
                        let pool: Vec<char> = (' '..='~')
                            .chain(['é', 'ß', '中', '😀', '\t'])
                            .filter(|c| !ranges.iter().any(|&(lo, hi)| lo <= *c && *c <= hi))
                            .collect();
                        pool[(next(rng) % pool.len() as u64) as usize]
                    } else {
                        let (lo, hi) = ranges[(next(rng) % ranges.len() as u64) as usize];
                        let span = hi as u64 - lo as u64 + 1;
                        let mut c = None;
                        for _ in 0..8 {
                            c = char::from_u32(lo as u32 + (next(rng) % span) as u32);
                            if c.is_some() {
                                break;
                            }
                        }
                        c.unwrap_or(lo)
                    };
                    out.push(c);
                }
            }
        }
        Some(())
    }
}

fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn skip(cs: &[char], p: &mut usize, newline_ok: bool) {
    while *p < cs.len() {
        match cs[*p] {
            ' ' | '\t' => *p += 1,
            '\n' | '\r' if newline_ok => *p += 1,
            '#' => {
                while *p < cs.len() && cs[*p] != '\n' {
                    *p += 1;
                }
            }
            _ => return,
        }
    }
}

fn word(cs: &[char], p: &mut usize) -> String {
    let s = *p;
    while *p < cs.len() && (cs[*p].is_ascii_alphanumeric() || cs[*p] == '-') {
        *p += 1;
    }
    cs[s..*p].iter().collect()
}

fn esc(cs: &[char], p: &mut usize) -> char {
    let c = cs[*p];
    *p += 1;
    if c != '\\' {
        return c;
    }
    let e = cs[*p];
    *p += 1;
    let hex = |p: &mut usize, n: usize| {
        let s: String = cs[*p..*p + n].iter().collect();
        *p += n;
        char::from_u32(u32::from_str_radix(&s, 16).unwrap()).unwrap()
    };
    match e {
        'x' => hex(p, 2),
        'u' => hex(p, 4),
        'U' => hex(p, 8),
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        other => other,
    }
}

// ---- the test ----

const FILES: [&str; 8] = [
    "arithmetic",
    "c",
    "chess",
    "english",
    "japanese",
    "json",
    "json_arr",
    "list",
];

fn fuzz_count() -> usize {
    std::env::var("GBNF_FUZZ")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

#[test]
fn example_grammars_compile_and_fuzz_into_the_reference_language() {
    let n = fuzz_count();
    let mut failures = Vec::new();
    for name in FILES {
        let path = common::data_dir().join(format!("grammars/gbnf/{name}.gbnf"));
        let text = std::fs::read_to_string(&path).unwrap();
        let g = gbnf_grammar(&text).unwrap_or_else(|e| panic!("{name}.gbnf: {e}"));
        let compiled = Arc::new(CompiledGrammar::new(&g).unwrap_or_else(|e| panic!("{name}: {e}")));
        let reference = Reference::read(&text);
        let root = reference.names["root"];
        let mut f = Fuzzer::new(compiled.clone(), 0x6b6e_6266 ^ name.len() as u64, 120);
        let (mut ok, mut errors, mut total_len) = (0, 0, 0);
        let mut distinct = HashSet::new();
        for _ in 0..n {
            match f.sample() {
                Ok(s) => {
                    total_len += s.len();
                    if reference.recognises(root, &s) {
                        ok += 1;
                    } else if failures.len() < 20 {
                        failures.push(format!(
                            "{name}: fuzzed {s:?} is not in the reference language"
                        ));
                    }
                    distinct.insert(s);
                }
                Err(_) => errors += 1,
            }
        }
        // The other way: strings of the reference grammar, accepted whole.
        let env = common::gpt2();
        let m = Matcher::new(compiled, &env);
        let mut rng = 0x1234_5678_9abc_def1u64 ^ name.len() as u64;
        let (mut generated, mut accepted) = (0, 0);
        for _ in 0..20 * (n / 10).max(50) {
            if generated == n / 10 {
                break;
            }
            let mut s = String::new();
            if reference.generate(root, &mut rng, 60, &mut s).is_none() {
                continue;
            }
            generated += 1;
            let mut mm = m.clone();
            if mm.commit_bytes(s.as_bytes()).is_ok() && mm.is_accepting() {
                accepted += 1;
            } else if failures.len() < 40 {
                failures.push(format!("{name}: reference string {s:?} is rejected"));
            }
        }
        println!(
            "{name:<11} fuzzed {n}: {ok} in the reference language, {errors} sampling errors, \
             {} distinct, mean {} bytes; reference strings accepted {accepted}/{generated}; lexemes {}",
            distinct.len(),
            total_len / n.max(1),
            g_lexemes(&text),
        );
        assert_eq!(errors, 0, "{name}: the fuzzer failed to produce samples");
        assert!(generated > 0, "{name}: no reference string generated");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn g_lexemes(text: &str) -> usize {
    CompiledGrammar::new(&gbnf_grammar(text).unwrap())
        .unwrap()
        .lexeme_count()
}
