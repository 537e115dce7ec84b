//! Hostile constraints stay bounded, and limits stay local: a lexeme DFA
//! that fills its size limit, or an operation past its work budget, fails
//! with an error naming the lexeme, changes no other constraint's answers,
//! and a larger budget makes the operation pass.

mod common;

use formwork::{
    json_schema, regex_grammar, Budget, CompiledGrammar, GrammarError, Matcher, MatcherError,
    PropertyOrder, SchemaOptions, Spelling, Stage, TokenEnv, Whitespace,
};
use serde_json::Value;
use std::sync::Arc;

/// `n` words of letters, digits and underscores, one space apart.
fn words(n: usize, seed: u64) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
    let mut rng = common::Rng(seed);
    let mut out = Vec::new();
    for i in 0..n {
        if i > 0 {
            out.push(b' ');
        }
        for _ in 0..2 + rng.below(8) {
            out.push(CHARS[rng.below(CHARS.len())]);
        }
    }
    String::from_utf8(out).unwrap()
}

/// A matcher for a regex, with the default budgets.
/// Compiled with `env`'s DFA cache, so matchers of one pattern share its
/// lazily built DFA.
fn regex_matcher(pattern: &str, env: &Arc<TokenEnv>) -> Matcher {
    common::matcher_in(env, &regex_grammar(pattern).unwrap())
}

/// Drives `m` through `text` token by token, checking each token against
/// the mask: `Ok(true)` if every token was allowed and EOS is at the end.
fn drive(m: &mut Matcher, text: &str) -> Result<bool, MatcherError> {
    let vocab = m.vocabulary().clone();
    for t in vocab.encode(text).unwrap() {
        if !m.try_compute_mask()?.contains(t) {
            return Ok(false);
        }
        m.commit(t)?;
    }
    let eos = vocab.eos_tokens()[0];
    Ok(m.try_compute_mask()?.contains(eos))
}

/// The issue's probe: `(\w+\s?){1,1000}` on 500 words used to fill its
/// 64 MiB DFA and refuse the text. Its counts are now kept as sets, so the
/// text passes token by token, and the bound still holds.
#[test]
fn counted_overlapping_repetition_accepts_500_words() {
    common::bounded("counted_overlapping_repetition_accepts_500_words", || {
        let env = common::tokenizer("gpt2");
        let pattern = r"(\w+\s?){1,1000}";
        let mut m = regex_matcher(pattern, &env);
        assert_eq!(drive(&mut m, &words(500, 1)), Ok(true));
        let mut m = regex_matcher(pattern, &env);
        assert_eq!(drive(&mut m, "é中 ñandú 日本語 Ωmega"), Ok(true));
        let mut m = regex_matcher(pattern, &env);
        assert_eq!(drive(&mut m, "é中 ñandú!"), Ok(false));
        // 1,000 words are the most: the 1,001st cannot start.
        let mut m = regex_matcher(pattern, &env);
        m.commit_bytes(words(1000, 2).as_bytes()).unwrap();
        assert!(m.is_accepting());
        let text = words(1001, 2);
        let mut m = regex_matcher(pattern, &env);
        let err = m.commit_bytes(text.as_bytes()).unwrap_err();
        let last_word = text.rfind(' ').unwrap() + 1;
        assert_eq!(
            err,
            MatcherError::BytesNotAllowed {
                offset: last_word,
                text
            }
        );
    });
}

/// The same repetition nested in a group still goes through a subset
/// construction, whose table fills on such a text.
const NESTED: &str = r"(?:(?:\w+\s?){1,1000})?";

/// One constraint of the isolation test and its instances.
struct Case {
    id: String,
    kind: String,
    grammar: Value,
    valid: Vec<String>,
    invalid: Vec<String>,
}

