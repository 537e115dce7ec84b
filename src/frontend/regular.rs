//! Boolean operations on regular expressions, for lowering pest lookahead
//! and the free text of GBNF-family macros (text up to a tag).
//!
//! The grammar IR's lexemes are regex strings, and regexes have no
//! intersection or complement. A pest lookahead inside an atomic rule needs
//! both: `!A ~ R` matches the strings of `R` that do not start with an `A`,
//! that is `R ∖ (A·Σ*)`. This module computes such differences (and
//! intersections) exactly and hands back an ordinary regex:
//!
//! 1. both regexes are parsed with `regex-syntax` and turned into NFAs over
//!    *Unicode scalar ranges* (not bytes, so that the result stays a valid
//!    UTF-8 regex the lexer accepts);
//! 2. the ranges of both are split into one shared alphabet of disjoint
//!    intervals, and each NFA is determinised over it;
//! 3. the product DFA keeps the states accepted by `a` and not (or also) by
//!    `b`, is minimised (Moore) and trimmed of dead states;
//! 4. state elimination turns it back into a regex, eliminating the states
//!    with the fewest in × out edges first. For the usual shapes (a keyword
//!    trie cut out of an identifier, "no `*/` inside") this stays linear in
//!    the size of the DFA.
//!
//! Trade-off: state elimination can blow up on large, densely connected
//! DFAs; [`MAX_STATES`] bounds the work and an error says which rule to
//! simplify. Anchors and look-around inside the operands are not supported
//! (pest has none).

use regex_syntax::hir::{Class, Hir, HirKind};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Largest DFA (in states) that is turned back into a regex.
pub(crate) const MAX_STATES: usize = 20_000;

/// Largest NFA built from one operand.
const MAX_NFA_STATES: usize = 200_000;

/// `a` minus `b`: a regex matching the strings `a` matches and `b` does not.
pub(crate) fn difference(a: &str, b: &str) -> Result<String, String> {
    combine(a, b, |x, y| x && !y)
}

/// `a` and `b`: a regex matching the strings both match.
pub(crate) fn intersection(a: &str, b: &str) -> Result<String, String> {
    combine(a, b, |x, y| x && y)
}

/// A regex's minimal DFA over characters, with its dead states removed:
/// the shape a lexeme takes when it must be spelled out as rules.
pub(crate) struct CharDfa {
    /// Per state: (first, last, target) character intervals.
    pub(crate) trans: Vec<Vec<(char, char, usize)>>,
    pub(crate) accept: Vec<bool>,
    /// The start state (`None`: the language is empty).
    pub(crate) start: Option<usize>,
}

/// The [`CharDfa`] of `pattern`.
pub(crate) fn char_dfa(pattern: &str) -> Result<CharDfa, String> {
    let n = Nfa::from_regex(pattern)?;
    let alphabet = Alphabet::new(&[&n]);
    let d = Dfa::from_nfa(&n, &alphabet)?.minimize();
    let live = d.live();
    let mut id = vec![usize::MAX; d.trans.len()];
    let mut count = 0;
    for (s, &l) in live.iter().enumerate() {
        if l {
            id[s] = count;
            count += 1;
        }
    }
    let mut out = CharDfa {
        trans: vec![Vec::new(); count],
        accept: vec![false; count],
        start: live[0].then_some(id[0]),
    };
    for s in (0..d.trans.len()).filter(|&s| live[s]) {
        out.accept[id[s]] = d.accept[s];
        for (i, &t) in d.trans[s].iter().enumerate() {
            if !live[t as usize] {
                continue;
            }
            // Surrogates are no characters: an interval across them is cut.
            let (lo, hi) = (alphabet.starts[i], alphabet.end(i));
            for (a, b) in [(lo, hi.min(0xD7FF)), (lo.max(0xE000), hi)] {
                if let (Some(a), Some(b)) = (char::from_u32(a), char::from_u32(b)) {
                    if a <= b {
                        out.trans[id[s]].push((a, b, id[t as usize]));
                    }
                }
            }
        }
    }
    Ok(out)
}

