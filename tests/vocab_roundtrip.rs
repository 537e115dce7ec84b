//! Round-trip test of the token byte tables: for real tokenizers, encoding real
//! text must give tokens whose bytes concatenate to exactly the text's bytes.
//!
//! The text samples are vendored in `tests/data/text_samples.jsonl` (see
//! `tests/data/README.md`), and so are the GPT-2, Mistral and SmolLM2
//! tokenizers (gzip-compressed in `tests/data/tokenizers/`). The Llama-2,
//! Llama-3, Qwen3 and Gemma-3 tokenizers are read from `$FORMWORK_MODELS`, or
//! `../shared/models` next to the crate: the tests that need them are ignored
//! (with the reason) when `build.rs` did not find that directory.
//!
//! Run with `cargo test --test vocab_roundtrip -- --nocapture` to see the
//! per-tokenizer counts.

mod common;

use formwork::{TokenId, VocabError, Vocabulary};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

const SAMPLES: &str = include_str!("data/text_samples.jsonl");
const MIN_SAMPLES: usize = 1_000;

// ------------------------------------------------------------------ fixtures

/// The tokenizers: (short name for `common::tokenizer_path`, vocabulary size).
const MODELS: [(&str, usize); 7] = [
    ("gpt2", 50_257),
    ("mistral", 32_000),
    ("smollm2", 49_152),
    ("llama2", 32_000),
    ("llama3", 128_256),
    ("qwen3", 151_669),
    ("gemma3", 262_145),
];

/// The vendored ones (always present).
const VENDORED: [&str; 3] = ["gpt2", "mistral", "smollm2"];

