//! The JSON API, shaped after Spark's streaming REST API
//! (`/api/v1/applications/<app>/streaming/{statistics,batches,receivers}`): the same
//! field names and units (milliseconds, records per second, Spark's dates), so tools
//! written against Spark read it. sluice adds fields Spark lacks (per-source and
//! per-stage figures, plugin versions, rate limits) and `/api/v1/plugins`.

use super::dates::spark_date;
use crate::metrics::{BatchRecord, MetricsState, Phase};
use crate::plugin::FailureKind;
use serde::Serialize;
use std::collections::BTreeMap;

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
}

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
    output_records: u64,
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

/// One entry of `/api/v1/plugins` (sluice's own): a plugin version and what it did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plugin {
    name: String,
    version: String,
    current: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<usize>,
    functions: Vec<String>,
    calls: u64,
    time: f64,
    failures: BTreeMap<&'static str, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_batch: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_batch: Option<u64>,
    swaps: u64,
}

fn ms(d: std::time::Duration) -> u64 {
    d.as_millis() as u64
}

fn average(values: impl ExactSizeIterator<Item = u64>) -> Option<u64> {
    let n = values.len() as u64;
    (n > 0).then(|| values.sum::<u64>() / n)
}

fn failures(counts: &crate::plugin::CallCounts) -> BTreeMap<&'static str, u64> {
    FailureKind::ALL
        .into_iter()
        .map(|k| (k.label(), counts.failures_of(k)))
        .filter(|(_, n)| *n > 0)
        .collect()
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
        let records: u64 = history.iter().map(BatchRecord::total_in).sum();
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
        avg_scheduling_delay: average(history.iter().map(|b| ms(b.scheduling_delay))),
        avg_processing_time: average(history.iter().map(|b| ms(b.processing_time))),
        avg_total_delay: average(history.iter().map(|b| ms(b.total_delay()))),
        pipeline: state
            .run
            .as_ref()
            .map_or_else(String::new, |r| r.pipeline.clone()),
        status: match state.phase {
            Phase::Starting => "STARTING",
            Phase::Running => "RUNNING",
            Phase::Finished => "FINISHED",
        },
        num_partitions: state.run.as_ref().map_or(0, |r| r.partitions),
        num_failed_batches: totals.failed,
        num_output_records: totals.records_out,
        num_dead_letters: totals.dead_letters,
        last_batch_time: totals.last_batch_ms,
    }
}

/// `/api/v1/batches`: the retained batches, newest first (as Spark lists them), at
/// most `limit` of them.
pub fn batches(state: &MetricsState, limit: Option<usize>) -> Vec<Batch> {
    state
        .history
        .iter()
        .rev()
        .take(limit.unwrap_or(usize::MAX))
        .map(|b| batch(state, b))
        .collect()
}

/// One batch of `/api/v1/batches/<id>`.
pub fn batch_by_id(state: &MetricsState, id: u64) -> Option<Batch> {
    state
        .history
        .iter()
        .find(|b| b.time_ms == id)
        .map(|b| batch(state, b))
}

