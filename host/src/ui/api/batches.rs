//! `/api/v1/batches`: the retained batches, in the fields of Spark's `BatchInfo`, with
//! what sluice knows of each besides (sources, stages, plugin versions, rate limits).

use super::{failures, ms};
use crate::metrics::{BatchRecord, MetricsState};
use crate::ui::dates::spark_date;
use serde::Serialize;
use std::collections::BTreeMap;

/// One entry of `/api/v1/batches`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    batch_id: u64,
    batch_time: String,
    status: &'static str,
    batch_duration: u64,
    input_size: u64,
    scheduling_delay: u64,
    processing_time: u64,
    total_delay: u64,
    num_active_output_ops: usize,
    num_completed_output_ops: usize,
    num_failed_output_ops: usize,
    num_total_output_ops: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_failure_reason: Option<String>,
    // sluice's own.
    input_sizes: BTreeMap<String, u64>,
    output_size: u64,
    rate_limits: BTreeMap<String, f64>,
    dead_letters: u64,
    queued_after: usize,
    stages: Vec<StageFigures>,
    plugins: Vec<PluginFigures>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StageFigures {
    name: String,
    input_records: u64,
    output_records: u64,
    /// The output records are pairs combined per key in the plugin.
    combined: bool,
    time: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PluginFigures {
    name: String,
    version: String,
    calls: u64,
    time: f64,
    failures: BTreeMap<&'static str, u64>,
}

/// `/api/v1/batches`: the retained batches, newest first (as Spark lists them),
/// skipping the newest `offset` and then at most `limit` of them (the page's paging).
pub fn batches(state: &MetricsState, offset: usize, limit: Option<usize>) -> Vec<Batch> {
    state
        .history
        .iter()
        .rev()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .map(|b| batch(state, b))
        .collect()
}

/// One batch of `/api/v1/batches/<id>`.
pub fn batch_by_id(state: &MetricsState, id: u64) -> Option<Batch> {
    state
        .history
        .iter()
        .find(|b| b.report.time_ms == id)
        .map(|b| batch(state, b))
}

fn batch(state: &MetricsState, b: &BatchRecord) -> Batch {
    let (sources, outputs) = state
        .run
        .as_ref()
        .map_or((&[][..], 0), |r| (&r.sources[..], r.sinks.len()));
    let failed = b.report.error.is_some();
    Batch {
        batch_id: b.report.time_ms,
        batch_time: spark_date(b.report.time_ms),
        status: "COMPLETED",
        batch_duration: state.interval_ms(),
        input_size: b.report.total_in(),
        scheduling_delay: ms(b.report.scheduling_delay),
        processing_time: ms(b.report.processing_time),
        total_delay: ms(b.report.total_delay()),
        num_active_output_ops: 0,
        // A batch's output is all or nothing: every sink wrote, or none did.
        num_completed_output_ops: if failed { 0 } else { outputs },
        num_failed_output_ops: if failed { outputs } else { 0 },
        num_total_output_ops: outputs,
        first_failure_reason: b.report.error.clone(),
        input_sizes: sources
            .iter()
            .zip(&b.report.records_in)
            .map(|(s, &n)| (s.name().to_string(), n))
            .collect(),
        output_size: b.report.records_out,
        rate_limits: sources
            .iter()
            .zip(&b.rate_limits)
            .filter_map(|(s, limit)| Some((s.name().to_string(), (*limit)?)))
            .collect(),
        dead_letters: b.report.dead_letters,
        queued_after: b.queued,
        stages: b
            .report
            .stages
            .iter()
            .map(|s| StageFigures {
                name: s.name.clone(),
                input_records: s.records_in,
                output_records: s.records_out,
                combined: s.combined,
                time: s.time.as_secs_f64() * 1e3,
            })
            .collect(),
        plugins: b
            .plugins
            .iter()
            .map(|p| PluginFigures {
                name: p.plugin.clone(),
                version: p.version.clone(),
                calls: p.counts.calls,
                time: p.counts.time.as_secs_f64() * 1e3,
                failures: failures(&p.counts),
            })
            .collect(),
    }
}