fn samples() -> &'static [String] {
    static CELL: OnceLock<Vec<String>> = OnceLock::new();
    CELL.get_or_init(|| {
        SAMPLES
            .lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str::<String>(line)
                    .unwrap_or_else(|e| panic!("text_samples.jsonl line {}: {e}", i + 1))
            })
            .collect()
    })
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads a tokenizer once per test process (vendored, or from the shared
/// models directory: see `common::tokenizer_path`).
fn load(name: &str) -> Arc<Vocabulary> {
    static CELLS: [OnceLock<Arc<Vocabulary>>; 7] = [const { OnceLock::new() }; 7];
    let i = MODELS
        .iter()
        .position(|m| m.0 == name)
        .unwrap_or_else(|| panic!("unknown model {name}"));
    CELLS[i]
        .get_or_init(|| {
            let path = common::tokenizer_path(name);
            let t = std::time::Instant::now();
            let v = Vocabulary::from_file(&path)
                .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
            println!("{name}: loaded {} in {:.1?}", path.display(), t.elapsed());
            Arc::new(v)
        })
        .clone()
}

fn vendored_gpt2_path() -> PathBuf {
    common::tokenizer_path("gpt2")
}

fn id(vocab: &Vocabulary, name: &str) -> TokenId {
    vocab
        .token_id(name)
        .unwrap_or_else(|| panic!("token {name:?} not in the vocabulary"))
}

/// A fresh directory under cargo's scratch space for integration tests.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vocab_roundtrip-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

// ------------------------------------------------------------------ the round trip

/// Encodes every sample and checks that the tokens' bytes are the text's bytes
/// (and that `encode` agrees with the Hugging Face tokenizer's own `encode`).
fn roundtrip(name: &str, vocab: &Vocabulary) {
    let samples = samples();
    assert!(
        samples.len() >= MIN_SAMPLES,
        "only {} samples",
        samples.len()
    );
    let mut tokens = 0usize;
    let mut bytes = 0usize;
    let mut failures: Vec<String> = Vec::new();
    let mut hf_differences = 0usize;
    for (i, text) in samples.iter().enumerate() {
        let ids = match vocab.encode(text) {
            Ok(ids) => ids,
            Err(e) => {
                failures.push(format!("sample {}: {text:?}: encode failed: {e}", i + 1));
                continue;
            }
        };
        tokens += ids.len();
        bytes += text.len();
        if vocab.decode_bytes(&ids) != text.as_bytes() {
            let split: Vec<String> = ids
                .iter()
                .map(|&t| {
                    format!(
                        "{t}:{:?}={:?}",
                        vocab.token_name(t),
                        String::from_utf8_lossy(vocab.token_bytes(t))
                    )
                })
                .collect();
            failures.push(format!(
                "sample {}: {text:?}\n    decoded {:?}\n    tokens [{}]",
                i + 1,
                String::from_utf8_lossy(&vocab.decode_bytes(&ids)),
                split.join(", ")
            ));
        }
        // Without special-token names or a literal `▁` in the text, `encode`
        // must be exactly the tokenizer's own encoding.
        let hf = vocab.tokenizer().encode(text.as_str(), false).unwrap();
        if hf.get_ids() != ids.as_slice() {
            hf_differences += 1;
        }
    }
    println!(
        "{name}: {} samples ({bytes} bytes), {tokens} tokens checked, {} failures, \
         {hf_differences} differences from the HF encoding",
        samples.len(),
        failures.len()
    );
    if !failures.is_empty() {
        for f in failures.iter().take(5) {
            eprintln!("{name}: {f}");
        }
        panic!(
            "{name}: {} of {} samples do not round-trip",
            failures.len(),
            samples.len()
        );
    }
    assert_eq!(
        hf_differences, 0,
        "{name}: encode differs from the HF encoding"
    );
}

/// The byte-table invariants, then the round trip.
fn roundtrip_tokenizer(name: &str) {
    let vocab = load(name);
    let expected_len = MODELS.iter().find(|m| m.0 == name).unwrap().1;
    assert_eq!(vocab.len(), expected_len, "{name}: vocabulary size");
    assert_eq!(vocab.logits_width(), vocab.len());
    assert!(!vocab.eos_tokens().is_empty());
    // Special tokens and holes have no bytes; every other token has some.
    for t in 0..vocab.len() as TokenId {
        assert_eq!(
            vocab.is_special(t),
            vocab.token_bytes(t).is_empty(),
            "{name}: token {t} ({:?})",
            vocab.token_name(t)
        );
    }
    roundtrip(name, &vocab);
}

#[test]
fn roundtrip_gpt2() {
    roundtrip_tokenizer("gpt2");
}

#[test]
fn roundtrip_mistral() {
    roundtrip_tokenizer("mistral");
}

#[test]
fn roundtrip_smollm2() {
    roundtrip_tokenizer("smollm2");
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-2 tokenizer from ../shared/models (not vendored: Llama 2 licence)"
)]
fn roundtrip_llama2() {
    roundtrip_tokenizer("llama2");
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-3 tokenizer from ../shared/models (not vendored: Llama 3 licence)"
)]
fn roundtrip_llama3() {
    roundtrip_tokenizer("llama3");
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Qwen3 tokenizer from ../shared/models (not vendored: 2 MB compressed)"
)]
fn roundtrip_qwen3() {
    roundtrip_tokenizer("qwen3");
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Gemma-3 tokenizer from ../shared/models (not vendored: Gemma terms)"
)]
fn roundtrip_gemma3() {
    roundtrip_tokenizer("gemma3");
}

/// The tests were built knowing whether the shared models directory is
/// there: otherwise the tests that need it would be ignored although it is
/// there (or fail although it is not).
#[test]
fn the_build_saw_the_shared_models_directory() {
    let present = common::models_dir().is_some();
    assert!(
        present == cfg!(formwork_shared),
        "the shared models directory is {} now but was {} when the tests were built: \
         `touch build.rs` and run the tests again",
        if present { "present" } else { "missing" },
        if present { "missing" } else { "present" },
    );
}

/// The vendored tokenizers are the shared files, gzip-compressed.
#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "compares the vendored tokenizers with ../shared/models, which was not found"
)]
fn vendored_tokenizers_are_the_shared_files() {
    use std::io::Read;
    let dir = common::shared_models_dir();
    for (name, shared) in [
        ("gpt2", "gpt2/tokenizer.json"),
        ("mistral", "mistral-7b-v0.1/tokenizer.json"),
        ("smollm2", "smollm2-135m-instruct/tokenizer.json"),
    ] {
        let mut vendored = Vec::new();
        let file = std::fs::File::open(common::tokenizer_path(name)).unwrap();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut vendored)
            .unwrap();
        let shared = std::fs::read(dir.join(shared)).unwrap();
        assert!(vendored == shared, "{name}: the vendored copy differs");
    }
}

