//! Compiled plugins cached on disk by content, so that starting a pipeline or swapping a
//! version back in does not compile a module twice.
//!
//! Entries are wasmtime's serialized modules, named by the module's SHA-256 and by the
//! engine's compatibility hash (wasmtime's version and settings), in `$SLUICE_CACHE_DIR`,
//! else `$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice`. They are written to a temporary
//! name and renamed. An entry that does not load is compiled again and replaced. A hit
//! refreshes the entry's modification time; beyond [`KEEP`] entries the least recently
//! used are removed, so that the cache does not grow with every plugin edit.
//!
//! Loading a serialized module trusts its bytes: the cache directory must be writable only
//! by the user running sluice, as a user's cache directory is.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use wasmtime::{Engine, Module};

/// Compiled modules kept in the cache directory.
const KEEP: usize = 64;

/// A `Hasher` over SHA-256, so that an entry's name does not depend on the standard
/// library's hasher, whose output may change between Rust releases.
#[derive(Default)]
struct StableHasher(Sha256);

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
    }
}

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
    let mut hasher = StableHasher::default();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let content: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(directory()?.join(format!("{content}-{:016x}.cwasm", hasher.finish())))
}

/// The module of `bytes`, from the cache when it holds it, else compiled and cached.
pub fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Module> {
    let path = entry(engine, bytes);
    if let Some(path) = path.as_ref().filter(|p| p.is_file()) {
        // SAFETY: the entry was written by `Module::serialize` for this engine's
        // configuration (its name says so), into the user's own cache directory.
        match unsafe { Module::deserialize_file(engine, path) } {
            Ok(module) => {
                let _ = std::fs::File::options()
                    .append(true)
                    .open(path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                return Ok(module);
            }
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
            std::fs::rename(&temp, &path).ok()?;
            evict(dir);
            Some(())
        });
        if stored.is_none() {
            tracing::debug!("could not cache the compiled module at {}", path.display());
        }
    }
    Ok(module)
}

/// Removes all but the [`KEEP`] most recently used entries of `dir`.
fn evict(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut found: Vec<(SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort_unstable_by(|a, b| b.cmp(a));
    for (_, old) in found.into_iter().skip(KEEP) {
        let _ = std::fs::remove_file(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_keeps_the_most_recently_used() {
        let dir = std::env::temp_dir().join(format!("sluice-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let start = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for i in 0..KEEP + 3 {
            let path = dir.join(format!("{i:03}.cwasm"));
            let file = std::fs::File::create(&path).unwrap();
            file.set_modified(start + std::time::Duration::from_secs(i as u64))
                .unwrap();
        }
        std::fs::write(dir.join("other.txt"), "kept").unwrap();
        evict(&dir);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left.len(), KEEP + 1);
        assert_eq!(left[0], "003.cwasm");
        assert_eq!(left[KEEP], "other.txt");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
