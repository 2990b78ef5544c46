//! The one reader of what a files sink wrote: its layout (a directory per batch,
//! `<prefix>-<batch time>`, complete once `_SUCCESS` is in it; `part-<partition>.jsonl`
//! files of JSON records; hidden directories still being written) lives here only.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One complete batch directory.
pub struct WrittenBatch {
    /// The directory's name.
    pub name: String,
    /// The batch time its name ends with.
    pub time_ms: u64,
    /// `_SUCCESS`: the batch time and the plugin versions that produced it.
    pub success: Value,
    /// Per partition, in order, its records.
    pub partitions: Vec<Vec<Value>>,
}

impl WrittenBatch {
    /// Every record, partitions in order.
    pub fn records(&self) -> impl Iterator<Item = &Value> {
        self.partitions.iter().flatten()
    }
}

/// Every complete batch directory under `dir` (none if it does not exist), in order.
pub fn written_batches(dir: &Path) -> Vec<WrittenBatch> {
    let mut dirs: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let mut batches = Vec::new();
    for batch in dirs {
        let name = batch.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(success) = std::fs::read_to_string(batch.join("_SUCCESS")) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let mut parts: Vec<_> = std::fs::read_dir(&batch)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        parts.sort();
        let partitions = parts
            .iter()
            .map(|part| {
                std::fs::read_to_string(part)
                    .unwrap()
                    .lines()
                    .map(|line| {
                        serde_json::from_str(line)
                            .unwrap_or_else(|e| panic!("{}: {e}: {line}", part.display()))
                    })
                    .collect()
            })
            .collect();
        batches.push(WrittenBatch {
            time_ms: name.rsplit('-').next().unwrap().parse().unwrap(),
            success: serde_json::from_str(&success).unwrap(),
            name,
            partitions,
        });
    }
    batches
}

/// Per batch time, the records of every complete batch under `dir`.
pub fn records_by_batch(dir: &Path) -> BTreeMap<u64, Vec<Value>> {
    written_batches(dir)
        .into_iter()
        .map(|b| (b.time_ms, b.records().cloned().collect()))
        .collect()
}
