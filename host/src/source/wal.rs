//! The write-ahead log of a receiver (socket, stdin with `wal = true`): received blocks
//! are appended as they arrive and synced when a batch is cut, before the batch exists,
//! so that a crash loses nothing the log holds. Recovery reads back the ranges of the
//! batches it re-runs and the records received after the last cut.
//!
//! The log is a directory of segments, `<sequence>.wal`, each starting with the number of
//! records received before it (u64 LE), then blocks: partition (u32 LE), record count
//! (u32 LE), byte length (u32 LE), the records, xxh3-64 of the records (u64 LE). A torn
//! last block (a crash mid-append) is cut off on open. Segments wholly before a
//! checkpointed position are deleted.

use crate::durable;
use crate::record::Records;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64;

/// A segment is closed and a new one started beyond this size.
const SEGMENT_BYTES: u64 = 32 << 20;
const SEGMENT_HEADER: u64 = 8;
const BLOCK_HEADER: usize = 12;

/// A position in a write-ahead log.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct WalPos {
    /// The segment's sequence number.
    pub segment: u64,
    /// The byte offset in it.
    pub offset: u64,
}

/// One receiver's write-ahead log.
pub struct Wal {
    dir: PathBuf,
    writer: BufWriter<File>,
    position: WalPos,
    /// Records received since the log began (all segments, deleted ones included).
    received: u64,
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.wal"))
}

fn segments(dir: &Path) -> Vec<u64> {
    let mut found: Vec<u64> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".wal")?.parse().ok())
        .collect();
    found.sort_unstable();
    found
}

/// The blocks of a segment's bytes after its header: (offset, partition, records), and
/// the length of the valid prefix.
fn blocks(bytes: &[u8]) -> (Vec<(u64, u32, Records)>, usize) {
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER as usize;
    while let Some(header) = bytes.get(at..at + BLOCK_HEADER) {
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        let (partition, count, len) = (word(0), word(4) as usize, word(8) as usize);
        let start = at + BLOCK_HEADER;
        let (Some(body), Some(sum)) = (
            bytes.get(start..start + len),
            bytes.get(start + len..start + len + 8),
        ) else {
            break;
        };
        if xxh3_64(body).to_le_bytes() != sum {
            break;
        }
        let Ok(records) = Records::from_encoded(body.to_vec(), count) else {
            break;
        };
        out.push((at as u64, partition, records));
        at = start + len + 8;
    }
    (out, at.min(bytes.len()))
}