fn combine(a: &str, b: &str, keep: impl Fn(bool, bool) -> bool) -> Result<String, String> {
    let na = Nfa::from_regex(a)?;
    let nb = Nfa::from_regex(b)?;
    let alphabet = Alphabet::new(&[&na, &nb]);
    let da = Dfa::from_nfa(&na, &alphabet)?;
    let db = Dfa::from_nfa(&nb, &alphabet)?;
    let p = Dfa::product(&da, &db, keep)?;
    let m = p.minimize();
    Ok(m.to_regex(&alphabet))
}

/// A Thompson NFA over Unicode scalar value ranges.
struct Nfa {
    /// Per state: (lo, hi, target) range transitions.
    trans: Vec<Vec<(u32, u32, usize)>>,
    eps: Vec<Vec<usize>>,
    start: usize,
    accept: usize,
}

impl Nfa {
    fn from_regex(pattern: &str) -> Result<Nfa, String> {
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(true)
            .unicode(true)
            .build()
            .parse(pattern)
            .map_err(|e| e.to_string())?;
        let mut n = Nfa {
            trans: Vec::new(),
            eps: Vec::new(),
            start: 0,
            accept: 0,
        };
        let (s, f) = n.build(&hir)?;
        n.start = s;
        n.accept = f;
        Ok(n)
    }

    fn state(&mut self) -> usize {
        self.trans.push(Vec::new());
        self.eps.push(Vec::new());
        self.trans.len() - 1
    }

    /// Builds a fragment for `h`; returns its (entry, exit) states. A
    /// counted repetition copies its operand, so the NFA is bounded (by
    /// [`MAX_NFA_STATES`]) before it can exhaust memory.
    fn build(&mut self, h: &Hir) -> Result<(usize, usize), String> {
        if self.trans.len() > MAX_NFA_STATES {
            return Err(format!(
                "more than {MAX_NFA_STATES} NFA states (a repetition bound too large)"
            ));
        }
        Ok(match h.kind() {
            HirKind::Empty => {
                let s = self.state();
                (s, s)
            }
            HirKind::Literal(lit) => {
                let text = std::str::from_utf8(&lit.0)
                    .map_err(|_| "a literal is not valid UTF-8".to_string())?;
                let s = self.state();
                let mut cur = s;
                for c in text.chars() {
                    let n = self.state();
                    self.trans[cur].push((c as u32, c as u32, n));
                    cur = n;
                }
                (s, cur)
            }
            HirKind::Class(class) => {
                let s = self.state();
                let f = self.state();
                match class {
                    Class::Unicode(u) => {
                        for r in u.iter() {
                            self.trans[s].push((r.start() as u32, r.end() as u32, f));
                        }
                    }
                    Class::Bytes(b) => {
                        for r in b.iter() {
                            if r.end() > 0x7F {
                                return Err("a byte class beyond ASCII".into());
                            }
                            self.trans[s].push((r.start() as u32, r.end() as u32, f));
                        }
                    }
                }
                (s, f)
            }
            HirKind::Look(_) => return Err("anchors and look-around are not supported".into()),
            HirKind::Capture(c) => self.build(&c.sub)?,
            HirKind::Concat(items) => {
                let s = self.state();
                let mut cur = s;
                for i in items {
                    let (a, b) = self.build(i)?;
                    self.eps[cur].push(a);
                    cur = b;
                }
                (s, cur)
            }
            HirKind::Alternation(items) => {
                let s = self.state();
                let f = self.state();
                for i in items {
                    let (a, b) = self.build(i)?;
                    self.eps[s].push(a);
                    self.eps[b].push(f);
                }
                (s, f)
            }
            HirKind::Repetition(rep) => {
                let s = self.state();
                let mut cur = s;
                for _ in 0..rep.min {
                    let (a, b) = self.build(&rep.sub)?;
                    self.eps[cur].push(a);
                    cur = b;
                }
                match rep.max {
                    None => {
                        let (a, b) = self.build(&rep.sub)?;
                        let f = self.state();
                        self.eps[cur].push(a);
                        self.eps[cur].push(f);
                        self.eps[b].push(a);
                        self.eps[b].push(f);
                        cur = f;
                    }
                    Some(max) => {
                        let f = self.state();
                        for _ in rep.min..max {
                            let (a, b) = self.build(&rep.sub)?;
                            self.eps[cur].push(a);
                            self.eps[cur].push(f);
                            cur = b;
                        }
                        self.eps[cur].push(f);
                        cur = f;
                    }
                }
                (s, cur)
            }
        })
    }