/// The first `n` cases of a benchmark case file, with at most three
/// instances of each kind.
fn cases(file: &str, n: usize) -> Vec<Case> {
    let path = format!("{}/benches/cases/{file}", env!("CARGO_MANIFEST_DIR"));
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .take(3)
                    .map(|s| s.as_str().unwrap().into())
                    .collect()
            })
            .unwrap_or_default()
    };
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .take(n)
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Case {
                id: v["id"].as_str().unwrap().into(),
                kind: v["kind"].as_str().unwrap().into(),
                grammar: v["grammar"].clone(),
                valid: strings(&v["valid"]),
                invalid: strings(&v["invalid"]),
            }
        })
        .collect()
}

/// The cases' constraints compiled as `formwork bench` compiles them:
/// regexes, and JSON Schemas (inline or as JSON text) with the bench's
/// checking options.
struct Bench {
    env: Arc<TokenEnv>,
    eos: u32,
    schema_options: SchemaOptions,
    budget: Budget,
}

impl Bench {
    /// A matcher of the case's constraint, ready for its first mask.
    fn compile(&self, kind: &str, grammar: &Value) -> Result<Matcher, String> {
        let g = match (kind, grammar) {
            ("regex", Value::String(r)) => regex_grammar(r),
            ("json_schema", Value::String(s)) => {
                json_schema(&serde_json::from_str(s).unwrap(), &self.schema_options)
            }
            ("json_schema", v) => json_schema(v, &self.schema_options),
            _ => panic!("no {kind} case here"),
        }
        .map_err(|e| e.to_string())?;
        let c = self
            .env
            .compile_with_budget(&g, self.budget)
            .map_err(|e| e.to_string())?;
        Ok(Matcher::new(c, &self.env))
    }
}

/// Everything a constraint answers on its instances, compiled afresh (see
/// [`answers_of`]).
fn answers(bench: &Bench, case: &Case) -> Vec<String> {
    let template = bench.compile(&case.kind, &case.grammar).unwrap();
    let out = answers_of(&template, &case.valid, &case.invalid, bench.eos);
    for (line, text) in out.iter().zip(case.valid.iter().chain(&case.invalid)) {
        let valid = line.starts_with("valid");
        assert_eq!(line.ends_with("accepted"), valid, "{} {text:?}", case.id);
    }
    out
}

/// Per instance, on a copy of `template`: the size of every mask along its
/// tokens and whether the token was in it, then whether EOS is allowed at
/// the end.
fn answers_of(template: &Matcher, valid: &[String], invalid: &[String], eos: u32) -> Vec<String> {
    let vocab = template.vocabulary().clone();
    let mut out = Vec::new();
    for (kind, text) in valid
        .iter()
        .map(|t| ("valid", t))
        .chain(invalid.iter().map(|t| ("invalid", t)))
    {
        let mut m = template.clone();
        let mut line = format!("{kind}:");
        let mut refused = false;
        for t in vocab.encode(text).unwrap() {
            let mask = m.try_compute_mask().unwrap();
            line.push_str(&format!(" {}{}", mask.count(), mask.contains(t) as u8));
            if !mask.contains(t) || m.commit(t).is_err() {
                refused = true;
                break;
            }
        }
        let accepted = !refused && m.try_compute_mask().unwrap().contains(eos);
        line.push_str(if accepted { " accepted" } else { " refused" });
        out.push(line);
    }
    out
}

