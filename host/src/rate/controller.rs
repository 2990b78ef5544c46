//! Backpressure: after every batch, each source with `backpressure = true` gets a new
//! rate from its PID estimator, fed with what the batch took (Spark's RateController).
//! The rate is published through the source's [`RateLimit`], which the source reads
//! when it next takes records, so the batches cut after this one are sized by it.

use super::{BatchSample, PidRateEstimator, PidSettings};
use crate::engine::BatchReport;
use crate::source::SourceHandle;
use std::sync::Arc;

/// The rate control of a run's sources.
pub struct RateController {
    sources: Vec<Controlled>,
}

struct Controlled {
    /// The source's index in the pipeline (and in a batch's `records_in`).
    index: usize,
    handle: Arc<SourceHandle>,
    estimator: PidRateEstimator,
}

impl RateController {
    /// Controls every source of `handles` (in pipeline order) that has backpressure on,
    /// from the initial rate its handle starts with.
    pub fn new(handles: &[Arc<SourceHandle>], batch_interval_ms: u64) -> Self {
        let settings = PidSettings::default();
        let sources = handles
            .iter()
            .enumerate()
            .filter(|(_, h)| h.backpressure())
            .map(|(index, handle)| {
                tracing::info!(
                    "source `{}`: backpressure on, starting at {:.0} records/s",
                    handle.name(),
                    handle.limit().current().unwrap_or(f64::INFINITY)
                );
                Controlled {
                    index,
                    handle: handle.clone(),
                    estimator: PidRateEstimator::new(batch_interval_ms, settings),
                }
            })
            .collect();
        RateController { sources }
    }

    /// Whether any source is under backpressure.
    pub fn is_active(&self) -> bool {
        !self.sources.is_empty()
    }

    /// Feeds a completed batch, which finished at `finished_ms`, to every estimator and
    /// publishes the new rates.
    pub fn update(&mut self, report: &BatchReport, finished_ms: u64) {
        for source in &mut self.sources {
            let sample = BatchSample {
                finished_ms,
                records: report.records_in.get(source.index).copied().unwrap_or(0),
                processing_secs: report.processing_time.as_secs_f64(),
                scheduling_secs: report.scheduling_delay.as_secs_f64(),
            };
            if let Some(rate) = source.estimator.compute(sample) {
                tracing::debug!(
                    "source `{}`: backpressure rate {rate:.0} records/s after batch {}",
                    source.handle.name(),
                    report.time_ms
                );
                source.handle.limit().set_estimate(Some(rate));
            }
        }
    }
}
