//! From a pattern to a [`LexemeDfa`]: a spelled literal, a long counted
//! repetition, a lazily built DFA, or a dense table, in that order of
//! preference, through a [`DfaCache`].

use super::cache::DfaCache;
use super::classes::{DEAD, DFA_SIZE_LIMIT, UNKNOWN};
use super::dfa::{Counted, Lazy, LexemeDfa, COUNTED_FROM};
use super::lazy::LazyDfa;
use super::literal::{self, LiteralDfa};
use super::repeat::LazyRepeat;
use super::strings::StringSetDfa;
use crate::error::GrammarError;
use regex_automata::util::syntax;
use std::collections::HashMap;
use std::sync::Arc;

impl LexemeDfa {
    /// Compiles `pattern`, which must match a whole lexeme (it is anchored at
    /// both ends), or takes its DFA from `cache`.
    pub(crate) fn new(pattern: &str, cache: &DfaCache) -> Result<LexemeDfa, GrammarError> {
        cache.get_or_build(pattern, || {
            let dfa = match literal::spelled_literal(pattern) {
                Some(s) => Self::literal(&s),
                None => match Self::counted(pattern, cache)? {
                    Some(d) => d,
                    None => match Self::lazy(pattern)? {
                        Some(d) => d,
                        None => Self::build(pattern)?,
                    },
                },
            };
            Ok(dfa)
        })
    }

    /// The lexeme matching any one of the JSON strings `values` (quotes
    /// included) in every JSON spelling: a trie (see [`super::strings`]).
    pub(crate) fn strings(values: &[String]) -> Result<LexemeDfa, GrammarError> {
        let (d, classes) = StringSetDfa::new(values)?;
        let (stride, start) = (d.stride(), d.start());
        Ok(LexemeDfa::with_lazy(
            classes,
            stride,
            start,
            false,
            Lazy::Strings(d),
        ))
    }

    /// Every JSON spelling of the string `s`, quotes included, worked out
    /// from the string (see [`literal`]).
    pub(super) fn literal(s: &str) -> LexemeDfa {
        let (d, classes) = LiteralDfa::new(s);
        let stride = d.stride();
        LexemeDfa::with_lazy(classes, stride, 0, false, Lazy::Literal(d))
    }

    /// `pattern` as a lazily built DFA (see [`super::lazy`]), if it qualifies
    /// (`None`: build it densely; that also reports a syntax error).
    pub(super) fn lazy(pattern: &str) -> Result<Option<LexemeDfa>, GrammarError> {
        let config = syntax::Config::new().utf8(true).unicode(true);
        let Ok(hir) = syntax::parse_with(pattern, &config) else {
            return Ok(None);
        };
        let Some((dfa, classes)) = LazyDfa::new(&hir, pattern, DFA_SIZE_LIMIT)? else {
            return Ok(None);
        };
        let (stride, nullable) = (dfa.stride(), dfa.is_accepting(0));
        Ok(Some(LexemeDfa::with_lazy(
            classes,
            stride,
            0,
            nullable,
            Lazy::Regex(dfa),
        )))
    }