/// The must-show of the issue: one process fills a lexeme's DFA, then 100
/// other constraints (regexes and schemas from the benchmark cases, the
/// Unicode text that a full table used to refuse, and the filled pattern
/// itself compiled again) answer exactly as they did before, and rightly.
/// So does a grammar of the filled pattern compiled before the fill, whose
/// matcher goes on after it, sharing the table, on text that needs states
/// the table does not have yet. The filled DFA's own matcher gets an error
/// naming its lexeme, not a refusal.
#[test]
fn full_dfa_changes_no_other_constraint() {
    common::bounded("full_dfa_changes_no_other_constraint", || {
        let env = common::tokenizer("gpt2");
        let vocab = env.vocab().clone();
        let bench = Bench {
            eos: vocab.eos_tokens()[0],
            env: env.clone(),
            schema_options: SchemaOptions {
                whitespace: Whitespace::Flexible,
                property_order: PropertyOrder::Any,
                spelling: Spelling::Any,
                ..SchemaOptions::default()
            },
            budget: Budget::new(),
        };
        let mut all = cases("regex.jsonl", 60);
        all.extend(cases("jsb_any.jsonl", 38));
        let own = |id: &str, pattern: &str, valid: &str, invalid: &str| Case {
            id: id.into(),
            kind: "regex".into(),
            grammar: Value::String(pattern.into()),
            valid: vec![valid.into()],
            invalid: vec![invalid.into()],
        };
        all.push(own(
            "unicode words",
            r"(\w+\s?){1,1000}",
            "é中 ñandú 日本語 Ωmega",
            "é中 ñandú!",
        ));
        all.push(own(
            "the filled pattern",
            NESTED,
            "hello world again",
            "hello  world",
        ));
        assert_eq!(all.len(), 100);
        let before: Vec<_> = all.iter().map(|c| answers(&bench, c)).collect();
        // The same language spelled otherwise, so as not to share its table.
        let valid = ["é中 ñandú 日本語 Ωmega ünïcödé".to_string()];
        let invalid = ["é中  ñandú".to_string()];
        let same = regex_matcher(r"(?:|(?:\w+\s?){1,1000})", &env);
        let want = answers_of(&same, &valid, &invalid, bench.eos);
        assert!(want[0].ends_with("accepted") && want[1].ends_with("refused"));
        let sharing = regex_matcher(NESTED, &env);

        let mut m = regex_matcher(NESTED, &env);
        let err = drive(&mut m, &words(500, 1)).unwrap_err();
        match &err {
            MatcherError::LexemeTooLarge { lexeme, limit } => {
                assert_eq!(lexeme, NESTED);
                assert_eq!(*limit, 64 << 20);
            }
            e => panic!("expected LexemeTooLarge, got {e}"),
        }
        assert!(err.to_string().contains("size limit of 64 MiB"), "{err}");
        // The matcher is unchanged, and says so again.
        assert_eq!(m.try_compute_mask().unwrap_err(), err);

        for (case, want) in all.iter().zip(&before) {
            assert_eq!(&answers(&bench, case), want, "{}", case.id);
        }
        assert_eq!(answers_of(&sharing, &valid, &invalid, bench.eos), want);
    });
}

/// JSONSchemaBench `Handwritten/allany19`: a string under `anyOf` of `not`s
/// of patterns, within 10 to 90 characters. Its first completion search
/// used to build the whole intersection DFA (65 s, 3.5 GB). Now a
/// generation-like loop of 30 tokens, searching a completion before each
/// one as the generator does near `max_tokens`, stays within bounds, and its
/// output validates.
#[test]
fn allany19_generation_is_bounded() {
    common::bounded("allany19_generation_is_bounded", || {
        let env = common::tokenizer("smollm2");
        let vocab = env.vocab().clone();
        let path = common::data_dir().join("jsonschemabench/Handwritten-allany19.json");
        let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let schema = &file["schema"];
        let opts = SchemaOptions {
            whitespace: Whitespace::Compact,
            property_order: PropertyOrder::Schema,
            spelling: Spelling::Canonical,
            ..SchemaOptions::default()
        };
        let g = CompiledGrammar::new(&json_schema(schema, &opts).unwrap()).unwrap();
        let mut m = Matcher::new(Arc::new(g), &env);
        let mut rng = common::Rng(19);
        let max_tokens = 30;
        let mut out: Vec<u8> = Vec::new();
        for step in 0..max_tokens {
            let closing = m.try_completion_tokens(240).unwrap().expect("closable");
            if closing.len() + step >= max_tokens {
                for t in closing {
                    out.extend_from_slice(vocab.token_bytes(t));
                    m.commit(t).unwrap();
                }
                break;
            }
            let mask = m.try_compute_mask().unwrap();
            let allowed: Vec<u32> = mask
                .iter()
                .filter(|t| !vocab.eos_tokens().contains(t))
                .collect();
            if allowed.is_empty() {
                break;
            }
            let t = allowed[rng.below(allowed.len())];
            out.extend_from_slice(vocab.token_bytes(t));
            m.commit(t).unwrap();
        }
        if !m.is_accepting() {
            for t in m.try_completion_tokens(240).unwrap().expect("closable") {
                out.extend_from_slice(vocab.token_bytes(t));
                m.commit(t).unwrap();
            }
        }
        assert!(m.is_accepting());
        let value: Value = serde_json::from_slice(&out).unwrap();
        let validator = jsonschema::validator_for(schema).unwrap();
        assert!(validator.is_valid(&value), "{value}");
    });
}

