//! Parsed GBNF rules to the grammar IR, with lexemes chosen so that the
//! IR's greedy lexing changes nothing (see the module docs of `gbnf`).

use super::parse::{Dialect, Kind, Node, Rules};
use crate::error::GrammarError;
use crate::frontend::regular;
use crate::grammar::{Expr, Grammar};
use crate::lexer::dense_builder;
use regex_automata::{
    dfa::{dense, Automaton},
    util::primitives::StateID,
    Anchored,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

/// The longest regex made for one lexeme; a longer regular part is lowered
/// as rules.
const MAX_LEXEME_REGEX: usize = 16 << 10;

/// States of one lexeme's DFA the analysis explores; past it the lexeme is
/// split.
const MAX_DFA_STATES: usize = 20_000;

/// Pairs of states explored to decide one pair of lexemes; past it the pair
/// counts as conflicting (and is split).
const MAX_PAIR_STATES: usize = 200_000;

/// Rounds of splitting; each splits at least one node, and every node is
/// split at most once, so this is only a guard.
const MAX_ROUNDS: usize = 10_000;

/// Pairs of lexemes compared over all rounds: a bound on the time a hostile
/// grammar can take to lower.
const MAX_PAIR_CHECKS: usize = 20_000_000;

/// A set of bytes.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Bytes([u64; 4]);

impl Bytes {
    fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }
    fn union(&mut self, o: &Bytes) -> bool {
        let before = self.0;
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a |= b;
        }
        before != self.0
    }
    fn intersects(&self, o: &Bytes) -> bool {
        self.0.iter().zip(o.0).any(|(a, b)| a & b != 0)
    }
}

/// The lowered form of a node: lexemes (by index) under rules.
#[derive(Clone)]
enum Low {
    Empty,
    Lex(usize),
    Rule(usize),
    Seq(Vec<Low>),
    Alt(Vec<Low>),
    Rep(Box<Low>, u32, Option<u32>),
}

/// A lexeme: its regex, a second regex it must also match (a length bound,
/// say), and the nodes it stands for (none for a single character, which
/// is never split).
/// The analysis of a bounded lexeme uses its regex alone: a superset of
/// its language, which can only find more conflicts, never fewer.
struct Lexeme {
    regex: String,
    within: Option<String>,
    origins: Vec<u32>,
}

/// Rule-level facts the lowering needs.
struct Analysis<'a> {
    rules: &'a Rules,
    /// Per rule: its body is regular (no recursion below it).
    regular: Vec<bool>,
    /// Per rule: the regex of its body, once made (`None`: too long).
    regex: Vec<Option<Option<String>>>,
}

/// Lowers `rules` with `root` as the start rule. GBNF refuses left
/// recursion, as llama.cpp does; XGrammar's EBNF allows it.
pub(super) fn lower(rules: &Rules, root: usize, dialect: Dialect) -> Result<Grammar, GrammarError> {
    if dialect == Dialect::Gbnf {
        check_left_recursion(rules)?;
    }
    let mut a = Analysis {
        rules,
        regular: regular_rules(rules),
        regex: vec![None; rules.names.len()],
    };
    let mut split: HashSet<u32> = HashSet::new();
    let mut cache: HashMap<String, Rc<LexDfa>> = HashMap::new();
    let mut pair_checks = 0usize;
    for _ in 0..MAX_ROUNDS {
        let mut lx = Lowering {
            split: &split,
            base: rules.names.len(),
            synth: Vec::new(),
            lexemes: Vec::new(),
            by_regex: HashMap::new(),
            error: None,
        };
        let mut bodies: Vec<Option<Low>> = vec![None; rules.names.len()];
        let mut todo = vec![root];
        while let Some(r) = todo.pop() {
            if r >= lx.base || bodies[r].is_some() {
                continue;
            }
            let body = rules.bodies[r].as_ref().expect("every rule is defined");
            let low = lx.lower(&mut a, body);
            collect_rules(&low, &mut todo);
            bodies[r] = Some(low);
        }
        let mut names = rules.names.clone();
        for (name, body) in std::mem::take(&mut lx.synth) {
            names.push(name);
            bodies.push(Some(body));
        }
        if let Some(e) = lx.error.take() {
            return Err(GrammarError::GrammarSyntax {
                format: dialect.name(),
                line: 1,
                column: 1,
                message: e,
            });
        }
        let dfas = lx
            .lexemes
            .iter()
            .map(|l| {
                cache
                    .entry(l.regex.clone())
                    .or_insert_with(|| Rc::new(LexDfa::new(&l.regex)))
                    .clone()
            })
            .collect::<Vec<_>>();
        pair_checks += dfas.len() * dfas.len();
        if pair_checks > MAX_PAIR_CHECKS {
            return Err(GrammarError::TooLarge(format!(
                "choosing the grammar's lexemes compared more than {MAX_PAIR_CHECKS} pairs; \
                 the grammar has too many lexemes that conflict"
            )));
        }
        let conflicts = conflicts(&dfas, &bodies);
        if conflicts.is_empty() {
            return Ok(emit(&names, root, &bodies, &lx.lexemes, &dfas));
        }
        let origins: Vec<u32> = conflicts
            .iter()
            .flat_map(|&l| lx.lexemes[l].origins.iter().copied())
            .collect();
        drop(lx);
        let before = split.len();
        split.extend(origins);
        if split.len() == before {
            // Only single characters conflict, which cannot happen (a
            // character is never a proper prefix of another); lowering
            // exactly is then not possible, and saying so beats a grammar
            // that would reject valid text.
            return Err(GrammarError::TooLarge(
                "the GBNF grammar's characters could not be split into lexemes exactly".into(),
            ));
        }
    }
    Err(GrammarError::TooLarge(
        "the GBNF grammar needed too many rounds to choose its lexemes".into(),
    ))
}