#[test]
fn samples_cover_what_they_should() {
    let s = samples();
    assert!(s.len() >= 1_200, "{} samples", s.len());
    assert!(SAMPLES.len() <= 600_000, "{} bytes", SAMPLES.len());
    let has = |f: &dyn Fn(&str) -> bool| s.iter().any(|t| f(t));
    assert!(
        has(&|t| t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))),
        "CJK"
    );
    assert!(
        has(&|t| t.chars().any(|c| ('\u{0400}'..='\u{04ff}').contains(&c))),
        "Cyrillic"
    );
    assert!(
        has(&|t| t.chars().any(|c| c as u32 >= 0x1f300)),
        "emoji / astral"
    );
    assert!(
        has(&|t| t.chars().any(|c| ('\u{0300}'..='\u{036f}').contains(&c))),
        "combining"
    );
    assert!(has(&|t| t.contains("e\u{301}")), "NFD text");
    assert!(
        has(&|t| t.contains("\t")) && has(&|t| t.contains("\r\n")),
        "tabs, CRLF"
    );
    assert!(has(&|t| t.contains("        ")), "whitespace runs");
    assert!(has(&|t| t.starts_with("SELECT ")), "SQL");
}

// ------------------------------------------------------------------ spellings

#[test]
fn gpt2_byte_level() {
    {
        let v = load("gpt2");
        assert_eq!(v.len(), 50_257);
        assert_eq!(v.encode("Hello world").unwrap(), vec![15496, 995]);
        assert_eq!(v.token_name(995), "Ġworld");
        assert_eq!(v.token_bytes(995), b" world");
        assert_eq!(v.token_bytes(id(&v, "Ġ")), b" ");
        assert_eq!(v.token_bytes(id(&v, "Ċ")), b"\n");
        assert_eq!(v.token_bytes(id(&v, "ĊĊ")), b"\n\n");
        // a lone byte of a multi-byte character
        assert_eq!(v.token_bytes(id(&v, "Ã")), &[0xc3]);
        let eot = id(&v, "<|endoftext|>");
        assert_eq!(eot, 50256);
        assert!(v.is_special(eot));
        assert!(v.token_bytes(eot).is_empty());
        assert_eq!(v.eos_tokens(), &[eot]);
        assert!(v.is_eos(eot));
        // out of range
        assert!(v.is_special(50_257));
        assert!(v.token_bytes(1_000_000).is_empty());
        assert_eq!(v.token_name(1_000_000), "");
    }
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-3 tokenizer from ../shared/models (not vendored: Llama 3 licence)"
)]
fn llama3_byte_level_and_eos() {
    let v = load("llama3");
    assert_eq!(v.encode("Hello world").unwrap(), vec![9906, 1917]);
    assert_eq!(v.token_bytes(1917), b" world");
    let end = id(&v, "<|end_of_text|>");
    let eot = id(&v, "<|eot_id|>");
    assert!(v.eos_tokens().contains(&end));
    assert!(v.eos_tokens().contains(&eot));
    assert!(v.is_special(end) && v.is_special(eot));
    assert!(v.is_special(id(&v, "<|begin_of_text|>")));
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-2 tokenizer from ../shared/models (not vendored: Llama 2 licence)"
)]
fn llama2_byte_fallback_and_no_prepended_space() {
    let v = load("llama2");
    assert_eq!(id(&v, "<0x0A>"), 13);
    assert_eq!(v.token_bytes(13), b"\n");
    assert_eq!(v.token_bytes(id(&v, "<0xFF>")), &[0xff]);
    assert_eq!(v.token_bytes(id(&v, "▁")), b" ");
    assert_eq!(v.token_bytes(id(&v, "▁Hello")), b" Hello");
    // No "▁" is prepended: text is a continuation, not a sentence start.
    assert_eq!(v.encode(" Hello world").unwrap(), vec![15043, 3186]);
    let ids = v.encode("Hello world").unwrap();
    assert_eq!(v.decode_bytes(&ids), b"Hello world");
    assert_ne!(ids[0], 15043);
    // A newline has no piece of its own: byte fallback.
    assert!(v.encode("a\nb").unwrap().contains(&13));
    // The EOS comes from the candidates and tokenizer_config.json.
    assert_eq!(v.eos_tokens(), &[id(&v, "</s>")]);
    assert!(v.is_special(id(&v, "<s>")) && v.is_special(id(&v, "<unk>")));
}

/// A literal `▁` in the text is text, not a space.
fn literal_space_marker(name: &str) {
    let v = load(name);
    for text in ["a▁b", "▁", "▁▁x ▁ y", "<0x0A> ▁"] {
        let ids = v.encode(text).unwrap();
        assert_eq!(v.decode_bytes(&ids), text.as_bytes(), "{name}: {text:?}");
    }
}

