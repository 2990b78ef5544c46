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

/// Whether `changed` is a source of the crate at `dir`: under it, outside any `target`
/// directory and hidden files (editor swap files, cargo's locks).
fn is_crate_source(dir: &Path, changed: &Path) -> bool {
    let Ok(relative) = changed.strip_prefix(dir) else {
        return false;
    };
    !relative.components().any(|c| {
        let c = c.as_os_str().to_string_lossy();
        c == "target" || c.starts_with('.')
    })
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
    fn crate_sources_exclude_build_output_and_hidden_files() {
        let dir = Path::new("/p");
        assert!(is_crate_source(dir, Path::new("/p/src/lib.rs")));
        assert!(is_crate_source(dir, Path::new("/p/Cargo.toml")));
        assert!(!is_crate_source(dir, Path::new("/p/target/release/x.wasm")));
        assert!(!is_crate_source(dir, Path::new("/p/src/.lib.rs.swp")));
        assert!(!is_crate_source(dir, Path::new("/q/src/lib.rs")));
    }
}
