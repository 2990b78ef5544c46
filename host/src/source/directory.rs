//! `type = "directory"`: the lines of files that appear in a directory, like Spark's
//! textFileStream. Files are expected to be written elsewhere and renamed in, so a file
//! that is visible is complete. Each file is taken once, in order of modification time
//! then name; names starting with `.` or `_` (temporary files) are ignored.

use super::{Source, SourceBatch};
use crate::checkpoint::Descriptor;
use crate::record::Records;
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A directory source.
pub struct DirectorySource {
    name: String,
    path: PathBuf,
    seen: HashSet<OsString>,
    stopped: bool,
}

impl DirectorySource {
    /// A source over the files that appear in `path`, and those already there, except
    /// the file names in `taken` (taken before a restart).
    pub fn new(name: &str, path: &Path, taken: Vec<String>) -> Self {
        DirectorySource {
            name: name.to_string(),
            path: path.to_path_buf(),
            seen: taken.into_iter().map(OsString::from).collect(),
            stopped: false,
        }
    }

    fn new_files(&mut self) -> Vec<PathBuf> {
        let entries = match std::fs::read_dir(&self.path) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(
                    "source `{}`: cannot list {}: {e}",
                    self.name,
                    self.path.display()
                );
                return Vec::new();
            }
        };
        let mut fresh: Vec<(SystemTime, OsString, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let visible = !name.to_string_lossy().starts_with(['.', '_']);
                visible && !self.seen.contains(&name) && e.file_type().is_ok_and(|t| t.is_file())
            })
            .map(|e| {
                let modified = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                (modified, e.file_name(), e.path())
            })
            .collect();
        fresh.sort();
        fresh
            .into_iter()
            .map(|(_, name, path)| {
                tracing::info!("source `{}`: picked up {}", self.name, path.display());
                self.seen.insert(name);
                path
            })
            .collect()
    }
}

impl Source for DirectorySource {
    fn cut(&mut self, _batch_time_ms: u64) -> SourceBatch {
        if self.stopped {
            return SourceBatch::Files(Vec::new());
        }
        SourceBatch::Files(self.new_files())
    }

    fn is_finished(&self) -> bool {
        self.stopped
    }

    fn stop(&mut self) {
        self.stopped = true;
    }

    fn replay(
        &mut self,
        descriptor: &Descriptor,
        partitions: usize,
    ) -> anyhow::Result<Vec<Records>> {
        super::replay_described(descriptor, partitions, None)
    }
}

/// Reads a file's lines as string records. Invalid UTF-8 is replaced rather than
/// dropped; an unreadable file is reported and yields nothing.
pub fn read_lines(path: &Path) -> Records {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(
                "cannot read {}: {e}; its lines are not in this batch",
                path.display()
            );
            return Records::new();
        }
    };
    let mut records = Records::with_capacity(bytes.len() + bytes.len() / 16);
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    if bytes.is_empty() {
        return records;
    }
    for line in body.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(text) => records.push_str(text),
            Err(_) => records.push_str(&String::from_utf8_lossy(line)),
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_each_visible_file_once() {
        let dir = std::env::temp_dir().join(format!("sluice-dir-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), "1\n2\n").unwrap();
        std::fs::write(dir.join(".hidden"), "x\n").unwrap();
        std::fs::write(dir.join("_tmp"), "x\n").unwrap();
        let mut source = DirectorySource::new("d", &dir, vec![]);
        let SourceBatch::Files(first) = source.cut(1) else {
            panic!()
        };
        assert_eq!(first, vec![dir.join("a.txt")]);
        std::fs::write(dir.join("b.txt"), "3").unwrap();
        let SourceBatch::Files(second) = source.cut(2) else {
            panic!()
        };
        assert_eq!(second, vec![dir.join("b.txt")]);
        assert_eq!(read_lines(&second[0]).len(), 1);
        assert_eq!(read_lines(&first[0]).len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
