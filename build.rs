//! Tells the tests whether the shared tokenizers are there.
//!
//! Some tests need tokenizers whose licences forbid vendoring them (Llama-2,
//! Llama-3, Gemma-3) or that are too large to vendor (Qwen3). They read them
//! from the shared models directory: `$FORMWORK_MODELS`, else
//! `../shared/models` next to the crate. When that directory exists this
//! script sets `cfg(formwork_shared)`; the tests that need it carry
//! `#[cfg_attr(not(formwork_shared), ignore = "needs ...")]`, so on a clone
//! without it they are reported as ignored, with the reason, never as passed.
//! The library itself never looks at this cfg.
//!
//! Rebuilds: Cargo re-runs this script when `FORMWORK_MODELS` changes, and,
//! when the directory was found, when anything in it changes or it goes away
//! (Cargo scans a directory given to `rerun-if-changed` recursively; the
//! models directory holds a few dozen files). When it was not found, nothing
//! is watched: Cargo treats a missing `rerun-if-changed` path as changed on
//! every build, which would rebuild the crate and every test each time. So a
//! models directory added after the first build is seen after
//! `touch build.rs` (or by setting `FORMWORK_MODELS`).

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(formwork_shared)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=FORMWORK_MODELS");
    let dir = match std::env::var_os("FORMWORK_MODELS") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../shared/models")
        }
    };
    if dir.is_dir() {
        println!("cargo::rustc-cfg=formwork_shared");
        println!("cargo::rerun-if-changed={}", dir.display());
    }
}