    fn closure(&self, set: &mut BTreeSet<usize>) {
        let mut stack: Vec<usize> = set.iter().copied().collect();
        while let Some(s) = stack.pop() {
            for &t in &self.eps[s] {
                if set.insert(t) {
                    stack.push(t);
                }
            }
        }
    }
}

/// Disjoint intervals covering every scalar value, refined so that each NFA
/// range is a union of whole intervals.
struct Alphabet {
    /// Interval `i` is `starts[i] ..= starts[i + 1] - 1` (the last ends at 0x10FFFF).
    starts: Vec<u32>,
}

impl Alphabet {
    fn new(nfas: &[&Nfa]) -> Alphabet {
        let mut cuts = BTreeSet::from([0u32]);
        for n in nfas {
            for ts in &n.trans {
                for &(lo, hi, _) in ts {
                    cuts.insert(lo);
                    if hi < 0x10FFFF {
                        cuts.insert(hi + 1);
                    }
                }
            }
        }
        Alphabet {
            starts: cuts.into_iter().collect(),
        }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    fn index(&self, c: u32) -> usize {
        self.starts.partition_point(|&s| s <= c) - 1
    }

    fn end(&self, i: usize) -> u32 {
        self.starts.get(i + 1).map_or(0x10FFFF, |&s| s - 1)
    }
}

/// A complete DFA over an [`Alphabet`]; state 0 is the start.
struct Dfa {
    trans: Vec<Vec<u32>>,
    accept: Vec<bool>,
}

impl Dfa {
    fn from_nfa(n: &Nfa, alpha: &Alphabet) -> Result<Dfa, String> {
        let k = alpha.len();
        let mut start = BTreeSet::from([n.start]);
        n.closure(&mut start);
        let mut ids: HashMap<BTreeSet<usize>, u32> = HashMap::new();
        let mut sets = vec![start.clone()];
        ids.insert(start, 0);
        let mut dfa = Dfa {
            trans: Vec::new(),
            accept: Vec::new(),
        };
        let mut i = 0;
        while i < sets.len() {
            let set = sets[i].clone();
            let mut buckets: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); k];
            for &s in &set {
                for &(lo, hi, t) in &n.trans[s] {
                    for b in buckets
                        .iter_mut()
                        .take(alpha.index(hi) + 1)
                        .skip(alpha.index(lo))
                    {
                        b.insert(t);
                    }
                }
            }
            let mut row = Vec::with_capacity(k);
            for mut b in buckets {
                n.closure(&mut b);
                let id = match ids.get(&b) {
                    Some(&id) => id,
                    None => {
                        let id = sets.len() as u32;
                        if sets.len() > MAX_STATES {
                            return Err(format!("more than {MAX_STATES} DFA states"));
                        }
                        ids.insert(b.clone(), id);
                        sets.push(b);
                        id
                    }
                };
                row.push(id);
            }
            dfa.trans.push(row);
            dfa.accept.push(set.contains(&n.accept));
            i += 1;
        }
        Ok(dfa)
    }

    fn product(a: &Dfa, b: &Dfa, keep: impl Fn(bool, bool) -> bool) -> Result<Dfa, String> {
        let k = a.trans[0].len();
        let mut ids: HashMap<(u32, u32), u32> = HashMap::from([((0, 0), 0)]);
        let mut pairs = vec![(0u32, 0u32)];
        let mut dfa = Dfa {
            trans: Vec::new(),
            accept: Vec::new(),
        };
        let mut i = 0;
        while i < pairs.len() {
            let (x, y) = pairs[i];
            let mut row = Vec::with_capacity(k);
            for c in 0..k {
                let p = (a.trans[x as usize][c], b.trans[y as usize][c]);
                let id = *ids.entry(p).or_insert_with(|| {
                    pairs.push(p);
                    pairs.len() as u32 - 1
                });
                row.push(id);
            }
            if pairs.len() > MAX_STATES {
                return Err(format!("more than {MAX_STATES} DFA states"));
            }
            dfa.trans.push(row);
            dfa.accept
                .push(keep(a.accept[x as usize], b.accept[y as usize]));
            i += 1;
        }
        Ok(dfa)
    }

    /// Moore's partition refinement; the start state stays 0.
    fn minimize(&self) -> Dfa {
        let n = self.trans.len();
        let mut class: Vec<u32> = self.accept.iter().map(|&a| a as u32).collect();
        let mut count = 0;
        loop {
            let mut ids: HashMap<(u32, Vec<u32>), u32> = HashMap::new();
            let mut next = vec![0u32; n];
            for s in 0..n {
                let sig = (
                    class[s],
                    self.trans[s].iter().map(|&t| class[t as usize]).collect(),
                );
                let len = ids.len() as u32;
                next[s] = *ids.entry(sig).or_insert(len);
            }
            let new_count = ids.len();
            class = next;
            if new_count == count {
                break;
            }
            count = new_count;
        }
        // Renumber so that the start's class is 0.
        let mut order: HashMap<u32, u32> = HashMap::new();
        let mut reps = Vec::new();
        let mut queue = VecDeque::from([0usize]);
        order.insert(class[0], 0);
        reps.push(0usize);
        while let Some(s) = queue.pop_front() {
            for &t in &self.trans[s] {
                let c = class[t as usize];
                if let std::collections::hash_map::Entry::Vacant(e) = order.entry(c) {
                    e.insert(reps.len() as u32);
                    reps.push(t as usize);
                    queue.push_back(t as usize);
                }
            }
        }
        Dfa {
            trans: reps
                .iter()
                .map(|&s| {
                    self.trans[s]
                        .iter()
                        .map(|&t| order[&class[t as usize]])
                        .collect()
                })
                .collect(),
            accept: reps.iter().map(|&s| self.accept[s]).collect(),
        }
    }

    /// States from which an accepting state can be reached.
    fn live(&self) -> Vec<bool> {
        let n = self.trans.len();
        let mut rev: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (s, row) in self.trans.iter().enumerate() {
            for &t in row {
                rev[t as usize].push(s);
            }
        }
        let mut live = self.accept.clone();
        let mut stack: Vec<usize> = (0..n).filter(|&s| live[s]).collect();
        while let Some(s) = stack.pop() {
            for &p in &rev[s] {
                if !live[p] {
                    live[p] = true;
                    stack.push(p);
                }
            }
        }
        live
    }

    /// State elimination. A DFA with an empty language gives `[^\s\S]`
    /// (a regex that matches nothing).
    fn to_regex(&self, alpha: &Alphabet) -> String {
        let live = self.live();
        if !live[0] {
            return r"[^\s\S]".to_string();
        }
        let n = self.trans.len();
        // Nodes: 0..n are DFA states, n is the new start, n + 1 the final.
        let (start, fin) = (n, n + 1);
        let mut out: Vec<BTreeMap<usize, Re>> = vec![BTreeMap::new(); n + 2];
        let mut inc: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n + 2];
        let add = |out: &mut Vec<BTreeMap<usize, Re>>,
                   inc: &mut Vec<BTreeSet<usize>>,
                   p: usize,
                   q: usize,
                   r: Re| {
            let e = out[p].remove(&q);
            let merged = match e {
                Some(old) => Re::alt(old, r),
                None => r,
            };
            out[p].insert(q, merged);
            inc[q].insert(p);
        };
        add(&mut out, &mut inc, start, 0, Re::Eps);
        for s in 0..n {
            if !live[s] {
                continue;
            }
            if self.accept[s] {
                add(&mut out, &mut inc, s, fin, Re::Eps);
            }
            let mut by_target: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
            for (c, &t) in self.trans[s].iter().enumerate() {
                if live[t as usize] {
                    by_target.entry(t as usize).or_default().insert(c);
                }
            }
            for (t, cs) in by_target {
                add(&mut out, &mut inc, s, t, Re::Class(cs));
            }
        }
        let mut remaining: BTreeSet<usize> = (0..n).filter(|&s| live[s]).collect();
        while !remaining.is_empty() {
            // The state with the fewest in × out edges (self-loops aside).
            let &q = remaining
                .iter()
                .min_by_key(|&&q| {
                    let i = inc[q].iter().filter(|&&p| p != q).count();
                    let o = out[q].keys().filter(|&&t| t != q).count();
                    (i * o, q)
                })
                .unwrap();
            remaining.remove(&q);
            let self_loop = out[q].remove(&q).map(Re::star);
            inc[q].remove(&q);
            let preds: Vec<usize> = inc[q].iter().copied().collect();
            let succs: Vec<(usize, Re)> = std::mem::take(&mut out[q]).into_iter().collect();
            for &p in &preds {
                let Some(rp) = out[p].remove(&q) else {
                    continue;
                };
                for (t, rt) in &succs {
                    let mid = match &self_loop {
                        Some(l) => Re::cat(vec![rp.clone(), l.clone(), rt.clone()]),
                        None => Re::cat(vec![rp.clone(), rt.clone()]),
                    };
                    add(&mut out, &mut inc, p, *t, mid);
                }
            }
            for (t, _) in &succs {
                inc[*t].remove(&q);
            }
            inc[q].clear();
        }
        match out[start].remove(&fin) {
            Some(r) => {
                let mut s = String::new();
                r.render(alpha, &mut s, false);
                s
            }
            None => r"[^\s\S]".to_string(),
        }
    }
}