fn collect_rules(low: &Low, out: &mut Vec<usize>) {
    match low {
        Low::Rule(r) => out.push(*r),
        Low::Seq(v) | Low::Alt(v) => v.iter().for_each(|l| collect_rules(l, out)),
        Low::Rep(l, _, _) => collect_rules(l, out),
        Low::Empty | Low::Lex(_) => {}
    }
}

/// Rules that reach no recursion.
fn regular_rules(rules: &Rules) -> Vec<bool> {
    let n = rules.names.len();
    let refs: Vec<Vec<usize>> = rules
        .bodies
        .iter()
        .map(|b| {
            let mut v = Vec::new();
            if let Some(b) = b {
                refs_of(b, &mut v);
            }
            v
        })
        .collect();
    // 0: unknown, 1: in progress, 2: regular, 3: not regular.
    let mut state = vec![0u8; n];
    fn visit(r: usize, refs: &[Vec<usize>], state: &mut [u8]) -> bool {
        match state[r] {
            1 | 3 => return false,
            2 => return true,
            _ => {}
        }
        state[r] = 1;
        let mut ok = true;
        for &s in &refs[r] {
            if !visit(s, refs, state) {
                ok = false;
            }
        }
        state[r] = if ok { 2 } else { 3 };
        ok
    }
    // Recursion depth is bounded by the number of rules, which the
    // parser's input bounds; a rule chain deep enough to matter here is
    // also one llama.cpp would recurse on.
    (0..n).map(|r| visit(r, &refs, &mut state)).collect()
}

fn refs_of(node: &Node, out: &mut Vec<usize>) {
    match &node.kind {
        Kind::Ref(r) => out.push(*r),
        Kind::Seq(v) | Kind::Alt(v) => v.iter().for_each(|n| refs_of(n, out)),
        Kind::Repeat { node, .. } | Kind::Within { node, .. } | Kind::Lazy(node) => {
            refs_of(node, out)
        }
        Kind::TagDispatch { tags, .. } => out.extend(tags.iter().map(|t| t.1)),
        Kind::Chars(_) | Kind::Class { .. } | Kind::Regex(_) => {}
    }
}

/// Whether each rule derives the empty string.
fn nullable_rules(rules: &Rules) -> Vec<bool> {
    let mut nullable = vec![false; rules.names.len()];
    loop {
        let mut changed = false;
        for (r, body) in rules.bodies.iter().enumerate() {
            if !nullable[r] && body.as_ref().is_some_and(|b| node_nullable(b, &nullable)) {
                nullable[r] = true;
                changed = true;
            }
        }
        if !changed {
            return nullable;
        }
    }
}

