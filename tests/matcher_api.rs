//! Behaviour of the public [`Matcher`] API on the vendored GPT-2 tokenizer:
//! rollback, clones, forced bytes and tokens, EOS, multi-lexeme tokens and
//! special tokens.

use formwork::grammar::Grammar;
use formwork::{
    json_grammar, regex_grammar, CompiledGrammar, Matcher, MatcherError, TokenId, TokenMask,
    Vocabulary,
};
use std::sync::Arc;

const EOS: TokenId = 50_256;

mod common;

use common::{gpt2, matcher};

fn vocab() -> Arc<Vocabulary> {
    gpt2().vocab().clone()
}

fn regex(p: &str) -> Matcher {
    matcher(&regex_grammar(p).unwrap())
}

fn json() -> Matcher {
    matcher(&json_grammar())
}

/// The single GPT-2 token spelling `text`.
fn tok(text: &str) -> TokenId {
    let ids = vocab().encode(text).unwrap();
    assert_eq!(ids.len(), 1, "{text:?} is not one token: {ids:?}");
    ids[0]
}

/// Commits `text`'s tokens one by one, checking that each is in the mask, and
/// returns the mask before each token and the one after the last.
fn drive(m: &mut Matcher, text: &str) -> Vec<TokenMask> {
    let mut masks = Vec::new();
    for t in vocab().encode(text).unwrap() {
        let mask = m.compute_mask();
        assert!(
            mask.contains(t),
            "token {t} {:?} of {text:?} not allowed",
            String::from_utf8_lossy(vocab().token_bytes(t))
        );
        masks.push(mask);
        m.commit(t).unwrap();
    }
    masks.push(m.compute_mask());
    masks
}

const DOC: &str = r#"{"name": "Ada Lovelace", "born": 1815, "tags": ["math", "poetry\n"], "ratio": -0.5e-3, "alive": false, "spouse": null, "kids": [{"n": 1}, {"n": 2}]}"#;

#[test]
fn rollback_restores_the_exact_mask() {
    for (mut m, text) in [
        (json(), DOC),
        (
            regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"),
            "2024-05-17T13:45:09Z",
        ),
    ] {
        let masks = drive(&mut m, text);
        let n = masks.len() - 1;
        assert_eq!(m.committed(), n);
        // One step at a time, back to the start.
        let mut back = m.clone();
        for k in (0..n).rev() {
            back.rollback(1).unwrap();
            assert_eq!(back.committed(), k);
            assert_eq!(
                back.compute_mask(),
                masks[k],
                "{text:?}: mask after rolling back to {k}"
            );
        }
        // Several at once, and forward again from there.
        for k in [n, n / 2, 1, 0] {
            let mut m2 = m.clone();
            m2.rollback(n - k).unwrap();
            assert_eq!(m2.compute_mask(), masks[k], "{text:?}: rollback({})", n - k);
            let toks = vocab().encode(text).unwrap();
            for (j, &t) in toks[k..].iter().enumerate() {
                assert_eq!(m2.compute_mask(), masks[k + j]);
                m2.commit(t).unwrap();
            }
            assert!(m2.is_accepting());
            assert_eq!(m2.compute_mask(), masks[n]);
        }
    }
}

