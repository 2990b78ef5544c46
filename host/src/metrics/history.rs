//! The recent batches, kept in full up to a bound, and the run's totals, kept forever.

use super::histogram::Histogram;
use crate::engine::{BatchReport, CompletedBatch, PluginCalls};
use crate::plugin::CallCounts;
use std::collections::VecDeque;
use std::time::Duration;

/// One completed batch, as the API, the page and the status line show it: the engine's
/// report of it, and what the monitor adds at its end.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchRecord {
    /// The engine's figures: times, records in and out, stages, dead letters, error.
    pub report: BatchReport,
    /// What each plugin version did.
    pub plugins: Vec<PluginCalls>,
    /// Batches waiting when it finished.
    pub queued: usize,
    /// When it finished, ms since the Unix epoch.
    pub finished_ms: u64,
    /// Each source's rate limit when it finished, in records per second.
    pub rate_limits: Vec<Option<f64>>,
}

impl BatchRecord {
    /// The record of `batch`, with the sources' limits at its end.
    pub fn new(batch: &CompletedBatch<'_>, rate_limits: Vec<Option<f64>>) -> Self {
        BatchRecord {
            report: batch.report.clone(),
            plugins: batch.plugins.to_vec(),
            queued: batch.queued,
            finished_ms: batch.finished_ms,
            rate_limits,
        }
    }
}

/// The last `capacity` batches, oldest first.
#[derive(Clone, Debug)]
pub struct BatchHistory {
    capacity: usize,
    batches: VecDeque<BatchRecord>,
}

impl BatchHistory {
    /// An empty history that keeps at most `capacity` batches (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        BatchHistory {
            capacity,
            batches: VecDeque::with_capacity(capacity.min(4096)),
        }
    }

    /// Adds the newest batch, forgetting the oldest beyond the bound.
    pub fn push(&mut self, batch: BatchRecord) {
        if self.batches.len() == self.capacity {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
    }

    /// How many batches are kept at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many are kept now.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &BatchRecord> + ExactSizeIterator {
        self.batches.iter()
    }

    /// The newest batch.
    pub fn last(&self) -> Option<&BatchRecord> {
        self.batches.back()
    }
}

/// One stage's totals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StageTotals {
    /// The stage's name.
    pub name: String,
    /// Records it emitted.
    pub records_out: u64,
    /// Time spent in it.
    pub time: Duration,
}

/// One plugin version's totals.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginTotals {
    /// The plugin's name.
    pub plugin: String,
    /// The version's content hash.
    pub version: String,
    /// Calls, time and failures over the run.
    pub counts: CallCounts,
    /// The first and last batch it served.
    pub batches: (u64, u64),
}

/// Totals since the run started.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Batches completed.
    pub batches: u64,
    /// Of which failed.
    pub failed: u64,
    /// Records read, per source.
    pub records_in: Vec<u64>,
    /// Records written to sinks.
    pub records_out: u64,
    /// Records set aside.
    pub dead_letters: u64,
    /// Per batch: scheduling delay.
    pub scheduling_delay: Histogram,
    /// Per batch: processing time.
    pub processing_time: Histogram,
    /// Per batch: total delay.
    pub total_delay: Histogram,
    /// Per checkpoint: how long it took (no observations until checkpoints exist).
    pub checkpoint_duration: Histogram,
    /// Per stage, in pipeline order.
    pub stages: Vec<StageTotals>,
    /// Per plugin version, in order of first use.
    pub plugins: Vec<PluginTotals>,
    /// Per plugin: the version its stages call now, and how often that changed.
    pub swaps: Vec<(String, String, u64)>,
    /// The newest batch's time.
    pub last_batch_ms: Option<u64>,
    /// The newest failed batch's time.
    pub last_failed_ms: Option<u64>,
}

