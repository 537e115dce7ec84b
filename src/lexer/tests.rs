//! Lexeme DFAs against dense `regex-automata` DFAs, and the helpers the
//! other lexer tests share.

use super::cache::DfaCache;
use super::dfa::Lazy;
use super::*;
use crate::error::GrammarError;

/// Runs `text` through `d`: (alive, accepting, bytes to acceptance).
/// A reproducible source of numbers below `n` for random test texts
/// (a linear congruential generator).
pub(crate) fn seeded_rand(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    }
}

/// Walks `text` through `a` and `b`: on every prefix they are dead
/// together and, while alive, accepting together.
pub(crate) fn assert_same_walk(a: &LexemeDfa, b: &LexemeDfa, text: &str, what: &str) {
    let (mut p, mut q) = (a.start, b.start);
    for &byte in text.as_bytes() {
        p = a.next(p, byte);
        q = b.next(q, byte);
        assert_eq!(p == DEAD, q == DEAD, "{what} on {text:?}");
        if p == DEAD {
            return;
        }
        assert_eq!(a.is_accepting(p), b.is_accepting(q), "{what} on {text:?}");
    }
}

fn run(d: &LexemeDfa, text: &[u8]) -> Option<(bool, u32)> {
    let mut s = d.start;
    for &b in text {
        s = d.next(s, b);
        if s == DEAD {
            return None;
        }
    }
    Some((d.is_accepting(s), d.to_accept(s)))
}

/// Counted lexemes behave exactly like the dense DFA of the same
/// pattern, on every prefix of random texts made of the pattern's own
/// pieces (so that they get deep into the repetition).
#[test]
fn counted_lexemes_match_dense_dfas() {
    // (pattern, pieces that keep it alive, pieces that may kill it)
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            r#""(?:[^"\\\x00-\x1F]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})){3,120}""#,
            &["a", "é", "\\n", "\\u00e9", "\u{1F600}"],
            &["\"", "\\", "\\q", "\n"],
        ),
        (r"[a-z]{100,130}", &["a", "b"], &["A", "ab"]),
        (r"x(?:ab|c){0,150}y+", &["ab", "c"], &["a", "y", "x", "b"]),
        (r"(?:ab|c){100,}z?", &["ab", "c"], &["z", "a"]),
    ];
    let mut rand = seeded_rand(7);
    let mut deepest = 0;
    for (pattern, pieces, bad) in cases {
        let counted = LexemeDfa::counted(pattern, &DfaCache::default())
            .unwrap()
            .expect("splits");
        let dense = LexemeDfa::build(pattern).unwrap();
        assert_eq!(counted.nullable, dense.nullable, "{pattern}");
        for round in 0..300 {
            let mut text: Vec<u8> = Vec::new();
            if pattern.starts_with('x') && round % 5 != 0 {
                text.push(b'x');
            }
            if pattern.starts_with('"') && round % 7 != 0 {
                text.push(b'"');
            }
            let len = rand(200);
            for _ in 0..len {
                text.extend_from_slice(pieces[rand(pieces.len())].as_bytes());
                if rand(60) == 0 {
                    text.extend_from_slice(bad[rand(bad.len())].as_bytes());
                }
            }
            for end in 0..=text.len() {
                let (c, d) = (run(&counted, &text[..end]), run(&dense, &text[..end]));
                assert_eq!(
                    c.map(|x| x.0),
                    d.map(|x| x.0),
                    "{pattern} on {:?}",
                    String::from_utf8_lossy(&text[..end])
                );
                if let (Some(c), Some(d)) = (c, d) {
                    assert_eq!(c.1, d.1, "distance, {pattern} on {:?}", &text[..end]);
                }
                if d.is_none() {
                    break;
                }
                deepest = deepest.max(end);
            }
        }
        assert_eq!(counted.distances().shortest, dense.distances().shortest);
    }
    assert!(deepest > 150, "the texts never got deep into a repetition");
}

