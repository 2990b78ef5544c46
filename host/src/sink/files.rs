//! `type = "files"`: one directory per batch, `<prefix>-<batch time ms>/`, holding a
//! `part-NNNNN.jsonl` per partition (one JSON value per line; a pair is `["word",3]`)
//! and `_SUCCESS`, written last. The directory is staged under a hidden temporary name
//! and synced; publishing renames it into place, so readers never see half a batch and
//! a re-run of the same batch replaces its directory whole.

use super::{Sink, SinkBatch, SinkKind, SinkSettings};
use crate::settings::resolve;
use crate::{durable, render};
use anyhow::Context as _;
use rayon::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `type = "files"`: `path`, the directory batch directories are written in, and
/// `prefix` of their names (default: the sink's name).
pub const KIND: SinkKind = SinkKind {
    name: "files",
    read: |r, reading| {
        let path = r.required_string("path", "the directory batch directories are written in");
        let prefix = r.string("prefix").map_or_else(|| r.name(), |(p, _)| p);
        Some(Arc::new(Files {
            path: resolve(reading.base, &path?.0),
            prefix,
        }))
    },
};

/// The settings of a files sink.
#[derive(Debug, PartialEq, Eq)]
pub struct Files {
    /// The directory batch directories are written in.
    pub path: PathBuf,
    /// Batch directories are named `<prefix>-<batch time ms>`.
    pub prefix: String,
}

impl SinkSettings for Files {
    fn open(&self, _: &str, _: &str) -> anyhow::Result<Box<dyn Sink>> {
        Ok(Box::new(FilesSink::new(&self.path, &self.prefix)?))
    }

    fn directory(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

/// Writes each batch as a directory of JSON-lines files.
pub struct FilesSink {
    dir: PathBuf,
    prefix: String,
}

impl FilesSink {
    /// A sink writing under `dir` (created if missing).
    pub fn new(dir: &Path, prefix: &str) -> anyhow::Result<Self> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        Ok(FilesSink {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
        })
    }

    /// The directory a batch is written to.
    pub fn batch_dir(&self, time_ms: u64) -> PathBuf {
        self.dir.join(format!("{}-{time_ms}", self.prefix))
    }

    /// Where a batch is staged before it is published.
    fn staging_dir(&self, time_ms: u64) -> PathBuf {
        self.dir.join(format!(".{}-{time_ms}.tmp", self.prefix))
    }

    /// Stages and publishes a batch.
    pub fn write_now(&mut self, batch: &SinkBatch<'_>) -> anyhow::Result<()> {
        self.write(batch)?;
        self.publish(batch.time_ms)
    }
}

impl Sink for FilesSink {
    fn write(&mut self, batch: &SinkBatch<'_>) -> anyhow::Result<()> {
        let temp = self.staging_dir(batch.time_ms);
        if temp.exists() {
            fs::remove_dir_all(&temp)
                .with_context(|| format!("cannot clear {}", temp.display()))?;
        }
        fs::create_dir(&temp).with_context(|| format!("cannot create {}", temp.display()))?;
        // Each partition renders, writes and syncs its own part file, on its own core:
        // the syncs wait on the disk side by side rather than one after another.
        batch
            .partitions
            .par_iter()
            .enumerate()
            .try_for_each(|(i, records)| {
                let mut text = String::with_capacity(records.bytes().len() * 2);
                for record in records.iter() {
                    render::json(record, &mut text);
                    text.push('\n');
                }
                durable::write_synced(&temp.join(format!("part-{i:05}.jsonl")), text.as_bytes())
            })?;
        // Written last: its presence means the directory is complete. It also records
        // which plugin versions produced the batch.
        let plugins: serde_json::Map<String, serde_json::Value> = batch
            .versions
            .iter()
            .map(|(name, hash)| (name.clone(), hash.clone().into()))
            .collect();
        let success = serde_json::json!({ "batch_time_ms": batch.time_ms, "plugins": plugins });
        durable::write_synced(&temp.join("_SUCCESS"), success.to_string().as_bytes())?;
        durable::sync_dir(&temp)?;
        Ok(())
    }

    fn stages(&self) -> bool {
        true
    }

    fn publish(&mut self, time_ms: u64) -> anyhow::Result<()> {
        let (temp, target) = (self.staging_dir(time_ms), self.batch_dir(time_ms));
        if target.exists() {
            fs::remove_dir_all(&target)
                .with_context(|| format!("cannot replace {}", target.display()))?;
        }
        durable::rename(&temp, &target)?;
        durable::sync_dir(&self.dir)?;
        Ok(())
    }

    fn discard(&mut self, time_ms: u64) {
        let temp = self.staging_dir(time_ms);
        if let Err(e) = fs::remove_dir_all(&temp)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {e}", temp.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Records;

    #[test]
    fn writes_a_complete_directory_and_replaces_it_on_rerun() {
        let dir = std::env::temp_dir().join(format!("sluice-files-test-{}", std::process::id()));
        let mut sink = FilesSink::new(&dir, "counts").unwrap();
        let mut part = Records::new();
        part.push_encoded(&rmp_serde::to_vec(&("word", 3)).unwrap());
        let parts = [part, Records::new()];
        sink.write_now(&SinkBatch {
            time_ms: 1000,
            partitions: &parts,
            versions: &[],
        })
        .unwrap();
        let out = dir.join("counts-1000");
        assert_eq!(
            fs::read_to_string(out.join("part-00000.jsonl")).unwrap(),
            "[\"word\",3]\n"
        );
        assert_eq!(
            fs::read_to_string(out.join("part-00001.jsonl")).unwrap(),
            ""
        );
        assert!(out.join("_SUCCESS").exists());

        let one = [Records::new()];
        sink.write_now(&SinkBatch {
            time_ms: 1000,
            partitions: &one,
            versions: &[],
        })
        .unwrap();
        assert!(
            !out.join("part-00001.jsonl").exists(),
            "a re-run replaces the whole directory"
        );
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary directory left behind"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_staged_batch_is_invisible_until_published_and_gone_when_discarded() {
        let dir = std::env::temp_dir().join(format!("sluice-files-stage-{}", std::process::id()));
        let mut sink = FilesSink::new(&dir, "counts").unwrap();
        let parts = [Records::new()];
        let batch = |time_ms| SinkBatch {
            time_ms,
            partitions: &parts,
            versions: &[],
        };
        sink.write(&batch(1000)).unwrap();
        assert!(!sink.batch_dir(1000).exists(), "staged, not published");
        sink.discard(1000);
        sink.write(&batch(2000)).unwrap();
        sink.publish(2000).unwrap();
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["counts-2000"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