fn node_nullable(node: &Node, rules: &[bool]) -> bool {
    match &node.kind {
        Kind::Chars(c) => c.is_empty(),
        Kind::Class { .. } => false,
        Kind::Ref(r) => rules[*r],
        Kind::Seq(v) => v.iter().all(|n| node_nullable(n, rules)),
        Kind::Alt(v) => v.iter().any(|n| node_nullable(n, rules)),
        Kind::Repeat { node, min, .. } => *min == 0 || node_nullable(node, rules),
        Kind::Within { node, .. } | Kind::Lazy(node) => node_nullable(node, rules),
        // Only for the left-recursion check of GBNF, which has neither.
        Kind::Regex(_) | Kind::TagDispatch { .. } => true,
    }
}

/// llama.cpp refuses left recursion; so does this frontend, naming a rule
/// on the cycle.
fn check_left_recursion(rules: &Rules) -> Result<(), GrammarError> {
    let nullable = nullable_rules(rules);
    let left: Vec<Vec<usize>> = rules
        .bodies
        .iter()
        .map(|b| {
            let mut v = Vec::new();
            if let Some(b) = b {
                left_refs(b, &nullable, &mut v);
            }
            v
        })
        .collect();
    for start in 0..rules.names.len() {
        let mut seen = vec![false; rules.names.len()];
        let mut stack = left[start].clone();
        while let Some(r) = stack.pop() {
            if r == start {
                return Err(GrammarError::GrammarSyntax {
                    format: "GBNF",
                    line: 1,
                    column: 1,
                    message: format!(
                        "rule {:?} is left recursive (it can derive itself before any \
                         character); llama.cpp refuses left recursion too: rewrite it with a \
                         repetition",
                        rules.names[start]
                    ),
                });
            }
            if !std::mem::replace(&mut seen[r], true) {
                stack.extend(&left[r]);
            }
        }
    }
    Ok(())
}

/// The rules `node` may start with; returns whether `node` is nullable.
fn left_refs(node: &Node, nullable: &[bool], out: &mut Vec<usize>) -> bool {
    match &node.kind {
        Kind::Chars(c) => c.is_empty(),
        Kind::Class { .. } => false,
        Kind::Ref(r) => {
            out.push(*r);
            nullable[*r]
        }
        Kind::Seq(v) => v.iter().all(|n| left_refs(n, nullable, out)),
        Kind::Alt(v) => v
            .iter()
            .map(|n| left_refs(n, nullable, out))
            .fold(false, |a, b| a | b),
        Kind::Repeat { node, min, .. } => left_refs(node, nullable, out) || *min == 0,
        Kind::Within { node, .. } | Kind::Lazy(node) => left_refs(node, nullable, out),
        Kind::Regex(_) | Kind::TagDispatch { .. } => true,
    }
}

impl Analysis<'_> {
    /// The regex of a regular node, or `None` (recursive below, or too
    /// long).
    fn regex(&mut self, node: &Node) -> Option<String> {
        let mut out = String::new();
        self.write_regex(node, &mut out).then_some(out)
    }

    fn rule_regex(&mut self, r: usize) -> Option<String> {
        if !self.regular[r] {
            return None;
        }
        if let Some(re) = &self.regex[r] {
            return re.clone();
        }
        let body = self.rules.bodies[r].as_ref().expect("defined");
        let re = self.regex(body);
        self.regex[r] = Some(re.clone());
        re
    }

    fn write_regex(&mut self, node: &Node, out: &mut String) -> bool {
        if out.len() > MAX_LEXEME_REGEX {
            return false;
        }
        match &node.kind {
            Kind::Chars(cs) => {
                for &c in cs {
                    push_char(c, out);
                }
                true
            }
            Kind::Class { negated, ranges } => {
                push_class(*negated, ranges, out);
                true
            }
            Kind::Regex(re) => {
                out.push_str("(?:");
                out.push_str(re);
                out.push(')');
                true
            }
            // A bounded length is an intersection, which a regex cannot
            // write: such a rule is a lexeme of its own (see `lower`).
            Kind::TagDispatch { .. } | Kind::Within { .. } | Kind::Lazy(_) => false,
            Kind::Ref(r) => match self.rule_regex(*r) {
                Some(re) => {
                    out.push_str("(?:");
                    out.push_str(&re);
                    out.push(')');
                    out.len() <= MAX_LEXEME_REGEX
                }
                None => false,
            },
            Kind::Seq(v) => {
                for n in v {
                    out.push_str("(?:");
                    if !self.write_regex(n, out) {
                        return false;
                    }
                    out.push(')');
                }
                true
            }
            Kind::Alt(v) => {
                out.push_str("(?:");
                for (i, n) in v.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    if !self.write_regex(n, out) {
                        return false;
                    }
                }
                out.push(')');
                true
            }
            Kind::Repeat { node, min, max } => {
                out.push_str("(?:");
                if !self.write_regex(node, out) {
                    return false;
                }
                out.push(')');
                match (min, max) {
                    (0, None) => out.push('*'),
                    (1, None) => out.push('+'),
                    (0, Some(1)) => out.push('?'),
                    (m, None) => out.push_str(&format!("{{{m},}}")),
                    (m, Some(x)) => out.push_str(&format!("{{{m},{x}}}")),
                }
                true
            }
        }
    }
}