/// allany19 again: each stage has a budget, a small one gives a typed
/// error that names the budget and the knob, and raising the budget from
/// the library makes the same call pass, with the answer an unlimited run
/// gives.
#[test]
fn each_stage_has_a_budget() {
    common::bounded("each_stage_has_a_budget", || {
        let env = common::tokenizer("gpt2");
        let schema: Value = serde_json::from_str(
            r#"{"type": "string", "pattern": "[aA][12].*[zZ]", "minLength": 10,
                "maxLength": 90, "not": {"pattern": "^[\\w]*$"}}"#,
        )
        .unwrap();
        let grammar = json_schema(&schema, &SchemaOptions::default()).unwrap();

        // Compile.
        let err = CompiledGrammar::with_budget(&grammar, Budget::new().compile(50)).unwrap_err();
        assert!(
            matches!(err, GrammarError::BudgetExceeded { budget: 50, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("Budget::compile"), "{err}");
        let g = Arc::new(CompiledGrammar::with_budget(&grammar, Budget::unlimited()).unwrap());
        assert_eq!(g.budget(), Budget::unlimited());

        // Mask: the lexeme named is the intersection of the string with
        // the patterns.
        let mut m = Matcher::new(g.clone(), &env);
        m.commit_bytes(b"\"").unwrap();
        m.set_budget(Budget::new().mask(1_000));
        match m.try_compute_mask() {
            Err(MatcherError::BudgetExceeded {
                stage: Stage::Mask,
                lexeme: Some(l),
                budget: 1_000,
            }) => assert!(l.starts_with("all of"), "{l}"),
            r => panic!("expected a mask budget error, got {r:?}"),
        }
        let err = m.try_compute_mask().unwrap_err();
        assert!(err.to_string().contains("Budget::mask"), "{err}");
        assert!(m.compute_mask().is_empty());
        assert_eq!(m.last_error(), Some(&err));
        m.set_budget(Budget::new());
        let mask = m.try_compute_mask().unwrap();
        assert!(m.last_work() > 1_000);
        assert_eq!(m.last_error(), None);
        // The same as a fresh matcher's with no budget at all.
        let mut free = Matcher::new(g.clone(), &env);
        free.commit_bytes(b"\"").unwrap();
        assert_eq!(free.try_compute_mask().unwrap(), mask);

        // Completion.
        let mut m = Matcher::new(g.clone(), &env);
        m.commit_bytes(b"\"a").unwrap();
        m.set_budget(Budget::new().completion(20));
        match m.try_shortest_completion(200) {
            Err(MatcherError::BudgetExceeded {
                stage: Stage::Completion,
                budget: 20,
                ..
            }) => {}
            r => panic!("expected a completion budget error, got {r:?}"),
        }
        assert_eq!(m.shortest_completion(200), None);
        m.set_budget(Budget::new());
        let completion = m.try_shortest_completion(200).unwrap().expect("found");
        free.commit_bytes(b"a").unwrap();
        assert_eq!(free.try_shortest_completion(200).unwrap(), Some(completion));
    });
}

/// Preparing a grammar walks its costly lexemes (intersections, large
/// patterns) from their starts under the mask budget: one that needs more
/// is reported before any generation, and the masks then find the states
/// built.
#[test]
fn prepare_reports_budget_trouble() {
    common::bounded("prepare_reports_budget_trouble", || {
        let env = common::tokenizer("gpt2");
        // A bounded integer is an intersection of exact number regexes.
        let schema: Value = serde_json::from_str(
            r#"{"type": "object", "properties": {"day": {"type": "integer",
                "minimum": 1, "maximum": 31}}, "required": ["day"]}"#,
        )
        .unwrap();
        let grammar = json_schema(&schema, &SchemaOptions::default()).unwrap();

        // A fresh DFA cache each time, so that nothing is built already.
        let compile = |mask: u64| {
            Arc::new(
                CompiledGrammar::builder()
                    .budget(Budget::new().mask(mask))
                    .cache(&formwork::DfaCache::default())
                    .build(&grammar)
                    .unwrap(),
            )
        };
        let tight = compile(200);
        let _ = Matcher::prepare(tight.clone(), &env);
        let warnings = env.budget_warnings(&tight);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("Budget::mask"), "{}", warnings[0]);
        assert!(warnings[0].contains("[eE]"), "{}", warnings[0]);

        let roomy = compile(Budget::DEFAULT_MASK);
        let template = Matcher::prepare(roomy.clone(), &env);
        assert!(env.budget_warnings(&roomy).is_empty());
        // Not prepared in this environment: nothing is known.
        assert!(common::gpt2_padded().budget_warnings(&roomy).is_empty());
        // The digits after the key were built when preparing.
        let mut m = template.deep_clone();
        m.commit_bytes(br#"{"day":"#).unwrap();
        let mask = m.try_compute_mask().unwrap();
        assert!(mask.contains(env.vocab().encode("31").unwrap()[0]));
        assert!(!mask.contains(env.vocab().encode("x").unwrap()[0]));
        assert!(m.last_work() < 20_000, "{}", m.last_work());
    });
}

