//! Durable file writes, and I/O errors that name their path.
//!
//! Everything sluice must find again after a crash (checkpoints, the batch journal, the
//! live-plugin record, write-ahead log segments, files-sink batches) is written the same
//! way: to `<name>.tmp` beside it, synced, renamed into place, and the directory synced,
//! so that a crash leaves the old file or the new one, never half of one. A `.tmp` file
//! left by a crash is removed when the checkpoint directory is next locked
//! ([`crate::checkpoint::DirLock`]).
//!
//! Every error these functions return names the path it happened on: "No such file or
//! directory" alone does not tell an operator what to fix.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Prefixes an I/O error with the path it happened on, keeping its kind:
/// `std::fs::read(&p).map_err(at(&p))`.
pub fn at(path: &Path) -> impl FnOnce(std::io::Error) -> std::io::Error + '_ {
    move |e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Where `path` is written before it is renamed into place: `<path>.tmp`.
pub fn temporary(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Creates `path` with `bytes` and syncs it (not its directory).
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path).map_err(at(path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(at(path))
}

/// Syncs a directory, making the renames and creations in it durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(at(dir))
}

/// Renames `from` to `to`; the error names both.
pub fn rename(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::rename(from, to).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot rename {} to {}: {e}", from.display(), to.display()),
        )
    })
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replaces `path` with `bytes` atomically and durably: the temporary is written and
/// synced, renamed over `path`, and the directory synced.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = temporary(path);
    write_synced(&temp, bytes)?;
    rename(&temp, path)?;
    sync_dir(parent(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_writes_the_whole_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("sluice-durable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("live.json");
        replace(&file, b"one").unwrap();
        replace(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_their_path() {
        let missing = Path::new("/nonexistent-sluice-dir/journal.log");
        let e = replace(missing, b"x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        assert!(
            e.to_string()
                .starts_with("/nonexistent-sluice-dir/journal.log.tmp: "),
            "{e}"
        );
        let e = sync_dir(Path::new("/nonexistent-sluice-dir")).unwrap_err();
        assert!(
            e.to_string().starts_with("/nonexistent-sluice-dir: "),
            "{e}"
        );
    }
}
