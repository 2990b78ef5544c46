//! A batch's files as line records, split into partitions: the files are read in
//! parallel, their line starts found, and then each partition encodes its own lines in
//! parallel, straight into its records. One large file is spread over every core this
//! way, and no line is encoded twice or copied from one buffer into another.
//!
//! Line `i` of the batch (counting across its files, in order) goes to partition
//! `i * partitions / lines`, as [`Records::split`] puts record `i`: contiguous, nearly
//! equal ranges, the same on a replay.

use crate::record::Records;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// One file's bytes and where each of its lines starts.
struct FileLines {
    bytes: Vec<u8>,
    /// The offset of each line; a trailing newline does not start one.
    starts: Vec<usize>,
}

impl FileLines {
    /// Reads `path`; an unreadable file is reported and has no lines.
    fn read(path: &Path) -> FileLines {
        let bytes = std::fs::read(path).unwrap_or_else(|e| {
            tracing::error!(
                "cannot read {}: {e}; its lines are not in this batch",
                path.display()
            );
            Vec::new()
        });
        let starts = line_starts(&bytes);
        FileLines { bytes, starts }
    }

    /// Line `k`, without its `\n` or `\r\n`.
    fn line(&self, k: usize) -> &[u8] {
        let start = self.starts[k];
        let end = match self.starts.get(k + 1) {
            Some(&next) => next - 1,
            None => self.bytes.len() - usize::from(self.bytes.ends_with(b"\n")),
        };
        let line = &self.bytes[start..end];
        line.strip_suffix(b"\r").unwrap_or(line)
    }
}

/// The bytes whose newlines end lines: all but a trailing newline, which does not start
/// one. `None` for no bytes, which hold no line.
fn body(bytes: &[u8]) -> Option<&[u8]> {
    (!bytes.is_empty()).then(|| bytes.strip_suffix(b"\n").unwrap_or(bytes))
}

fn line_starts(bytes: &[u8]) -> Vec<usize> {
    let Some(body) = body(bytes) else {
        return Vec::new();
    };
    let mut starts = Vec::with_capacity(bytes.len() / 32 + 1);
    starts.push(0);
    starts.extend(memchr::memchr_iter(b'\n', body).map(|i| i + 1));
    starts
}

/// How many records [`read_files`] makes of one file, without making them.
pub fn count_lines(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap_or_default();
    body(&bytes).map_or(0, |body| {
        memchr::memchr_iter(b'\n', body).count() as u64 + 1
    })
}

/// The lines of `files`, in order, as string records in `partitions` partitions. Invalid
/// UTF-8 is replaced rather than dropped.
pub fn read_files(files: &[PathBuf], partitions: usize) -> Vec<Records> {
    let files: Vec<FileLines> = files.par_iter().map(|f| FileLines::read(f)).collect();
    let total: usize = files.iter().map(|f| f.starts.len()).sum();
    let n = partitions.max(1);
    (0..n)
        .into_par_iter()
        .map(|p| {
            // The lines i with i * n / total == p.
            let (from, to) = ((p * total).div_ceil(n), ((p + 1) * total).div_ceil(n));
            encode(&files, from, to)
        })
        .collect()
}

/// Lines `from..to` of `files`, counted across them, as records.
fn encode(files: &[FileLines], from: usize, to: usize) -> Records {
    let mut skipped = 0;
    let mut records = Records::new();
    let mut reserved = false;
    for file in files {
        let lines = file.starts.len();
        let (lo, hi) = (
            from.saturating_sub(skipped).min(lines),
            to.saturating_sub(skipped).min(lines),
        );
        skipped += lines;
        if lo >= hi {
            continue;
        }
        if !reserved {
            // About the text's size plus a header per line.
            let span = file.starts.get(hi).copied().unwrap_or(file.bytes.len()) - file.starts[lo];
            records = Records::with_capacity(span + (hi - lo) * 2);
            reserved = true;
        }
        for k in lo..hi {
            let line = file.line(k);
            match std::str::from_utf8(line) {
                Ok(text) => records.push_str(text),
                Err(_) => records.push_str(&String::from_utf8_lossy(line)),
            }
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What reading used to be: every file into one buffer, then split by count.
    fn one_by_one(files: &[PathBuf], partitions: usize) -> Vec<Records> {
        let mut all = Records::new();
        for file in files {
            let bytes = std::fs::read(file).unwrap();
            if bytes.is_empty() {
                continue;
            }
            let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
            for line in body.split(|b| *b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                all.push_str(&String::from_utf8_lossy(line));
            }
        }
        all.split(partitions)
    }

    #[test]
    fn partitions_hold_the_same_lines_in_the_same_places_as_a_split() {
        let dir = std::env::temp_dir().join(format!("sluice-file-lines-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let contents: [&[u8]; 7] = [
            b"one\ntwo\nthree\n",
            b"",
            b"no newline at the end",
            b"\n\n",
            b"crlf\r\nlines\r\n",
            b"bad \xff utf-8\nok\n",
            b"x\ny\nz\nw\nv\nu\nt\n",
        ];
        let files: Vec<PathBuf> = contents
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let path = dir.join(format!("f{i}"));
                std::fs::write(&path, c).unwrap();
                path
            })
            .collect();
        for partitions in [1, 2, 3, 5, 30] {
            for end in 0..=files.len() {
                let some = &files[..end];
                assert_eq!(
                    read_files(some, partitions),
                    one_by_one(some, partitions),
                    "{end} files, {partitions} partitions"
                );
            }
        }
        assert_eq!(count_lines(&files[0]), 3);
        assert_eq!(count_lines(&files[1]), 0);
        assert_eq!(count_lines(&files[2]), 1);
        assert_eq!(count_lines(&files[3]), 2);
        for file in &files {
            let made = read_files(std::slice::from_ref(file), 1)[0].len() as u64;
            assert_eq!(count_lines(file), made, "{}", file.display());
        }
        let missing = read_files(&[dir.join("missing")], 2);
        assert!(missing.iter().all(Records::is_empty));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
