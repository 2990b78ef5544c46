//! The metrics of a run, shared between the batch loop, which records every batch
//! through a [`BatchListener`], and the HTTP server, which reads them.

use super::history::{BatchHistory, BatchRecord, Totals};
use crate::engine::{BatchListener, CompletedBatch, RunInfo, RunSummary};
use crate::source::SourceHandle;
use std::sync::{Arc, Mutex};

/// A handle on a run's metrics; clones share them.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Mutex<MetricsState>>,
}

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Plugins and sinks are ready; sources are being opened.
    Starting,
    /// Batches are being cut and processed.
    Running,
    /// The last batch has completed.
    Finished,
}

/// What a run is made of, as the metrics describe it.
#[derive(Debug)]
pub struct RunDescription {
    /// The pipeline's name.
    pub pipeline: String,
    /// The batch interval, in ms.
    pub batch_interval_ms: u64,
    /// Partitions per batch.
    pub partitions: usize,
    /// When the run started, ms since the Unix epoch.
    pub started_ms: u64,
    /// The first batch time.
    pub first_batch_ms: u64,
    /// The sources, in pipeline order.
    pub sources: Vec<Arc<SourceHandle>>,
    /// The sinks' names (Spark's output operations), in pipeline order.
    pub sinks: Vec<String>,
    /// The plugin versions loaded at the start.
    pub plugins: Vec<PluginDescription>,
}

/// A plugin version as loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginDescription {
    /// The plugin's name.
    pub name: String,
    /// Its content hash.
    pub version: String,
    /// The module's size in bytes.
    pub size: usize,
    /// Its functions, as `name (kind)`.
    pub functions: Vec<String>,
}

/// Everything the metrics hold.
#[derive(Debug)]
pub struct MetricsState {
    /// What the run is made of, once it has started.
    pub run: Option<RunDescription>,
    /// Where the run is.
    pub phase: Phase,
    /// The recent batches.
    pub history: BatchHistory,
    /// Totals since the start.
    pub totals: Totals,
    /// Batches waiting, as of the last completed batch.
    pub queued: usize,
    /// The batch being processed now, if any.
    pub processing: Option<u64>,
}

impl MetricsState {
    /// No run yet, keeping up to `retained_batches` batches once there is one.
    pub fn new(retained_batches: usize) -> Self {
        MetricsState {
            run: None,
            phase: Phase::Starting,
            history: BatchHistory::new(retained_batches),
            totals: Totals::default(),
            queued: 0,
            processing: None,
        }
    }

    /// Why the stream is failing, when the newest batch that failed or read records
    /// failed: its time and reason. An empty batch that succeeds proves nothing.
    pub fn failing(&self) -> Option<(u64, &str)> {
        let newest = self
            .history
            .iter()
            .rev()
            .find(|b| b.report.error.is_some() || b.report.total_in() > 0)?;
        Some((newest.report.time_ms, newest.report.error.as_deref()?))
    }

    /// The batch interval in ms (1000 before the run starts).
    pub fn interval_ms(&self) -> u64 {
        self.run.as_ref().map_or(1000, |r| r.batch_interval_ms)
    }

    /// Batches waiting or being processed: Spark's "active batches".
    pub fn active_batches(&self) -> usize {
        self.queued + usize::from(self.processing.is_some())
    }
}

impl Metrics {
    /// Empty metrics that will keep the last `retained_batches` batches.
    pub fn new(retained_batches: usize) -> Self {
        Metrics {
            inner: Arc::new(Mutex::new(MetricsState::new(retained_batches))),
        }
    }

    /// Metrics holding `state` (the renderers' tests).
    #[cfg(test)]
    pub fn of(state: MetricsState) -> Self {
        Metrics {
            inner: Arc::new(Mutex::new(state)),
        }
    }

    /// Reads the metrics; the batch loop waits while `read` runs, so keep it short.
    pub fn read<T>(&self, read: impl FnOnce(&MetricsState) -> T) -> T {
        read(&self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn write(&self, write: impl FnOnce(&mut MetricsState)) {
        write(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The listener that records a run into these metrics.
    pub fn recorder(&self) -> Box<dyn BatchListener> {
        Box::new(Recorder {
            metrics: self.clone(),
            sources: Vec::new(),
        })
    }
}

/// Records batches into [`Metrics`].
struct Recorder {
    metrics: Metrics,
    sources: Vec<Arc<SourceHandle>>,
}

impl BatchListener for Recorder {
    fn on_start(&mut self, run: &RunInfo<'_>) {
        self.sources = run.sources.to_vec();
        let description = RunDescription {
            pipeline: run.pipeline.name.clone(),
            batch_interval_ms: run.pipeline.batch_interval.as_millis() as u64,
            partitions: run.pipeline.partitions,
            started_ms: run.started_ms,
            first_batch_ms: run.first_batch_ms,
            sources: run.sources.to_vec(),
            sinks: run.pipeline.sinks.iter().map(|s| s.name.clone()).collect(),
            plugins: run
                .plugins
                .iter()
                .map(|p| PluginDescription {
                    name: p.name().to_string(),
                    version: p.hash().to_string(),
                    size: p.size(),
                    functions: p
                        .manifest()
                        .iter()
                        .map(|e| format!("{} ({})", e.name, e.kind))
                        .collect(),
                })
                .collect(),
        };
        self.metrics.write(|state| {
            state.run = Some(description);
            state.phase = Phase::Running;
        });
    }

    fn on_batch_started(&mut self, time_ms: u64) {
        self.metrics.write(|state| state.processing = Some(time_ms));
    }

    fn on_batch_completed(&mut self, batch: &CompletedBatch<'_>) {
        let limits = self.sources.iter().map(|s| s.limit().current()).collect();
        let record = BatchRecord::new(batch, limits);
        self.metrics.write(|state| {
            state.totals.add(&record);
            state.history.push(record);
            state.queued = batch.queued;
            state.processing = None;
        });
    }

    fn on_finish(&mut self, _summary: &RunSummary) {
        self.metrics.write(|state| {
            state.phase = Phase::Finished;
            state.processing = None;
        });
    }
}
