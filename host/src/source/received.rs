//! The buffer a receiver thread fills and the scheduler empties, and the line-reading
//! loop shared by the socket and stdin receivers.

use super::wal::{Wal, WalPos};
use super::{Cut, Descriptor};
use crate::rate::Throttle;
use crate::record::Records;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Records per block: a receiver fills one partition with a block, then moves on to the
/// next, so a batch's records spread evenly over partitions.
const BLOCK_RECORDS: usize = 1024;

/// The most a receiver holds between two cuts, in bytes of records and in records. At
/// either, it stops reading until the next cut takes them, so a stalled batch holds the
/// sender back (a full TCP window, a full pipe) instead of growing memory.
pub const MAX_BUFFERED_BYTES: usize = 128 << 20;
/// See [`MAX_BUFFERED_BYTES`].
pub const MAX_BUFFERED_RECORDS: usize = 4 << 20;

/// The longest line a receiver reads. A longer one is not a record: it is skipped to its
/// newline, counted and logged.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Records received since the last cut, spread over partitions block by block, and
/// (with `wal = true`) written ahead.
pub struct Received {
    state: Mutex<State>,
    /// Signalled when a cut makes room.
    room: Condvar,
    finished: AtomicBool,
    /// Set when the source stops: a receiver waiting for room gives up.
    closing: AtomicBool,
}

