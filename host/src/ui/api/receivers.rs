//! `/api/v1/receivers`: every source, in the fields of Spark's `ReceiverInfo`, with its
//! type, records and rate limit.

use crate::metrics::{MetricsState, Phase};
use crate::ui::dates::spark_date;
use serde::Serialize;

/// One entry of `/api/v1/receivers`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Receiver {
    stream_id: usize,
    stream_name: String,
    is_active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg_event_rate: Option<f64>,
    event_rates: Vec<(u64, f64)>,
    // sluice's own.
    #[serde(rename = "type")]
    kind: &'static str,
    num_records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit: Option<f64>,
    backpressure: bool,
}

/// `/api/v1/receivers`: every source, with its per-batch rates.
pub fn receivers(state: &MetricsState) -> Vec<Receiver> {
    let Some(run) = &state.run else {
        return Vec::new();
    };
    let interval_secs = run.batch_interval_ms as f64 / 1e3;
    run.sources
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let event_rates: Vec<(u64, f64)> = state
                .history
                .iter()
                .map(|b| {
                    let n = b.report.records_in.get(i).copied().unwrap_or(0);
                    (b.report.time_ms, n as f64 / interval_secs)
                })
                .collect();
            let avg_event_rate = (!event_rates.is_empty()).then(|| {
                event_rates.iter().map(|(_, r)| r).sum::<f64>() / event_rates.len() as f64
            });
            let error = source.last_error();
            Receiver {
                stream_id: i,
                stream_name: source.name().to_string(),
                is_active: state.phase == Phase::Running,
                last_error_time: error.as_ref().map(|e| spark_date(e.at_ms)),
                last_error_message: error.as_ref().map(|e| e.message.clone()),
                last_error: error.map(|e| format!("source `{}`: {}", source.name(), e.message)),
                avg_event_rate,
                event_rates,
                kind: source.kind(),
                num_records: state.totals.records_in.get(i).copied().unwrap_or(0),
                max_rate: source.limit().max_rate(),
                rate_limit: source.limit().current(),
                backpressure: source.backpressure(),
            }
        })
        .collect()
}
