//! `max_rate` on a Kafka source: every batch takes at most its share of the rate, spread
//! over the partitions; the rest waits in the topic and comes in later batches, none
//! lost and none read twice.

use super::*;

#[test]
fn max_rate_bounds_every_batch_of_a_kafka_source_and_loses_nothing() {
    let broker = Broker::start();
    broker.create_topic("lines", 4);
    let records = keyed_lines(3_000, 7);
    broker.produce("lines", &records);
    let dir = TempDir::new("kafka-max-rate");
    let pipeline = dir.write(
        "limited.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "200ms"

[sources.lines]
type = "kafka"
brokers = "{brokers}"
topics = ["lines"]
starting_offsets = "earliest"
max_rate = 2500

[sinks.out]
input = "lines"
type = "files"
path = "out"
"#,
            brokers = broker.address(),
        ),
    );
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    sluice.wait_for_records(3_000);
    sluice.signal("TERM");
    sluice.finish().expect_code(0);

    let out = dir.path().join("out");
    let sizes: Vec<usize> = records_by_batch(&out).values().map(Vec::len).collect();
    assert!(
        sizes.iter().all(|&n| n <= 500),
        "2500 records/s over 200 ms is 500 a batch: {sizes:?}"
    );
    assert!(
        sizes.iter().filter(|&&n| n > 0).count() >= 6,
        "3000 records at 500 a batch take six batches at least: {sizes:?}"
    );
    let mut written = written_lines(&out);
    written.sort();
    let mut expected = values(&records);
    expected.sort();
    assert_eq!(written, expected, "every record exactly once");
}
