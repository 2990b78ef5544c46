//! Noticing that a plugin changed. Directories are watched, not files, because cargo and
//! editors write by renaming a new file over the old one, which a watch on the old file
//! would miss.

use crate::config::PluginPath;
use crossbeam_channel::Sender;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};

/// A plugin to watch.
#[derive(Clone, Debug)]
pub struct Target {
    /// The plugin's name.
    pub plugin: String,
    /// Its `.wasm` file or crate directory.
    pub path: PluginPath,
}

/// Keeps the operating system's watches alive; dropping it stops them.
pub struct PluginWatcher {
    _watcher: notify::RecommendedWatcher,
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_default()
    })
}

/// Whether `changed` is a source of the crate at `dir`: its manifest, lock file or build
/// script, or a file under `src/` that is not hidden (editor swap files). Anything else
/// in the crate is not: build output under `target/`, and what sluice itself writes there
/// (dead letters, sink output and checkpoints default to directories beside the
/// pipeline file, which `sluice plugin new` puts in the crate), and the pipeline file.
fn is_crate_source(dir: &Path, changed: &Path) -> bool {
    let Ok(relative) = changed.strip_prefix(dir) else {
        return false;
    };
    let mut parts = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy());
    match (parts.next().as_deref(), parts.next()) {
        (Some("Cargo.toml" | "Cargo.lock" | "build.rs"), None) => true,
        (Some("src"), Some(next)) => {
            !next.starts_with('.') && parts.all(|part| !part.starts_with('.'))
        }
        _ => false,
    }
}

impl PluginWatcher {
    /// Watches `targets`; each relevant change sends the plugin's name to `changed`.
    pub fn start(targets: &[Target], changed: Sender<String>) -> anyhow::Result<Self> {
        let resolved: Vec<(String, PluginPath)> = targets
            .iter()
            .map(|t| {
                let path = match &t.path {
                    PluginPath::Wasm(p) => PluginPath::Wasm(absolute(p)),
                    PluginPath::Crate(d) => PluginPath::Crate(absolute(d)),
                };
                (t.plugin.clone(), path)
            })
            .collect();
        let matching = resolved.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if !matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_)) {
                    return;
                }
                for (plugin, path) in &matching {
                    let hit = event.paths.iter().any(|changed| match path {
                        PluginPath::Wasm(file) => changed == file,
                        PluginPath::Crate(dir) => is_crate_source(dir, changed),
                    });
                    if hit {
                        let _ = changed.send(plugin.clone());
                    }
                }
            })?;
        for (_, path) in &resolved {
            match path {
                PluginPath::Wasm(file) => {
                    let dir = file.parent().unwrap_or(Path::new("/"));
                    watcher.watch(dir, RecursiveMode::NonRecursive)?;
                }
                PluginPath::Crate(dir) => watcher.watch(dir, RecursiveMode::Recursive)?,
            }
        }
        Ok(PluginWatcher { _watcher: watcher })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_sources_are_what_cargo_reads_not_what_sluice_writes() {
        let dir = Path::new("/p");
        assert!(is_crate_source(dir, Path::new("/p/src/lib.rs")));
        assert!(is_crate_source(dir, Path::new("/p/Cargo.toml")));
        assert!(!is_crate_source(dir, Path::new("/p/target/release/x.wasm")));
        assert!(!is_crate_source(dir, Path::new("/p/src/.lib.rs.swp")));
        assert!(!is_crate_source(dir, Path::new("/q/src/lib.rs")));
        assert!(is_crate_source(dir, Path::new("/p/src/parse/mod.rs")));
        assert!(is_crate_source(dir, Path::new("/p/build.rs")));
        assert!(!is_crate_source(
            dir,
            Path::new("/p/dead-letters/1000-0.jsonl")
        ));
        assert!(!is_crate_source(dir, Path::new("/p/out/batch-1000")));
        assert!(!is_crate_source(dir, Path::new("/p/pipeline.toml")));
        assert!(!is_crate_source(dir, Path::new("/p/src/.git/index")));
    }
}