/// A regex under construction, kept small by a few algebraic rules.
#[derive(Clone, Debug)]
enum Re {
    Eps,
    /// A set of alphabet intervals.
    Class(BTreeSet<usize>),
    Cat(Vec<Re>),
    Alt(Vec<Re>),
    Star(Box<Re>),
    Opt(Box<Re>),
}

impl Re {
    fn alt(a: Re, b: Re) -> Re {
        let mut items = Vec::new();
        let mut eps = false;
        for x in [a, b] {
            match x {
                Re::Eps => eps = true,
                Re::Opt(inner) => {
                    eps = true;
                    items.push(*inner);
                }
                Re::Alt(v) => items.extend(v),
                other => items.push(other),
            }
        }
        // Merge all single classes into one.
        let mut class = BTreeSet::new();
        let mut rest = Vec::new();
        for x in items {
            match x {
                Re::Class(c) => class.extend(c),
                Re::Alt(v) => rest.extend(v),
                other => rest.push(other),
            }
        }
        if !class.is_empty() {
            rest.insert(0, Re::Class(class));
        }
        let core = match rest.len() {
            0 => return Re::Eps,
            1 => rest.pop().unwrap(),
            _ => Re::Alt(rest),
        };
        if eps {
            match core {
                Re::Star(_) | Re::Opt(_) => core,
                c => Re::Opt(Box::new(c)),
            }
        } else {
            core
        }
    }