/// Creates a segment whose header says `received` records came before it. The header
/// is written under a temporary name and renamed, so that a crash never leaves a
/// segment without its count.
fn new_segment(dir: &Path, segment: u64, received: u64) -> std::io::Result<BufWriter<File>> {
    let path = segment_path(dir, segment);
    let temp = durable::temporary(&path);
    durable::write_synced(&temp, &received.to_le_bytes())?;
    durable::rename(&temp, &path)?;
    durable::sync_dir(dir)?;
    let file = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(durable::at(&path))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

/// Records received before `segment` ended: its header's count plus its blocks'.
fn received_through(dir: &Path, segment: u64) -> std::io::Result<u64> {
    let path = segment_path(dir, segment);
    let bytes = std::fs::read(&path).map_err(durable::at(&path))?;
    let Some(header) = bytes.get(..SEGMENT_HEADER as usize) else {
        return Err(damaged(format!(
            "segment {} has no header",
            segment_path(dir, segment).display()
        )));
    };
    let before = u64::from_le_bytes(header.try_into().expect("8 bytes"));
    Ok(before
        + blocks(&bytes)
            .0
            .iter()
            .map(|(_, _, r)| r.len() as u64)
            .sum::<u64>())
}

fn damaged(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

impl Wal {
    /// Opens (or creates) the log in `dir`. A torn last block is cut off.
    pub fn open(dir: &Path) -> std::io::Result<Wal> {
        std::fs::create_dir_all(dir).map_err(durable::at(dir))?;
        let Some(&last) = segments(dir).last() else {
            return Ok(Wal {
                dir: dir.to_path_buf(),
                writer: new_segment(dir, 0, 0)?,
                position: WalPos {
                    segment: 0,
                    offset: SEGMENT_HEADER,
                },
                received: 0,
            });
        };
        let path = segment_path(dir, last);
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(durable::at(&path))?;
        if bytes.len() < SEGMENT_HEADER as usize {
            // A segment without its header (a crash while it was created by an older
            // sluice, which wrote it in place): start it again with the count the
            // segment before it ends on, which must still be there.
            let received = match last {
                0 => 0,
                _ => received_through(dir, last - 1).map_err(|e| {
                    damaged(format!(
                        "write-ahead log {}: segment {last} has no header and the count before it cannot be read ({e}); restore the log, or start with --reset-state",
                        dir.display()
                    ))
                })?,
            };
            tracing::warn!(
                "write-ahead log {}: segment {last} had no header (a crash while it was created); it starts again after {received} records",
                dir.display()
            );
            return Ok(Wal {
                dir: dir.to_path_buf(),
                writer: new_segment(dir, last, received)?,
                position: WalPos {
                    segment: last,
                    offset: SEGMENT_HEADER,
                },
                received,
            });
        }
        let before = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        let (found, valid) = blocks(&bytes);
        let mut file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(durable::at(&path))?;
        if valid < bytes.len() {
            tracing::warn!(
                "write-ahead log {}: dropping a torn block at its end (a crash while writing)",
                path.display()
            );
            file.set_len(valid as u64)
                .and_then(|()| file.sync_all())
                .map_err(durable::at(&path))?;
        }
        file.seek(SeekFrom::Start(valid as u64))
            .map_err(durable::at(&path))?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            writer: BufWriter::with_capacity(1 << 20, file),
            position: WalPos {
                segment: last,
                offset: valid as u64,
            },
            received: before + found.iter().map(|(_, _, r)| r.len() as u64).sum::<u64>(),
        })
    }

    /// Records received since the log began.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Where the next block goes.
    pub fn position(&self) -> WalPos {
        self.position
    }

    /// Appends a block of records for `partition` (not yet synced).
    pub fn append(&mut self, partition: usize, records: &Records) -> std::io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.position.offset >= SEGMENT_BYTES {
            self.sync()?;
            self.position = WalPos {
                segment: self.position.segment + 1,
                offset: SEGMENT_HEADER,
            };
            self.writer = new_segment(&self.dir, self.position.segment, self.received)?;
        }
        let body = records.bytes();
        let mut write = |bytes: &[u8]| self.writer.write_all(bytes);
        write(&(partition as u32).to_le_bytes())
            .and_then(|()| write(&(records.len() as u32).to_le_bytes()))
            .and_then(|()| write(&(body.len() as u32).to_le_bytes()))
            .and_then(|()| write(body))
            .and_then(|()| write(&xxh3_64(body).to_le_bytes()))
            .map_err(|e| self.failed(e))?;
        self.position.offset += (BLOCK_HEADER + body.len() + 8) as u64;
        self.received += records.len() as u64;
        Ok(())
    }

    /// Makes everything appended so far durable; returns the position it reaches.
    pub fn sync(&mut self) -> std::io::Result<WalPos> {
        self.writer
            .flush()
            .and_then(|()| self.writer.get_ref().sync_data())
            .map_err(|e| self.failed(e))?;
        Ok(self.position)
    }

    /// `e`, naming the segment being written.
    fn failed(&self, e: std::io::Error) -> std::io::Error {
        durable::at(&segment_path(&self.dir, self.position.segment))(e)
    }

    /// The records between `from` and `to`, spread over `partitions` partitions as they
    /// were when received (by partition index, modulo the partition count).
    pub fn read(
        &mut self,
        from: WalPos,
        to: WalPos,
        partitions: usize,
    ) -> std::io::Result<Vec<Records>> {
        self.writer.flush().map_err(|e| self.failed(e))?;
        let n = partitions.max(1);
        let mut parts = vec![Records::new(); n];
        if from >= to {
            return Ok(parts);
        }
        for segment in from.segment..=to.segment {
            let path = segment_path(&self.dir, segment);
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && segment == to.segment
                        && to.offset <= SEGMENT_HEADER =>
                {
                    continue;
                }
                Err(e) => {
                    return Err(damaged(format!(
                        "write-ahead log segment {} is gone ({e}), but records from {from:?} to {to:?} are needed from it",
                        path.display()
                    )));
                }
            };
            let (found, valid) = blocks(&bytes);
            if segment == to.segment && (valid as u64) < to.offset {
                return Err(damaged(format!(
                    "write-ahead log segment {} ends at byte {valid}, but records up to byte {} are needed from it (it was truncated or damaged)",
                    path.display(),
                    to.offset
                )));
            }
            for (offset, partition, records) in found {
                let at = WalPos { segment, offset };
                if at >= from && at < to {
                    parts[partition as usize % n].append(&records);
                }
            }
        }
        Ok(parts)
    }

    /// Deletes the segments wholly before `position`.
    pub fn truncate_before(&mut self, position: WalPos) {
        for segment in segments(&self.dir)
            .into_iter()
            .filter(|s| *s < position.segment)
        {
            let _ = std::fs::remove_file(segment_path(&self.dir, segment));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(words: &[&str]) -> Records {
        words.iter().copied().collect()
    }

    #[test]
    fn ranges_read_back_and_a_torn_tail_is_dropped() {
        let dir = std::env::temp_dir().join(format!("sluice-wal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut wal = Wal::open(&dir).unwrap();
        let start = wal.position();
        wal.append(0, &lines(&["a", "b"])).unwrap();
        wal.append(1, &lines(&["c"])).unwrap();
        let first = wal.sync().unwrap();
        wal.append(0, &lines(&["d"])).unwrap();
        let second = wal.sync().unwrap();
        assert_eq!(
            wal.read(start, first, 2).unwrap(),
            vec![lines(&["a", "b"]), lines(&["c"])]
        );
        assert_eq!(
            wal.read(first, second, 2).unwrap(),
            vec![lines(&["d"]), Records::new()]
        );
        // At one partition, everything lands in it.
        assert_eq!(
            Records::concat(&wal.read(start, second, 1).unwrap()).len(),
            4
        );
        drop(wal);
        // A crash in the middle of appending: half a block at the end.
        let mut file = OpenOptions::new()
            .append(true)
            .open(segment_path(&dir, 0))
            .unwrap();
        file.write_all(&[0, 0, 0, 0, 9, 0]).unwrap();
        drop(file);
        let mut wal = Wal::open(&dir).unwrap();
        assert_eq!(wal.received(), 4);
        assert_eq!(wal.position(), second);
        wal.append(1, &lines(&["e"])).unwrap();
        let third = wal.sync().unwrap();
        assert_eq!(
            wal.read(second, third, 2).unwrap(),
            vec![Records::new(), lines(&["e"])]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_segment_left_without_its_header_keeps_the_count_of_the_one_before() {
        let dir = std::env::temp_dir().join(format!("sluice-wal-headless-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut wal = Wal::open(&dir).unwrap();
        wal.append(0, &lines(&["a", "b", "c"])).unwrap();
        let end = wal.sync().unwrap();
        drop(wal);
        // A crash after the next segment was created, before its header was written.
        File::create(segment_path(&dir, 1)).unwrap();
        let mut wal = Wal::open(&dir).unwrap();
        assert_eq!(wal.received(), 3, "the count does not start again at 0");
        wal.append(0, &lines(&["d"])).unwrap();
        let after = wal.sync().unwrap();
        // Truncating before the new segment keeps the count.
        wal.truncate_before(after);
        drop(wal);
        let mut wal = Wal::open(&dir).unwrap();
        assert_eq!(wal.received(), 4);
        // The range in the deleted segment is now reported missing, not read as empty.
        let error = wal
            .read(
                WalPos {
                    segment: 0,
                    offset: SEGMENT_HEADER,
                },
                end,
                1,
            )
            .unwrap_err();
        assert!(error.to_string().contains("is gone"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_truncated_segment_is_an_error_for_the_range_it_lost() {
        let dir = std::env::temp_dir().join(format!("sluice-wal-short-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut wal = Wal::open(&dir).unwrap();
        let start = wal.position();
        wal.append(0, &lines(&["a", "b"])).unwrap();
        let end = wal.sync().unwrap();
        drop(wal);
        let file = OpenOptions::new()
            .write(true)
            .open(segment_path(&dir, 0))
            .unwrap();
        file.set_len(SEGMENT_HEADER + 4).unwrap();
        drop(file);
        let mut wal = Wal::open(&dir).unwrap();
        let error = wal.read(start, end, 1).unwrap_err();
        assert!(
            error.to_string().contains("truncated or damaged"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn counts_survive_segment_rolls_and_truncation() {
        let dir = std::env::temp_dir().join(format!("sluice-wal-roll-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut wal = Wal::open(&dir).unwrap();
        let megabyte = "x".repeat(1 << 20);
        let big = lines(&[megabyte.as_str(); 40]);
        wal.append(0, &big).unwrap();
        wal.append(0, &lines(&["after the roll"])).unwrap();
        let end = wal.sync().unwrap();
        assert_eq!(end.segment, 1);
        wal.truncate_before(end);
        drop(wal);
        let wal = Wal::open(&dir).unwrap();
        assert_eq!(wal.received(), 41);
        assert_eq!(segments(&dir), [1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