/// Mistral is a SentencePiece BPE like Llama-2: `▁` for a space, byte
/// fallback, and `encode` prepends nothing.
#[test]
fn mistral_byte_fallback_and_no_prepended_space() {
    let v = load("mistral");
    assert_eq!(id(&v, "<0x0A>"), 13);
    assert_eq!(v.token_bytes(13), b"\n");
    assert_eq!(v.token_bytes(id(&v, "<0xFF>")), &[0xff]);
    assert_eq!(id(&v, "▁"), 28705);
    assert_eq!(v.token_bytes(28705), b" ");
    assert_eq!(v.token_bytes(id(&v, "▁Hello")), b" Hello");
    assert_eq!(v.encode(" Hello world").unwrap(), vec![22557, 1526]);
    let ids = v.encode("Hello world").unwrap();
    assert_eq!(v.decode_bytes(&ids), b"Hello world");
    assert_ne!(ids[0], 22557);
    assert!(v.encode("a\nb").unwrap().contains(&13));
    assert_eq!(v.eos_tokens(), &[id(&v, "</s>")]);
    assert!(v.is_special(id(&v, "<s>")) && v.is_special(id(&v, "<unk>")));
}

#[test]
fn sentencepiece_literal_space_marker() {
    literal_space_marker("mistral");
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-2 and Gemma-3 tokenizers from ../shared/models (not vendored: their licences)"
)]
fn sentencepiece_literal_space_marker_llama2_gemma3() {
    literal_space_marker("llama2");
    literal_space_marker("gemma3");
}

#[test]
fn special_token_names_are_plain_text() {
    let gpt2 = load("gpt2");
    let text = "a<|endoftext|>b";
    let ids = gpt2.encode(text).unwrap();
    assert_eq!(gpt2.decode_bytes(&ids), text.as_bytes());
    assert!(ids.iter().all(|&t| !gpt2.is_special(t)));
    // The HF tokenizer itself still knows the special token.
    assert_eq!(
        gpt2.tokenizer()
            .encode("<|endoftext|>", false)
            .unwrap()
            .get_ids(),
        &[50256]
    );

    special_names_are_text("smollm2", &["<|im_start|>user\nhi<|im_end|>"]);
    special_names_are_text("mistral", &["</s>", "<s>[INST]", "<unk>"]);
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Qwen3, Llama-2, Gemma-3 and Llama-3 tokenizers from ../shared/models (not vendored)"
)]
fn special_token_names_are_plain_text_shared() {
    special_names_are_text("qwen3", &["<|im_end|>", "<|endoftext|>x"]);
    special_names_are_text("llama2", &["</s>", "<s>[INST]", "<unk>"]);
    special_names_are_text("gemma3", &["<eos><end_of_turn>", "<start_of_image>"]);
    special_names_are_text("llama3", &["<|eot_id|><|begin_of_text|>"]);
}

/// Special-token names written in the text encode as plain text.
fn special_names_are_text(name: &str, texts: &[&str]) {
    let v = load(name);
    for text in texts {
        let ids = v.encode(text).unwrap();
        assert_eq!(v.decode_bytes(&ids), text.as_bytes(), "{name}: {text:?}");
        assert!(ids.iter().all(|&t| !v.is_special(t)), "{name}: {text:?}");
    }
}

