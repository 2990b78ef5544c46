//! The batch journal: an append-only, synced record of every batch cut, with what each
//! source gave it, written before the batch runs. Recovery re-runs the journaled batches
//! after the last checkpoint exactly as they were cut.
//!
//! The file is a sequence of frames: length (u32 LE), a MessagePack [`JournalEntry`],
//! xxh3-64 of it (u64 LE). A torn last frame (a crash mid-append) is cut off on open.
//! A batch that took records no source can give again (received without a write-ahead
//! log) gets a second frame once its output is written, marking it `completed`, so that
//! recovery never computes it again with less.

use crate::durable;
use crate::source::Descriptor;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use xxhash_rust::xxh3::xxh3_64;

/// One batch as it was cut.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The batch time.
    pub batch_time_ms: u64,
    /// Per source, in pipeline order.
    pub sources: Vec<Descriptor>,
    /// In a marker frame: the batch's output was written. In an entry read back: a
    /// marker followed it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub completed: bool,
}

impl JournalEntry {
    /// The entry of a batch cut with `sources`.
    pub fn new(batch_time_ms: u64, sources: Vec<Descriptor>) -> Self {
        JournalEntry {
            batch_time_ms,
            sources,
            completed: false,
        }
    }
}

/// Entries with their completion markers folded in.
fn fold(frames: Vec<JournalEntry>) -> Vec<JournalEntry> {
    let mut entries: Vec<JournalEntry> = Vec::with_capacity(frames.len());
    for frame in frames {
        if frame.completed && frame.sources.is_empty() {
            if let Some(entry) = entries
                .iter_mut()
                .rev()
                .find(|e| e.batch_time_ms == frame.batch_time_ms)
            {
                entry.completed = true;
            }
        } else {
            entries.push(frame);
        }
    }
    entries
}

/// The journal file.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

pub(super) fn frame(entry: &JournalEntry) -> Vec<u8> {
    let body = rmp_serde::to_vec_named(entry).expect("journal entries encode");
    let mut out = Vec::with_capacity(body.len() + 12);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&xxh3_64(&body).to_le_bytes());
    out
}

/// The entries of a journal's bytes, and the length of its valid prefix.
fn parse(bytes: &[u8]) -> (Vec<JournalEntry>, usize) {
    let mut entries = Vec::new();
    let mut at = 0;
    while let Some(len) = bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    {
        let Some(body) = bytes.get(at + 4..at + 4 + len) else {
            break;
        };
        let Some(sum) = bytes.get(at + 4 + len..at + 12 + len) else {
            break;
        };
        if xxh3_64(body).to_le_bytes() != sum {
            break;
        }
        let Ok(entry) = rmp_serde::from_slice(body) else {
            break;
        };
        entries.push(entry);
        at += 12 + len;
    }
    (entries, at)
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and returns the entries it holds. A torn
    /// last entry is cut off.
    pub fn open(dir: &Path) -> std::io::Result<(Journal, Vec<JournalEntry>)> {
        let path = dir.join("journal.log");
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(durable::at(&path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(durable::at(&path))?;
        let (entries, valid) = parse(&bytes);
        if valid < bytes.len() {
            tracing::warn!(
                "the batch journal {} ends with {} bytes of a torn entry (a crash while writing); they are dropped",
                path.display(),
                bytes.len() - valid
            );
            file.set_len(valid as u64)
                .and_then(|()| file.sync_all())
                .map_err(durable::at(&path))?;
        }
        Ok((
            Journal {
                path,
                file: Mutex::new(file),
            },
            fold(entries),
        ))
    }

    /// Appends an entry and syncs it to disk.
    pub fn append(&self, entry: &JournalEntry) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&frame(entry))
            .and_then(|()| file.sync_data())
            .map_err(durable::at(&self.path))
    }

    /// A journal whose every append fails as on a full disk (it writes to `/dev/full`),
    /// for tests of what a failed append does.
    #[cfg(test)]
    pub fn on_a_full_disk() -> Journal {
        Journal {
            path: PathBuf::from("/dev/full"),
            file: Mutex::new(OpenOptions::new().write(true).open("/dev/full").unwrap()),
        }
    }

    /// Marks batch `batch_time_ms` as completed: its output is written. Not synced: a
    /// marker lost in a crash only makes recovery treat the batch as unfinished.
    pub fn mark_completed(&self, batch_time_ms: u64) -> std::io::Result<()> {
        let marker = JournalEntry {
            batch_time_ms,
            sources: Vec::new(),
            completed: true,
        };
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&frame(&marker))
            .map_err(durable::at(&self.path))
    }

    /// Drops the entries of batches at or before `until_ms` (a checkpoint covers them).
    pub fn compact(&self, until_ms: u64) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = std::fs::read(&self.path).map_err(durable::at(&self.path))?;
        let (entries, _) = parse(&bytes);
        let kept: Vec<u8> = entries
            .iter()
            .filter(|e| e.batch_time_ms > until_ms)
            .flat_map(frame)
            .collect();
        durable::replace(&self.path, &kept)?;
        *file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(durable::at(&self.path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(t: u64) -> JournalEntry {
        JournalEntry::new(
            t,
            vec![
                Descriptor::Files(vec![PathBuf::from(format!("f{t}"))]),
                Descriptor::Volatile { records: t },
            ],
        )
    }

    #[test]
    fn a_completion_marker_marks_its_batch_and_survives_compaction() {
        let dir = std::env::temp_dir().join(format!("sluice-journal-done-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (journal, _) = Journal::open(&dir).unwrap();
        for t in [1, 2, 3] {
            journal.append(&entry(t)).unwrap();
        }
        journal.mark_completed(2).unwrap();
        journal.mark_completed(3).unwrap();
        journal.compact(2).unwrap();
        drop(journal);
        let (_, entries) = Journal::open(&dir).unwrap();
        let mut done = entry(3);
        done.completed = true;
        assert_eq!(entries, [done]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn appends_survive_reopening_and_a_torn_tail_is_cut() {
        let dir = std::env::temp_dir().join(format!("sluice-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (journal, entries) = Journal::open(&dir).unwrap();
        assert!(entries.is_empty());
        for t in [1, 2, 3] {
            journal.append(&entry(t)).unwrap();
        }
        drop(journal);
        // A crash in the middle of appending a fourth entry.
        let mut torn = OpenOptions::new()
            .append(true)
            .open(dir.join("journal.log"))
            .unwrap();
        torn.write_all(&frame(&entry(4))[..7]).unwrap();
        drop(torn);
        let (journal, entries) = Journal::open(&dir).unwrap();
        assert_eq!(entries, [entry(1), entry(2), entry(3)]);
        journal.compact(2).unwrap();
        journal.append(&entry(5)).unwrap();
        let (_, entries) = Journal::open(&dir).unwrap();
        assert_eq!(entries, [entry(3), entry(5)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
