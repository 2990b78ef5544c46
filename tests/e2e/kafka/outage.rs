//! Brokers that are not there: at the start, sluice says so, retries and starts reading
//! when one appears; in the middle of a run, it says so, cuts empty batches, and the
//! stream resumes when the broker is back. Never a crash.

use super::*;

/// A pipeline that writes what it reads from `lines` to out/, in `format`.
fn pipeline(dir: &TempDir, brokers: &str, format: &str) -> String {
    dir.write(
        "outage.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "100ms"

[sources.lines]
type = "kafka"
brokers = "{brokers}"
topics = ["lines"]
starting_offsets = "earliest"
format = "{format}"

[sinks.out]
input = "lines"
type = "files"
path = "out"
"#
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn a_broker_unreachable_at_start_is_retried_until_it_answers() {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let dir = TempDir::new("kafka-late-broker");
    let mut sluice = Sluice::start(&["run", &pipeline(&dir, &address, "record")]);
    let warning = sluice.wait_for_log("cannot reach the Kafka brokers");
    assert!(
        warning.contains(&address)
            && warning.contains("retrying")
            && warning.contains("no record is lost"),
        "{warning}"
    );
    // Still running: batches go on, empty.
    sluice.wait_for_batch(&|e| e["records_in"] == 0);

    let broker = Broker::start_on(port);
    broker.create_topic("lines", 3);
    let records = keyed_lines(900, 5);
    broker.produce("lines", &records);
    sluice.wait_for_log("answer again");
    sluice.wait_for_records(900);
    sluice.signal("TERM");
    sluice.finish().expect_code(0);

    // format = "record": every offset of every partition exactly once, with its key
    // and value.
    let written: Vec<serde_json::Value> = records_by_batch(&dir.path().join("out"))
        .into_values()
        .flatten()
        .collect();
    let mut offsets: Vec<(i64, i64)> = written
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    offsets.sort();
    let mut per_partition = [0i64; 3];
    for (partition, offset) in &offsets {
        let next = &mut per_partition[*partition as usize];
        assert_eq!(
            *offset, *next,
            "offsets of partition {partition} in order, once each"
        );
        *next += 1;
    }
    assert_eq!(per_partition.iter().sum::<i64>(), 900);
    let mut pairs: Vec<(String, String)> = written
        .iter()
        .map(|r| {
            assert_eq!(r["topic"], "lines");
            assert!(r["timestamp"].as_i64().is_some(), "{r}");
            (
                r["key"].as_str().unwrap().into(),
                r["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut sent = records.clone();
    pairs.sort();
    sent.sort();
    assert_eq!(pairs, sent);
}

#[test]
fn a_broker_that_goes_away_and_comes_back_resumes_the_stream() {
    let broker = Broker::start();
    let port = broker.port();
    broker.create_topic("lines", 2);
    let before = keyed_lines(1_000, 6);
    broker.produce("lines", &before);
    let dir = TempDir::new("kafka-broker-restart");
    let mut sluice = Sluice::start(&["run", &pipeline(&dir, &broker.address(), "value")]);
    sluice.wait_for_records(1_000);

    broker.kill();
    let warning = sluice.wait_for_log("cannot reach the Kafka brokers");
    assert!(warning.contains(&format!("127.0.0.1:{port}")), "{warning}");
    sluice.wait_for_batch(&|e| e["records_in"] == 0);

    // The broker comes back empty (its storage was in memory): the topic is created
    // again and new records arrive. The source notices the partitions start over.
    let broker = Broker::start_on(port);
    broker.create_topic("lines", 2);
    let after: Vec<(String, String)> = (0..300)
        .map(|i| (format!("k{i}"), format!("after the restart {i}")))
        .collect();
    broker.produce("lines", &after);
    sluice.wait_for_log("answer again");
    sluice.wait_for_log("reading it again from offset 0");
    sluice.wait_for_records(300);
    sluice.signal("TERM");
    sluice.finish().expect_code(0);

    let mut read = written_lines(&dir.path().join("out"));
    let mut sent: Vec<String> = values(&before).into_iter().chain(values(&after)).collect();
    read.sort();
    sent.sort();
    assert_eq!(read, sent);
}
