//! The batch scheduler: one cut of every source per batch interval.

use super::{Clock, Shutdown};
use crate::checkpoint::{Journal, JournalEntry};
use crate::source::{Source, SourceBatch};
use crossbeam_channel::Sender;
use std::time::Duration;

/// What every source produced for one batch time.
#[derive(Debug)]
pub struct BatchInput {
    /// The batch time: the end of the interval, in ms since the Unix epoch.
    pub time_ms: u64,
    /// One entry per source, in pipeline order.
    pub sources: Vec<SourceBatch>,
    /// True for the batch after which no more will come.
    pub last: bool,
    /// Why this batch could not be made durable (its journal entry or a receiver's
    /// write-ahead log could not be written): it fails instead of running.
    pub not_durable: Option<String>,
}

/// Cuts batches at every multiple of the batch interval.
#[derive(Clone, Copy, Debug)]
pub struct BatchScheduler {
    interval_ms: u64,
    first_ms: u64,
}

impl BatchScheduler {
    /// A scheduler for `interval` (at least one millisecond) whose first batch is the
    /// first after `now_ms`.
    pub fn new(interval: Duration, now_ms: u64) -> Self {
        let interval_ms = (interval.as_millis() as u64).max(1);
        BatchScheduler {
            interval_ms,
            first_ms: first_batch_time(interval_ms, now_ms),
        }
    }

    /// A scheduler that resumes after the batch at `last_ms`: the batches between it and
    /// now are cut at once, one per interval, as Spark reschedules the batches of a
    /// downtime.
    pub fn resuming(interval: Duration, last_ms: u64) -> Self {
        let interval_ms = (interval.as_millis() as u64).max(1);
        BatchScheduler {
            interval_ms,
            first_ms: last_ms + interval_ms,
        }
    }

    /// The time of the first batch.
    pub fn first_batch_time(&self) -> u64 {
        self.first_ms
    }

    /// Cuts batches until every source has finished, or `shutdown` is raised, and sends
    /// each one to `batches`. On shutdown the sources stop receiving and what they had
    /// received goes into one last batch. Returns the number of batches cut.
    pub fn run(
        &self,
        clock: &dyn Clock,
        sources: &mut [Box<dyn Source>],
        shutdown: &Shutdown,
        batches: &Sender<BatchInput>,
        journal: Option<&Journal>,
    ) -> u64 {
        let mut time = self.first_ms;
        let mut cut = 0;
        loop {
            let reached = clock.sleep_until(time, shutdown);
            if !reached {
                for source in sources.iter_mut() {
                    source.stop();
                }
            }
            // Read "finished" before cutting: a source publishes its data before it
            // says it has finished, so this cut holds everything it will ever produce.
            let last = !reached || sources.iter().all(|s| s.is_finished());
            let mut input = BatchInput {
                time_ms: time,
                sources: sources.iter_mut().map(|s| s.cut(time)).collect(),
                last,
                not_durable: None,
            };
            input.not_durable = sources
                .iter()
                .filter_map(|s| s.received()?.take_log_failure())
                .next();
            if let Some(journal) = journal {
                // Durable before the batch exists anywhere else: a crash after this
                // point re-runs exactly this batch.
                let entry = JournalEntry::new(
                    time,
                    input.sources.iter().map(SourceBatch::descriptor).collect(),
                );
                if let Err(e) = journal.append(&entry) {
                    tracing::error!(
                        "cannot write batch {time} to the batch journal ({e}); the batch fails"
                    );
                    input
                        .not_durable
                        .get_or_insert_with(|| format!("cannot write the batch journal: {e}"));
                }
            }
            if cut == 0 {
                tracing::info!(
                    "first batch boundary: batch {time}; one every {} ms",
                    self.interval_ms
                );
            }
            cut += 1;
            if batches.send(input).is_err() || last {
                return cut;
            }
            time += self.interval_ms;
        }
    }
}