#[test]
fn eos_sets() {
    let smol = load("smollm2");
    let eos = smol.eos_tokens();
    assert!(eos.contains(&id(&smol, "<|endoftext|>")));
    assert!(eos.contains(&id(&smol, "<|im_end|>")));
    assert_eq!(
        (id(&smol, "<|endoftext|>"), id(&smol, "<|im_end|>")),
        (0, 2)
    );

    let mistral = load("mistral");
    assert_eq!(mistral.eos_tokens(), &[2]);
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Qwen3 and Gemma-3 tokenizers from ../shared/models (not vendored)"
)]
fn eos_sets_qwen3_gemma3() {
    let qwen = load("qwen3");
    let mut eos = qwen.eos_tokens().to_vec();
    eos.sort_unstable();
    // Qwen's model vocabulary has a plain "</s>" token (bytes "</s>"): not an EOS.
    assert_eq!(
        eos,
        vec![id(&qwen, "<|endoftext|>"), id(&qwen, "<|im_end|>")]
    );
    assert!(!qwen.is_special(id(&qwen, "</s>")));

    let gemma = load("gemma3");
    let mut eos = gemma.eos_tokens().to_vec();
    eos.sort_unstable();
    // Gemma has a non-special added "</s>" (an HTML tag): not an EOS.
    assert_eq!(eos, vec![id(&gemma, "<eos>"), id(&gemma, "<end_of_turn>")]);
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Qwen3 tokenizer from ../shared/models (not vendored: 2 MB compressed)"
)]
fn qwen3_padded_logits() {
    let v = load("qwen3");
    assert_eq!(v.len(), 151_669);
    assert_eq!(v.encode("Hello world").unwrap(), vec![9707, 1879]);
    // Non-special added tokens produce their text.
    let tool = id(&v, "<tool_call>");
    assert_eq!(tool, 151_657);
    assert!(!v.is_special(tool));
    assert_eq!(v.token_bytes(tool), b"<tool_call>");
    assert_eq!(v.encode("<tool_call>").unwrap(), vec![tool]);

    let v = Vocabulary::from_file(common::tokenizer_path("qwen3"))
        .unwrap()
        .with_logits_width(151_936)
        .unwrap();
    assert_eq!(v.logits_width(), 151_936);
    assert_eq!(v.len(), 151_669);
    for t in 151_669..151_936 {
        assert!(v.token_bytes(t).is_empty(), "{t}");
        assert!(v.is_special(t), "{t}");
    }
    match v.with_logits_width(151_000) {
        Err(VocabError::LogitsTooNarrow { width, vocab }) => {
            assert_eq!((width, vocab), (151_000, 151_669))
        }
        other => panic!("expected LogitsTooNarrow, got {other:?}"),
    }
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Gemma-3 tokenizer from ../shared/models (not vendored: Gemma terms)"
)]
fn gemma3_added_tokens() {
    let v = load("gemma3");
    assert_eq!(v.len(), 262_145);
    // Whitespace runs are added tokens spelled with "▁": they are spaces.
    assert_eq!(v.token_name(138), "▁▁");
    assert_eq!(v.token_bytes(138), b"  ");
    assert!(!v.is_special(138));
    assert_eq!(v.token_bytes(id(&v, "\n\n")), b"\n\n");
    assert_eq!(v.token_bytes(id(&v, "\t\t")), b"\t\t");
    assert_eq!(v.token_bytes(id(&v, "<unused0>")), b"<unused0>");
    assert!(v.is_special(262_144)); // <image_soft_token>
    assert_eq!(v.token_name(262_144), "<image_soft_token>");
    assert_eq!(v.token_bytes(id(&v, "<0x0A>")), b"\n");
    let ids = v.encode("a    b").unwrap();
    assert_eq!(v.decode_bytes(&ids), b"a    b");
}

// ------------------------------------------------------------------ errors

fn expect_corrupt(result: Result<Vocabulary, VocabError>, what: &str) {
    match result {
        Err(VocabError::Corrupt { .. }) => {}
        other => panic!("{what}: expected Corrupt, got {other:?}"),
    }
}

#[test]
fn corrupt_tokenizers() {
    // deterministic pseudo-random bytes
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    for n in [0, 1, 2, 100, 10_000] {
        expect_corrupt(
            Vocabulary::from_json_bytes(&random(n), "random"),
            "random bytes",
        );
    }
    let mut fake_gzip = vec![0x1f, 0x8b];
    fake_gzip.extend(random(1_000));
    expect_corrupt(
        Vocabulary::from_json_bytes(&fake_gzip, "fake gzip"),
        "fake gzip",
    );

    let json = {
        use std::io::Read;
        let mut s = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(vendored_gpt2_path()).unwrap())
            .read_to_end(&mut s)
            .unwrap();
        s
    };
    for cut in [1, 1_000, json.len() / 2, json.len() - 2] {
        expect_corrupt(
            Vocabulary::from_json_bytes(&json[..cut], "truncated"),
            "truncated JSON",
        );
    }
    let gz = gzip(&json);
    expect_corrupt(
        Vocabulary::from_json_bytes(&gz[..gz.len() / 2], "truncated gzip"),
        "truncated gzip",
    );
    for not_a_tokenizer in [
        "{}",
        "[1, 2, 3]",
        "null",
        "\"tokenizer\"",
        r#"{"a": 1}"#,
        r#"{"model": 5}"#,
        r#"{"model": {"type": "Nope"}, "added_tokens": []}"#,
        r#"{"version": "1.0", "added_tokens": "x", "model": {"type": "BPE", "vocab": {}, "merges": []}}"#,
        r#"{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "zz"]]}}"#,
    ] {
        expect_corrupt(
            Vocabulary::from_json_bytes(not_a_tokenizer.as_bytes(), "not a tokenizer"),
            not_a_tokenizer,
        );
    }

    // through a file, too
    let dir = scratch_dir("corrupt");
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, &json[..5_000]).unwrap();
    expect_corrupt(Vocabulary::from_file(&path), "truncated file");
}