fn push_char(c: char, out: &mut String) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    }
}

fn push_class(negated: bool, ranges: &[(char, char)], out: &mut String) {
    if ranges.is_empty() {
        // `.` (any character) or a class of nothing.
        out.push_str(if negated {
            r"[\x{0}-\x{10FFFF}]"
        } else {
            r"[^\x{0}-\x{10FFFF}]"
        });
        return;
    }
    out.push('[');
    if negated {
        out.push('^');
    }
    for &(lo, hi) in ranges {
        push_char(lo, out);
        if hi != lo {
            out.push('-');
            push_char(hi, out);
        }
    }
    out.push(']');
}

struct Lowering<'s> {
    split: &'s HashSet<u32>,
    /// Rules made here (a split regex spelled out as its DFA), numbered
    /// after the grammar's own.
    base: usize,
    synth: Vec<(String, Low)>,
    lexemes: Vec<Lexeme>,
    by_regex: HashMap<String, usize>,
    /// The first part that cannot be lowered.
    error: Option<String>,
}

impl Lowering<'_> {
    fn bounded_lexeme(&mut self, regex: String, within: String, origin: u32) -> Low {
        let key = format!("{regex}\u{0}{within}");
        let i = match self.by_regex.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.lexemes.len();
                self.by_regex.insert(key, i);
                self.lexemes.push(Lexeme {
                    regex,
                    within: Some(within),
                    origins: Vec::new(),
                });
                i
            }
        };
        if !self.lexemes[i].origins.contains(&origin) {
            self.lexemes[i].origins.push(origin);
        }
        Low::Lex(i)
    }

    fn lexeme(&mut self, regex: String, origin: Option<u32>) -> Low {
        let i = match self.by_regex.get(&regex) {
            Some(&i) => i,
            None => {
                let i = self.lexemes.len();
                self.by_regex.insert(regex.clone(), i);
                self.lexemes.push(Lexeme {
                    regex,
                    within: None,
                    origins: Vec::new(),
                });
                i
            }
        };
        if let Some(o) = origin {
            if !self.lexemes[i].origins.contains(&o) {
                self.lexemes[i].origins.push(o);
            }
        }
        Low::Lex(i)
    }

    fn lower(&mut self, a: &mut Analysis, node: &Node) -> Low {
        if !self.split.contains(&node.id) {
            if let Some(re) = a.regex(node) {
                return self.lexeme(re, Some(node.id));
            }
        }
        match &node.kind {
            Kind::Chars(cs) => {
                if cs.is_empty() {
                    return Low::Empty;
                }
                Low::Seq(
                    cs.iter()
                        .map(|&c| {
                            let mut re = String::new();
                            push_char(c, &mut re);
                            self.lexeme(re, None)
                        })
                        .collect(),
                )
            }
            Kind::Class { negated, ranges } => {
                let mut re = String::new();
                push_class(*negated, ranges, &mut re);
                self.lexeme(re, None)
            }
            Kind::Ref(r) => Low::Rule(*r),
            Kind::Regex(re) => self.spell(re),
            Kind::Lazy(inner) => {
                let lazy = a.regex(inner).ok_or_else(|| {
                    "a lazy rule must be terminal-like: regular, with no recursion below it"
                        .to_string()
                });
                let lazy = lazy.and_then(|re| {
                    regular::difference(&format!("(?:{re})"), &format!("(?:{re})(?s:.)+"))
                });
                match lazy {
                    Ok(re) if self.split.contains(&node.id) => self.spell(&re),
                    Ok(re) => self.lexeme(re, Some(node.id)),
                    Err(e) => {
                        self.error.get_or_insert(e);
                        Low::Empty
                    }
                }
            }
            Kind::Within {
                node: inner_node,
                within,
            } => match a.regex(inner_node) {
                Some(inner) if self.split.contains(&node.id) => {
                    match regular::intersection(&format!("(?:{inner})"), within) {
                        Ok(re) => self.spell(&re),
                        Err(e) => {
                            self.error
                                .get_or_insert(format!("cannot split a bounded part: {e}"));
                            Low::Empty
                        }
                    }
                }
                Some(inner) => self.bounded_lexeme(inner, within.clone(), node.id),
                None => {
                    self.error.get_or_insert_with(|| {
                        "max_chars and json_string apply only to a part whose language is \
                         regular (no recursion below it)"
                            .into()
                    });
                    Low::Empty
                }
            },
            Kind::TagDispatch {
                tags,
                excludes,
                loop_after,
            } => match tag_dispatch(tags, excludes, *loop_after) {
                Ok((dispatch, free)) => {
                    // Whole lexemes, or (once split) spelled out as rules.
                    let spelled = self.split.contains(&node.id);
                    let text = |lx: &mut Self, re: String| {
                        if spelled {
                            lx.spell(&re)
                        } else {
                            lx.lexeme(re, Some(node.id))
                        }
                    };
                    let arms: Vec<Low> = dispatch
                        .into_iter()
                        .map(|(re, rule)| Low::Seq(vec![text(self, re), Low::Rule(rule)]))
                        .collect();
                    let free = text(self, free);
                    if *loop_after {
                        Low::Seq(vec![Low::Rep(Box::new(Low::Alt(arms)), 0, None), free])
                    } else {
                        let mut arms = arms;
                        arms.push(free);
                        Low::Alt(arms)
                    }
                }
                Err(e) => {
                    self.error.get_or_insert(e);
                    Low::Empty
                }
            },
            Kind::Alt(v) => Low::Alt(v.iter().map(|n| self.lower(a, n)).collect()),
            Kind::Repeat { node, min, max } => Low::Rep(Box::new(self.lower(a, node)), *min, *max),
            Kind::Seq(v) => {
                // Runs of regular items become one lexeme each, unless the
                // sequence was split (its id then stands for its runs).
                let merge = !self.split.contains(&node.id);
                let mut out = Vec::new();
                let mut run = String::new();
                let mut run_len = 0;
                for n in v {
                    let re = if merge && !self.split.contains(&n.id) {
                        a.regex(n)
                    } else {
                        None
                    };
                    match re {
                        Some(re) if run.len() + re.len() <= MAX_LEXEME_REGEX => {
                            run.push_str("(?:");
                            run.push_str(&re);
                            run.push(')');
                            run_len += 1;
                        }
                        _ => {
                            self.flush(&mut run, &mut run_len, node.id, &mut out);
                            match re {
                                Some(re) => {
                                    run = format!("(?:{re})");
                                    run_len = 1;
                                }
                                None => out.push(self.lower(a, n)),
                            }
                        }
                    }
                }
                self.flush(&mut run, &mut run_len, node.id, &mut out);
                Low::Seq(out)
            }
        }
    }

    /// A regex spelled out as rules over single characters: one rule per
    /// state of its minimal DFA, one lexeme per character class of a
    /// transition. Single characters never conflict, so this is where
    /// splitting ends for a part with no smaller parts (a `Regex(...)`,
    /// the free text of a `TagDispatch`).
    fn spell(&mut self, re: &str) -> Low {
        let dfa = match regular::char_dfa(re) {
            Ok(d) => d,
            Err(e) => {
                self.error
                    .get_or_insert(format!("cannot split the regex {re:?}: {e}"));
                return Low::Empty;
            }
        };
        let Some(start) = dfa.start else {
            return self.lexeme(r"[^\s\S]".into(), None);
        };
        let first = self.base + self.synth.len();
        let tag = self.synth.len();
        for q in 0..dfa.trans.len() {
            self.synth.push((format!("regex#{tag}.{q}"), Low::Empty));
        }
        for (q, trans) in dfa.trans.iter().enumerate() {
            // One class per target state.
            let mut by_target: Vec<(usize, Vec<(char, char)>)> = Vec::new();
            for &(lo, hi, t) in trans {
                match by_target.iter_mut().find(|e| e.0 == t) {
                    Some(e) => e.1.push((lo, hi)),
                    None => by_target.push((t, vec![(lo, hi)])),
                }
            }
            let mut alts = Vec::new();
            for (t, ranges) in by_target {
                let mut class = String::new();
                push_class(false, &ranges, &mut class);
                alts.push(Low::Seq(vec![
                    self.lexeme(class, None),
                    Low::Rule(first + t),
                ]));
            }
            if dfa.accept[q] {
                alts.push(Low::Empty);
            }
            self.synth[tag + q].1 = Low::Alt(alts);
        }
        Low::Rule(first + start)
    }

    /// Ends a run of regular items of sequence `seq`: one lexeme.
    fn flush(&mut self, run: &mut String, run_len: &mut usize, seq: u32, out: &mut Vec<Low>) {
        if *run_len > 0 {
            let re = std::mem::take(run);
            out.push(self.lexeme(re, Some(seq)));
        }
        *run_len = 0;
        run.clear();
    }
}