    fn cat(items: Vec<Re>) -> Re {
        let mut v = Vec::new();
        for x in items {
            match x {
                Re::Eps => {}
                Re::Cat(inner) => v.extend(inner),
                other => v.push(other),
            }
        }
        match v.len() {
            0 => Re::Eps,
            1 => v.pop().unwrap(),
            _ => Re::Cat(v),
        }
    }

    fn star(r: Re) -> Re {
        match r {
            Re::Eps => Re::Eps,
            Re::Star(_) => r,
            Re::Opt(inner) => Re::Star(inner),
            other => Re::Star(Box::new(other)),
        }
    }

    /// Writes the regex; `tight` asks for a form safe to follow with `*`/`?`
    /// or to concatenate.
    fn render(&self, alpha: &Alphabet, out: &mut String, tight: bool) {
        match self {
            Re::Eps => out.push_str("(?:)"),
            Re::Class(c) => render_class(c, alpha, out),
            Re::Cat(v) => {
                if tight {
                    out.push_str("(?:");
                }
                for x in v {
                    x.render(alpha, out, matches!(x, Re::Alt(_)));
                }
                if tight {
                    out.push(')');
                }
            }
            Re::Alt(v) => {
                out.push_str("(?:");
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    x.render(alpha, out, false);
                }
                out.push(')');
            }
            Re::Star(x) => {
                x.render(alpha, out, true);
                out.push('*');
            }
            Re::Opt(x) => {
                x.render(alpha, out, true);
                out.push('?');
            }
        }
    }
}

