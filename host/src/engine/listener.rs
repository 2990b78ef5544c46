//! Watching a run from outside the batch loop, as Spark's `StreamingListener` does:
//! the metrics behind the HTTP endpoint and the terminal's status line are listeners.
//! They are called on the batch loop's thread, between batches, so they must be quick;
//! anything slow (serving a request) happens on threads of their own.

use super::report::{BatchReport, RunSummary};
use crate::config::Pipeline;
use crate::plugin::{CallCounts, PluginVersion};
use crate::source::SourceHandle;
use std::sync::Arc;

/// Something told about every batch of a run.
pub trait BatchListener: Send {
    /// Before the first batch, with what the run is made of.
    fn on_start(&mut self, _run: &RunInfo<'_>) {}

    /// A batch is about to be processed (its sinks write before it completes).
    fn on_batch_started(&mut self, _time_ms: u64) {}

    /// A batch has been processed, written and logged.
    fn on_batch_completed(&mut self, _batch: &CompletedBatch<'_>) {}

    /// The last batch has completed; the run is about to return.
    fn on_finish(&mut self, _summary: &RunSummary) {}
}

/// What a run is made of.
pub struct RunInfo<'a> {
    /// The pipeline.
    pub pipeline: &'a Pipeline,
    /// Its sources' handles, in pipeline order.
    pub sources: &'a [Arc<SourceHandle>],
    /// The plugin versions the stages call, each once.
    pub plugins: Vec<Arc<PluginVersion>>,
    /// When the run started, in ms since the Unix epoch.
    pub started_ms: u64,
    /// The time of the first batch.
    pub first_batch_ms: u64,
}

/// One completed batch with what the loop knows around it.
pub struct CompletedBatch<'a> {
    /// The batch's own figures.
    pub report: &'a BatchReport,
    /// What each plugin version did in the batch.
    pub plugins: &'a [PluginCalls],
    /// Batches cut and waiting to be processed.
    pub queued: usize,
    /// When the batch finished, in ms since the Unix epoch.
    pub finished_ms: u64,
}

/// The calls one plugin version served in one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginCalls {
    /// The plugin's name.
    pub plugin: String,
    /// The version's content hash.
    pub version: String,
    /// Calls, time and failures.
    pub counts: CallCounts,
    /// Whether the stages call this version after the batch (false for a version
    /// that served part of the batch and was then replaced).
    pub bound: bool,
}