    /// `pattern` as a [`Counted`] lexeme, if it has the shape one needs
    /// (`None`: build it densely).
    pub(super) fn counted(
        pattern: &str,
        cache: &DfaCache,
    ) -> Result<Option<LexemeDfa>, GrammarError> {
        use regex_syntax::hir::{Hir, HirKind};
        // Cheap test first: only patterns with a large bound are worth it.
        let large = pattern.split('{').skip(1).any(|p| {
            let digits: String = p
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .collect();
            digits
                .split(',')
                .any(|d| d.parse::<u64>().is_ok_and(|n| n >= COUNTED_FROM as u64))
        });
        if !large {
            return Ok(None);
        }
        let Ok(hir) = regex_syntax::ParserBuilder::new()
            .utf8(true)
            .unicode(true)
            .build()
            .parse(pattern)
        else {
            return Ok(None); // the dense build reports the error
        };
        if !hir.properties().look_set().is_empty() {
            return Ok(None);
        }
        let unwrap = |h: &Hir| -> Hir {
            let mut h = h.clone();
            while let HirKind::Capture(c) = h.kind() {
                h = (*c.sub).clone();
            }
            h
        };
        let items: Vec<Hir> = match unwrap(&hir).kind() {
            HirKind::Concat(v) => v.iter().map(unwrap).collect(),
            _ => vec![unwrap(&hir)],
        };
        let Some(at) = items.iter().position(|h| {
            matches!(h.kind(), HirKind::Repetition(r)
                if r.greedy && r.max.map_or(r.min, |m| m.max(r.min)) >= COUNTED_FROM)
        }) else {
            return Ok(None);
        };
        let HirKind::Repetition(rep) = items[at].kind() else {
            return Ok(None);
        };
        let (min, max) = (rep.min, rep.max);
        let cap = max.unwrap_or(min);
        let part = |hs: &[Hir]| -> Result<Option<LexemeDfa>, GrammarError> {
            if hs.is_empty() {
                return Ok(None);
            }
            let p = Hir::concat(hs.to_vec()).to_string();
            let d = LexemeDfa::new(&p, cache)?.to_dense(&p)?;
            // Matching only "" is no part at all.
            let empty_only =
                d.is_accepting(d.start) && (0..=255u8).all(|b| d.next(d.start, b) == DEAD);
            Ok((!empty_only).then_some(d))
        };
        let a = part(&items[..at])?;
        let c = part(&items[at + 1..])?;
        let b_pattern = rep.sub.to_string();
        let b = LexemeDfa::new(&b_pattern, cache)?.to_dense(&b_pattern)?;
        let terminal = |d: &LexemeDfa, s: u32| (0..=255u8).all(|x| d.next(s, x) == DEAD);
        let prefix_free = |d: &LexemeDfa| {
            !d.is_accepting(d.start)
                && d.counted.is_none()
                && (0..d.state_count() as u32).all(|s| !d.is_accepting(s) || terminal(d, s))
        };
        let splits = a.as_ref().is_none_or(prefix_free) && prefix_free(&b) && {
            let reenters =
                (0..b.state_count() as u32).any(|s| (0..=255u8).any(|x| b.next(s, x) == b.start));
            let overlap = c.as_ref().is_some_and(|c| {
                c.counted.is_some()
                    || (0..=255u8).any(|x| b.next(b.start, x) != DEAD && c.next(c.start, x) != DEAD)
            });
            !reenters && !overlap
        };
        if !splits {
            // Units that overlap (`\w+\s?`) or parts that run into each
            // other: counts kept as sets (see `repeat`), unless a unit may be
            // empty, which a subset construction handles as well.
            if b.is_accepting(b.start) {
                return Ok(None);
            }
            let (r, classes) = LazyRepeat::new(pattern, a, b, c, min, max, DFA_SIZE_LIMIT);
            let (stride, nullable) = (r.stride(), r.is_accepting(0));
            return Ok(Some(LexemeDfa::with_lazy(
                classes,
                stride,
                0,
                nullable,
                Lazy::Repeat(Box::new(r)),
            )));
        }
        let a_n = a.as_ref().map_or(0, |a| a.state_count() as u64);
        let b_n = b.state_count() as u64;
        let c_n = c.as_ref().map_or(0, |c| c.state_count() as u64);
        let total = a_n + (cap as u64 + 1) * b_n + c_n;
        // Two more runs of B states name the count classes (`count_class`).
        if total + 2 * b_n >= (UNKNOWN - 1) as u64 {
            return Err(GrammarError::RegexTooLarge {
                pattern: pattern.to_string(),
                message: format!("{total} states: the repetition bound is too large"),
            });
        }
        // Joint byte classes of the three parts.
        let mut key_to_class: HashMap<(u8, u8, u8), u8> = HashMap::new();
        let mut classes = [0u8; 256];
        for x in 0..=255u8 {
            let key = (
                a.as_ref().map_or(0, |d| d.class(x)),
                b.class(x),
                c.as_ref().map_or(0, |d| d.class(x)),
            );
            let n = key_to_class.len() as u8;
            classes[x as usize] = *key_to_class.entry(key).or_insert(n);
        }
        let counted = Counted {
            a_n: a_n as u32,
            b_n: b_n as u32,
            c_base: (a_n + (cap as u64 + 1) * b_n) as u32,
            a,
            b,
            c,
            min,
            cap,
            bounded: max.is_some(),
        };
        let start = if counted.a.is_some() {
            0
        } else {
            counted.boundary(0)
        };
        let nullable = counted.is_accepting(start);
        Ok(Some(LexemeDfa {
            classes,
            stride: key_to_class.len(),
            trans: Arc::from(Vec::new()),
            accept: Arc::from(Vec::new()),
            start,
            nullable,
            distances: Default::default(),
            counted: Some(Arc::new(counted)),
            lazy: None,
        }))
    }
}