/// One lexeme's DFA, explored: transitions, acceptance and liveness.
struct LexDfa {
    dfa: Option<dense::DFA<Vec<u32>>>,
    start: StateID,
    accept: HashSet<StateID>,
    live: HashSet<StateID>,
    first: Bytes,
    nullable: bool,
}

impl LexDfa {
    fn new(regex: &str) -> LexDfa {
        let mut d = LexDfa {
            dfa: None,
            start: StateID::ZERO,
            accept: HashSet::new(),
            live: HashSet::new(),
            first: Bytes::default(),
            nullable: false,
        };
        // The lexer's own configuration, so that the analysis sees the
        // automata the lexer will run.
        let built = dense_builder(Some(32 << 20)).build(regex);
        let Ok(dfa) = built else {
            return d;
        };
        let Ok(start) =
            dfa.start_state(&regex_automata::util::start::Config::new().anchored(Anchored::Yes))
        else {
            return d;
        };
        // Explore, then mark the states that reach acceptance.
        let mut seen: HashMap<StateID, Vec<StateID>> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        seen.insert(start, Vec::new());
        let mut edges: Vec<(StateID, StateID)> = Vec::new();
        while let Some(s) = queue.pop_front() {
            if seen.len() > MAX_DFA_STATES {
                return d;
            }
            if dfa.is_match_state(dfa.next_eoi_state(s)) {
                d.accept.insert(s);
            }
            for b in 0..=255u8 {
                let t = dfa.next_state(s, b);
                if dfa.is_dead_state(t) || dfa.is_quit_state(t) {
                    continue;
                }
                edges.push((s, t));
                if let std::collections::hash_map::Entry::Vacant(e) = seen.entry(t) {
                    e.insert(Vec::new());
                    queue.push_back(t);
                }
            }
        }
        for (s, t) in edges {
            seen.get_mut(&t).expect("seen").push(s);
        }
        let mut stack: Vec<StateID> = d.accept.iter().copied().collect();
        d.live = stack.iter().copied().collect();
        while let Some(t) = stack.pop() {
            for &s in &seen[&t] {
                if d.live.insert(s) {
                    stack.push(s);
                }
            }
        }
        d.nullable = d.accept.contains(&start);
        for b in 0..=255u8 {
            if d.live.contains(&dfa.next_state(start, b)) {
                d.first.insert(b);
            }
        }
        d.start = start;
        d.dfa = Some(dfa);
        d
    }