/// The fuzzer reports a matcher limit as the matcher's own typed error
/// (not as "no complete output"), and the grammar's default budgets let
/// the same sample through.
#[test]
fn fuzzing_reports_the_matchers_budget() {
    use formwork::fuzzer::{FuzzError, Fuzzer};
    let schema: Value = serde_json::from_str(
        r#"{"type": "string", "pattern": "[aA][12].*[zZ]", "minLength": 10,
            "maxLength": 90, "not": {"pattern": "^[\\w]*$"}}"#,
    )
    .unwrap();
    let grammar = json_schema(&schema, &SchemaOptions::default()).unwrap();
    let tight =
        Arc::new(CompiledGrammar::with_budget(&grammar, Budget::new().mask(1_000)).unwrap());
    match Fuzzer::new(tight, 1, 60).sample() {
        Err(FuzzError::Matcher(MatcherError::BudgetExceeded {
            stage: Stage::Mask,
            budget: 1_000,
            ..
        })) => {}
        r => panic!("expected the mask budget error, got {r:?}"),
    }
    let g = Arc::new(CompiledGrammar::new(&grammar).unwrap());
    let text = Fuzzer::new(g, 1, 60).sample().unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&value), "{text}");
}

/// The CLI: a budget too small for the constraint is an error that names
/// the budget and the flag that raises it; the default budget passes.
#[test]
fn cli_budget_flags() {
    let gpt2 = common::data_dir().join("tokenizers/gpt2/tokenizer.json.gz");
    let schema = r#"{"type": "string", "pattern": "[aA][12].*[zZ]", "minLength": 10,
                     "maxLength": 90, "not": {"pattern": "^[\\w]*$"}}"#;
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "mask",
            "--tokenizer",
            gpt2.to_str().unwrap(),
            "--schema",
            schema,
            "--text",
            r#""xa1 yz abcZ!""#,
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        common::run_cli_bounded(&a, b"")
    };
    let out = run(args(&["--mask-budget", "1000"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("mask work budget of 1000 units"), "{err}");
    assert!(err.contains("--mask-budget"), "{err}");
    let out = run(args(&["--compile-budget", "10"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("compile budget of 10 work units"), "{err}");
    assert!(err.contains("--compile-budget"), "{err}");
    let out = run(args(&[]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
