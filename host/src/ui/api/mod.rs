//! The JSON API, shaped after Spark's streaming REST API
//! (`/api/v1/applications/<app>/streaming/{statistics,batches,receivers}`): the same
//! field names and units (milliseconds, records per second, Spark's dates), so tools
//! written against Spark read it. sluice adds fields Spark lacks (per-source and
//! per-stage figures, plugin versions, rate limits) and `/api/v1/plugins`. Spark's own
//! paths, under `/api/v1/applications/<pipeline>/streaming/`, serve the same documents.

mod applications;
mod batches;
mod plugins;
mod receivers;
mod statistics;
#[cfg(test)]
mod tests;

pub use applications::{application, application_id, operations};
pub use batches::{batch_by_id, batches};
pub use plugins::plugins;
pub use receivers::receivers;
pub use statistics::statistics;

use crate::plugin::{CallCounts, FailureKind};
use std::collections::BTreeMap;
use std::time::Duration;

/// A duration in whole milliseconds, Spark's unit.
fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// The mean of `values`, none when there are none.
fn average(values: impl ExactSizeIterator<Item = u64>) -> Option<u64> {
    let n = values.len() as u64;
    (n > 0).then(|| values.sum::<u64>() / n)
}

/// Failed calls by kind, the kinds that happened only.
fn failures(counts: &CallCounts) -> BTreeMap<&'static str, u64> {
    FailureKind::ALL
        .into_iter()
        .map(|k| (k.label(), counts.failures_of(k)))
        .filter(|(_, n)| *n > 0)
        .collect()
}
