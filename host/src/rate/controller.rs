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

#[cfg(test)]
mod tests {
    //! Backpressure closed around a simulated pipeline on virtual time: batches are cut
    //! every interval from an offer far above what the pipeline processes, processed
    //! one after another at a fixed capacity, and each completed batch is fed back. The
    //! figures are exact, however loaded the machine running the test.
    use super::*;

    struct Source {
        limit: RateLimit,
        backpressure: bool,
    }

    impl Governed for Source {
        fn name(&self) -> &str {
            "simulated"
        }
        fn limit(&self) -> &RateLimit {
            &self.limit
        }
        fn backpressure(&self) -> bool {
            self.backpressure
        }
    }

    const INTERVAL_MS: u64 = 250;
    /// Records per second the simulated pipeline processes.
    const CAPACITY: f64 = 2_000.0;
    /// Records per second offered: ten times the capacity.
    const OFFERED: f64 = 20_000.0;

    /// One simulated batch: records taken and its scheduling delay (ms).
    #[derive(Debug)]
    struct Simulated {
        records: u64,
        delay_ms: u64,
    }

    fn simulate(backpressure: bool, batches: u64) -> Vec<Simulated> {
        let source = Arc::new(Source {
            limit: RateLimit::new(None),
            backpressure,
        });
        if backpressure {
            source
                .limit
                .set_estimate(Some(PidSettings::default().min_rate));
        }
        let sources: Vec<Arc<dyn Governed>> = vec![source.clone()];
        let mut controller = RateController::new(&sources, INTERVAL_MS);
        // Completed batches not yet fed back: (finished_ms, records, processing, delay).
        let mut pending: Vec<(u64, u64, u64, u64)> = Vec::new();
        let (mut backlog, mut free_at, mut out) = (0.0_f64, 0_u64, Vec::new());
        for k in 1..=batches {
            let cut_ms = k * INTERVAL_MS;
            // What finished before this cut has been fed back by now.
            for (finished_ms, records, processing_ms, delay_ms) in
                pending.extract_if(.., |p| p.0 <= cut_ms)
            {
                controller.update(&BatchTaken {
                    time_ms: finished_ms,
                    finished_ms,
                    records_in: &[records],
                    processing: Duration::from_millis(processing_ms),
                    scheduling: Duration::from_millis(delay_ms),
                });
            }
            backlog += OFFERED * INTERVAL_MS as f64 / 1000.0;
            let allowed = source
                .limit
                .current()
                .map_or(f64::INFINITY, |r| r * INTERVAL_MS as f64 / 1000.0);
            let records = backlog.min(allowed).floor();
            backlog -= records;
            let start = cut_ms.max(free_at);
            let processing_ms = (records / CAPACITY * 1000.0).ceil() as u64;
            free_at = start + processing_ms;
            pending.push((free_at, records as u64, processing_ms, start - cut_ms));
            out.push(Simulated {
                records: records as u64,
                delay_ms: start - cut_ms,
            });
        }
        out
    }

    #[test]
    fn without_backpressure_the_delay_grows_batch_after_batch() {
        let run = simulate(false, 40);
        assert!(run.windows(2).all(|w| w[1].delay_ms >= w[0].delay_ms));
        // Each batch is 5 000 records, 2.5 s of work, cut every 0.25 s: 2.25 s more
        // delay per batch.
        assert_eq!(run[39].delay_ms, 39 * 2_250);
    }

    #[test]
    fn backpressure_holds_the_source_to_what_the_pipeline_processes() {
        let run = simulate(true, 120);
        let settled = &run[40..];
        let worst = settled.iter().map(|b| b.delay_ms).max().unwrap();
        assert!(worst <= INTERVAL_MS, "{run:?}");
        let taken: u64 = settled.iter().map(|b| b.records).sum();
        let rate = taken as f64 * 1000.0 / (settled.len() as u64 * INTERVAL_MS) as f64;
        assert!(
            (0.95 * CAPACITY..=1.05 * CAPACITY).contains(&rate),
            "{rate:.0} records/s for a capacity of {CAPACITY}: {run:?}"
        );
    }
}