#[test]
fn rollback_after_failed_commits_and_eos() {
    let mut m = json();
    let masks = drive(&mut m, r#"{"a": [1, 2]}"#);
    let n = masks.len() - 1;
    // Failed commits leave no trace.
    let bad = tok("}}");
    assert!(m.commit(bad).is_err());
    assert!(m.commit(tok(" hello")).is_err());
    assert_eq!(m.committed(), n);
    assert_eq!(m.compute_mask(), masks[n]);
    // EOS counts as a committed token.
    m.commit(EOS).unwrap();
    assert_eq!(m.committed(), n + 1);
    assert!(m.compute_mask().is_empty());
    m.rollback(1).unwrap();
    assert_eq!(m.compute_mask(), masks[n]);
    m.commit(EOS).unwrap();
    m.rollback(3).unwrap();
    assert_eq!(m.compute_mask(), masks[n - 2]);
}

#[test]
fn clones_are_independent() {
    let mut a = json();
    drive(&mut a, r#"{"a": ["#);
    let before = a.compute_mask();
    let committed = a.committed();
    let mut b = a.clone();
    assert_eq!(b.compute_mask(), before);
    // Advancing the clone does not move the original ...
    drive(&mut b, r#"1, {"x": true}]}"#);
    b.commit(EOS).unwrap();
    assert!(b.is_stopped());
    assert_eq!(a.committed(), committed);
    assert!(!a.is_stopped());
    assert_eq!(a.compute_mask(), before);
    // ... nor does advancing the original move the clone, or rolling it back.
    let b_committed = b.committed();
    a.rollback(committed).unwrap();
    drive(&mut a, "[null]");
    assert_eq!(b.committed(), b_committed);
    assert!(b.is_stopped());
    b.rollback(1).unwrap();
    assert!(b.compute_mask().contains(EOS));
    // A clone of a fresh matcher equals a new one.
    let fresh = json().compute_mask();
    let mut c = json();
    let mut d = c.clone();
    drive(&mut c, "[1]");
    assert_eq!(d.compute_mask(), fresh);
}

#[test]
fn forced_bytes() {
    let mut m = regex("abc[0-9]");
    assert_eq!(m.forced_bytes(), b"abc");
    // Partway, the rest is still forced.
    m.commit(tok("a")).unwrap();
    assert_eq!(m.forced_bytes(), b"bc");
    m.commit(tok("bc")).unwrap();
    assert_eq!(m.forced_bytes(), b"");
    m.commit(tok("7")).unwrap();
    // Complete: nothing is forced.
    assert!(m.is_accepting());
    assert_eq!(m.forced_bytes(), b"");
    m.commit(EOS).unwrap();
    assert_eq!(m.forced_bytes(), b"");

    // JSON has choices at the start.
    assert!(json().forced_bytes().is_empty());
    // In JSON, after a key's string the colon is forced only up to whitespace.
    let mut m = json();
    drive(&mut m, r#"{"a""#);
    assert!(
        m.forced_bytes().is_empty(),
        "whitespace may come before ':'"
    );

    // A regex forcing a whole literal after a choice.
    let mut m = regex("(x|y)-is-forced-here!");
    assert!(m.forced_bytes().is_empty());
    m.commit(tok("x")).unwrap();
    assert_eq!(m.forced_bytes(), b"-is-forced-here!");
}

#[test]
fn forced_tokens_are_a_prefix_of_forced_bytes() {
    let v = vocab();
    let check = |m: &mut Matcher| -> Vec<TokenId> {
        let bytes = m.forced_bytes();
        let toks = m.forced_tokens();
        let joined = v.decode_bytes(&toks);
        assert!(
            bytes.starts_with(&joined),
            "forced tokens {toks:?} ({joined:?}) not a prefix of {bytes:?}"
        );
        // They can be committed in order.
        let mut probe = m.clone();
        for &t in &toks {
            assert!(probe.compute_mask().contains(t));
            probe.commit(t).unwrap();
        }
        toks
    };
    let mut m = regex("abc[0-9]");
    check(&mut m);
    assert!(check(&mut json()).is_empty());

    // A long forced literal gives several tokens.
    let mut m = regex("The quick brown fox jumps over the lazy dog[.!]");
    let toks = check(&mut m);
    assert!(toks.len() >= 5, "{toks:?}");
    assert_eq!(v.decode_bytes(&toks[..2]), b"The quick");

    // When the forced bytes end the output, all of them are forced tokens.
    let mut m = regex("hello world");
    let toks = check(&mut m);
    assert_eq!(v.decode_bytes(&toks), b"hello world");
    for t in toks {
        m.commit(t).unwrap();
    }
    assert!(m.is_accepting());
    assert!(m.forced_tokens().is_empty());

    // Stopped: nothing is forced.
    m.commit(EOS).unwrap();
    assert!(m.forced_tokens().is_empty());
}

#[test]
fn eos_allowed_exactly_when_complete() {
    let mut m = regex("a+b");
    assert!(!m.is_accepting());
    assert!(!m.compute_mask().contains(EOS));
    m.commit(tok("a")).unwrap();
    assert!(!m.is_accepting());
    assert!(!m.compute_mask().contains(EOS));
    assert!(matches!(
        m.commit(EOS),
        Err(MatcherError::TokenNotAllowed { token: EOS, .. })
    ));
    m.commit(tok("b")).unwrap();
    assert!(m.is_accepting());
    let mask = m.compute_mask();
    assert!(mask.contains(EOS));
    // After "ab" only EOS remains.
    assert_eq!(mask.count(), 1, "{mask:?}");
    m.commit(EOS).unwrap();
    assert!(m.is_stopped());
    assert!(m.is_accepting());
    assert!(m.compute_mask().is_empty());

    // Along a JSON document EOS is allowed only at the end (trailing whitespace too).
    let mut m = json();
    let text = r#"{"k": [1, 2.5, "s"]}"#;
    let masks = drive(&mut m, text);
    let (last, rest) = masks.split_last().unwrap();
    assert!(last.contains(EOS));
    for (i, mask) in rest.iter().enumerate() {
        assert!(!mask.contains(EOS), "EOS allowed before token {i}");
    }
    m.commit(tok("\n")).unwrap();
    assert!(m.compute_mask().contains(EOS));
    // A number may end the output or go on.
    let mut m = json();
    drive(&mut m, "12");
    let mask = m.compute_mask();
    assert!(mask.contains(EOS) && mask.contains(tok("3")) && mask.contains(tok(".")));
}

#[test]
fn tokens_spanning_several_lexemes() {
    let v = vocab();
    let text = r#"[{"a":1},{"b":2}]"#;
    let toks = v.encode(text).unwrap();
    let pieces: Vec<String> = toks
        .iter()
        .map(|&t| String::from_utf8_lossy(v.token_bytes(t)).into_owned())
        .collect();
    // GPT-2 merges punctuation across JSON lexemes: `{"` is two lexemes (the
    // quote starts a string), `":` two (it ends one), `},{"` four.
    let structural = |s: &str| s.chars().filter(|c| "{}[],:\"".contains(*c)).count();
    let multi: Vec<&String> = pieces.iter().filter(|p| structural(p) >= 2).collect();
    assert!(
        multi.len() >= 3,
        "expected tokens spanning several lexemes in {pieces:?}"
    );
    assert!(pieces.iter().any(|p| p == "},{\""), "{pieces:?}");
    let mut m = json();
    drive(&mut m, text);
    assert!(m.is_accepting());
    // The same with whitespace between the lexemes.
    let mut m = json();
    drive(&mut m, "[{\"a\": 1}, {\"b\": 2}]\n");
    assert!(m.is_accepting());
    // A multi-lexeme token is refused where only its first lexeme fits.
    let mut m = json();
    drive(&mut m, r#"{"a":1"#);
    let mask = m.compute_mask();
    assert!(mask.contains(tok("}")));
    for bad in ["},{", "}]", "]"] {
        let ids = v.encode(bad).unwrap();
        if ids.len() == 1 {
            assert!(
                !mask.contains(ids[0]),
                "{bad:?} allowed after an unclosed object's member"
            );
        }
    }
}

#[test]
fn special_tokens_never_allowed() {
    let v = vocab();
    let specials: Vec<TokenId> = (0..v.len() as TokenId)
        .filter(|&t| v.is_special(t))
        .collect();
    assert_eq!(
        specials,
        [EOS],
        "GPT-2's only special token is <|endoftext|>"
    );
    assert_eq!(v.token_id("<|endoftext|>"), Some(EOS));
    // The text "<|endoftext|>" is encoded as plain text, never as the EOS token.
    let text_toks = v.encode("<|endoftext|>").unwrap();
    assert!(!text_toks.contains(&EOS));
    assert_eq!(v.decode_bytes(&text_toks), b"<|endoftext|>");

    // A regex that matches the name as text: allowed as text, EOS only at the end.
    let mut m = regex(r"<\|endoftext\|>");
    let masks = drive(&mut m, "<|endoftext|>");
    for mask in &masks[..masks.len() - 1] {
        assert!(!mask.contains(EOS));
    }
    assert!(masks.last().unwrap().contains(EOS));

    // Along a JSON document: EOS only where complete, in every mask.
    let mut m = json();
    for t in v.encode(DOC).unwrap() {
        let mask = m.compute_mask();
        assert_eq!(mask.contains(EOS), m.is_accepting());
        assert!(!mask.contains(EOS));
        m.commit(t).unwrap();
    }
    assert!(m.compute_mask().contains(EOS));

    // Padded logits: padding ids are special and never allowed.
    let padded = Arc::new(
        Vocabulary::from_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/tokenizers/gpt2/tokenizer.json.gz"
        ))
        .unwrap()
        .with_logits_width(50_300)
        .unwrap(),
    );
    let env = Arc::new(formwork::TokenEnv::new(padded.clone()));
    let mut m = Matcher::new(
        Arc::new(CompiledGrammar::new(&regex_grammar(r"(?s).*").unwrap()).unwrap()),
        &env,
    );
    let mask = m.compute_mask();
    assert_eq!(mask.width(), 50_300);
    // `.*` allows every token whose bytes are valid UTF-8 (and some that start
    // a character), plus EOS; never a padding id.
    for t in 0..50_256 {
        if std::str::from_utf8(padded.token_bytes(t)).is_ok() {
            assert!(mask.contains(t), "token {t} not allowed by .*");
        }
    }
    assert!(mask.contains(EOS));
    for t in 50_257..50_300 {
        assert!(padded.is_special(t));
        assert!(!mask.contains(t));
    }
    assert!(mask.iter().all(|t| t < 50_257));
}

#[test]
fn json_mask_at_start() {
    let v = vocab();
    let mut m = json();
    let mask = m.compute_mask();
    // Looks the token up by name (GPT-2 spells a space `Ġ`, a newline `Ċ`).
    let allowed = |text: &str| {
        let name = text.replace(' ', "Ġ").replace('\n', "Ċ");
        let id = v
            .token_id(&name)
            .unwrap_or_else(|| panic!("{text:?} is not a GPT-2 token"));
        assert_eq!(v.token_bytes(id), text.as_bytes());
        mask.contains(id)
    };
    // Every way a value can start, whitespace, and prefixes of literals (`"]` too:
    // a string may start with `]`).
    for yes in [
        "{", "[", "\"", "0", "1", "9", "-", "12", "true", "false", "null", "tr", "[]", "[[", "[\"",
        "{\"", "\"]", " {", " [", " ", "\n",
    ] {
        assert!(allowed(yes), "{yes:?} not allowed at the start of JSON");
    }
    for no in [
        "}", "]", ",", ":", "+", ".", "True", "x", "'", "}}", "},", "],",
    ] {
        assert!(!allowed(no), "{no:?} allowed at the start of JSON");
    }
    assert!(!mask.contains(EOS));
    assert!(!m.is_accepting());
}

/// An intersection lexeme accepts exactly the strings every positive regex
/// matches and no negative one does, checked against the `regex` crate.
#[test]
fn intersection_lexemes_match_their_definition() {
    use formwork::grammar::Expr;
    let cases: &[(&[&str], &[&str])] = &[
        (&["[a-z]+", ".{1,4}"], &["if|else"]),
        (&["[0-9]+"], &["0[0-9]+", ".*7.*"]),
        (&["\"[^\"]*\"", "\"(?:.*ab.*)\""], &["\".{0,3}\""]),
        (&["a+"], &["a{2,}"]),
        (&["[a-c]{0,3}"], &["b.*"]),
    ];
    let alphabet = ["a", "b", "c", "7", "0", "1", "\"", "i", "f", "e", "l", "s"];
    for (all, except) in cases {
        let mut g = Grammar::new("s");
        g.rule(
            "s",
            Expr::intersect(all.iter().copied(), except.iter().copied()),
        );
        let compiled = Arc::new(CompiledGrammar::new(&g).unwrap());
        let full = |p: &str| regex::Regex::new(&format!("^(?:{p})$")).unwrap();
        let (pos, neg): (Vec<_>, Vec<_>) = (
            all.iter().map(|p| full(p)).collect(),
            except.iter().map(|p| full(p)).collect(),
        );
        // Every string over the alphabet up to length 5.
        let mut strings = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for s in &frontier {
                for a in alphabet {
                    next.push(format!("{s}{a}"));
                }
            }
            strings.extend(next.iter().cloned());
            frontier = next;
        }
        let env = gpt2();
        let mut checked = 0;
        for s in &strings {
            // A lexeme matching "" makes it optional, so "" is in the language then.
            let want = pos.iter().all(|r| r.is_match(s)) && !neg.iter().any(|r| r.is_match(s));
            let mut m = Matcher::new(compiled.clone(), &env);
            let got = m.commit_bytes(s.as_bytes()).is_ok() && m.is_accepting();
            assert_eq!(got, want, "{all:?} except {except:?} on {s:?}");
            checked += 1;
        }
        assert!(checked > 1000);
    }
}

#[test]
fn shortest_completion_inside_a_list() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"p": {"type": "array", "items": {"type": "number"}},
                       "q": {"type": "array", "items": {"type": "number"}}},
        "required": ["p", "q"], "additionalProperties": false
    });
    let opts = formwork::SchemaOptions {
        spelling: formwork::Spelling::Canonical,
        ..Default::default()
    };
    let g = formwork::json_schema(&schema, &opts).unwrap();
    let mut m = matcher(&g);
    m.commit_bytes(br#"{"p":[3.0,2.0,2.0"#).unwrap();
    let c = m.shortest_completion(64).unwrap();
    assert_eq!(String::from_utf8(c).unwrap(), r#"],"q":[]}"#);
    let toks = m.completion_tokens(64).unwrap();
    for t in toks {
        m.commit(t).unwrap();
    }
    assert!(m.is_accepting());
}

/// Every byte prefix of valid documents, for the 52 prompt-set schemas, has a
/// completion, and prefix + completion validates (with the `jsonschema`
/// crate, not with formwork).
#[test]
fn shortest_completion_of_every_prefix_validates() {
    use formwork::{json_schema, SchemaOptions, Spelling};
    let data = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/prompts.jsonl"
    ))
    .unwrap();
    let opts = SchemaOptions {
        spelling: Spelling::Canonical,
        ..Default::default()
    };
    let (mut prefixes, mut schemas, mut skipped) = (0, 0, 0);
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let schema = &case["schema"];
        let g = Arc::new(CompiledGrammar::new(&json_schema(schema, &opts).unwrap()).unwrap());
        let validator = jsonschema::validator_for(schema).unwrap();
        let mut fuzzer = formwork::fuzzer::Fuzzer::new(g.clone(), schemas as u64, 120);
        schemas += 1;
        for _ in 0..2 {
            let doc = fuzzer.sample().unwrap();
            // serde_json refuses numbers beyond f64 (`1E525`), which JSON
            // allows and the fuzzer writes: such documents are left out.
            if serde_json::from_str::<serde_json::Value>(&doc).is_err() {
                skipped += 1;
                continue;
            }
            let env = gpt2();
            for end in 0..=doc.len() {
                let mut m = Matcher::new(g.clone(), &env);
                m.commit_bytes(&doc.as_bytes()[..end]).unwrap();
                let c = m.shortest_completion(512).unwrap_or_else(|| {
                    let prefix = String::from_utf8_lossy(&doc.as_bytes()[..end]);
                    panic!("{}: no completion after {prefix:?}", case["id"])
                });
                let mut full = doc.as_bytes()[..end].to_vec();
                full.extend_from_slice(&c);
                let text = String::from_utf8(full).unwrap();
                let value: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: {text:?}: {e}", case["id"]));
                assert!(validator.is_valid(&value), "{}: {text}", case["id"]);
                prefixes += 1;
            }
        }
    }
    assert_eq!(schemas, 52);
    assert!(
        skipped * 4 <= 2 * 52,
        "{skipped} documents out of serde_json's range"
    );
    assert!(prefixes > 1000, "{prefixes}");
}