/// Shapes the arithmetic split cannot take keep their counts as sets
/// (see [`repeat`]), and behave exactly like the dense DFA of the same
/// pattern: alive, accepting and as far from a match on every prefix of
/// random texts that go past the bounds.
#[test]
fn overlapping_repetitions_match_dense_dfas() {
    // (pattern, pieces that keep it alive, pieces that may kill it)
    let cases: &[(&str, &[&str], &[&str])] = &[
        (r"a{0,200}a", &["a", "aa"], &["b"]),
        (r"(?:a|ab){0,150}", &["a", "ab"], &["b"]),
        (r"[a-z]{100,200}[a-z]", &["a", "zz"], &["0"]),
        (r"(?:[a-c]+ ?){1,120}", &["a ", "bc ", "a"], &[" ", "x"]),
        (r"x(?:ab|a){3,110}b?c", &["ab", "a"], &["b", "c"]),
        (r"(?:[0-9]+,?){100,}\.", &["1,", "23"], &[",", ".", "1,."]),
    ];
    let mut rand = seeded_rand(5);
    let mut deepest = 0;
    for (pattern, pieces, bad) in cases {
        let rep = LexemeDfa::counted(pattern, &DfaCache::default())
            .unwrap()
            .expect("builds");
        assert!(
            matches!(rep.lazy.as_deref(), Some(Lazy::Repeat(_))),
            "{pattern}"
        );
        let dense = LexemeDfa::build(pattern).unwrap();
        assert_eq!(rep.nullable, dense.nullable, "{pattern}");
        assert_eq!(
            rep.distances().shortest,
            dense.distances().shortest,
            "{pattern}"
        );
        for _ in 0..150 {
            let mut text: Vec<u8> = Vec::new();
            if pattern.starts_with('x') {
                text.push(b'x');
            }
            for _ in 0..rand(320) {
                text.extend_from_slice(pieces[rand(pieces.len())].as_bytes());
                if rand(80) == 0 {
                    text.extend_from_slice(bad[rand(bad.len())].as_bytes());
                }
            }
            for end in 0..=text.len() {
                let (r, d) = (run(&rep, &text[..end]), run(&dense, &text[..end]));
                assert_eq!(
                    r,
                    d,
                    "{pattern} on {:?}",
                    String::from_utf8_lossy(&text[..end])
                );
                if d.is_none() {
                    break;
                }
                deepest = deepest.max(end);
            }
        }
    }
    assert!(deepest > 250, "the texts never got past a bound");
    // Not counted at all: a unit that may be empty, or look-around.
    for p in [r"(?:a?){0,150}", r"\b[a-z]{0,300}"] {
        assert!(
            LexemeDfa::counted(p, &DfaCache::default())
                .unwrap()
                .is_none(),
            "{p}"
        );
    }
    assert!(LexemeDfa::counted(r"[a-z]{0,3}", &DfaCache::default())
        .unwrap()
        .is_none());
}

/// Lazily built DFAs agree with dense ones on every prefix of random
/// texts: alive in the same places, accepting in the same places.
#[test]
fn lazy_dfas_match_dense_dfas() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#""(?:[^"\\\x00-\x1F]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*""#,
            &[
                "a",
                "é",
                "\\n",
                "\\u00e9",
                "\u{1F600}",
                "\"",
                "\\",
                "\n",
                "\\q",
            ],
        ),
        (
            r"-?(?:0|[1-9][0-9]{0,3})(?:\.[0-9]+)?",
            &["-", "0", "7", ".", "5", "e"],
        ),
        (r"(?:ab|a)(?:bc)*|x{2,4}", &["a", "b", "c", "x"]),
        (
            r"[a-z]+@[a-z]+\.(?:com|org)",
            &["a", "z", "@", ".", "com", "org", "co"],
        ),
    ];
    let mut rand = seeded_rand(11);
    for (pattern, pieces) in cases {
        let lazy = LexemeDfa::lazy(pattern).unwrap().expect("qualifies");
        let dense = LexemeDfa::build(pattern).unwrap();
        assert_eq!(lazy.nullable, dense.nullable, "{pattern}");
        for _ in 0..300 {
            let mut text = String::new();
            for _ in 0..rand(8) {
                text.push_str(pieces[rand(pieces.len())]);
            }
            assert_same_walk(&lazy, &dense, &text, pattern);
        }
    }
}

/// An intersection hands out live states only: a prefix with no
/// completion inside every part is dead at once.
#[test]
fn intersections_keep_only_live_states() {
    let email = LexemeDfa::new(r"[a-z]+@x", &DfaCache::default()).unwrap();
    let short = LexemeDfa::new(r".{0,5}", &DfaCache::default()).unwrap();
    let both = LexemeDfa::intersect(&[email, short], &[], "test").unwrap();
    assert!(run(&both, b"abc").is_some());
    assert!(run(&both, b"abcd").is_none(), "abcd@x is too long");
    assert!(run(&both, b"abc@x").is_some_and(|(acc, _)| acc));
    assert_eq!(run(&both, b"ab@x"), Some((true, 0)));

    let word = LexemeDfa::new(r"[a-z]+", &DfaCache::default()).unwrap();
    let keywords = LexemeDfa::new(r"if|else", &DfaCache::default()).unwrap();
    let ident = LexemeDfa::intersect(std::slice::from_ref(&word), &[keywords], "test").unwrap();
    assert_eq!(run(&ident, b"if").map(|r| r.0), Some(false));
    assert_eq!(run(&ident, b"iff").map(|r| r.0), Some(true));
    assert_eq!(run(&ident, b"els").map(|r| r.0), Some(true));

    let digits = LexemeDfa::new(r"[0-9]+", &DfaCache::default()).unwrap();
    assert!(matches!(
        LexemeDfa::intersect(&[word, digits], &[], "test"),
        Err(GrammarError::EmptyRegex { .. })
    ));
}