/// The first batch time after `now_ms`: the next multiple of the interval, so that
/// batch times line up across runs as Spark's do.
fn first_batch_time(interval_ms: u64, now_ms: u64) -> u64 {
    (now_ms / interval_ms + 1) * interval_ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::ManualClock;
    use crate::record::Records;
    use crate::source::SourceHandle;
    use std::sync::{Arc, Mutex};

    /// A source fed by the test: lines pushed between cuts go into the next cut.
    #[derive(Clone, Default)]
    struct Fed {
        pending: Arc<Mutex<(Vec<String>, bool)>>,
    }

    impl Source for Fed {
        fn cut(&mut self, _batch_time_ms: u64) -> SourceBatch {
            let mut records = Records::new();
            for line in self.pending.lock().unwrap().0.drain(..) {
                records.push_str(&line);
            }
            SourceBatch::new(crate::source::ReceivedCut {
                parts: vec![records],
                descriptor: crate::source::Descriptor::Volatile { records: 0 },
            })
        }
        fn is_finished(&self) -> bool {
            self.pending.lock().unwrap().1
        }
        fn stop(&mut self) {}
        fn replay(
            &mut self,
            _: &crate::source::Descriptor,
            _: usize,
        ) -> anyhow::Result<Vec<Records>> {
            unreachable!("not journaled")
        }
        fn handle(&self) -> &Arc<SourceHandle> {
            static HANDLE: std::sync::OnceLock<Arc<SourceHandle>> = std::sync::OnceLock::new();
            HANDLE.get_or_init(|| Arc::new(SourceHandle::unlimited("fed", "test")))
        }
    }

    /// The lines of the batch's (only) source, read.
    fn lines(batch: &mut BatchInput) -> usize {
        let taken = batch.sources.remove(0);
        taken.materialize(1).iter().map(Records::len).sum()
    }

    #[test]
    fn batch_times_are_multiples_of_the_interval() {
        let at = |now| BatchScheduler::new(Duration::from_millis(250), now).first_batch_time();
        assert_eq!(at(0), 250);
        assert_eq!(at(1_001), 1_250);
        assert_eq!(at(1_250), 1_500);
    }

    #[test]
    fn records_land_in_the_batch_whose_interval_they_arrived_in() {
        let clock = Arc::new(ManualClock::new(10_100));
        let fed = Fed::default();
        let (tx, rx) = crossbeam_channel::unbounded();
        let shutdown = Shutdown::new();
        let runner = {
            let scheduler = BatchScheduler::new(Duration::from_secs(1), clock.now_ms());
            let (clock, fed, shutdown) = (clock.clone(), fed.clone(), shutdown.clone());
            std::thread::spawn(move || {
                let mut sources: Vec<Box<dyn Source>> = vec![Box::new(fed)];
                scheduler.run(&*clock, &mut sources, &shutdown, &tx, None)
            })
        };
        fed.pending.lock().unwrap().0.push("before 11000".into());
        clock.set(11_000);
        let mut first = rx.recv().unwrap();
        assert_eq!(
            (first.time_ms, lines(&mut first), first.last),
            (11_000, 1, false)
        );

        fed.pending
            .lock()
            .unwrap()
            .0
            .extend(["a".to_string(), "b".to_string()]);
        clock.set(11_999);
        assert!(rx.try_recv().is_err(), "no batch before its time");
        clock.set(12_000);
        let mut second = rx.recv().unwrap();
        assert_eq!((second.time_ms, lines(&mut second)), (12_000, 2));

        // An interval with no data is still a batch (an empty one).
        clock.set(13_000);
        assert_eq!(lines(&mut rx.recv().unwrap()), 0);

        fed.pending.lock().unwrap().0.push("last".into());
        fed.pending.lock().unwrap().1 = true;
        clock.set(14_000);
        let mut last = rx.recv().unwrap();
        assert_eq!(
            (last.time_ms, lines(&mut last), last.last),
            (14_000, 1, true)
        );
        assert_eq!(runner.join().unwrap(), 4);
        assert!(rx.recv().is_err(), "nothing after the last batch");
    }

    #[test]
    fn a_batch_whose_journal_entry_cannot_be_written_is_marked_not_durable() {
        let clock = Arc::new(ManualClock::new(1_000));
        let fed = Fed::default();
        fed.pending.lock().unwrap().0.push("on a full disk".into());
        fed.pending.lock().unwrap().1 = true;
        let (tx, rx) = crossbeam_channel::unbounded();
        let scheduler = BatchScheduler::new(Duration::from_secs(1), clock.now_ms());
        let journal = crate::checkpoint::Journal::on_a_full_disk();
        clock.set(2_000);
        let mut sources: Vec<Box<dyn Source>> = vec![Box::new(fed)];
        scheduler.run(&*clock, &mut sources, &Shutdown::new(), &tx, Some(&journal));
        let mut batch = rx.recv().unwrap();
        assert_eq!(lines(&mut batch), 1);
        let why = batch.not_durable.expect("the batch is marked");
        assert!(
            why.starts_with("cannot write the batch journal: /dev/full: No space left on device"),
            "{why}"
        );
    }

    #[test]
    fn shutdown_cuts_what_was_received_at_once() {
        let clock = Arc::new(ManualClock::new(5_000));
        let fed = Fed::default();
        fed.pending.lock().unwrap().0.push("in flight".into());
        let (tx, rx) = crossbeam_channel::unbounded();
        let shutdown = Shutdown::new();
        let runner = {
            let scheduler = BatchScheduler::new(Duration::from_secs(1), clock.now_ms());
            let (clock, fed, shutdown) = (clock.clone(), fed.clone(), shutdown.clone());
            std::thread::spawn(move || {
                let mut sources: Vec<Box<dyn Source>> = vec![Box::new(fed)];
                scheduler.run(&*clock, &mut sources, &shutdown, &tx, None)
            })
        };
        shutdown.raise();
        let mut last = rx.recv().unwrap();
        assert_eq!(
            (last.time_ms, lines(&mut last), last.last),
            (6_000, 1, true)
        );
        assert_eq!(runner.join().unwrap(), 1);
    }
}