    /// Whether the lexeme matches only the empty string (or nothing).
    fn is_empty_only(&self) -> bool {
        self.dfa.is_some() && self.first == Bytes::default()
    }
}

/// The bytes `b` for which some non-empty string `w` of `l` makes `w·b` a
/// live prefix of `m`, intersected with `follow`: whether greedy lexing
/// could run past the end of `l` into a byte that follows it. `None` when
/// the search is too large (treated as a conflict).
fn runs_past(l: &LexDfa, m: &LexDfa, follow: &Bytes) -> bool {
    let (Some(dl), Some(dm)) = (&l.dfa, &m.dfa) else {
        return true;
    };
    if !l.first.intersects(&m.first) {
        return false;
    }
    let mut seen: HashSet<(StateID, StateID)> = HashSet::new();
    let mut queue = VecDeque::new();
    for b in 0..=255u8 {
        let (sl, sm) = (dl.next_state(l.start, b), dm.next_state(m.start, b));
        if l.live.contains(&sl) && m.live.contains(&sm) && seen.insert((sl, sm)) {
            queue.push_back((sl, sm));
        }
    }
    while let Some((sl, sm)) = queue.pop_front() {
        if seen.len() > MAX_PAIR_STATES {
            return true;
        }
        let accepting = l.accept.contains(&sl);
        for b in 0..=255u8 {
            let nm = dm.next_state(sm, b);
            if !m.live.contains(&nm) {
                continue;
            }
            if accepting && follow.contains(b) {
                return true;
            }
            let nl = dl.next_state(sl, b);
            if l.live.contains(&nl) && seen.insert((nl, nm)) {
                queue.push_back((nl, nm));
            }
        }
    }
    false
}

