//! Which plugin versions were live, kept in the checkpoint directory so that a restart
//! runs the version that was live before the crash, not whatever file is on disk: a
//! version that was rolled back is still the file on disk, and it stays out until the
//! file changes again.
//!
//! `plugins/live.json` holds, per plugin, the live version's content hash, the hashes
//! refused (rolled back), and the last few live hashes; `plugins/<name>/<hash>.wasm`
//! holds those versions' modules. `live.json` is written to a temporary file and
//! renamed, after the module it names is synced.

use crate::durable;
use crate::plugin::PluginVersion;
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Live hashes kept per plugin (their modules too).
const HISTORY: usize = 4;

/// What is known of one plugin's versions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRecord {
    /// The version live now.
    pub live: String,
    /// Versions that failed and were rolled back: not run again from the same file.
    pub refused: Vec<String>,
    /// The last few live versions, oldest first (the live one last).
    pub history: Vec<String>,
}

/// The record of live plugin versions in a checkpoint directory.
pub struct PluginLog {
    dir: PathBuf,
    records: BTreeMap<String, PluginRecord>,
}

impl PluginLog {
    /// Opens the record under `checkpoint_dir` (empty if there is none yet).
    pub fn open(checkpoint_dir: &Path) -> anyhow::Result<Self> {
        let dir = checkpoint_dir.join("plugins");
        let path = dir.join("live.json");
        let records = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("cannot read {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(PluginLog { dir, records })
    }

    /// What is known of plugin `name`.
    pub fn record(&self, name: &str) -> Option<&PluginRecord> {
        self.records.get(name)
    }

    /// The module of version `hash` of plugin `name`, as kept.
    pub fn module(&self, name: &str, hash: &str) -> std::io::Result<Vec<u8>> {
        let path = self.module_path(name, hash);
        std::fs::read(&path).map_err(durable::at(&path))
    }

    fn module_path(&self, name: &str, hash: &str) -> PathBuf {
        self.dir.join(name).join(format!("{hash}.wasm"))
    }

    /// Records `version` as live (keeping its module).
    pub fn set_live(&mut self, version: &PluginVersion) -> anyhow::Result<()> {
        let (name, hash) = (version.name(), version.hash());
        let module = self.module_path(name, hash);
        // A module already kept whole is not written again; one cut short (by a crash
        // while an older sluice wrote it in place) is replaced, atomically.
        if !std::fs::read(&module).is_ok_and(|kept| *kept == *version.bytes()) {
            let folder = self.dir.join(name);
            std::fs::create_dir_all(&folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
            durable::replace(&module, version.bytes())?;
        }
        let record = self.records.entry(name.to_string()).or_default();
        if record.live == hash {
            return Ok(());
        }
        record.live = hash.to_string();
        record.history.retain(|h| h != hash);
        record.history.push(hash.to_string());
        let dropped: Vec<String> = record
            .history
            .drain(..record.history.len().saturating_sub(HISTORY))
            .collect();
        self.save()?;
        for old in dropped {
            let _ = std::fs::remove_file(self.module_path(name, &old));
        }
        Ok(())
    }

    /// Records that version `hash` of plugin `name` failed and was rolled back.
    pub fn refuse(&mut self, name: &str, hash: &str) -> anyhow::Result<()> {
        let record = self.records.entry(name.to_string()).or_default();
        if !record.refused.iter().any(|h| h == hash) {
            record.refused.push(hash.to_string());
            self.save()?;
        }
        Ok(())
    }

    /// Forgets the refusals of plugin `name` (its file changed to a version not refused).
    pub fn clear_refused(&mut self, name: &str) -> anyhow::Result<()> {
        if let Some(record) = self.records.get_mut(name)
            && !record.refused.is_empty()
        {
            record.refused.clear();
            self.save()?;
        }
        Ok(())
    }

    fn save(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let records = serde_json::to_vec_pretty(&self.records)?;
        durable::replace(&self.dir.join("live.json"), &records)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::NativeGuest;

    #[test]
    fn a_kept_module_cut_short_is_written_again() {
        let dir = std::env::temp_dir().join(format!("sluice-plugin-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let version = PluginVersion::native("p", "1", Vec::new(), NativeGuest::default());
        let mut log = PluginLog::open(&dir).unwrap();
        let module = log.module_path("p", version.hash());
        std::fs::create_dir_all(module.parent().unwrap()).unwrap();
        std::fs::write(&module, b"half a mod").unwrap();
        log.set_live(&version).unwrap();
        assert_eq!(log.module("p", version.hash()).unwrap(), version.bytes());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
