//! The HTTP endpoint's numbers are the run's numbers: the JSON API and `/metrics`
//! count exactly the records sent, and list every batch once.

use crate::support::http::{get, get_json, sample};
use crate::support::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;

const INTERVAL_MS: u64 = 200;

fn socket_wordcount(dir: &TempDir, address: &str) -> String {
    let path = dir.write(
        "counted.toml",
        &word_count(
            &format!(
                "name = \"counted\"\nbatch_interval = \"{INTERVAL_MS}ms\"\npartitions = 2\nhttp = \"127.0.0.1:0\""
            ),
            &format!("[sources.lines]\ntype = \"socket\"\naddress = \"{address}\"\nreconnect = false"),
            FILES_OUT,
        ),
    );
    path.to_str().unwrap().to_string()
}

/// Batch time to records in, from every batch log line so far.
fn logged_batches(log: &str) -> BTreeMap<u64, u64> {
    log.lines()
        .filter_map(|line| {
            let n = records_in(line)?;
            let rest = &line[line.find("batch ")? + 6..];
            Some((rest.split(':').next()?.parse().ok()?, n))
        })
        .collect()
}

#[test]
fn the_api_and_metrics_count_every_record_and_list_every_batch_once() {
    let dir = TempDir::new("metrics-api");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let pipeline = socket_wordcount(&dir, &listener.local_addr().unwrap().to_string());
    let mut sluice = Sluice::start(&["run", &pipeline]);
    let http = sluice.http_address();
    let (mut connection, _) = listener.accept().unwrap();
    let lines = random_lines(30_000, 11);
    for chunk in lines.chunks(10_000) {
        let text: String = chunk.iter().map(|l| format!("{l}\n")).collect();
        connection.write_all(text.as_bytes()).unwrap();
        connection.flush().unwrap();
    }
    sluice.wait_for_records(30_000);

    // The connection is still open, so the run goes on (with empty batches) while the
    // endpoint is read.
    assert_eq!(get(&http, "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(get(&http, "/readyz").0, 200);

    let stats = get_json(&http, "/api/v1/statistics");
    assert_eq!(stats["pipeline"], "counted");
    assert_eq!(stats["status"], "RUNNING");
    assert_eq!(stats["batchDuration"], INTERVAL_MS);
    assert_eq!(stats["numReceivers"], 1);
    assert_eq!(stats["numProcessedRecords"], 30_000);
    assert_eq!(stats["numReceivedRecords"], 30_000);
    assert_eq!(stats["numFailedBatches"], 0);

    let receivers = get_json(&http, "/api/v1/receivers");
    let receiver = &receivers[0];
    assert_eq!(receiver["streamName"], "lines");
    assert_eq!(receiver["type"], "socket");
    assert_eq!(receiver["isActive"], true);
    assert_eq!(receiver["numRecords"], 30_000);
    let rates = receiver["eventRates"].as_array().unwrap();
    let from_rates: f64 = rates
        .iter()
        .map(|r| r[1].as_f64().unwrap() * INTERVAL_MS as f64 / 1000.0)
        .sum();
    assert_eq!(
        from_rates.round() as u64,
        30_000,
        "rates times interval are the records"
    );

    // Every batch the API lists was logged with the same input size, none twice, none
    // missing: the ids run from the first batch without a gap.
    let batches = get_json(&http, "/api/v1/batches");
    let batches = batches.as_array().unwrap();
    let newest = batches[0]["batchId"].as_u64().unwrap();
    sluice.wait_for_event_where("batch_completed", &|e| e["batch"] == newest);
    let logged = logged_batches(&sluice.log_so_far());
    let listed: BTreeMap<u64, u64> = batches
        .iter()
        .map(|b| {
            (
                b["batchId"].as_u64().unwrap(),
                b["inputSize"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed.len(), batches.len(), "no batch is listed twice");
    let logged_up_to_newest: BTreeMap<u64, u64> =
        logged.range(..=newest).map(|(&t, &n)| (t, n)).collect();
    assert_eq!(listed, logged_up_to_newest, "one entry per logged batch");
    assert_eq!(listed.values().sum::<u64>(), 30_000);
    for batch in batches {
        assert_eq!(batch["status"], "COMPLETED");
        assert_eq!(batch["numCompletedOutputOps"], 1);
        let delays =
            batch["schedulingDelay"].as_u64().unwrap() + batch["processingTime"].as_u64().unwrap();
        assert_eq!(batch["totalDelay"].as_u64().unwrap(), delays);
        assert_eq!(batch["inputSizes"]["lines"], batch["inputSize"]);
    }
    let one = get_json(&http, &format!("/api/v1/batches/{newest}"));
    assert_eq!(one["batchId"], newest);
    assert_eq!(get(&http, "/api/v1/batches/12345").0, 404);

    // The same in Prometheus's terms.
    let metrics = get(&http, "/metrics").1;
    assert_eq!(
        sample(&metrics, "sluice_records_received_total{source=\"lines\"}"),
        30_000.0
    );
    let last = sample(&metrics, "sluice_last_batch_time_seconds");
    let last_ms = (last * 1000.0).round() as u64;
    sluice.wait_for_event_where("batch_completed", &|e| e["batch"] == last_ms);
    let logged = logged_batches(&sluice.log_so_far());
    let batches_so_far = logged.range(..=last_ms).count() as f64;
    assert_eq!(sample(&metrics, "sluice_batches_total"), batches_so_far);
    assert_eq!(
        sample(&metrics, "sluice_batch_processing_seconds_count"),
        batches_so_far
    );
    assert_eq!(
        sample(
            &metrics,
            "sluice_batch_total_delay_seconds_bucket{le=\"+Inf\"}"
        ),
        batches_so_far
    );
    assert_eq!(sample(&metrics, "sluice_batches_failed_total"), 0.0);
    assert_eq!(sample(&metrics, "sluice_dead_letters_total"), 0.0);
    let plugins = get_json(&http, "/api/v1/plugins");
    let version = plugins[0]["version"].as_str().unwrap().to_string();
    assert_eq!(plugins[0]["name"], "wordcount");
    assert_eq!(plugins[0]["current"], true);
    let calls = sample(
        &metrics,
        &format!("sluice_plugin_calls_total{{plugin=\"wordcount\",version=\"{version}\"}}"),
    );
    assert!(
        calls >= 2.0 * batches_so_far,
        "a call per partition per batch at least: {calls}"
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("sluice_plugin_traps_total{{plugin=\"wordcount\",version=\"{version}\"}}")
        ),
        0.0
    );
    assert_eq!(
        sample(&metrics, "sluice_plugin_swaps_total{plugin=\"wordcount\"}"),
        0.0
    );

    drop(connection);
    let done = sluice.finish();
    done.expect_code(0);
    assert!(
        done.stderr.contains(", 30000 records in,"),
        "{}",
        done.stderr
    );
    assert_eq!(
        word_counts_from_files(&dir.path().join("out")),
        count_words(&lines)
    );
}

#[test]
fn a_taken_port_stops_the_run_before_it_reads_anything() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = TempDir::new("taken-port");
    let pipeline = dir.write(
        "p.toml",
        "[sources.lines]\ntype = \"stdin\"\n[sinks.out]\ninput = \"lines\"\ntype = \"print\"\n",
    );
    let done = Sluice::start(&["run", pipeline.to_str().unwrap(), "--http", &address]).finish();
    done.expect_code(1);
    assert!(
        done.stderr
            .contains(&format!("cannot serve HTTP on {address}"))
            && done.stderr.contains("pick another address with --http"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("running pipeline"), "{}", done.stderr);
}
