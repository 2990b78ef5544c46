//! The buffer a receiver thread fills and the scheduler empties, and the line-reading
//! loop shared by the socket and stdin receivers.

use super::wal::{Wal, WalPos};
use crate::checkpoint::Descriptor;
use crate::rate::Throttle;
use crate::record::Records;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Records per block: a receiver fills one partition with a block, then moves on to the
/// next, so a batch's records spread evenly over partitions.
const BLOCK_RECORDS: usize = 1024;

/// Records received since the last cut, spread over partitions block by block, and
/// (with `wal = true`) written ahead.
pub struct Received {
    state: Mutex<State>,
    finished: AtomicBool,
}

struct State {
    parts: Vec<Records>,
    next: usize,
    in_block: usize,
    log: Option<Logged>,
}

/// A write-ahead log and where the last cut ended in it.
struct Logged {
    wal: Wal,
    cut: WalPos,
    /// Why records received since the last cut are not all in the log, if they are not.
    failure: Option<String>,
    /// The same, for the records the last cut took.
    cut_failure: Option<String>,
}

impl Received {
    /// An empty buffer for `partitions` partitions.
    pub fn new(partitions: usize) -> Arc<Self> {
        Self::build(partitions, None)
    }

    /// A buffer that writes every block to `wal` before keeping it. Records the log holds
    /// after `resume` (received before a restart, never cut into a batch) are in the
    /// buffer from the start.
    pub fn with_wal(partitions: usize, mut wal: Wal, resume: WalPos) -> std::io::Result<Arc<Self>> {
        let end = wal.sync()?;
        if end < resume {
            // The journal says batches took records the log no longer holds: a restart
            // from here would take records it never saw as new, and a sender that
            // trusts the count would send again what was already processed.
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the write-ahead log ends at segment {} byte {}, but the batch journal and checkpoint say batches took records up to segment {} byte {}: the log was truncated or removed; restore it, or start with --reset-state",
                    end.segment, end.offset, resume.segment, resume.offset
                ),
            ));
        }
        let pending = if resume < end {
            wal.read(resume, end, partitions)?
        } else {
            Vec::new()
        };
        let received = Self::build(
            partitions,
            Some(Logged {
                wal,
                cut: resume,
                failure: None,
                cut_failure: None,
            }),
        );
        let waiting: usize = pending.iter().map(Records::len).sum();
        if waiting > 0 {
            tracing::info!(
                "{waiting} records received before the restart and not yet in a batch go into the next one"
            );
            let mut state = received.state.lock().unwrap_or_else(|p| p.into_inner());
            for (part, records) in state.parts.iter_mut().zip(pending) {
                part.append(&records);
            }
        }
        Ok(received)
    }

    fn build(partitions: usize, log: Option<Logged>) -> Arc<Self> {
        Arc::new(Received {
            state: Mutex::new(State {
                parts: (0..partitions.max(1)).map(|_| Records::new()).collect(),
                next: 0,
                in_block: 0,
                log,
            }),
            finished: AtomicBool::new(false),
        })
    }

    /// Records received since the write-ahead log began, if there is one.
    pub fn logged(&self) -> Option<u64> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.log.as_ref().map(|l| l.wal.received())
    }

    /// Adds records (all complete lines) to the buffer, after the write-ahead log.
    pub fn push(&self, block: &Records) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let next = state.next;
        if let Some(log) = &mut state.log
            && let Err(e) = log.wal.append(next, block)
        {
            tracing::error!(
                "cannot write received records ahead ({e}); the batch that takes them fails"
            );
            log.failure
                .get_or_insert_with(|| format!("cannot write the write-ahead log: {e}"));
        }
        state.parts[next].append(block);
        state.in_block += block.len();
        if state.in_block >= BLOCK_RECORDS {
            state.in_block = 0;
            state.next = (next + 1) % state.parts.len();
        }
    }

    /// Why the records of the last cut are not all in the write-ahead log (an append or
    /// its sync failed), if they are not; taken, so it is told once.
    pub fn take_log_failure(&self) -> Option<String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.log.as_mut().and_then(|l| l.cut_failure.take())
    }

    /// Takes everything received so far, with what the batch journal needs to take it
    /// again: its range of the write-ahead log, synced first, or just how many records
    /// it was.
    pub fn take(&self) -> (Vec<Records>, Descriptor) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let n = state.parts.len();
        state.in_block = 0;
        let parts = std::mem::replace(&mut state.parts, (0..n).map(|_| Records::new()).collect());
        let records = parts.iter().map(|p| p.len() as u64).sum();
        let descriptor = match &mut state.log {
            Some(log) => {
                log.cut_failure = log.failure.take();
                match log.wal.sync() {
                    Ok(end) => Descriptor::Wal {
                        from: std::mem::replace(&mut log.cut, end),
                        to: end,
                    },
                    Err(e) => {
                        tracing::error!(
                            "cannot sync the write-ahead log ({e}); the batch that takes its records fails"
                        );
                        log.cut_failure
                            .get_or_insert_with(|| format!("cannot sync the write-ahead log: {e}"));
                        Descriptor::Volatile { records }
                    }
                }
            }
            None => Descriptor::Volatile { records },
        };
        (parts, descriptor)
    }

    /// The records a journaled cut of this receiver took: a range of the write-ahead
    /// log, or whatever else a descriptor can give again on its own.
    pub fn replay(
        &self,
        descriptor: &Descriptor,
        partitions: usize,
    ) -> anyhow::Result<Vec<Records>> {
        let Descriptor::Wal { from, to } = descriptor else {
            return super::replay_described(descriptor, partitions, None);
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &mut state.log {
            Some(log) => Ok(log.wal.read(*from, *to, partitions)?),
            None => anyhow::bail!("this source has no write-ahead log to replay from"),
        }
    }

    /// Deletes what a checkpoint covers: the log's segments wholly before `position`.
    pub fn truncate_before(&self, position: WalPos) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(log) = &mut state.log {
            log.wal.truncate_before(position);
        }
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
    /// The receiver was stopped while it waited for its rate limit.
    Stopped,
}

