//! The API's shapes, checked against a small fixed run.

use super::*;
use crate::metrics::MetricsState;
use crate::metrics::sample::two_batches;
use serde::Serialize;
use serde_json::{Value, json};

fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap()
}

/// Adds a batch after the newest one, half a second later, failed with `error` or not.
fn add_batch(state: &mut MetricsState, error: Option<&str>) {
    let mut batch = state.history.last().unwrap().clone();
    batch.report.time_ms += 500;
    batch.report.error = error.map(Into::into);
    state.totals.add(&batch);
    state.history.push(batch);
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
    assert!(stats.get("newestFailedBatch").is_none(), "none failed");
}

#[test]
fn statistics_name_the_newest_failed_batch_after_later_ones_succeed() {
    let mut state = two_batches();
    add_batch(&mut state, Some("boom"));
    add_batch(&mut state, None);
    let stats = to_json(&statistics(&state));
    assert_eq!(stats["numFailedBatches"], 1);
    assert_eq!(stats["newestFailedBatch"], 1_001_500);
}

#[test]
fn batches_come_newest_first_with_their_output_operations() {
    let mut state = two_batches();
    add_batch(&mut state, Some("stage `words` (partition 1): boom"));
    let all = to_json(&batches(&state, 0, None));
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
        to_json(&batches(&state, 0, Some(1)))
            .as_array()
            .unwrap()
            .len(),
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