fn push_char(c: u32, out: &mut String) {
    match char::from_u32(c) {
        Some(ch) if ch.is_ascii_alphanumeric() => out.push(ch),
        Some(ch) if ch.is_ascii() => out.push_str(&format!("\\x{:02X}", c)),
        _ => out.push_str(&format!("\\x{{{c:X}}}")),
    }
}

fn render_class(c: &BTreeSet<usize>, alpha: &Alphabet, out: &mut String) {
    // Merge adjacent intervals into ranges.
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for &i in c {
        let (lo, hi) = (alpha.starts[i], alpha.end(i));
        match ranges.last_mut() {
            Some(last) if last.1 + 1 == lo => last.1 = hi,
            _ => ranges.push((lo, hi)),
        }
    }
    if ranges.len() == 1 && ranges[0].0 == ranges[0].1 {
        push_char(ranges[0].0, out);
        return;
    }
    out.push('[');
    for (lo, hi) in ranges {
        // Surrogates are not scalar values; skip over them.
        let pieces: Vec<(u32, u32)> = if lo <= 0xD7FF && hi >= 0xE000 {
            vec![(lo, 0xD7FF), (0xE000, hi)]
        } else if (0xD800..=0xDFFF).contains(&lo) && (0xD800..=0xDFFF).contains(&hi) {
            vec![]
        } else {
            vec![(lo.max(if lo >= 0xD800 { 0xE000 } else { lo }), hi)]
        };
        for (a, b) in pieces {
            push_char(a, out);
            if b > a {
                out.push('-');
                push_char(b, out);
            }
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(re: &str, s: &str) -> bool {
        regex::Regex::new(&format!("^(?:{re})$"))
            .unwrap()
            .is_match(s)
    }

    #[test]
    fn identifier_minus_keywords() {
        let r = difference("[A-Za-z_][A-Za-z0-9_]*", "(?:(?i:select)|(?i:from))").unwrap();
        for (s, ok) in [
            ("select", false),
            ("SeLeCt", false),
            ("FROM", false),
            ("selects", true),
            ("fro", true),
            ("x", true),
            ("_from", true),
            ("1a", false),
        ] {
            assert_eq!(full(&r, s), ok, "{s:?} against {r}");
        }
    }

    #[test]
    fn no_comment_end_inside() {
        let r = difference(r"(?s:.)*", r"(?s:.)*\*/(?s:.)*").unwrap();
        for (s, ok) in [("abc", true), ("a*b/", true), ("a*/", false), ("é*", true)] {
            assert_eq!(full(&r, s), ok, "{s:?} against {r}");
        }
    }

    #[test]
    fn empty_result_and_intersection() {
        let r = difference("a", "a|b").unwrap();
        assert!(!full(&r, "a") && !full(&r, ""));
        let r = intersection("[a-z]+", "a.*").unwrap();
        assert!(full(&r, "abc") && !full(&r, "bc"));
    }
}