struct State {
    parts: Vec<Records>,
    next: usize,
    in_block: usize,
    log: Option<Logged>,
    /// Bytes and records in `parts`.
    bytes: usize,
    records: usize,
    /// Whether the receiver is waiting for room now (logged once per wait).
    full: bool,
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
            for (i, records) in pending.into_iter().enumerate() {
                state.bytes += records.bytes().len();
                state.records += records.len();
                state.parts[i].append(&records);
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
                bytes: 0,
                records: 0,
                full: false,
            }),
            room: Condvar::new(),
            finished: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        })
    }

    /// Records received since the write-ahead log began, if there is one.
    pub fn logged(&self) -> Option<u64> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.log.as_ref().map(|l| l.wal.received())
    }

    /// Adds records (all complete lines) to the buffer, after the write-ahead log. While
    /// the buffer holds [`MAX_BUFFERED_BYTES`] or [`MAX_BUFFERED_RECORDS`], waits for a
    /// cut to take them (or the source to stop).
    pub fn push(&self, block: &Records) {
        if block.is_empty() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while (state.bytes >= MAX_BUFFERED_BYTES || state.records >= MAX_BUFFERED_RECORDS)
            && !self.closing.load(Ordering::SeqCst)
        {
            if !state.full {
                state.full = true;
                tracing::warn!(
                    bytes = state.bytes,
                    records = state.records,
                    "{} records ({} MiB) received and not yet taken by a batch: reading stops until the next batch takes them, which holds the sender back",
                    state.records,
                    state.bytes >> 20
                );
            }
            state = self
                .room
                .wait_timeout(state, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        state.full = false;
        state.bytes += block.bytes().len();
        state.records += block.len();
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
        state.bytes = 0;
        state.records = 0;
        self.room.notify_all();
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

    /// Tells a receiver waiting for room to stop waiting: the source is stopping.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.room.notify_all();
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
    let mut overlong = 0u64;
    let end = loop {
        if !throttle.try_admit() {
            received.push(&block);
            block = Records::new();
            if !throttle.admit(stopping) {
                break ReadEnd::Stopped;
            }
        }
        // Before a read that may wait for the sender (no whole line buffered), the lines
        // read so far go to the buffer, so that the next cut takes them.
        // `buffer()`, not `fill_buf()`: the latter would block on a quiet socket.
        if !block.is_empty() && (block.len() >= BLOCK_RECORDS || !reader.buffer().contains(&b'\n'))
        {
            received.push(&block);
            block = Records::new();
        }
        match read_line_bounded(reader, &mut line) {
            Ok(Line::End) => break ReadEnd::Eof,
            Ok(Line::Whole) => {
                push_line(&mut block, &line);
                count += 1;
                line.clear();
            }
            Ok(Line::TooLong(bytes)) => {
                overlong += 1;
                tracing::warn!(
                    bytes,
                    "a line of {bytes} bytes, longer than the {} MiB a record may be, is not a record ({overlong} such lines so far)",
                    MAX_LINE_BYTES >> 20
                );
                line.clear();
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

/// What [`read_line_bounded`] read.
enum Line {
    /// A whole line, newline included, in the buffer.
    Whole,
    /// A line longer than [`MAX_LINE_BYTES`], of this many bytes, consumed and dropped.
    TooLong(usize),
    /// The end of the stream; a last line without newline is left in the buffer.
    End,
}

/// Reads up to and including the next newline into `line` (which keeps what an earlier
/// call left of a line), never holding more than [`MAX_LINE_BYTES`] of it.
fn read_line_bounded<R: Read>(
    reader: &mut BufReader<R>,
    line: &mut Vec<u8>,
) -> std::io::Result<Line> {
    let mut dropped = 0usize;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            if dropped > 0 {
                return Ok(Line::TooLong(dropped));
            }
            return Ok(Line::End);
        }
        let (take, whole) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if dropped == 0 && line.len() + take <= MAX_LINE_BYTES {
            line.extend_from_slice(&available[..take]);
        } else {
            dropped += line.len() + take;
            line.clear();
        }
        reader.consume(take);
        match (whole, dropped) {
            (true, 0) => return Ok(Line::Whole),
            (true, n) => return Ok(Line::TooLong(n)),
            (false, _) => {}
        }
    }
}

fn push_line(block: &mut Records, line: &[u8]) {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    block.push_str(&String::from_utf8_lossy(line));
}

/// Records already received, spread over partitions, and how to get them again: the
/// cut of every receiver.
pub struct ReceivedCut {
    /// The records, by partition.
    pub parts: Vec<Records>,
    /// What the journal records of them.
    pub descriptor: Descriptor,
}

impl Cut for ReceivedCut {
    fn descriptor(&self) -> Descriptor {
        self.descriptor.clone()
    }

    fn read(self: Box<Self>, _partitions: usize) -> Vec<Records> {
        self.parts
    }
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

    /// A reader that gives `first` in one read, then notes how many records `received`
    /// held when it was asked for more (where a socket would wait for the sender).
    struct ThenNote<'a> {
        first: Option<&'a [u8]>,
        received: &'a Received,
        held_at_wait: &'a std::cell::Cell<Option<usize>>,
    }

    impl Read for ThenNote<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if let Some(text) = self.first.take() {
                buf[..text.len()].copy_from_slice(text);
                return Ok(text.len());
            }
            if self.held_at_wait.get().is_none() {
                let state = self.received.state.lock().unwrap();
                self.held_at_wait.set(Some(state.records));
            }
            Ok(0)
        }
    }

    #[test]
    fn whole_lines_reach_the_buffer_before_a_read_waits_for_the_rest_of_a_partial_one() {
        let received = Received::new(1);
        let held = std::cell::Cell::new(None);
        let limit = RateLimit::unlimited();
        let (count, _, torn) = read_lines(
            &mut BufReader::new(ThenNote {
                first: Some(b"alpha\nbeta\npartial"),
                received: &received,
                held_at_wait: &held,
            }),
            &received,
            &mut Throttle::new(&limit),
            &AtomicBool::new(false),
            LastLine::Torn,
        );
        assert_eq!(held.get(), Some(2));
        assert_eq!((count, torn), (2, 7));
    }

    #[test]
    fn a_full_buffer_holds_the_receiver_until_a_cut_takes_it() {
        let received = Received::new(2);
        let mut block = Records::new();
        for _ in 0..BLOCK_RECORDS {
            block.push_str("x");
        }
        let blocks = MAX_BUFFERED_RECORDS / BLOCK_RECORDS + 3;
        let pusher = {
            let received = received.clone();
            std::thread::spawn(move || {
                for _ in 0..blocks {
                    received.push(&block);
                }
            })
        };
        // The receiver stops at the bound and says so.
        while !received.state.lock().unwrap().full {
            std::thread::yield_now();
        }
        assert_eq!(received.state.lock().unwrap().records, MAX_BUFFERED_RECORDS);
        let (first, _) = received.take();
        pusher.join().unwrap();
        let (rest, _) = received.take();
        let total: usize = first.iter().chain(&rest).map(Records::len).sum();
        assert_eq!(total, blocks * BLOCK_RECORDS);
    }

    #[test]
    fn a_line_longer_than_a_record_may_be_is_dropped_and_the_next_one_kept() {
        let mut text = vec![b'x'; MAX_LINE_BYTES + 10];
        text.extend_from_slice(b"\nnext\n");
        let received = Received::new(1);
        assert_eq!(read_all(&text, 64 << 10, &received).0, 1);
        let (parts, _) = received.take();
        let lines: Vec<&[u8]> = parts[0].iter().collect();
        assert_eq!(lines, [&rmp_serde::to_vec("next").unwrap()[..]]);
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