/// The lexemes whose greedy lexing could differ from the grammar's
/// meaning: `l` such that some lexeme `m` (maybe `l` itself) continues
/// past a string of `l` into a byte that may follow `l`. Both are
/// returned, as either may be the one to split.
fn conflicts(dfas: &[Rc<LexDfa>], bodies: &[Option<Low>]) -> Vec<usize> {
    let follow = follow_sets(dfas.len(), dfas, bodies);
    let mut out = HashSet::new();
    for (l, dl) in dfas.iter().enumerate() {
        if dl.dfa.is_none() {
            out.insert(l);
            continue;
        }
        for (m, dm) in dfas.iter().enumerate() {
            if runs_past(dl, dm, &follow[l]) {
                out.insert(l);
                out.insert(m);
            }
        }
    }
    let mut v: Vec<usize> = out.into_iter().collect();
    v.sort_unstable();
    v
}

/// First bytes and nullability of lowered nodes, with rules' facts given.
fn first_of(low: &Low, dfas: &[Rc<LexDfa>], rf: &[(Bytes, bool)]) -> (Bytes, bool) {
    match low {
        Low::Empty => (Bytes::default(), true),
        Low::Lex(l) => (dfas[*l].first, dfas[*l].nullable),
        Low::Rule(r) => rf[*r],
        Low::Seq(v) => {
            let mut first = Bytes::default();
            for x in v {
                let (f, n) = first_of(x, dfas, rf);
                first.union(&f);
                if !n {
                    return (first, false);
                }
            }
            (first, true)
        }
        Low::Alt(v) => {
            let mut first = Bytes::default();
            let mut nullable = false;
            for x in v {
                let (f, n) = first_of(x, dfas, rf);
                first.union(&f);
                nullable |= n;
            }
            (first, nullable)
        }
        Low::Rep(x, min, _) => {
            let (f, n) = first_of(x, dfas, rf);
            (f, n || *min == 0)
        }
    }
}

