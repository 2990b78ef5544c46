//! The keys that say what happens to a batch that fails (`[pipeline] on_batch_failure`,
//! `batch_retries`) and how long a plugin version swapped in stays on probation
//! (`probation_batches`).

use super::did_you_mean;
use crate::settings::TableReader;

/// What to do with a batch that failed on every attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnBatchFailure {
    /// Stop the pipeline with a non-zero exit; the batch stays journaled and the next
    /// start runs it again (as Spark and Flink do).
    #[default]
    Stop,
    /// Write the batch's input records, with the error, to the dead letters, and go on.
    DeadLetter,
}

/// How the engine handles failed batches and new plugin versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailurePolicy {
    /// `on_batch_failure`.
    pub on_batch_failure: OnBatchFailure,
    /// `batch_retries`: attempts after the first before a batch counts as failed.
    pub retries: u32,
    /// `probation_batches`: batches with records a new plugin version must complete
    /// before it is trusted; a failure before that rolls it back.
    pub probation_batches: u32,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        FailurePolicy {
            on_batch_failure: OnBatchFailure::Stop,
            retries: 2,
            probation_batches: 3,
        }
    }
}

/// Reads the failure keys of `[pipeline]`.
pub(super) fn failure_keys(r: &TableReader<'_, '_>) -> FailurePolicy {
    let mut policy = FailurePolicy::default();
    if let Some((raw, _)) = r.string("on_batch_failure") {
        match raw.as_str() {
            "stop" => policy.on_batch_failure = OnBatchFailure::Stop,
            "dead_letter" => policy.on_batch_failure = OnBatchFailure::DeadLetter,
            other => r.error(
                "on_batch_failure",
                format!("unknown policy `{other}`"),
                did_you_mean(other, ["stop", "dead_letter"])
                    .or_else(|| Some("one of: stop (the default), dead_letter".into())),
            ),
        }
    }
    if let Some(n) = r.integer("batch_retries", 0) {
        policy.retries = n.min(u32::MAX as i64) as u32;
    }
    if let Some(n) = r.integer("probation_batches", 1) {
        policy.probation_batches = n.min(u32::MAX as i64) as u32;
    }
    policy
}
