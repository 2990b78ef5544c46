//! What the engine does with a batch that failed: retry it with backoff, then apply
//! the pipeline's `on_batch_failure`: stop with the batch still journaled (so that the
//! next start runs it again), or set the batch's input aside as dead letters and go on.
//! Either way no record vanishes: it is in the journal, or in the dead letters.

use super::Job;
use super::executor::Materialized;
use crate::config::{OnBatchFailure, OnError};
use crate::operator::isolate::DeadLetter;
use std::time::Duration;

/// Why a batch failed, and where.
#[derive(Clone, Debug)]
pub struct BatchFailure {
    /// Where it failed, for people: ``stage `NAME` ``, ``sink `NAME` ``, `the batch journal`.
    pub place: String,
    /// Where it failed, for the dead letters' `stage` field: the stage's name,
    /// `sink:NAME`, or `journal`.
    pub component: String,
    /// The stage's `on_error` was `stop`: no policy applies, the pipeline stops.
    pub stage_stops: bool,
    /// What happened.
    pub message: String,
}

impl std::fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How long to wait before attempt `attempt` (1 for the first retry): 100 ms, doubling,
/// at most 3.2 s, so that a disk or broker that is briefly unwell can recover.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 << attempt.saturating_sub(1).min(5))
}

impl Job {
    /// Applies the policy to a batch that failed on every attempt. Returns the number of
    /// input records set aside as dead letters.
    pub(super) fn handle_failed_batch(
        &mut self,
        batch: &Materialized,
        failure: &BatchFailure,
        versions: &[(String, String)],
    ) -> u64 {
        let journaled = self.durability.is_some();
        let again = if journaled {
            "it stays in the batch journal and runs again at the next start"
        } else {
            "without checkpoint_dir nothing keeps its input: set checkpoint_dir, or on_batch_failure = \"dead_letter\""
        };
        if failure.stage_stops {
            self.stopped = Some(format!(
                "batch {} failed in {} and its on_error is \"stop\"; {again}",
                batch.time_ms, failure.place
            ));
            return 0;
        }
        match self.pipeline.failure.on_batch_failure {
            OnBatchFailure::Stop => {
                self.stopped = Some(format!(
                    "batch {} failed in {} and on_batch_failure is \"stop\"; {again}",
                    batch.time_ms, failure.place
                ));
                0
            }
            OnBatchFailure::DeadLetter => {
                let letters = input_letters(batch, failure);
                let count = letters.len() as u64;
                match self.output.set_aside(batch.time_ms, &letters, versions) {
                    Ok(()) => {
                        tracing::warn!(
                            "batch {}: its {count} input records were set aside as dead letters (on_batch_failure = \"dead_letter\")",
                            batch.time_ms
                        );
                        count
                    }
                    Err(e) => {
                        self.stopped = Some(format!(
                            "batch {} failed in {} and its input cannot be set aside ({e}); {again}",
                            batch.time_ms, failure.place
                        ));
                        0
                    }
                }
            }
        }
    }

    /// The `on_error` of the stage named `stage`, if it is one.
    pub(super) fn stage_policy(&self, stage: &str) -> Option<OnError> {
        self.pipeline
            .stages
            .iter()
            .find(|s| s.name == stage)
            .map(|s| s.on_error)
    }
}

/// Every input record of `batch`, as a dead letter of `failure`.
fn input_letters(batch: &Materialized, failure: &BatchFailure) -> Vec<DeadLetter> {
    let mut letters = Vec::new();
    for parts in &batch.sources {
        for (partition, part) in parts.iter().enumerate() {
            letters.extend(part.iter().map(|record| DeadLetter {
                stage: failure.component.clone(),
                function: String::new(),
                version: String::new(),
                partition,
                error: failure.message.clone(),
                record: record.to_vec(),
            }));
        }
    }
    letters
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_from_100_ms_up_to_3_2_s() {
        let waits: Vec<Duration> = (1..=8).map(backoff).collect();
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 3200, 3200]);
    }
}