/// Per lexeme: the bytes that may follow it.
fn follow_sets(n: usize, dfas: &[Rc<LexDfa>], bodies: &[Option<Low>]) -> Vec<Bytes> {
    let rules = bodies.len();
    let mut rf = vec![(Bytes::default(), false); rules];
    loop {
        let mut changed = false;
        for r in 0..rules {
            if let Some(b) = &bodies[r] {
                let (f, nl) = first_of(b, dfas, &rf);
                let mut cur = rf[r];
                let c = cur.0.union(&f) | (nl && !cur.1);
                cur.1 |= nl;
                if c {
                    rf[r] = cur;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut lex = vec![Bytes::default(); n];
    // The start rule is followed by the end of the output: no byte.
    let mut rule_follow = vec![Bytes::default(); rules];
    loop {
        let mut changed = false;
        for r in 0..rules {
            if let Some(b) = &bodies[r] {
                let after = rule_follow[r];
                changed |= walk_follow(b, after, dfas, &rf, &mut lex, &mut rule_follow);
            }
        }
        if !changed {
            return lex;
        }
    }
}

fn walk_follow(
    low: &Low,
    after: Bytes,
    dfas: &[Rc<LexDfa>],
    rf: &[(Bytes, bool)],
    lex: &mut [Bytes],
    rule_follow: &mut [Bytes],
) -> bool {
    match low {
        Low::Empty => false,
        Low::Lex(l) => lex[*l].union(&after),
        Low::Rule(r) => rule_follow[*r].union(&after),
        Low::Alt(v) => v
            .iter()
            .map(|x| walk_follow(x, after, dfas, rf, lex, rule_follow))
            .fold(false, |a, b| a | b),
        Low::Seq(v) => {
            let mut changed = false;
            let mut cur = after;
            for x in v.iter().rev() {
                changed |= walk_follow(x, cur, dfas, rf, lex, rule_follow);
                let (f, nl) = first_of(x, dfas, rf);
                if nl {
                    cur.union(&f);
                } else {
                    cur = f;
                }
            }
            changed
        }
        Low::Rep(x, _, max) => {
            let mut inner = after;
            if max.is_none_or(|m| m > 1) {
                inner.union(&first_of(x, dfas, rf).0);
            }
            walk_follow(x, inner, dfas, rf, lex, rule_follow)
        }
    }
}

/// The IR grammar of the lowered rules.
fn emit(
    names: &[String],
    root: usize,
    bodies: &[Option<Low>],
    lexemes: &[Lexeme],
    dfas: &[Rc<LexDfa>],
) -> Grammar {
    let mut g = Grammar::new(names[root].clone());
    for (r, b) in bodies.iter().enumerate() {
        if let Some(b) = b {
            g.rule(names[r].clone(), to_expr(b, names, lexemes, dfas));
        }
    }
    g
}

fn to_expr(low: &Low, names: &[String], lexemes: &[Lexeme], dfas: &[Rc<LexDfa>]) -> Expr {
    match low {
        Low::Empty => Expr::Empty,
        Low::Lex(l) if dfas[*l].is_empty_only() && dfas[*l].nullable => Expr::Empty,
        Low::Lex(l)
            if lexemes[*l].within.as_deref() == Some("(?s:.){0,0}") && dfas[*l].nullable =>
        {
            Expr::Empty
        }
        Low::Lex(l) => match &lexemes[*l].within {
            None => Expr::regex(lexemes[*l].regex.clone()),
            Some(within) => Expr::Intersect {
                all: vec![lexemes[*l].regex.clone(), within.clone()],
                except: Vec::new(),
            },
        },
        Low::Rule(r) => Expr::rule(names[*r].clone()),
        Low::Seq(v) => Expr::seq(v.iter().map(|x| to_expr(x, names, lexemes, dfas))),
        Low::Alt(v) => Expr::choice(v.iter().map(|x| to_expr(x, names, lexemes, dfas))),
        Low::Rep(x, min, max) => Expr::repeat(to_expr(x, names, lexemes, dfas), *min, *max),
    }
}

/// The lexemes of a `TagDispatch`: per tag, free text then the tag (no tag
/// or exclude string occurring before it), with the tag's rule; and the
/// free text that may end the output. The free text never holds a tag or
/// an exclude string.
#[allow(clippy::type_complexity)]
fn tag_dispatch(
    tags: &[(String, usize)],
    excludes: &[String],
    _loop_after: bool,
) -> Result<(Vec<(String, usize)>, String), String> {
    let stops: Vec<String> = tags
        .iter()
        .map(|t| &t.0)
        .chain(excludes)
        .map(|s| regex_syntax::escape(s))
        .collect();
    let any = "(?s:.)*";
    let free = if stops.is_empty() {
        any.to_string()
    } else {
        let holds = format!("{any}(?:{}){any}", stops.join("|"));
        regular::difference(any, &holds)?
    };
    let mut dispatch = Vec::new();
    for (tag, rule) in tags {
        // A stop string may end where the tag ends (a suffix of it), not
        // before.
        let early = format!("{any}(?:{})(?s:.)+", stops.join("|"));
        let re = regular::difference(&format!("{any}{}", regex_syntax::escape(tag)), &early)?;
        dispatch.push((re, *rule));
    }
    Ok((dispatch, free))
}
