//! `type = "directory"`: the lines of files that appear in a directory, like Spark's
//! textFileStream. Files are expected to be written elsewhere and renamed in, so a file
//! that is visible is complete. Each file is taken once, in order of modification time
//! then name; names starting with `.` or `_` (temporary files) are ignored.
//!
//! Under a rate limit a batch takes fewer files: files wait, in order, until their
//! lines fit the batch's allowance (a file is never split). Counting a waiting file's
//! lines reads it once more; without a limit nothing is counted.

use super::file_lines::{count_lines, read_files};
use super::{Cut, Descriptor, Opening, Source, SourceBatch, SourceHandle};
use super::{SourceKind, SourceSettings};
use crate::rate::BatchMeter;
use crate::record::Records;
use crate::settings::{Reading, TableReader, resolve};
use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// `type = "directory"`: `path`, the directory files appear in.
pub const KIND: SourceKind = SourceKind {
    name: "directory",
    receives: false,
    alone: None,
    read,
};

/// The settings of a directory source.
#[derive(Debug)]
pub struct Directory {
    /// The directory watched.
    pub path: PathBuf,
}

fn read(r: &TableReader<'_, '_>, reading: &Reading<'_>) -> Option<Arc<dyn SourceSettings>> {
    let (raw, _) = r.required_string("path", "the directory new files appear in")?;
    let path = resolve(reading.base, &raw);
    if !path.is_dir() {
        r.error(
            "path",
            format!("no such directory: {}", path.display()),
            Some("create it first; paths are relative to the pipeline file's directory".into()),
        );
        return None;
    }
    Some(Arc::new(Directory { path }))
}

impl SourceSettings for Directory {
    fn open(&self, opening: Opening<'_>) -> anyhow::Result<Box<dyn Source>> {
        let taken = opening.taken();
        Ok(Box::new(DirectorySource::new(
            opening.handle,
            &self.path,
            opening.interval_ms,
            taken,
        )))
    }
}

/// A directory source.
pub struct DirectorySource {
    name: String,
    path: PathBuf,
    seen: HashSet<OsString>,
    /// Files found and not yet taken, with their line counts once known.
    pending: VecDeque<(PathBuf, Option<u64>)>,
    meter: BatchMeter,
    handle: Arc<SourceHandle>,
    stopped: bool,
}

impl DirectorySource {
    /// A source over the files that appear in `path`, and those already there, except
    /// the file names in `taken` (taken before a restart); cut every `interval_ms` and
    /// limited by `handle`.
    pub fn new(
        handle: Arc<SourceHandle>,
        path: &Path,
        interval_ms: u64,
        taken: Vec<String>,
    ) -> Self {
        DirectorySource {
            name: handle.name().to_string(),
            path: path.to_path_buf(),
            seen: taken.into_iter().map(OsString::from).collect(),
            pending: VecDeque::new(),
            meter: BatchMeter::new(interval_ms),
            handle,
            stopped: false,
        }
    }

    /// The waiting files the batch at `batch_time_ms` takes: all of them without a
    /// limit; under one, files in order while their lines fit the allowance, or a file
    /// larger than a whole batch's allowance on its own once the allowance is full (the
    /// overdraft is paid off by the batches after it).
    fn take_files(&mut self, batch_time_ms: u64) -> Vec<PathBuf> {
        let limit = self.handle.limit();
        if self.meter.allowance(limit, batch_time_ms).is_none() {
            return self.pending.drain(..).map(|(path, _)| path).collect();
        }
        let mut taken = Vec::new();
        while let Some((path, lines)) = self.pending.front_mut() {
            let lines = *lines.get_or_insert_with(|| count_lines(path));
            let allowance = self
                .meter
                .allowance(limit, batch_time_ms)
                .unwrap_or(f64::INFINITY);
            let fits = lines as f64 <= allowance;
            let alone = taken.is_empty() && self.meter.is_full();
            if !(fits || alone) {
                break;
            }
            self.meter.spend(lines);
            if let Some((path, _)) = self.pending.pop_front() {
                taken.push(path);
            }
        }
        taken
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
                tracing::info!(
                    event = "file_picked_up",
                    source = %self.name,
                    path = %path.display(),
                    "source `{}`: picked up {}",
                    self.name,
                    path.display()
                );
                self.seen.insert(name);
                path
            })
            .collect()
    }
}

impl Source for DirectorySource {
    fn cut(&mut self, batch_time_ms: u64) -> SourceBatch {
        if self.stopped {
            return SourceBatch::new(FilesCut(Vec::new()));
        }
        let found = self.new_files();
        self.pending
            .extend(found.into_iter().map(|path| (path, None)));
        SourceBatch::new(FilesCut(self.take_files(batch_time_ms)))
    }

    fn is_finished(&self) -> bool {
        self.stopped
    }

    fn stop(&mut self) {
        self.stopped = true;
        if !self.pending.is_empty() {
            tracing::warn!(
                "source `{}`: stopping with {} files not read yet (held back by the rate limit)",
                self.name,
                self.pending.len()
            );
        }
    }

    fn replay(
        &mut self,
        descriptor: &Descriptor,
        partitions: usize,
    ) -> anyhow::Result<Vec<Records>> {
        super::replay_described(descriptor, partitions, None)
    }

    fn handle(&self) -> &Arc<SourceHandle> {
        &self.handle
    }
}

/// A directory's cut: files to read whole, in order.
struct FilesCut(Vec<PathBuf>);

impl Cut for FilesCut {
    fn descriptor(&self) -> Descriptor {
        Descriptor::Files(self.0.clone())
    }

    fn read(self: Box<Self>, partitions: usize) -> Vec<Records> {
        read_files(&self.0, partitions)
    }
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
        let handle = Arc::new(SourceHandle::unlimited("d", "directory"));
        let mut source = DirectorySource::new(handle, &dir, 1_000, vec![]);
        let Descriptor::Files(first) = source.cut(1).descriptor() else {
            panic!()
        };
        assert_eq!(first, vec![dir.join("a.txt")]);
        std::fs::write(dir.join("b.txt"), "3").unwrap();
        let Descriptor::Files(second) = source.cut(2).descriptor() else {
            panic!()
        };
        assert_eq!(second, vec![dir.join("b.txt")]);
        assert_eq!(count_lines(&second[0]), 1);
        assert_eq!(count_lines(&first[0]), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rate_limit_takes_the_files_that_fit_and_pays_off_a_large_one() {
        let dir = std::env::temp_dir().join(format!("sluice-dir-rate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), "1\n2\n3\n").unwrap();
        std::fs::write(dir.join("b.txt"), "1\n2\n3").unwrap();
        std::fs::write(dir.join("c.txt"), "x\n".repeat(10)).unwrap();
        let handle = Arc::new(SourceHandle::unlimited("d", "directory"));
        handle.limit().set_estimate(Some(5.0));
        let mut source = DirectorySource::new(handle, &dir, 1_000, vec![]);
        let names = |batch: SourceBatch| match batch.descriptor() {
            Descriptor::Files(files) => files
                .iter()
                .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        // 5 lines a batch: a (3), then b (3) once the allowance is back, then c (10)
        // alone with a full allowance, paid off by the batch after it.
        assert_eq!(names(source.cut(1_000)), ["a.txt"]);
        assert_eq!(names(source.cut(2_000)), ["b.txt"]);
        assert_eq!(names(source.cut(3_000)), ["c.txt"]);
        assert!(names(source.cut(4_000)).is_empty());
        assert_eq!(count_lines(&dir.join("b.txt")), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
