//! What each batch did, as Spark's Streaming tab shows it: records in, scheduling
//! delay, processing time and total delay, plus per-stage figures; and the run's totals.

use super::executor::StageMetrics;
use std::time::Duration;

/// One batch's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchReport {
    /// The batch time.
    pub time_ms: u64,
    /// Records read per source, in pipeline order.
    pub records_in: Vec<u64>,
    /// Records written to sinks.
    pub records_out: u64,
    /// From the batch time to the start of processing.
    pub scheduling_delay: Duration,
    /// From the start of processing to the end of the last sink.
    pub processing_time: Duration,
    /// Per stage.
    pub stages: Vec<StageMetrics>,
    /// The plugin versions the batch ran: (plugin, content hash), by name.
    pub versions: Vec<(String, String)>,
    /// Records a plugin failed on, set aside to the dead-letter output.
    pub dead_letters: u64,
    /// How long the batch loop spent on a checkpoint after the batch, if it took one.
    pub checkpoint_time: Option<Duration>,
    /// Why the batch failed, if it did.
    pub error: Option<String>,
}

impl BatchReport {
    /// Scheduling delay plus processing time.
    pub fn total_delay(&self) -> Duration {
        self.scheduling_delay + self.processing_time
    }

    /// All records read.
    pub fn total_in(&self) -> u64 {
        self.records_in.iter().sum()
    }

    /// The plugin versions, as `name@hash` separated by spaces.
    pub fn lineage(&self) -> String {
        self.versions
            .iter()
            .map(|(name, hash)| format!("{name}@{hash}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The log line for the batch, at info, or at debug when `quiet` (the event log
    /// has it either way).
    pub fn log(&self, quiet: bool) {
        macro_rules! completed {
            ($level:ident, $suffix:expr) => {
                tracing::$level!(
                    event = "batch_completed",
                    batch = self.time_ms,
                    records_in = self.total_in(),
                    records_out = self.records_out,
                    dead_letters = self.dead_letters,
                    scheduling_delay_ms = self.scheduling_delay.as_millis() as u64,
                    processing_ms = self.processing_time.as_millis() as u64,
                    plugins = %self.lineage(),
                    "batch {}: {} records in, {} out{}; processing {} ms, scheduling delay {} ms, total delay {} ms; plugins {}{}",
                    self.time_ms,
                    self.total_in(),
                    self.records_out,
                    if self.dead_letters > 0 {
                        format!(", {} dead letters", self.dead_letters)
                    } else {
                        String::new()
                    },
                    self.processing_time.as_millis(),
                    self.scheduling_delay.as_millis(),
                    self.total_delay().as_millis(),
                    self.lineage(),
                    $suffix,
                )
            };
        }
        match &self.error {
            None if quiet => completed!(debug, ""),
            None if self.is_empty() => completed!(
                info,
                format!(
                    " (no input: of the empty batches that follow, one in {IDLE_EVERY} is logged)"
                )
            ),
            None => completed!(info, ""),
            Some(error) => tracing::error!(
                event = "batch_failed",
                batch = self.time_ms,
                error = %error,
                "batch {} failed: {error}",
                self.time_ms
            ),
        }
    }

    /// Whether the batch read and wrote nothing, and did not fail.
    pub fn is_empty(&self) -> bool {
        self.error.is_none() && self.total_in() == 0 && self.records_out == 0
    }
}

/// An idle stream logs one line per this many empty batches in a row (a minute at a
/// one-second interval), so that it says it is alive without a line every batch.
pub const IDLE_EVERY: u64 = 60;

/// Counts empty batches in a row, to log the first and then one in [`IDLE_EVERY`].
#[derive(Debug, Default)]
pub struct Idle {
    empty: u64,
}

impl Idle {
    /// Logs `report`'s line, at debug if it is an empty batch that need not be said.
    pub fn log(&mut self, report: &BatchReport) {
        report.log(self.quiet(report));
    }

    fn quiet(&mut self, report: &BatchReport) -> bool {
        if report.is_empty() {
            self.empty += 1;
        } else {
            self.empty = 0;
        }
        self.empty > 0 && self.empty % IDLE_EVERY != 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: u64) -> BatchReport {
        BatchReport {
            time_ms: 1_000,
            records_in: vec![records],
            records_out: records,
            scheduling_delay: Duration::ZERO,
            processing_time: Duration::ZERO,
            stages: Vec::new(),
            versions: Vec::new(),
            dead_letters: 0,
            checkpoint_time: None,
            error: None,
        }
    }

    #[test]
    fn an_idle_stream_logs_its_first_empty_batch_then_one_in_sixty() {
        let mut idle = Idle::default();
        assert!(!idle.quiet(&batch(5)));
        let said = (0..130).filter(|_| !idle.quiet(&batch(0))).count();
        assert_eq!(said, 3, "the 1st, 61st and 121st empty batches");
        assert!(!idle.quiet(&batch(1)));
        assert!(
            !idle.quiet(&batch(0)),
            "input again, then idle again: said at once"
        );
        let mut failed = batch(0);
        failed.error = Some("boom".into());
        assert!(!idle.quiet(&failed), "a failed batch is never quiet");
    }
}

/// Totals over a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSummary {
    /// Batches run.
    pub batches: u64,
    /// Of which failed.
    pub failed: u64,
    /// Records read.
    pub records_in: u64,
    /// Records written to sinks.
    pub records_out: u64,
    /// Time spent processing, summed over batches.
    pub processing_time: Duration,
    /// Why the run stopped early, when a batch failed under a policy that stops.
    pub stopped: Option<String>,
    /// Batches cut (and journaled) after the pipeline stopped, left for the next start.
    pub not_run: u64,
}

impl RunSummary {
    /// Adds a batch.
    pub fn add(&mut self, report: &BatchReport) {
        self.batches += 1;
        self.failed += u64::from(report.error.is_some());
        self.records_in += report.total_in();
        self.records_out += report.records_out;
        self.processing_time += report.processing_time;
    }

    /// Records read per second of processing time: the throughput the engine
    /// sustained while it was busy.
    pub fn records_per_second(&self) -> f64 {
        let secs = self.processing_time.as_secs_f64();
        if secs > 0.0 {
            self.records_in as f64 / secs
        } else {
            0.0
        }
    }
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} batches ({} failed), {} records in, {} out; {:.2} s processing, {:.0} records/s",
            self.batches,
            self.failed,
            self.records_in,
            self.records_out,
            self.processing_time.as_secs_f64(),
            self.records_per_second()
        )
    }
}
