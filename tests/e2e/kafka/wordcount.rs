//! The Kafka word count example, end to end: 200,000 keyed records in a 4-partition
//! topic, counted into a Kafka topic and a files sink, both equal to the reference.

use super::*;
use crate::examples::example;

#[test]
fn kafka_word_count_of_200k_keyed_records_equals_the_reference_in_both_sinks() {
    let broker = Broker::start();
    broker.create_topic("lines", 4);
    broker.create_topic("word-counts", 4);
    let records = keyed_lines(200_000, 8);
    broker.produce("lines", &records);
    let dir = TempDir::new("kafka-wordcount");
    let text = example(
        "kafka-wordcount.toml",
        &[("127.0.0.1:9092", &broker.address())],
    );
    let pipeline = dir.write("kafka-wordcount.toml", &text);
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    let started = sluice.wait_for_log("starting lines/0");
    assert!(
        started.contains("as starting_offsets says"),
        "no checkpoint and no committed offsets: {started}"
    );
    sluice.wait_for_records(200_000);
    sluice.signal("TERM");
    sluice.finish().expect_code(0);

    let reference = count_words(&values(&records));
    assert_eq!(
        word_counts_from_files(&dir.path().join("out/kafka-wordcount")),
        reference
    );
    assert_eq!(
        counts_from_topic(&broker.read_all("word-counts")),
        reference
    );
}

#[test]
fn a_restarted_word_count_resumes_at_its_checkpointed_offsets() {
    let broker = Broker::start();
    broker.create_topic("lines", 2);
    broker.create_topic("word-counts", 2);
    let first = keyed_lines(3_000, 81);
    broker.produce("lines", &first);
    let dir = TempDir::new("kafka-resume");
    let text = example(
        "kafka-wordcount.toml",
        &[
            ("127.0.0.1:9092", &broker.address()),
            ("batch_interval = \"1s\"", "batch_interval = \"100ms\""),
        ],
    );
    let pipeline = dir.write("kafka-wordcount.toml", &text);
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    sluice.wait_for_records(3_000);
    sluice.signal("TERM");
    sluice.finish().expect_code(0);

    let second = keyed_lines(2_000, 82);
    broker.produce("lines", &second);
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    let resumed = sluice.wait_for_log("resuming at the checkpointed offsets");
    assert!(
        resumed.contains("lines/0@") && resumed.contains("lines/1@"),
        "{resumed}"
    );
    sluice.wait_for_records(2_000);
    sluice.signal("TERM");
    sluice.finish().expect_code(0);

    let all: Vec<String> = values(&first).into_iter().chain(values(&second)).collect();
    assert_eq!(
        word_counts_from_files(&dir.path().join("out/kafka-wordcount")),
        count_words(&all)
    );
}
