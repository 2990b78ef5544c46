//! The buffer a receiver thread fills and the scheduler empties, and the line-reading
//! loop shared by the socket and stdin receivers.

use crate::record::Records;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Records per block: a receiver fills one partition with a block, then moves on to the
/// next, so a batch's records spread evenly over partitions.
const BLOCK_RECORDS: usize = 1024;

/// Records received since the last cut, spread over partitions block by block.
pub struct Received {
    state: Mutex<State>,
    finished: AtomicBool,
}

struct State {
    parts: Vec<Records>,
    next: usize,
    in_block: usize,
}

impl Received {
    /// An empty buffer for `partitions` partitions.
    pub fn new(partitions: usize) -> Arc<Self> {
        Arc::new(Received {
            state: Mutex::new(State {
                parts: (0..partitions.max(1)).map(|_| Records::new()).collect(),
                next: 0,
                in_block: 0,
            }),
            finished: AtomicBool::new(false),
        })
    }

    /// Adds records (all complete lines) to the buffer.
    pub fn push(&self, block: &Records) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let next = state.next;
        state.parts[next].append(block);
        state.in_block += block.len();
        if state.in_block >= BLOCK_RECORDS {
            state.in_block = 0;
            state.next = (next + 1) % state.parts.len();
        }
    }

    /// Takes everything received so far.
    pub fn take(&self) -> Vec<Records> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let n = state.parts.len();
        state.in_block = 0;
        std::mem::replace(&mut state.parts, (0..n).map(|_| Records::new()).collect())
    }

    /// Marks the receiver as done: nothing more will be pushed.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
    }

    /// Whether the receiver is done.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }
}

/// How a read loop ended.
#[derive(Debug)]
pub enum ReadEnd {
    /// The stream ended cleanly.
    Eof,
    /// Reading failed.
    Error(std::io::Error),
}

/// Reads lines from `reader` into `received` until end of stream or an error. Lines
/// are pushed as soon as the reader has no more buffered input, so a quiet stream's
/// lines never wait for a full block, and a busy one's are pushed a block at a time.
/// A final line without a newline counts. Invalid UTF-8 is replaced, not dropped.
pub fn read_lines<R: Read>(reader: &mut BufReader<R>, received: &Received) -> (u64, ReadEnd) {
    let mut block = Records::new();
    let mut line = Vec::new();
    let mut count = 0u64;
    let end = loop {
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break ReadEnd::Eof,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    push_line(&mut block, &line);
                    count += 1;
                    line.clear();
                }
                // `buffer()`, not `fill_buf()`: the latter would block on a quiet socket
                // while holding lines back from the next cut.
                if block.len() >= BLOCK_RECORDS || reader.buffer().is_empty() {
                    received.push(&block);
                    block = Records::new();
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break ReadEnd::Error(e),
        }
    };
    if !line.is_empty() {
        push_line(&mut block, &line);
        count += 1;
    }
    received.push(&block);
    (count, end)
}

fn push_line(block: &mut Records, line: &[u8]) {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    block.push_str(&String::from_utf8_lossy(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_with_and_without_final_newline() {
        let received = Received::new(2);
        let (count, end) = read_lines(&mut BufReader::new(&b"a\r\nb\n\nlast"[..]), &received);
        assert_eq!(count, 4);
        assert!(matches!(end, ReadEnd::Eof));
        let parts = received.take();
        let all = Records::concat(&parts);
        let mut expected = Records::new();
        for l in ["a", "b", "", "last"] {
            expected.push_str(l);
        }
        assert_eq!(all, expected);
    }

    #[test]
    fn blocks_rotate_over_partitions() {
        let received = Received::new(3);
        let text: String = (0..5000).map(|i| format!("{i}\n")).collect();
        read_lines(
            &mut BufReader::with_capacity(1 << 20, text.as_bytes()),
            &received,
        );
        let parts = received.take();
        assert_eq!(parts.iter().map(Records::len).sum::<usize>(), 5000);
        assert!(
            parts.iter().all(|p| p.len() >= 1024),
            "{:?}",
            parts.iter().map(Records::len).collect::<Vec<_>>()
        );
        assert!(received.take().iter().all(Records::is_empty));
    }
}