#[test]
fn missing_file_is_io() {
    let path = manifest_dir().join("tests/data/no-such-dir/tokenizer.json");
    match Vocabulary::from_file(&path) {
        Err(VocabError::Io { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected Io, got {other:?}"),
    }
}

/// A tiny WordLevel tokenizer with the given added tokens.
fn tiny_tokenizer(added: &str) -> String {
    format!(
        r#"{{"version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [{added}],
            "normalizer": null, "pre_tokenizer": {{"type": "Whitespace"}},
            "post_processor": null, "decoder": null,
            "model": {{"type": "WordLevel", "vocab": {{"a": 0, "b": 1, "[UNK]": 2}},
                       "unk_token": "[UNK]"}}}}"#
    )
}

#[test]
fn eos_errors_and_overrides() {
    let tiny = tiny_tokenizer("");
    match Vocabulary::from_json_bytes(tiny.as_bytes(), "tiny") {
        Err(VocabError::NoEos { tried }) => assert!(tried.contains("<|endoftext|>")),
        other => panic!("expected NoEos, got {other:?}"),
    }
    // An explicit EOS makes it loadable: by name or by decimal id.
    let v = Vocabulary::from_json_bytes_with_eos(tiny.as_bytes(), "tiny", &["b"]).unwrap();
    assert_eq!(v.eos_tokens(), &[1]);
    assert_eq!(v.len(), 3);
    assert_eq!(v.token_bytes(0), b"a");
    let v = v.with_eos(&["2", "a", "2"]).unwrap();
    assert_eq!(v.eos_tokens(), &[2, 0]);
    match v.with_eos(&["<nope>"]) {
        Err(VocabError::UnknownEos(name)) => assert_eq!(name, "<nope>"),
        other => panic!("expected UnknownEos, got {other:?}"),
    }
    let v = Vocabulary::from_json_bytes_with_eos(tiny.as_bytes(), "tiny", &["a"]).unwrap();
    assert!(matches!(v.with_eos(&["3"]), Err(VocabError::UnknownEos(_))));
    let v = Vocabulary::from_json_bytes_with_eos(tiny.as_bytes(), "tiny", &["a"]).unwrap();
    assert!(matches!(v.with_eos(&[]), Err(VocabError::NoEos { .. })));

    // A special added EOS candidate is found; the added token may take a new id.
    let with_eos = tiny_tokenizer(
        r#"{"id": 3, "content": "</s>", "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true}"#,
    );
    let v = Vocabulary::from_json_bytes(with_eos.as_bytes(), "tiny+eos").unwrap();
    assert_eq!(v.eos_tokens(), &[3]);
    assert!(v.is_special(3));
    assert_eq!(v.len(), 4);

    // GPT-2: unknown names are refused.
    let gpt2 = Vocabulary::from_file(vendored_gpt2_path()).unwrap();
    assert!(matches!(
        gpt2.with_eos(&["<|im_end|>"]),
        Err(VocabError::UnknownEos(_))
    ));
    let gpt2 = Vocabulary::from_file(vendored_gpt2_path()).unwrap();
    // Digits are an id, even though GPT-2 also has a token spelled "198".
    assert_eq!(gpt2.token_id("198"), Some(22337));
    let gpt2 = gpt2.with_eos(&["<|endoftext|>", "198"]).unwrap();
    assert_eq!(gpt2.eos_tokens(), &[50256, 198]);
    assert!(matches!(
        gpt2.with_eos(&["50257"]),
        Err(VocabError::UnknownEos(_))
    ));
}

