//! Every bad input gives a clear error, never a panic: each test checks the
//! error variant and that its message names the problem.

use formwork::grammar::{Expr, Grammar};
use formwork::{
    json_grammar, json_schema, regex_grammar, CompiledGrammar, GrammarError, Matcher, MatcherError,
    SchemaOptions, VocabError, Vocabulary,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

mod common;

use common::{gpt2_padded, random_bytes};

fn gpt2_path() -> PathBuf {
    common::tokenizer_path("gpt2")
}

/// A matcher at the start of `g` over [`gpt2_padded`].
fn matcher(g: &Grammar) -> Matcher {
    common::matcher_in(&gpt2_padded(), g)
}

/// A fresh scratch directory under the target directory.
fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("errors-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A tiny, valid WordLevel tokenizer.json with no special tokens (so no EOS).
fn tiny_tokenizer_without_eos() -> String {
    r#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": {"a": 0, "b": 1, "c": 2, "[UNK]": 3}, "unk_token": "[UNK]"}}"#
        .to_string()
}

// ------------------------------------------------------------------ regexes

#[test]
fn invalid_regexes() {
    for pattern in [
        "(unclosed",
        "[z-a]",
        "a{5,2}",
        "a)",
        "*a",
        "\\p{NoSuchClass}",
        "(?P<n>a)(?P<n>b)",
    ] {
        match regex_grammar(pattern) {
            Err(e @ GrammarError::InvalidRegex { .. }) => {
                let GrammarError::InvalidRegex {
                    pattern: p,
                    message,
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!(p, pattern);
                assert!(!message.is_empty(), "{pattern}: empty message");
                let msg = e.to_string();
                assert!(msg.contains("invalid regex"), "{pattern}: message {msg:?}");
                assert!(
                    msg.contains(&format!("{pattern:?}")),
                    "{pattern}: message does not name the pattern: {msg:?}"
                );
            }
            other => panic!("{pattern}: expected InvalidRegex, got {other:?}"),
        }
    }
}

#[test]
fn invalid_regex_inside_a_grammar() {
    // Not through the regex frontend: the error surfaces when compiling.
    let mut g = Grammar::new("s");
    g.rule("s", Expr::seq([Expr::literal("x"), Expr::regex("[z-a]")]));
    match CompiledGrammar::new(&g) {
        Err(e @ GrammarError::InvalidRegex { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("invalid regex") && msg.contains("[z-a]"),
                "{msg}"
            );
        }
        other => panic!("expected InvalidRegex, got {other:?}"),
    }
    let mut g = json_grammar();
    g.ignore("(");
    assert!(matches!(
        CompiledGrammar::new(&g),
        Err(GrammarError::InvalidRegex { .. })
    ));
}

#[test]
fn empty_regexes() {
    // regex-syntax accepts empty classes; the language is then empty.
    for pattern in [
        r"[^\x00-\x{10FFFF}]",
        r"a[^\s\S]b",
        r"[^\s\S]",
        r"[a&&b]",
        r"(?:[^\s\S]|[^\d\D])+x",
    ] {
        let g = regex_grammar(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: regex-syntax refused it: {e}"));
        match CompiledGrammar::new(&g) {
            Err(e @ GrammarError::EmptyRegex { .. }) => {
                let GrammarError::EmptyRegex { pattern: p } = &e else {
                    unreachable!()
                };
                assert_eq!(p, pattern);
                let msg = e.to_string();
                assert!(msg.contains("matches no string"), "{pattern}: {msg}");
                assert!(
                    msg.contains(&format!("{pattern:?}")),
                    "{pattern}: message does not name the pattern: {msg}"
                );
            }
            other => panic!("{pattern}: expected EmptyRegex, got {other:?}"),
        }
    }
    // A regex with an empty branch that still matches something is fine.
    assert!(CompiledGrammar::new(&regex_grammar(r"a|[^\s\S]").unwrap()).is_ok());
}

// ------------------------------------------------------------------ grammar IR

#[test]
fn undefined_rule() {
    let mut g = Grammar::new("s");
    g.rule("s", Expr::seq([Expr::literal("x"), Expr::rule("missing")]));
    match CompiledGrammar::new(&g) {
        Err(e @ GrammarError::UndefinedRule { .. }) => {
            let GrammarError::UndefinedRule { rule, undefined } = &e else {
                unreachable!()
            };
            assert_eq!((rule.as_str(), undefined.as_str()), ("s", "missing"));
            let msg = e.to_string();
            assert!(
                msg.contains("undefined rule")
                    && msg.contains("\"missing\"")
                    && msg.contains("\"s\""),
                "{msg}"
            );
        }
        other => panic!("expected UndefinedRule, got {other:?}"),
    }
    // Also when the reference is nested in a repetition of a non-start rule.
    let mut g = Grammar::new("s");
    g.rule("s", Expr::rule("t"));
    g.rule(
        "t",
        Expr::repeat(
            Expr::choice([Expr::literal("a"), Expr::rule("nope")]),
            1,
            None,
        ),
    );
    assert!(matches!(
        CompiledGrammar::new(&g),
        Err(GrammarError::UndefinedRule { ref rule, ref undefined }) if rule == "t" && undefined == "nope"
    ));
}

#[test]
fn unproductive_start_rule_is_an_empty_language() {
    // a: "x" a  -- the start rule can never finish, so the language is empty.
    let mut g = Grammar::new("a");
    g.rule("a", Expr::seq([Expr::literal("x"), Expr::rule("a")]));
    match CompiledGrammar::new(&g) {
        Err(e @ GrammarError::EmptyLanguage(_)) => {
            let msg = e.to_string();
            assert!(
                msg.contains("language is empty") && msg.contains("\"a\""),
                "{msg}"
            );
        }
        other => panic!("expected EmptyLanguage, got {other:?}"),
    }
}

#[test]
fn unproductive_reachable_rule() {
    // s: "y" | a ;  a: "x" a  -- the language is {"y"}, but rule `a` can never
    // finish: that is a bug in the grammar worth reporting by name.
    let mut g = Grammar::new("s");
    g.rule("s", Expr::choice([Expr::literal("y"), Expr::rule("a")]));
    g.rule("a", Expr::seq([Expr::literal("x"), Expr::rule("a")]));
    match CompiledGrammar::new(&g) {
        Err(e @ GrammarError::UnproductiveRule(_)) => {
            let GrammarError::UnproductiveRule(name) = &e else {
                unreachable!()
            };
            assert_eq!(name, "a");
            let msg = e.to_string();
            assert!(
                msg.contains("unproductive") && msg.contains("\"a\""),
                "{msg}"
            );
        }
        other => panic!("expected UnproductiveRule, got {other:?}"),
    }
}

#[test]
fn repetition_with_max_below_min() {
    let mut g = Grammar::new("s");
    g.rule("s", Expr::repeat(Expr::literal("a"), 3, Some(1)));
    match CompiledGrammar::new(&g) {
        Err(e @ GrammarError::EmptyLanguage(_)) => {
            assert!(e.to_string().contains("max < min"), "{e}")
        }
        other => panic!("expected EmptyLanguage, got {other:?}"),
    }
}

#[test]
fn missing_start_rule() {
    let mut g = Grammar::new("start");
    g.rule("other", Expr::literal("x"));
    match CompiledGrammar::new(&g) {
        Err(e @ GrammarError::NoStart) => assert!(e.to_string().contains("no start rule"), "{e}"),
        other => panic!("expected NoStart, got {other:?}"),
    }
    // An entirely empty grammar too.
    assert!(matches!(
        CompiledGrammar::new(&Grammar::new("s")),
        Err(GrammarError::NoStart)
    ));
}

// ------------------------------------------------------------------ JSON Schema

#[test]
fn unsupported_schema_keyword() {
    let schema = serde_json::json!({"type": "object", "$dynamicRef": "#meta"});
    match json_schema(&schema, &SchemaOptions::default()) {
        Err(e @ GrammarError::UnsupportedSchema { .. }) => {
            let GrammarError::UnsupportedSchema { pointer, message } = &e else {
                unreachable!()
            };
            assert_eq!(pointer, "/$dynamicRef");
            assert!(message.contains("$dynamicRef"), "{message}");
            let msg = e.to_string();
            assert!(
                msg.contains("unsupported JSON Schema") && msg.contains("/$dynamicRef"),
                "{msg}"
            );
        }
        other => panic!("expected UnsupportedSchema, got {other:?}"),
    }
    // A pointer escapes `~` and `/` (RFC 6901).
    match json_schema(
        &serde_json::json!({"title": "t", "properties": {"a/b~c": {"not": {"unevaluatedItems": false}}}}),
        &SchemaOptions::default(),
    ) {
        Err(GrammarError::UnsupportedSchema { pointer, .. }) => {
            assert_eq!(pointer, "/properties/a~1b~0c/not/unevaluatedItems")
        }
        other => panic!("expected UnsupportedSchema, got {other:?}"),
    }
    // Schemas that are not objects or booleans are invalid, `false` is empty.
    assert!(matches!(
        json_schema(&serde_json::json!(5), &SchemaOptions::default()),
        Err(GrammarError::InvalidSchema { .. })
    ));
    assert!(matches!(
        json_schema(&serde_json::json!(false), &SchemaOptions::default()),
        Err(GrammarError::EmptyLanguage(_))
    ));
    // The accepting-everything schemas work.
    for ok in [
        serde_json::json!(true),
        serde_json::json!({}),
        serde_json::json!({"title": "x", "$schema": "https://json-schema.org/draft/2020-12/schema"}),
    ] {
        assert!(json_schema(&ok, &SchemaOptions::default()).is_ok(), "{ok}");
    }
    // A custom meta-schema may turn vocabularies off: reported, not guessed.
    match json_schema(
        &serde_json::json!({"$schema": "https://example.com/meta"}),
        &SchemaOptions::default(),
    ) {
        Err(GrammarError::UnsupportedSchema { pointer, message }) => {
            assert_eq!(pointer, "/$schema");
            assert!(message.contains("meta-schema"), "{message}");
        }
        other => panic!("expected UnsupportedSchema, got {other:?}"),
    }
}

// ------------------------------------------------------------------ tokenizers

#[test]
fn missing_tokenizer_file_is_io() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/no-such-dir/tokenizer.json");
    match Vocabulary::from_file(&path) {
        Err(e @ VocabError::Io { .. }) => {
            let VocabError::Io { path: p, .. } = &e else {
                unreachable!()
            };
            assert_eq!(p, &path);
            let msg = e.to_string();
            assert!(
                msg.contains("cannot read tokenizer file") && msg.contains("no-such-dir"),
                "{msg}"
            );
        }
        other => panic!("expected Io, got {other:?}"),
    }
    // A directory is not readable as a file either.
    let dir = scratch("dir");
    assert!(matches!(
        Vocabulary::from_file(&dir),
        Err(VocabError::Io { .. })
    ));
    assert!(matches!(
        Vocabulary::from_file_with_eos(dir.join("nope"), &["a"]),
        Err(VocabError::Io { .. })
    ));
}

fn expect_corrupt(result: Result<Vocabulary, VocabError>, what: &str) {
    match result {
        Err(e @ VocabError::Corrupt { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("not a valid Hugging Face tokenizer.json"),
                "{what}: {msg}"
            );
            assert!(
                msg.contains(what),
                "{what}: message does not name the source: {msg}"
            );
        }
        other => panic!("{what}: expected Corrupt, got {other:?}"),
    }
}

#[test]
fn corrupt_tokenizers() {
    for (i, n) in [0usize, 1, 3, 64, 5_000].into_iter().enumerate() {
        expect_corrupt(
            Vocabulary::from_json_bytes(&random_bytes(i as u64 + 7, n), "random-bytes"),
            "random-bytes",
        );
    }
    // Random bytes behind a gzip magic.
    let mut fake = vec![0x1f, 0x8b, 0x08, 0x00];
    fake.extend(random_bytes(99, 2_000));
    expect_corrupt(Vocabulary::from_json_bytes(&fake, "fake-gzip"), "fake-gzip");

    // A truncated gzip: the vendored tokenizer cut in half, and a tiny one cut short.
    let gz = std::fs::read(gpt2_path()).unwrap();
    expect_corrupt(
        Vocabulary::from_json_bytes(&gz[..gz.len() / 2], "half-gzip"),
        "half-gzip",
    );
    let tiny_gz = gzip(tiny_tokenizer_without_eos().as_bytes());
    for cut in [2, 10, tiny_gz.len() - 9, tiny_gz.len() - 1] {
        expect_corrupt(
            Vocabulary::from_json_bytes(&tiny_gz[..cut], "cut-gzip"),
            "cut-gzip",
        );
    }

    // Valid JSON that is not a tokenizer.
    for (what, json) in [
        ("empty-object", "{}"),
        ("array", "[1, 2, 3]"),
        ("null", "null"),
        ("string", "\"tokenizer\""),
        (
            "package-json",
            r#"{"name": "x", "version": "1.0.0", "dependencies": {}}"#,
        ),
        (
            "bad-model",
            r#"{"version": "1.0", "model": {"type": "Nope"}, "added_tokens": []}"#,
        ),
        ("model-number", r#"{"version": "1.0", "model": 5}"#),
    ] {
        expect_corrupt(Vocabulary::from_json_bytes(json.as_bytes(), what), what);
        expect_corrupt(
            Vocabulary::from_json_bytes(&gzip(json.as_bytes()), what),
            what,
        );
    }

    // Through files: a truncated .gz on disk, random bytes on disk.
    let dir = scratch("corrupt");
    let p = dir.join("tokenizer.json.gz");
    std::fs::write(&p, &gz[..gz.len() / 3]).unwrap();
    expect_corrupt(Vocabulary::from_file(&p), "tokenizer.json.gz");
    let p = dir.join("random.json");
    std::fs::write(&p, random_bytes(5, 3_000)).unwrap();
    expect_corrupt(Vocabulary::from_file(&p), "random.json");
    // A corrupt tokenizer_config.json beside a good tokenizer is reported too.
    std::fs::write(dir.join("tokenizer.json"), tiny_tokenizer_without_eos()).unwrap();
    std::fs::write(dir.join("tokenizer_config.json"), b"{\"eos_token\": ").unwrap();
    assert!(matches!(
        Vocabulary::from_file(dir.join("tokenizer.json")),
        Err(VocabError::Corrupt { .. })
    ));
}

#[test]
fn tokenizer_without_eos() {
    let tiny = tiny_tokenizer_without_eos();
    match Vocabulary::from_json_bytes(tiny.as_bytes(), "tiny") {
        Err(e @ VocabError::NoEos { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("no end-of-sequence token"), "{msg}");
            assert!(
                msg.contains("<|endoftext|>") && msg.contains("</s>"),
                "message lists what was tried: {msg}"
            );
            assert!(msg.contains("--eos"), "message says what to do: {msg}");
        }
        other => panic!("expected NoEos, got {other:?}"),
    }
    // Through a file (no tokenizer_config.json beside it) as well.
    let dir = scratch("noeos");
    std::fs::write(dir.join("tokenizer.json"), &tiny).unwrap();
    assert!(matches!(
        Vocabulary::from_file(dir.join("tokenizer.json")),
        Err(VocabError::NoEos { .. })
    ));
    // Naming one works; naming an unknown one or none does not.
    let v = Vocabulary::from_json_bytes_with_eos(tiny.as_bytes(), "tiny", &["c"]).unwrap();
    assert_eq!(v.eos_tokens(), &[2]);
    match Vocabulary::from_json_bytes_with_eos(tiny.as_bytes(), "tiny", &["<eos>"]) {
        Err(e @ VocabError::UnknownEos(_)) => assert!(e.to_string().contains("\"<eos>\""), "{e}"),
        other => panic!("expected UnknownEos, got {other:?}"),
    }
    assert!(matches!(
        Vocabulary::from_json_bytes_with_eos(tiny.as_bytes(), "tiny", &[]),
        Err(VocabError::NoEos { .. })
    ));
    assert!(matches!(
        Vocabulary::from_json_bytes_with_eos(tiny.as_bytes(), "tiny", &["4"]),
        Err(VocabError::UnknownEos(_))
    ));
}

#[test]
fn logits_width_too_narrow() {
    let v = Vocabulary::from_json_bytes_with_eos(
        tiny_tokenizer_without_eos().as_bytes(),
        "tiny",
        &["c"],
    )
    .unwrap();
    match v.with_logits_width(2) {
        Err(e @ VocabError::LogitsTooNarrow { width: 2, vocab: 4 }) => {
            assert!(
                e.to_string().contains("smaller than the vocabulary size"),
                "{e}"
            )
        }
        other => panic!("expected LogitsTooNarrow, got {other:?}"),
    }
}

// ------------------------------------------------------------------ matcher

#[test]
fn token_ids_outside_the_logits_width() {
    let vocab = gpt2_padded().vocab().clone();
    assert_eq!(vocab.len(), 50_257);
    assert_eq!(vocab.logits_width(), 50_300);
    let mut m = matcher(&json_grammar());
    let mask = m.compute_mask();
    for t in [50_300u32, 50_301, 1 << 20, u32::MAX - 1, u32::MAX] {
        match m.commit(t) {
            Err(e @ MatcherError::TokenOutOfRange { .. }) => {
                assert_eq!(
                    e,
                    MatcherError::TokenOutOfRange {
                        token: t,
                        width: 50_300
                    }
                );
                let msg = e.to_string();
                assert!(
                    msg.contains(&t.to_string()) && msg.contains("outside the logits width 50300"),
                    "{msg}"
                );
            }
            other => panic!("{t}: expected TokenOutOfRange, got {other:?}"),
        }
        assert!(!mask.contains(t));
    }
    // Padding ids are inside the width: never allowed, never in a mask.
    for t in 50_257u32..50_300 {
        assert!(!mask.contains(t), "padding id {t} in the mask");
        match m.commit(t) {
            Err(MatcherError::TokenNotAllowed { token, .. }) => assert_eq!(token, t),
            other => panic!("{t}: expected TokenNotAllowed, got {other:?}"),
        }
    }
    // None of that changed the matcher.
    assert_eq!(m.committed(), 0);
    assert_eq!(m.compute_mask(), mask);
    // Out of range is reported even when stopped.
    let mut m = matcher(&regex_grammar("a").unwrap());
    m.commit(vocab.encode("a").unwrap()[0]).unwrap();
    m.commit(50_256).unwrap();
    assert!(matches!(
        m.commit(u32::MAX),
        Err(MatcherError::TokenOutOfRange { .. })
    ));
}

#[test]
fn disallowed_token_names_it() {
    let vocab = gpt2_padded().vocab().clone();
    let mut m = matcher(&regex_grammar("[0-9]+").unwrap());
    let x = vocab.encode("hello").unwrap()[0];
    match m.commit(x) {
        Err(e @ MatcherError::TokenNotAllowed { .. }) => {
            assert_eq!(
                e,
                MatcherError::TokenNotAllowed {
                    token: x,
                    text: "hello".into()
                }
            );
            let msg = e.to_string();
            assert!(
                msg.contains("\"hello\"") && msg.contains("not allowed"),
                "{msg}"
            );
        }
        other => panic!("expected TokenNotAllowed, got {other:?}"),
    }
    // EOS before the output is complete is not allowed either.
    assert!(matches!(
        m.commit(50_256),
        Err(MatcherError::TokenNotAllowed { token: 50_256, .. })
    ));
    assert_eq!(m.committed(), 0);
}

#[test]
fn rollback_too_far() {
    let vocab = gpt2_padded().vocab().clone();
    let mut m = matcher(&regex_grammar("[a-z]+").unwrap());
    match m.rollback(1) {
        Err(e @ MatcherError::RollbackTooFar { .. }) => {
            assert_eq!(
                e,
                MatcherError::RollbackTooFar {
                    requested: 1,
                    available: 0
                }
            );
            let msg = e.to_string();
            assert!(
                msg.contains("cannot roll back 1 tokens") && msg.contains("only 0 committed"),
                "{msg}"
            );
        }
        other => panic!("expected RollbackTooFar, got {other:?}"),
    }
    for t in vocab.encode("hello world").unwrap().into_iter().take(1) {
        m.commit(t).unwrap();
    }
    assert_eq!(
        m.rollback(2),
        Err(MatcherError::RollbackTooFar {
            requested: 2,
            available: 1
        })
    );
    assert_eq!(
        m.rollback(usize::MAX),
        Err(MatcherError::RollbackTooFar {
            requested: usize::MAX,
            available: 1
        })
    );
    // A failed rollback changes nothing.
    assert_eq!(m.committed(), 1);
    assert_eq!(m.rollback(0), Ok(()));
    assert_eq!(m.rollback(1), Ok(()));
    assert_eq!(m.committed(), 0);
}

#[test]
fn commit_after_eos_is_stopped() {
    let vocab = gpt2_padded().vocab().clone();
    let mut m = matcher(&regex_grammar("ab").unwrap());
    for t in vocab.encode("ab").unwrap() {
        m.commit(t).unwrap();
    }
    m.commit(50_256).unwrap();
    assert!(m.is_stopped());
    assert!(m.compute_mask().is_empty());
    let a = vocab.encode("a").unwrap()[0];
    for t in [a, 50_256, 0] {
        match m.commit(t) {
            Err(e @ MatcherError::Stopped) => {
                let msg = e.to_string();
                assert!(msg.contains("stopped") && msg.contains("EOS"), "{msg}");
            }
            other => panic!("expected Stopped, got {other:?}"),
        }
    }
    // Rolling back the EOS resumes.
    m.rollback(1).unwrap();
    assert!(!m.is_stopped());
    assert!(m.compute_mask().contains(50_256));
}

// ------------------------------------------------------------------ CLI

fn formwork() -> Command {
    Command::new(env!("CARGO_BIN_EXE_formwork"))
}

fn assert_clean_failure(out: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure; stderr: {stderr}");
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("error:"), "stderr: {stderr}");
    assert!(
        stderr.contains(needle),
        "stderr does not mention {needle:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
}

#[test]
fn cli_mask_with_bad_regex() {
    let out = formwork()
        .args(["mask", "--tokenizer"])
        .arg(gpt2_path())
        .args(["--regex", "(unclosed", "--text", "x"])
        .output()
        .unwrap();
    assert_clean_failure(&out, "invalid regex \"(unclosed\"");
}

#[test]
fn cli_mask_other_errors() {
    // Missing tokenizer file.
    let out = formwork()
        .args([
            "mask",
            "--tokenizer",
            "/no/such/tokenizer.json",
            "--regex",
            "a",
            "--text",
            "a",
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, "cannot read tokenizer file");
    // Unsupported schema.
    let out = formwork()
        .args(["mask", "--tokenizer"])
        .arg(gpt2_path())
        .args([
            "--schema",
            r##"{"type": "object", "$dynamicRef": "#meta"}"##,
            "--text",
            "{}",
        ])
        .output()
        .unwrap();
    assert_clean_failure(&out, "unsupported JSON Schema at \"/$dynamicRef\"");
    // Text that does not match.
    let out = formwork()
        .args(["mask", "--tokenizer"])
        .arg(gpt2_path())
        .args(["--regex", "[0-9]+", "--text", "12x"])
        .output()
        .unwrap();
    assert_clean_failure(&out, "not allowed");
    // And a good one succeeds.
    let out = formwork()
        .args(["mask", "--tokenizer"])
        .arg(gpt2_path())
        .args(["--regex", "[0-9]+", "--text", "123"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cli_bench_reports_each_case() {
    let dir = scratch("bench");
    let cases = dir.join("cases.jsonl");
    std::fs::write(
        &cases,
        [
            r#"{"id": "malformed", "kind": "regex", "grammar": "#,
            r#"{"id": "antlr", "kind": "antlr", "grammar": "grammar G; s: 'a';", "valid": ["a"], "invalid": ["b"]}"#,
            r#"{"id": "bad-regex", "kind": "regex", "grammar": "(unclosed", "valid": ["a"], "invalid": []}"#,
            r#"{"id": "good", "kind": "regex", "grammar": "[0-9]{2,4}", "valid": ["12", "2024"], "invalid": ["1", "12a"]}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let out = formwork()
        .args(["bench", "--tokenizer"])
        .arg(gpt2_path())
        .arg("--cases")
        .arg(&cases)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    assert!(!stderr.contains("panic"), "stderr: {stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 4, "stdout: {stdout}");
    let statuses: Vec<&str> = lines
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["error", "unsupported", "unsupported", "ok"],
        "stdout: {stdout}"
    );
    let err = |i: usize| lines[i]["error"].as_str().unwrap_or_default().to_string();
    assert!(err(0).contains("bad case line"), "{}", err(0));
    assert!(
        err(1).contains("\"antlr\"") && err(1).contains("not supported"),
        "{}",
        err(1)
    );
    assert!(err(2).contains("invalid regex"), "{}", err(2));
    assert_eq!(lines[1]["id"], "antlr");
    assert_eq!(lines[2]["id"], "bad-regex");
    assert_eq!(lines[3]["id"], "good");
    assert_eq!(lines[3]["valid"], serde_json::json!([2, 2]));
    assert_eq!(lines[3]["invalid"], serde_json::json!([2, 2]));
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("SUMMARY "))
        .unwrap_or_else(|| panic!("no SUMMARY: {stderr}"));
    for field in [
        "cases=4",
        "ok=1",
        "unsupported=2",
        "error=1",
        "valid_ok=2/2",
        "invalid_blocked=2/2",
    ] {
        assert!(summary.contains(field), "{field} missing from {summary}");
    }
}

#[test]
fn cli_bench_missing_case_file() {
    let out = formwork()
        .args(["bench", "--tokenizer"])
        .arg(gpt2_path())
        .args(["--cases", "/no/such/cases.jsonl"])
        .output()
        .unwrap();
    assert_clean_failure(&out, "/no/such/cases.jsonl");
}

#[test]
fn commit_bytes_outside_the_grammar() {
    let env = gpt2_padded();
    let g = Arc::new(CompiledGrammar::new(&regex_grammar("abc").unwrap()).unwrap());
    let mut m = Matcher::new(g, &env);
    let err = m.commit_bytes(b"abx").unwrap_err();
    assert_eq!(
        err,
        MatcherError::BytesNotAllowed {
            offset: 2,
            text: "abx".into()
        }
    );
    assert!(err.to_string().contains("byte 2"), "{err}");
    // Nothing was committed: the full text still goes through.
    m.commit_bytes(b"abc").unwrap();
    assert!(m.is_accepting());
}
