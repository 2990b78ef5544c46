//! Batch metrics: what every batch did, kept for the last N batches, and the run's
//! totals, as Spark's Streaming tab and Prometheus read them.
//!
//! - [`Metrics`] is the shared store: the batch loop records into it through the
//!   listener [`Metrics::recorder`] gives, the HTTP server reads it.
//! - [`BatchRecord`] is one batch: records in per source, scheduling delay, processing
//!   time, total delay, per-stage and per-plugin-version figures, dead letters.
//! - [`BatchHistory`] keeps the newest `retained_batches` of them; [`Totals`] counts
//!   since the start, with [`Histogram`]s of the delays.
//! - [`prometheus::render`] writes it all in Prometheus's text format.

mod histogram;
mod history;
pub mod prometheus;
mod state;

#[cfg(test)]
pub mod sample;

pub use histogram::{BUCKETS, Histogram};
pub use history::{BatchHistory, BatchRecord, PluginTotals, StageTotals, Totals};
pub use state::{Metrics, MetricsState, Phase, PluginDescription, RunDescription};