/// `Matcher::prepare` computes a grammar's first mask once; every matcher
/// of the grammar in that environment starts with it (no work), and it is
/// the mask a matcher computes afresh, in any environment.
#[test]
fn first_mask_is_computed_once() {
    let env = common::gpt2();
    let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    let g = formwork::json_schema(&schema, &formwork::SchemaOptions::default()).unwrap();
    let compiled = env.compile(&g).unwrap();
    let mut before = Matcher::new(compiled.clone(), &env);
    let _ = Matcher::prepare(compiled.clone(), &env);
    let mut m = Matcher::new(compiled.clone(), &env);
    let first = m.compute_mask();
    assert_eq!(
        m.last_work(),
        0,
        "the first mask comes from the compiled grammar"
    );
    // A matcher made before `prepare` computes it.
    assert_eq!(before.compute_mask(), first);
    assert!(before.last_work() > 0);
    // A grammar compiled without an environment computes it.
    let plain = std::sync::Arc::new(formwork::CompiledGrammar::builder().build(&g).unwrap());
    let mut fresh = Matcher::new(plain, &env);
    assert_eq!(fresh.compute_mask(), first);
    assert!(fresh.last_work() > 0);
    // Another environment (same vocabulary) does not take it.
    let other = std::sync::Arc::new(formwork::TokenEnv::new(env.vocab().clone()));
    let mut elsewhere = Matcher::new(compiled, &other);
    assert_eq!(elsewhere.compute_mask(), first);
    assert!(elsewhere.last_work() > 0);
    // After a token and a rollback, the same mask again.
    let t = first.iter().next().unwrap();
    m.commit(t).unwrap();
    m.rollback(1).unwrap();
    assert_eq!(m.compute_mask(), first);
}
