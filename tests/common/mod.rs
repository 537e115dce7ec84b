//! The integration tests' one support module: locating tokenizers and
//! data, loading tokenizers as [`TokenEnv`]s, matchers over them, the seeded
//! [`Rng`] (the crate's own, `src/rng.rs`), and running the CLI under limits.
//!
//! Three tokenizers are vendored under `tests/data/tokenizers` (GPT-2,
//! Mistral, SmolLM2; see `tests/data/README.md`) and are always there. The
//! others (Llama-2, Llama-3, Qwen3, Gemma-3) come from the shared models
//! directory, which `build.rs` looks for: a test that needs one carries
//! `#[cfg_attr(not(formwork_shared), ignore = "needs ../shared/models ...")]`
//! so that without it the test is reported as ignored, not passed.
#![allow(dead_code)]

pub mod spider;
#[cfg(feature = "model")]
pub mod tiny_model;

#[path = "../../src/rng.rs"]
mod rng;
pub use rng::Rng;

use formwork::grammar::Grammar;
use formwork::{Matcher, TokenEnv, Vocabulary};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// `tests/data` inside the crate.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The shared models directory (`FORMWORK_MODELS` or `../shared/models`), if
/// it exists.
pub fn models_dir() -> Option<PathBuf> {
    let p = std::env::var_os("FORMWORK_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/models"));
    p.is_dir().then_some(p)
}

/// The shared models directory; panics, saying what to do, if it is missing
/// (a test that calls this must be ignored without `cfg(formwork_shared)`).
pub fn shared_models_dir() -> PathBuf {
    models_dir().unwrap_or_else(|| {
        panic!(
            "this test needs the shared models directory: put it at ../shared/models next to \
             the crate or point FORMWORK_MODELS at it, then `touch build.rs` so the build sees it"
        )
    })
}

/// The file of a tokenizer by short name: the vendored copy for `gpt2`,
/// `mistral` and `smollm2`, else the shared models directory (see
/// [`shared_models_dir`]).
pub fn tokenizer_path(name: &str) -> PathBuf {
    let vendored = |rel: &str| data_dir().join("tokenizers").join(rel);
    match name {
        "gpt2" => vendored("gpt2/tokenizer.json.gz"),
        "mistral" => vendored("mistral-7b-v0.1/tokenizer.json.gz"),
        "smollm2" => vendored("smollm2-135m-instruct/tokenizer.json.gz"),
        "llama3" => shared_models_dir().join("llama3/tokenizer.json.gz"),
        "llama2" => shared_models_dir().join("llama2/tokenizer.json"),
        "qwen3" => shared_models_dir().join("qwen3/tokenizer.json.gz"),
        "gemma3" => shared_models_dir().join("gemma3/tokenizer.json.gz"),
        other => panic!("unknown tokenizer {other}"),
    }
}

/// Loads a tokenizer by short name (see [`tokenizer_path`]), with its trie.
pub fn tokenizer(name: &str) -> Arc<TokenEnv> {
    let path = tokenizer_path(name);
    let v = Vocabulary::from_file(&path).unwrap_or_else(|e| panic!("load {}: {e}", path.display()));
    Arc::new(TokenEnv::new(v))
}

/// The vendored GPT-2 tokenizer (EOS 50,256), loaded once per test binary.
pub fn gpt2() -> Arc<TokenEnv> {
    static ENV: OnceLock<Arc<TokenEnv>> = OnceLock::new();
    ENV.get_or_init(|| {
        let env = tokenizer("gpt2");
        assert_eq!(env.vocab().eos_tokens(), &[50_256]);
        env
    })
    .clone()
}

/// The vendored GPT-2 tokenizer with its logits padded to 50,300 (ids
/// 50,257 to 50,299 are padding), loaded once per test binary.
pub fn gpt2_padded() -> Arc<TokenEnv> {
    static ENV: OnceLock<Arc<TokenEnv>> = OnceLock::new();
    ENV.get_or_init(|| {
        let v = Vocabulary::from_file(tokenizer_path("gpt2"))
            .unwrap()
            .with_logits_width(50_300)
            .unwrap();
        Arc::new(TokenEnv::new(v))
    })
    .clone()
}

/// A matcher at the start of `g`, compiled with `env`'s DFA cache.
pub fn matcher_in(env: &Arc<TokenEnv>, g: &Grammar) -> Matcher {
    Matcher::new(env.compile(g).unwrap(), env)
}

/// A matcher at the start of `g` over [`gpt2`].
pub fn matcher(g: &Grammar) -> Matcher {
    matcher_in(&gpt2(), g)
}

/// `n` seeded random bytes.
pub fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = Rng(seed);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

/// Address-space limit for [`bounded`] and [`run_cli_bounded`]: 2 GiB.
pub const BOUND_BYTES: u64 = 2 << 30;
/// Wall-clock deadline for [`bounded`] and [`run_cli_bounded`]. This is a hang
/// detector, not a speed assertion: a run that needs the budget at all is
/// meant to stop within a fraction of it.
pub const BOUND_SECONDS: u64 = 10;

/// Runs `cmd` under `ulimit -v` of [`BOUND_BYTES`], feeding it `stdin`, and
/// kills it after [`BOUND_SECONDS`]. Panics (naming `what`) if it was killed
/// for time; a run that outgrew the memory limit fails to allocate and shows
/// up as an abort in the returned status.
pub fn run_bounded(
    what: &str,
    cmd: &mut std::process::Command,
    stdin: &[u8],
) -> std::process::Output {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    // `ulimit -v` is in KiB; `exec` keeps the pid, so a kill reaches the program.
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg(format!(
            "ulimit -v {} && exec \"$0\" \"$@\"",
            BOUND_BYTES / 1024
        ))
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        sh.current_dir(d);
    }
    let mut child = sh
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(BOUND_SECONDS) {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err_reader.join().unwrap_or_default();
            panic!(
                "{what}: still running after {BOUND_SECONDS} s; stderr: {}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    std::process::Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// Runs the `formwork` binary with `args` under [`run_bounded`].
pub fn run_cli_bounded(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_formwork"));
    cmd.args(args);
    run_bounded(&format!("formwork {}", args.join(" ")), &mut cmd, stdin)
}

/// Runs `body` in a child process of this test binary under the bounds of
/// [`run_bounded`], so a library call that hangs or allocates without limit
/// fails the test instead of the machine. `test` is the test's full name as
/// the harness prints it (`module::name` inside a module). In the child
/// (`FORMWORK_BOUNDED_CHILD` set) `body` runs directly.
pub fn bounded(test: &str, body: impl FnOnce()) {
    if std::env::var_os("FORMWORK_BOUNDED_CHILD").is_some() {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("FORMWORK_BOUNDED_CHILD", "1");
    let out = run_bounded(test, &mut cmd, b"");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} failed in its bounded child ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
