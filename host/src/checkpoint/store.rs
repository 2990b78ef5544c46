//! Where checkpoints live: `checkpoint-<batch time>.ck` files in the checkpoint
//! directory, each written to a temporary file, synced and renamed into place, the last
//! few kept. Reading takes the newest one that is intact. The first checkpoint also
//! leaves `first-checkpoint` (its batch time), so that a directory whose checkpoints
//! were all lost is told apart from one that never had any.

use super::Checkpoint;
use crate::durable;
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// How many checkpoints are kept.
pub const KEEP: usize = 3;

/// The file that says a checkpoint was written here once.
const FIRST: &str = "first-checkpoint";

/// The checkpoint directory.
pub struct CheckpointStore {
    dir: PathBuf,
}

impl CheckpointStore {
    /// The store in `dir`, created if missing.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create checkpoint directory {}", dir.display()))?;
        Ok(CheckpointStore {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, batch_time_ms: u64) -> PathBuf {
        self.dir.join(format!("checkpoint-{batch_time_ms:020}.ck"))
    }

    /// Every checkpoint file, newest first.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                name.starts_with("checkpoint-") && name.ends_with(".ck")
            })
            .collect();
        files.sort();
        files.reverse();
        files
    }

    /// Writes already-encoded checkpoint `bytes` for `batch_time_ms` atomically and
    /// drops all but the newest few. Returns the file.
    pub fn write(&self, batch_time_ms: u64, bytes: &[u8]) -> anyhow::Result<PathBuf> {
        let path = self.path_of(batch_time_ms);
        durable::replace(&path, bytes)?;
        for old in self.files().into_iter().skip(KEEP) {
            let _ = std::fs::remove_file(old);
        }
        let first = self.dir.join(FIRST);
        if !first.exists() {
            durable::replace(&first, batch_time_ms.to_string().as_bytes())?;
        }
        Ok(path)
    }

    /// When there is no intact checkpoint: what shows there was state once (damaged
    /// checkpoint files, or the record of a first checkpoint), if anything does.
    pub fn lost_state(&self) -> Option<String> {
        let files = self.files();
        if !files.is_empty() {
            return Some(format!(
                "its {} checkpoints are all damaged ({})",
                files.len(),
                files
                    .iter()
                    .filter_map(|f| f.file_name()?.to_str().map(str::to_string))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let first = std::fs::read_to_string(self.dir.join(FIRST)).ok()?;
        Some(format!(
            "it held checkpoints (the first of batch {}) and none is left",
            first.trim()
        ))
    }

    /// Moves everything in the directory into a new `reset-<now_ms>/` in it (earlier
    /// resets stay where they are) and returns where it went.
    pub fn move_aside(&self, now_ms: u64) -> anyhow::Result<PathBuf> {
        let aside = self.dir.join(format!("reset-{now_ms}"));
        std::fs::create_dir(&aside)
            .with_context(|| format!("cannot create {}", aside.display()))?;
        let entries = std::fs::read_dir(&self.dir).map_err(durable::at(&self.dir))?;
        for entry in entries {
            let entry = entry.map_err(durable::at(&self.dir))?;
            let name = entry.file_name();
            // The lock stays: it is this process's, and a moved lock file would let a
            // second process take a new one.
            if entry.path() == aside
                || name.to_string_lossy().starts_with("reset-")
                || name == "LOCK"
            {
                continue;
            }
            durable::rename(&entry.path(), &aside.join(&name))?;
        }
        durable::sync_dir(&self.dir)?;
        Ok(aside)
    }

    /// The batch time of the oldest checkpoint kept: recovery may fall back that far.
    pub fn oldest_kept(&self) -> Option<u64> {
        self.files().last().and_then(|p| {
            p.file_name()?
                .to_str()?
                .strip_prefix("checkpoint-")?
                .strip_suffix(".ck")?
                .parse()
                .ok()
        })
    }

    /// The newest intact checkpoint, skipping (and reporting) damaged ones.
    pub fn latest(&self) -> Option<(Checkpoint, PathBuf)> {
        for path in self.files() {
            let decoded = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| Checkpoint::decode(&b));
            match decoded {
                Ok(checkpoint) => return Some((checkpoint, path)),
                Err(e) => tracing::warn!(
                    "checkpoint {} is damaged ({e}); trying the one before it",
                    path.display()
                ),
            }
        }
        None
    }
}
