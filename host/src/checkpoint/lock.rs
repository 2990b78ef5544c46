//! One checkpoint directory, one process. Two processes on one directory would append to
//! one journal and truncate each other's write-ahead logs, so a run takes an advisory
//! lock on `<checkpoint_dir>/LOCK` (`File::try_lock`: `flock` on Unix, released by the
//! kernel when the process dies, however it dies) and writes its pid there for the
//! message a second process gives. With the lock held, temporary files a crash or a full
//! disk left behind (`*.tmp`: checkpoints, the journal, the plugin record and WAL
//! segments being written) are removed: no other process can be writing them.

use anyhow::Context as _;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock on a checkpoint directory, held until dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Locks `dir` (created if missing), or says which process holds it.
    pub fn acquire(dir: &Path) -> anyhow::Result<DirLock> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create checkpoint directory {}", dir.display()))?;
        let path = dir.join("LOCK");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "another process".to_string(),
                    pid => format!("process {pid}"),
                };
                anyhow::bail!(
                    "checkpoint directory {} is in use by {holder} (it holds {}); two processes on one checkpoint directory would corrupt each other's journal. Stop that process, or give this pipeline its own checkpoint_dir",
                    dir.display(),
                    path.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(DirLock { _file: file })
    }
}

/// Removes every `*.tmp` file under `dir`, which only a process holding its lock writes;
/// returns their paths.
pub fn remove_temporaries(_lock: &DirLock, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot stat {}", path.display()))?;
            if kind.is_dir() {
                // `reset-*` holds what `--reset-state` moved aside, kept as it was.
                if !entry.file_name().to_string_lossy().starts_with("reset-") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "tmp") {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                removed.push(path);
            }
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_leftover_temporaries_go() {
        let dir = std::env::temp_dir().join(format!("sluice-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("wal/lines")).unwrap();
        std::fs::write(dir.join("journal.log.tmp"), b"half").unwrap();
        std::fs::write(dir.join("wal/lines/00000001.wal.tmp"), b"").unwrap();
        std::fs::write(dir.join("journal.log"), b"kept").unwrap();

        let lock = DirLock::acquire(&dir).unwrap();
        let second = DirLock::acquire(&dir).unwrap_err().to_string();
        assert!(
            second.contains(&format!("process {}", std::process::id())),
            "{second}"
        );
        let removed = remove_temporaries(&lock, &dir).unwrap();
        assert_eq!(
            removed,
            vec![
                dir.join("journal.log.tmp"),
                dir.join("wal/lines/00000001.wal.tmp")
            ]
        );
        assert!(dir.join("journal.log").exists());
        drop(lock);
        DirLock::acquire(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