fn batch(state: &MetricsState, b: &BatchRecord) -> Batch {
    let (sources, outputs) = state
        .run
        .as_ref()
        .map_or((&[][..], 0), |r| (&r.sources[..], r.sinks.len()));
    let failed = b.error.is_some();
    Batch {
        batch_id: b.time_ms,
        batch_time: spark_date(b.time_ms),
        status: "COMPLETED",
        batch_duration: state.interval_ms(),
        input_size: b.total_in(),
        scheduling_delay: ms(b.scheduling_delay),
        processing_time: ms(b.processing_time),
        total_delay: ms(b.total_delay()),
        num_active_output_ops: 0,
        // A batch's output is all or nothing: every sink wrote, or none did.
        num_completed_output_ops: if failed { 0 } else { outputs },
        num_failed_output_ops: if failed { outputs } else { 0 },
        num_total_output_ops: outputs,
        first_failure_reason: b.error.clone(),
        input_sizes: sources
            .iter()
            .zip(&b.records_in)
            .map(|(s, &n)| (s.name().to_string(), n))
            .collect(),
        output_size: b.records_out,
        rate_limits: sources
            .iter()
            .zip(&b.rate_limits)
            .filter_map(|(s, limit)| Some((s.name().to_string(), (*limit)?)))
            .collect(),
        dead_letters: b.dead_letters,
        queued_after: b.queued,
        stages: b
            .stages
            .iter()
            .map(|s| StageFigures {
                name: s.name.clone(),
                output_records: s.records_out,
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
                    let n = b.records_in.get(i).copied().unwrap_or(0);
                    (b.time_ms, n as f64 / interval_secs)
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

/// `/api/v1/plugins`: every plugin version that served the run, current ones first.
pub fn plugins(state: &MetricsState) -> Vec<Plugin> {
    let described = state.run.as_ref().map_or(&[][..], |r| &r.plugins[..]);
    let totals = &state.totals;
    let current = |name: &str, version: &str| {
        totals.swaps.iter().find(|(p, _, _)| p == name).map_or_else(
            || {
                described
                    .iter()
                    .any(|d| d.name == name && d.version == version)
            },
            |(_, v, _)| v == version,
        )
    };
    let swaps = |name: &str| {
        totals
            .swaps
            .iter()
            .find(|(p, _, _)| p == name)
            .map_or(0, |(_, _, n)| *n)
    };
    let mut out: Vec<Plugin> = totals
        .plugins
        .iter()
        .map(|t| {
            let description = described
                .iter()
                .find(|d| d.name == t.plugin && d.version == t.version);
            Plugin {
                name: t.plugin.clone(),
                version: t.version.clone(),
                current: current(&t.plugin, &t.version),
                size: description.map(|d| d.size),
                functions: description.map_or_else(Vec::new, |d| d.functions.clone()),
                calls: t.counts.calls,
                time: t.counts.time.as_secs_f64() * 1e3,
                failures: failures(&t.counts),
                first_batch: Some(t.batches.0),
                last_batch: Some(t.batches.1),
                swaps: swaps(&t.plugin),
            }
        })
        .collect();
    // Versions loaded but not called yet (before the first batch).
    for d in described {
        if !out
            .iter()
            .any(|p| p.name == d.name && p.version == d.version)
        {
            out.push(Plugin {
                name: d.name.clone(),
                version: d.version.clone(),
                current: current(&d.name, &d.version),
                size: Some(d.size),
                functions: d.functions.clone(),
                calls: 0,
                time: 0.0,
                failures: BTreeMap::new(),
                first_batch: None,
                last_batch: None,
                swaps: swaps(&d.name),
            });
        }
    }
    out.sort_by(|a, b| b.current.cmp(&a.current).then(a.name.cmp(&b.name)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::sample::two_batches;
    use serde_json::{Value, json};

    fn to_json(value: &impl Serialize) -> Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn statistics_use_spark_names_and_units() {
        let stats = to_json(&statistics(&two_batches()));
        assert_eq!(stats["startTime"], "1970-01-01T00:16:40.000GMT");
        assert_eq!(stats["batchDuration"], 500);
        assert_eq!(stats["numReceivers"], 1);
        assert_eq!(stats["numTotalCompletedBatches"], 2);
        assert_eq!(stats["numRetainedCompletedBatches"], 2);
        assert_eq!(stats["numProcessedRecords"], 150);
        // 150 records over two half-second batches.
        assert_eq!(stats["avgInputRate"], 150.0);
        assert_eq!(stats["avgSchedulingDelay"], 3);
        assert_eq!(stats["avgProcessingTime"], 300);
        assert_eq!(stats["avgTotalDelay"], 303);
        assert_eq!(stats["pipeline"], "wc \"demo\"");
        assert_eq!(stats["numOutputRecords"], 300);
    }

    #[test]
    fn batches_come_newest_first_with_their_output_operations() {
        let mut state = two_batches();
        let mut failed = state.history.last().unwrap().clone();
        failed.time_ms += 500;
        failed.error = Some("stage `words` (partition 1): boom".into());
        state.totals.add(&failed);
        state.history.push(failed);
        let all = to_json(&batches(&state, None));
        let ids: Vec<u64> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["batchId"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [1_001_500, 1_001_000, 1_000_500]);
        assert_eq!(all[0]["numFailedOutputOps"], 1);
        assert_eq!(all[0]["numCompletedOutputOps"], 0);
        assert_eq!(
            all[0]["firstFailureReason"],
            "stage `words` (partition 1): boom"
        );
        assert_eq!(all[1]["status"], "COMPLETED");
        assert_eq!(all[1]["numCompletedOutputOps"], 1);
        assert!(
            all[1].get("firstFailureReason").is_none(),
            "absent, not null"
        );
        assert_eq!(all[2]["batchTime"], "1970-01-01T00:16:40.500GMT");
        assert_eq!(all[2]["inputSizes"], json!({"lines": 100}));
        assert_eq!(all[2]["totalDelay"], 303);
        assert_eq!(all[2]["stages"][0]["outputRecords"], 1000);
        assert_eq!(all[2]["plugins"][0]["version"], "0123456789ab");
        assert_eq!(
            all[2]["plugins"][0]["failures"],
            json!({"deadline": 1, "failed": 2})
        );
        assert_eq!(
            to_json(&batches(&state, Some(1))).as_array().unwrap().len(),
            1
        );
        assert!(batch_by_id(&state, 1_000_500).is_some());
        assert!(batch_by_id(&state, 42).is_none());
    }

    #[test]
    fn receivers_carry_their_rates_limits_and_last_error() {
        let state = two_batches();
        let source = &state.run.as_ref().unwrap().sources[0];
        source.limit().set_estimate(Some(250.0));
        source.report_error("cannot connect to 127.0.0.1:9: refused");
        let receivers = to_json(&receivers(&state));
        let r = &receivers[0];
        assert_eq!(r["streamId"], 0);
        assert_eq!(r["streamName"], "lines");
        assert_eq!(r["type"], "socket");
        assert_eq!(
            r["eventRates"],
            json!([[1_000_500, 200.0], [1_001_000, 100.0]])
        );
        assert_eq!(r["avgEventRate"], 150.0);
        assert_eq!(r["numRecords"], 150);
        assert_eq!(r["rateLimit"], 250.0);
        assert!(r.get("maxRate").is_none());
        assert_eq!(
            r["lastErrorMessage"],
            "cannot connect to 127.0.0.1:9: refused"
        );
        assert!(r["lastErrorTime"].as_str().unwrap().ends_with("GMT"));
    }

    #[test]
    fn plugins_list_each_version_with_what_it_did() {
        let plugins = to_json(&plugins(&two_batches()));
        let p = &plugins[0];
        assert_eq!(p["name"], "wordcount");
        assert_eq!(p["version"], "0123456789ab");
        assert_eq!(p["current"], true);
        assert_eq!(p["calls"], 8);
        assert_eq!(p["failures"], json!({"deadline": 2, "failed": 4}));
        assert_eq!(p["firstBatch"], 1_000_500);
        assert_eq!(p["lastBatch"], 1_001_000);
        assert_eq!(p["swaps"], 0);
    }
}
