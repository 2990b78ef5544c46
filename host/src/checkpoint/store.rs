//! Where checkpoints live: `checkpoint-<batch time>.ck` files in the checkpoint
//! directory, each written to a temporary file, synced and renamed into place, the last
//! few kept. Reading takes the newest one that is intact.

use super::Checkpoint;
use anyhow::Context as _;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How many checkpoints are kept.
pub const KEEP: usize = 3;

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
        let temp = path.with_extension("ck.tmp");
        let mut file =
            File::create(&temp).with_context(|| format!("cannot create {}", temp.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("cannot write {}", temp.display()))?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)?;
        File::open(&self.dir)?.sync_all()?;
        for old in self.files().into_iter().skip(KEEP) {
            let _ = std::fs::remove_file(old);
        }
        Ok(path)
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