/// What to make of a last line without its newline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastLine {
    /// A record, at a clean end of stream (a file whose last line has no newline).
    Keep,
    /// Not a record: the stream broke in the middle of it (a connection that ended
    /// mid-line), so it is counted and logged by the caller instead.
    Torn,
}

/// Reads lines from `reader` into `received` until end of stream or an error. Lines
/// are pushed as soon as the reader has no more buffered input, so a quiet stream's
/// lines never wait for a full block, and a busy one's are pushed a block at a time.
/// A last line without a newline is a record at a clean end with `LastLine::Keep`;
/// otherwise (after a read error, or with `LastLine::Torn`) it is not, and its length
/// in bytes is returned. Invalid UTF-8 is replaced, not dropped.
///
/// Each line waits for a permit from `throttle` first. While it waits, the lines read
/// so far are in `received` and nothing is read, so the sender is held back by the
/// stream itself (a full TCP window, a full pipe); `stopping` ends the wait.
pub fn read_lines<R: Read>(
    reader: &mut BufReader<R>,
    received: &Received,
    throttle: &mut Throttle<'_>,
    stopping: &AtomicBool,
    last_line: LastLine,
) -> (u64, ReadEnd, usize) {
    let mut block = Records::new();
    let mut line = Vec::new();
    let mut count = 0u64;
    let end = loop {
        if !throttle.try_admit() {
            received.push(&block);
            block = Records::new();
            if !throttle.admit(stopping) {
                break ReadEnd::Stopped;
            }
        }
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
    let mut torn = 0;
    if !line.is_empty() {
        if matches!(end, ReadEnd::Eof) && last_line == LastLine::Keep {
            push_line(&mut block, &line);
            count += 1;
        } else {
            torn = line.len();
        }
    }
    received.push(&block);
    (count, end, torn)
}

fn push_line(block: &mut Records, line: &[u8]) {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    block.push_str(&String::from_utf8_lossy(line));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::RateLimit;

    fn read_all(text: &[u8], capacity: usize, received: &Received) -> (u64, ReadEnd) {
        let limit = RateLimit::unlimited();
        let (count, end, torn) = read_lines(
            &mut BufReader::with_capacity(capacity, text),
            received,
            &mut Throttle::new(&limit),
            &AtomicBool::new(false),
            LastLine::Keep,
        );
        assert_eq!(torn, 0);
        (count, end)
    }

    /// A reader that gives `text`, then fails as a reset connection does.
    struct Resets<'a>(&'a [u8]);

    impl Read for Resets<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::from(ErrorKind::ConnectionReset));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_line_cut_off_by_the_end_of_a_connection_is_not_a_record() {
        let limit = RateLimit::unlimited();
        let run = |reader: &mut dyn Read, last_line| {
            let received = Received::new(1);
            let (count, end, torn) = read_lines(
                &mut BufReader::new(reader),
                &received,
                &mut Throttle::new(&limit),
                &AtomicBool::new(false),
                last_line,
            );
            let (parts, _) = received.take();
            (count, end, torn, parts[0].len())
        };
        // A reset in the middle of a line: the part before it is not a record.
        let (count, end, torn, kept) = run(&mut Resets(b"whole 1\nhalf a li"), LastLine::Keep);
        assert_eq!((count, torn, kept), (1, 9, 1));
        assert!(matches!(end, ReadEnd::Error(_)));
        // A socket that closes mid-line (a sender killed while writing) is torn too.
        let (count, end, torn, kept) = run(&mut &b"whole 1\nhalf"[..], LastLine::Torn);
        assert_eq!((count, torn, kept), (1, 4, 1));
        assert!(matches!(end, ReadEnd::Eof));
    }

    #[test]
    fn reads_lines_with_and_without_final_newline() {
        let received = Received::new(2);
        let (count, end) = read_all(b"a\r\nb\n\nlast", 8192, &received);
        assert_eq!(count, 4);
        assert!(matches!(end, ReadEnd::Eof));
        let (parts, _) = received.take();
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
        read_all(text.as_bytes(), 1 << 20, &received);
        let (parts, _) = received.take();
        assert_eq!(parts.iter().map(Records::len).sum::<usize>(), 5000);
        assert!(
            parts.iter().all(|p| p.len() >= 1024),
            "{:?}",
            parts.iter().map(Records::len).collect::<Vec<_>>()
        );
        assert!(received.take().0.iter().all(Records::is_empty));
    }

    #[test]
    fn a_log_shorter_than_the_journal_says_is_an_error_not_a_fresh_start() {
        let dir = std::env::temp_dir().join(format!("sluice-received-gap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The journal says a batch took the log up to byte 4096 of segment 3; the log
        // was removed and starts again empty.
        let wal = Wal::open(&dir).unwrap();
        let resume = WalPos {
            segment: 3,
            offset: 4096,
        };
        let error = Received::with_wal(1, wal, resume).err().expect("refused");
        let message = error.to_string();
        assert!(
            message.contains("segment 0 byte 8")
                && message.contains("segment 3 byte 4096")
                && message.contains("--reset-state"),
            "{message}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rate_limited_read_hands_over_what_it_read_before_it_waits() {
        // 1 record per second with a burst of one: the second line must wait a second.
        // The first must already be in the buffer by then.
        let limit = RateLimit::new(Some(1));
        let received = Received::new(1);
        let stop = AtomicBool::new(true);
        let (count, end, _) = read_lines(
            &mut BufReader::new(&b"first\nsecond\n"[..]),
            &received,
            &mut Throttle::new(&limit),
            &stop,
            LastLine::Keep,
        );
        assert_eq!(count, 1);
        assert!(matches!(end, ReadEnd::Stopped));
        assert_eq!(received.take().0[0].len(), 1);
    }
}
