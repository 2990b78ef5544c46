//! Backpressure: after every batch, each source with `backpressure = true` gets a new
//! rate from its PID estimator, fed with what the batch took (Spark's RateController).
//! The rate is published through the source's [`RateLimit`], which the source reads
//! when it next takes records, so the batches cut after this one are sized by it.
//!
//! The controller knows sources only as [`Governed`] and batches only as
//! [`BatchTaken`]: the engine feeds it as one more listener of its batches.

use super::{BatchSample, PidRateEstimator, PidSettings, RateLimit};
use std::sync::Arc;
use std::time::Duration;

/// A source as rate control sees it.
pub trait Governed: Send + Sync {
    /// Its name in the pipeline.
    fn name(&self) -> &str;
    /// The limit it obeys.
    fn limit(&self) -> &RateLimit;
    /// Whether backpressure sets that limit.
    fn backpressure(&self) -> bool;
}

/// What one completed batch took, as rate control needs it.
pub struct BatchTaken<'a> {
    /// The batch time.
    pub time_ms: u64,
    /// When it finished, in ms since the Unix epoch.
    pub finished_ms: u64,
    /// Records per source, in pipeline order.
    pub records_in: &'a [u64],
    /// How long it was processed.
    pub processing: Duration,
    /// How long it waited for earlier batches.
    pub scheduling: Duration,
}

/// The rate control of a run's sources.
#[derive(Default)]
pub struct RateController {
    sources: Vec<Controlled>,
}

struct Controlled {
    /// The source's index in the pipeline (and in a batch's `records_in`).
    index: usize,
    source: Arc<dyn Governed>,
    estimator: PidRateEstimator,
}

impl RateController {
    /// Controls every source of `sources` (in pipeline order) that has backpressure on,
    /// from the initial rate its limit starts with.
    pub fn new(sources: &[Arc<dyn Governed>], batch_interval_ms: u64) -> Self {
        let settings = PidSettings::default();
        let sources = sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.backpressure())
            .map(|(index, source)| {
                tracing::info!(
                    "source `{}`: backpressure on, starting at {:.0} records/s",
                    source.name(),
                    source.limit().current().unwrap_or(f64::INFINITY)
                );
                Controlled {
                    index,
                    source: source.clone(),
                    estimator: PidRateEstimator::new(batch_interval_ms, settings),
                }
            })
            .collect();
        RateController { sources }
    }

    /// Feeds a completed batch to every estimator and publishes the new rates.
    pub fn update(&mut self, batch: &BatchTaken<'_>) {
        for controlled in &mut self.sources {
            let sample = BatchSample {
                finished_ms: batch.finished_ms,
                records: batch.records_in.get(controlled.index).copied().unwrap_or(0),
                processing_secs: batch.processing.as_secs_f64(),
                scheduling_secs: batch.scheduling.as_secs_f64(),
            };
            if let Some(rate) = controlled.estimator.compute(sample) {
                tracing::debug!(
                    "source `{}`: backpressure rate {rate:.0} records/s after batch {}",
                    controlled.source.name(),
                    batch.time_ms
                );
                controlled.source.limit().set_estimate(Some(rate));
            }
        }
    }
}
