//! Compiled plugins cached on disk by content, so that starting a pipeline or swapping a
//! version back in does not compile a module twice.
//!
//! Entries are wasmtime's serialized modules, named by the module's SHA-256 and by the
//! engine's compatibility hash (wasmtime's version and settings), in `$SLUICE_CACHE_DIR`,
//! else `$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice`. They are written to a temporary
//! name and renamed. An entry that does not load is compiled again and replaced.
//!
//! Loading a serialized module trusts its bytes: the cache directory must be writable only
//! by the user running sluice, as a user's cache directory is.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use wasmtime::{Engine, Module};

/// The cache directory, if one can be named.
fn directory() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SLUICE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("sluice"))
}

fn entry(engine: &Engine, bytes: &[u8]) -> Option<PathBuf> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let content: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(directory()?.join(format!("{content}-{:016x}.cwasm", hasher.finish())))
}

/// Whether `compile` came from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compiled {
    /// Read from the cache.
    Cached,
    /// Compiled now (and cached if possible).
    Fresh,
}

/// The module of `bytes`, from the cache when it holds it, else compiled and cached.
pub fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<(Module, Compiled)> {
    let path = entry(engine, bytes);
    if let Some(path) = path.as_ref().filter(|p| p.is_file()) {
        // SAFETY: the entry was written by `Module::serialize` for this engine's
        // configuration (its name says so), into the user's own cache directory.
        match unsafe { Module::deserialize_file(engine, path) } {
            Ok(module) => return Ok((module, Compiled::Cached)),
            Err(e) => tracing::debug!(
                "cached module {} does not load ({e}); compiling again",
                path.display()
            ),
        }
    }
    let module = Module::new(engine, bytes)?;
    if let Some(path) = path {
        let stored = module.serialize().ok().and_then(|serialized| {
            let dir = path.parent()?;
            std::fs::create_dir_all(dir).ok()?;
            let temp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&temp, serialized).ok()?;
            std::fs::rename(&temp, &path).ok()
        });
        if stored.is_none() {
            tracing::debug!("could not cache the compiled module at {}", path.display());
        }
    }
    Ok((module, Compiled::Fresh))
}