impl Totals {
    /// Adds a batch.
    pub fn add(&mut self, batch: &BatchRecord) {
        self.batches += 1;
        self.failed += u64::from(batch.report.error.is_some());
        if batch.report.error.is_some() {
            self.last_failed_ms = Some(batch.report.time_ms);
        }
        if self.records_in.len() < batch.report.records_in.len() {
            self.records_in.resize(batch.report.records_in.len(), 0);
        }
        for (total, n) in self.records_in.iter_mut().zip(&batch.report.records_in) {
            *total += n;
        }
        self.records_out += batch.report.records_out;
        self.dead_letters += batch.report.dead_letters;
        self.scheduling_delay.observe(batch.report.scheduling_delay);
        self.processing_time.observe(batch.report.processing_time);
        self.total_delay.observe(batch.report.total_delay());
        if let Some(time) = batch.report.checkpoint_time {
            self.checkpoint_duration.observe(time);
        }
        for stage in &batch.report.stages {
            let total = match self.stages.iter_mut().find(|s| s.name == stage.name) {
                Some(total) => total,
                None => {
                    self.stages.push(StageTotals {
                        name: stage.name.clone(),
                        ..StageTotals::default()
                    });
                    self.stages.last_mut().expect("just pushed")
                }
            };
            total.records_out += stage.records_out;
            total.time += stage.time;
        }
        for calls in &batch.plugins {
            let found = self
                .plugins
                .iter_mut()
                .find(|p| p.plugin == calls.plugin && p.version == calls.version);
            match found {
                Some(total) => {
                    total.counts.add(&calls.counts);
                    total.batches.1 = batch.report.time_ms;
                }
                None => self.plugins.push(PluginTotals {
                    plugin: calls.plugin.clone(),
                    version: calls.version.clone(),
                    counts: calls.counts,
                    batches: (batch.report.time_ms, batch.report.time_ms),
                }),
            }
        }
        for calls in batch.plugins.iter().filter(|c| c.bound) {
            let (plugin, version) = (&calls.plugin, &calls.version);
            match self.swaps.iter_mut().find(|(p, _, _)| p == plugin) {
                Some((_, current, swaps)) if current != version => {
                    current.clone_from(version);
                    *swaps += 1;
                }
                Some(_) => {}
                None => self.swaps.push((plugin.clone(), version.clone(), 0)),
            }
        }
        self.last_batch_ms = Some(batch.report.time_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::StageMetrics;

    fn record(time_ms: u64, records: u64) -> BatchRecord {
        BatchRecord {
            report: BatchReport {
                time_ms,
                records_in: vec![records],
                records_out: records / 2,
                scheduling_delay: Duration::from_millis(5),
                processing_time: Duration::from_millis(20),
                stages: vec![StageMetrics {
                    name: "words".into(),
                    records_in: records,
                    records_out: records * 3,
                    time: Duration::from_millis(10),
                    combined: false,
                }],
                versions: Vec::new(),
                dead_letters: 0,
                checkpoint_time: None,
                error: None,
            },
            plugins: vec![PluginCalls {
                plugin: "wc".into(),
                version: "abc".into(),
                counts: CallCounts {
                    calls: 2,
                    ..CallCounts::default()
                },
                bound: true,
            }],
            queued: 0,
            finished_ms: time_ms + 25,
            rate_limits: vec![None],
        }
    }

    #[test]
    fn history_keeps_the_newest_batches_up_to_its_bound() {
        let mut history = BatchHistory::new(3);
        for t in 1..=5 {
            history.push(record(t * 1000, t));
        }
        assert_eq!(history.len(), 3);
        let times: Vec<u64> = history.iter().map(|b| b.report.time_ms).collect();
        assert_eq!(times, [3000, 4000, 5000]);
        assert_eq!(history.last().map(|b| b.report.time_ms), Some(5000));
        assert_eq!(BatchHistory::new(0).capacity(), 1);
    }

    #[test]
    fn totals_outlive_the_history() {
        let mut totals = Totals::default();
        for t in 1..=5 {
            totals.add(&record(t * 1000, 10));
        }
        assert_eq!(totals.batches, 5);
        assert_eq!(totals.records_in, [50]);
        assert_eq!(totals.records_out, 25);
        assert_eq!(totals.stages[0].records_out, 150);
        assert_eq!(totals.plugins[0].counts.calls, 10);
        assert_eq!(totals.plugins[0].batches, (1000, 5000));
        assert_eq!(totals.processing_time.count(), 5);
        assert_eq!(totals.swaps, [("wc".into(), "abc".into(), 0)]);
        let mut swapped = record(6000, 1);
        swapped.plugins[0].version = "def".into();
        totals.add(&swapped);
        assert_eq!(totals.swaps, [("wc".into(), "def".into(), 1)]);
        assert_eq!(totals.last_batch_ms, Some(6000));
    }
}
