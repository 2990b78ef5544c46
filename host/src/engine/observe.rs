//! What the batch loop does around each batch besides running it: tell the listeners
//! (the rate controller first among them) and measure what each plugin version did.

use super::executor::Executor;
use super::listener::{BatchListener, CompletedBatch, PluginCalls, RunInfo};
use super::report::{BatchReport, RunSummary};
use crate::config::Pipeline;
use crate::plugin::{CallCounts, PluginVersion};
use crate::rate::{BatchTaken, Governed, RateController};
use crate::source::SourceHandle;
use std::sync::{Arc, Weak};

/// The listeners and controllers of one run.
pub(super) struct Observers {
    listeners: Vec<Box<dyn BatchListener>>,
    calls: PluginCallMeter,
}

impl Observers {
    /// Starts observing a run: sets the sources' initial rates and tells the listeners.
    pub fn start(
        mut listeners: Vec<Box<dyn BatchListener>>,
        pipeline: &Pipeline,
        sources: &[Arc<SourceHandle>],
        executor: &Executor,
        started_ms: u64,
        first_batch_ms: u64,
    ) -> Self {
        listeners.insert(0, Box::new(RateController::default()));
        let info = RunInfo {
            pipeline,
            sources,
            plugins: bound_versions(executor),
            started_ms,
            first_batch_ms,
        };
        for listener in &mut listeners {
            listener.on_start(&info);
        }
        Observers {
            listeners,
            calls: PluginCallMeter::new(executor),
        }
    }

    /// Before the batch at `time_ms` runs.
    pub fn batch_started(&mut self, time_ms: u64) {
        for listener in &mut self.listeners {
            listener.on_batch_started(time_ms);
        }
    }

    /// After a batch ran, was written and logged, with `queued` batches waiting.
    pub fn batch_completed(
        &mut self,
        report: &BatchReport,
        executor: &Executor,
        queued: usize,
        finished_ms: u64,
    ) {
        let plugins = self.calls.take(executor);
        let batch = CompletedBatch {
            report,
            plugins: &plugins,
            queued,
            finished_ms,
        };
        for listener in &mut self.listeners {
            listener.on_batch_completed(&batch);
        }
    }

    /// After the last batch.
    pub fn finish(&mut self, summary: &RunSummary) {
        for listener in &mut self.listeners {
            listener.on_finish(summary);
        }
    }
}

/// Rate control is one more listener: it learns the sources when the run starts and
/// is fed every completed batch before the other listeners hear of it.
impl BatchListener for RateController {
    fn on_start(&mut self, run: &RunInfo<'_>) {
        let sources: Vec<Arc<dyn Governed>> = run
            .sources
            .iter()
            .map(|s| s.clone() as Arc<dyn Governed>)
            .collect();
        let interval_ms = run.pipeline.batch_interval.as_millis() as u64;
        *self = RateController::new(&sources, interval_ms);
    }

    fn on_batch_completed(&mut self, batch: &CompletedBatch<'_>) {
        self.update(&BatchTaken {
            time_ms: batch.report.time_ms,
            finished_ms: batch.finished_ms,
            records_in: &batch.report.records_in,
            processing: batch.report.processing_time,
            scheduling: batch.report.scheduling_delay,
        });
    }
}

/// The plugin versions the executor's stages call, each once, in stage order.
pub fn bound_versions(executor: &Executor) -> Vec<Arc<PluginVersion>> {
    let mut versions: Vec<Arc<PluginVersion>> = Vec::new();
    for stage in executor.stages() {
        for bound in [&stage.function, &stage.inverse, &stage.filter]
            .into_iter()
            .flatten()
        {
            if !versions.iter().any(|v| Arc::ptr_eq(v, &bound.plugin)) {
                versions.push(bound.plugin.clone());
            }
        }
    }
    versions
}

/// Turns the plugin versions' running counters into per-batch figures. Versions are
/// remembered weakly, so one swapped out (and back in) is neither counted twice nor kept
/// alive.
struct PluginCallMeter {
    known: Vec<(Weak<PluginVersion>, CallCounts)>,
}

impl PluginCallMeter {
    fn new(executor: &Executor) -> Self {
        let mut meter = PluginCallMeter { known: Vec::new() };
        meter.learn(executor);
        for (version, last) in &mut meter.known {
            if let Some(version) = version.upgrade() {
                *last = version.stats().snapshot();
            }
        }
        meter
    }

    /// Starts following versions bound since the last look, from zero: a version is
    /// new when first bound.
    fn learn(&mut self, executor: &Executor) {
        for version in bound_versions(executor) {
            let known = self
                .known
                .iter()
                .any(|(v, _)| std::ptr::eq(v.as_ptr(), Arc::as_ptr(&version)));
            if !known {
                self.known
                    .push((Arc::downgrade(&version), CallCounts::default()));
            }
        }
    }

    /// What every version did since the last call: the bound ones always, others when
    /// they served calls (a version rolled back from within the batch).
    fn take(&mut self, executor: &Executor) -> Vec<PluginCalls> {
        self.learn(executor);
        let bound = bound_versions(executor);
        let mut out = Vec::new();
        self.known.retain_mut(|(weak, last)| {
            let Some(version) = weak.upgrade() else {
                return false;
            };
            let now = version.stats().snapshot();
            let delta = now.since(last);
            *last = now;
            let is_bound = bound.iter().any(|b| Arc::ptr_eq(b, &version));
            if delta.calls > 0 || is_bound {
                out.push(PluginCalls {
                    plugin: version.name().to_string(),
                    version: version.hash().to_string(),
                    counts: delta,
                    bound: is_bound,
                });
            }
            true
        });
        out
    }
}
