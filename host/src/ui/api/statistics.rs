//! `/api/v1/statistics`: the stream's summary, in the fields of Spark's
//! `StreamingStatistics`.

use super::{average, ms};
use crate::metrics::{MetricsState, Phase};
use crate::ui::dates::spark_date;
use serde::Serialize;

/// `/api/v1/statistics`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    start_time: String,
    batch_duration: u64,
    num_receivers: usize,
    num_active_receivers: usize,
    num_inactive_receivers: usize,
    num_total_completed_batches: u64,
    num_retained_completed_batches: usize,
    num_active_batches: usize,
    num_processed_records: u64,
    num_received_records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg_input_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg_scheduling_delay: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg_processing_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg_total_delay: Option<u64>,
    // sluice's own.
    pipeline: String,
    status: &'static str,
    num_partitions: usize,
    num_failed_batches: u64,
    num_output_records: u64,
    num_dead_letters: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_batch_time: Option<u64>,
    /// The newest failed batch's time (its id), retained or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    newest_failed_batch: Option<u64>,
}

/// `/api/v1/statistics`.
pub fn statistics(state: &MetricsState) -> Statistics {
    let totals = &state.totals;
    let history = &state.history;
    let interval_ms = state.interval_ms();
    let receivers = state.run.as_ref().map_or(0, |r| r.sources.len());
    let active = if state.phase == Phase::Running {
        receivers
    } else {
        0
    };
    let records: u64 = totals.records_in.iter().sum();
    let input_rate = (!history.is_empty()).then(|| {
        let records: u64 = history.iter().map(|b| b.report.total_in()).sum();
        records as f64 * 1000.0 / (history.len() as u64 * interval_ms) as f64
    });
    Statistics {
        start_time: spark_date(state.run.as_ref().map_or(0, |r| r.started_ms)),
        batch_duration: interval_ms,
        num_receivers: receivers,
        num_active_receivers: active,
        num_inactive_receivers: receivers - active,
        num_total_completed_batches: totals.batches,
        num_retained_completed_batches: history.len(),
        num_active_batches: state.active_batches(),
        // A batch's input is read when it is processed, so both counts are those of
        // completed batches.
        num_processed_records: records,
        num_received_records: records,
        avg_input_rate: input_rate,
        avg_scheduling_delay: average(history.iter().map(|b| ms(b.report.scheduling_delay))),
        avg_processing_time: average(history.iter().map(|b| ms(b.report.processing_time))),
        avg_total_delay: average(history.iter().map(|b| ms(b.report.total_delay()))),
        pipeline: state
            .run
            .as_ref()
            .map_or_else(String::new, |r| r.pipeline.clone()),
        status: match state.phase {
            Phase::Starting => "STARTING",
            Phase::Running if state.failing().is_some() => "FAILING",
            Phase::Running => "RUNNING",
            Phase::Finished => "FINISHED",
        },
        num_partitions: state.run.as_ref().map_or(0, |r| r.partitions),
        num_failed_batches: totals.failed,
        num_output_records: totals.records_out,
        num_dead_letters: totals.dead_letters,
        last_batch_time: totals.last_batch_ms,
        newest_failed_batch: totals.last_failed_ms,
    }
}