#[test]
fn empty_vocabulary() {
    let empty = r#"{"version": "1.0", "added_tokens": [], "normalizer": null,
        "pre_tokenizer": null, "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": {}, "unk_token": "[UNK]"}}"#;
    assert!(matches!(
        Vocabulary::from_json_bytes(empty.as_bytes(), "empty"),
        Err(VocabError::Empty)
    ));
}

#[test]
fn gzip_by_magic_and_config_eos() {
    let dir = scratch_dir("config");
    // gzip data under a plain name
    std::fs::copy(vendored_gpt2_path(), dir.join("tokenizer.json")).unwrap();
    let v = Vocabulary::from_file(dir.join("tokenizer.json")).unwrap();
    assert_eq!(v.len(), 50_257);

    // the config's eos_token joins the set (object form, gzip-compressed config)
    let tiny_path = dir.join("tiny.json");
    std::fs::write(&tiny_path, tiny_tokenizer("")).unwrap();
    std::fs::write(
        dir.join("tokenizer_config.json.gz"),
        gzip(br#"{"eos_token": {"content": "b", "special": true}}"#),
    )
    .unwrap();
    let v = Vocabulary::from_file(&tiny_path).unwrap();
    assert_eq!(v.eos_tokens(), &[1]);

    // string form, plain config (preferred over the .gz)
    std::fs::write(dir.join("tokenizer_config.json"), r#"{"eos_token": "a"}"#).unwrap();
    let v = Vocabulary::from_file(&tiny_path).unwrap();
    assert_eq!(v.eos_tokens(), &[0]);
    // ... and next to a real tokenizer it is added to the candidates
    let v = Vocabulary::from_file(dir.join("tokenizer.json")).unwrap();
    assert_eq!(v.eos_tokens(), &[50256, id(&v, "a")]);

    // a broken config is reported
    std::fs::write(dir.join("tokenizer_config.json"), "{not json").unwrap();
    expect_corrupt(Vocabulary::from_file(&tiny_path), "broken config");
}

/// Every default EOS of a real tokenizer is a special token.
fn eos_are_special(name: &str) {
    let v = load(name);
    for &t in v.eos_tokens() {
        assert!(v.is_special(t), "{name}: EOS {t} {:?}", v.token_name(t));
        assert!(Vocabulary::EOS_CANDIDATES.contains(&v.token_name(t).as_str()));
    }
}

#[test]
fn eos_candidates_are_special_in_real_tokenizers() {
    VENDORED.iter().for_each(|name| eos_are_special(name));
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Llama-2, Llama-3, Qwen3 and Gemma-3 tokenizers from ../shared/models (not vendored)"
)]
fn eos_candidates_are_special_in_shared_tokenizers() {
    MODELS
        .iter()
        .filter(|m| !VENDORED.contains(&m.0))
        .for_each(|m| eos_are_special(m.0));
}

// ------------------------------------------------------------------ why the adjustments

/// The tokenizer files as published are not byte-exact: this is what
/// `Vocabulary` adjusts. (If one of these starts passing, an adjustment may no
/// longer be needed.)
#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs the Qwen3 and Llama-2 tokenizers from ../shared/models (not vendored)"
)]
fn unadjusted_tokenizers_are_not_byte_exact() {
    let raw = |name: &str| -> tokenizers::Tokenizer {
        use std::io::Read;
        let bytes = std::fs::read(common::tokenizer_path(name)).unwrap();
        let mut json = Vec::new();
        if bytes.starts_with(&[0x1f, 0x8b]) {
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut json)
                .unwrap();
        } else {
            json = bytes;
        }
        tokenizers::Tokenizer::from_bytes(&json).unwrap()
    };

    // Qwen's NFC normaliser changes NFD text: "café" spelled e + U+0301.
    let (qwen, llama2) = (load("qwen3"), load("llama2"));
    let nfd = "cafe\u{301}";
    let ids = raw("qwen3").encode(nfd, false).unwrap();
    assert_eq!(qwen.decode_bytes(ids.get_ids()), "café".as_bytes());
    assert_eq!(
        qwen.decode_bytes(&qwen.encode(nfd).unwrap()),
        nfd.as_bytes()
    );

    // Llama-2's Prepend normaliser adds a space in front of every text.
    let ids = raw("llama2").encode("Hello", false).unwrap();
    assert_eq!(llama2.decode_bytes(ids.get_ids()), b" Hello");
    assert_eq!(
        llama2.decode_bytes(&llama2.encode("Hello").unwrap()),
        b"Hello"
    );
}
