//! The Kafka sink against librdkafka's in-process mock cluster, which (unlike tansu 0.6)
//! speaks the whole transaction protocol: a transactional sink started again after a
//! crash does not write a batch it already committed; a plain sink keys pairs and fails
//! a batch whose messages cannot be delivered.
//!
//! The mock cluster does not hide aborted transactions from read-committed consumers,
//! so what happens to a transaction a crash left open is not tested here.

use super::producer::{KafkaSink, TRANSACTION_TIMEOUT};
use super::{KafkaSinkSpec, TransactionSpec};
use crate::record::Records;
use crate::shutdown::Shutdown;
use crate::sink::{Sink, SinkBatch};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

fn cluster() -> MockCluster<'static, DefaultProducerContext> {
    let cluster = MockCluster::new(1).expect("a mock cluster");
    cluster.create_topic("counts", 2, 1).unwrap();
    cluster
}

fn spec(
    cluster: &MockCluster<'static, DefaultProducerContext>,
    transactional: bool,
) -> KafkaSinkSpec {
    KafkaSinkSpec {
        brokers: vec![cluster.bootstrap_servers()],
        topic: "counts".into(),
        transaction: transactional.then(|| TransactionSpec {
            id: "sluice-test-out".into(),
            commits_topic: "__sluice_commits".into(),
        }),
        properties: vec![("message.timeout.ms".into(), "5000".into())],
    }
}

/// `[word, n]` pairs, one partition.
fn pairs(words: &[(&str, u64)]) -> Vec<Records> {
    let mut records = Records::new();
    for pair in words {
        records.push_encoded(&rmp_serde::to_vec(pair).unwrap());
    }
    vec![records]
}

fn write(sink: &mut KafkaSink, time_ms: u64, partitions: &[Records]) -> anyhow::Result<()> {
    sink.write(&SinkBatch {
        time_ms,
        partitions,
        versions: &[],
    })
}

/// Every message of `topic` as (key, value), sorted.
fn read_back(
    cluster: &MockCluster<'static, DefaultProducerContext>,
    topic: &str,
) -> Vec<(String, String)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", "reader")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let (mut out, mut ended) = (Vec::new(), 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while ended < 2 && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push((
                String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            )),
            Some(Err(KafkaError::PartitionEOF(_))) => ended += 1,
            _ => {}
        }
    }
    out.sort();
    out
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.sort();
    out
}

#[test]
fn a_transactional_sink_does_not_write_a_committed_batch_again_after_a_restart() {
    let cluster = cluster();
    let spec = spec(&cluster, true);
    let mut sink = KafkaSink::open("out", "test", &spec).unwrap();
    write(&mut sink, 1_000, &pairs(&[("a", 1), ("b", 2)])).unwrap();
    write(&mut sink, 2_000, &pairs(&[("c", 3)])).unwrap();
    drop(sink);

    // A restart recomputes batches 1 000 and 2 000 from the journal, then goes on.
    let mut again = KafkaSink::open("out", "test", &spec).unwrap();
    write(&mut again, 1_000, &pairs(&[("a", 1), ("b", 2)])).unwrap();
    write(&mut again, 2_000, &pairs(&[("c", 3)])).unwrap();
    write(&mut again, 3_000, &pairs(&[("d", 4)])).unwrap();
    assert_eq!(
        read_back(&cluster, "counts"),
        owned(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")])
    );
}

#[test]
fn a_plain_sink_keys_pairs_and_fails_a_batch_it_cannot_deliver() {
    let cluster = cluster();
    let mut sink = KafkaSink::open("out", "test", &spec(&cluster, false)).unwrap();
    write(&mut sink, 1_000, &pairs(&[("a", 1), ("b", 2)])).unwrap();

    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_RECORD; 50],
    );
    let failed = write(&mut sink, 2_000, &pairs(&[("lost", 9)])).unwrap_err();
    assert!(
        format!("{failed:#}").contains("could not be delivered to `counts`"),
        "{failed:#}"
    );
    cluster.clear_request_errors(RDKafkaApiKey::Produce);

    write(&mut sink, 3_000, &pairs(&[("c", 3)])).unwrap();
    assert_eq!(
        read_back(&cluster, "counts"),
        owned(&[("a", "1"), ("b", "2"), ("c", "3")])
    );
}

#[test]
fn a_transactional_sink_whose_brokers_went_away_obeys_a_stop_in_seconds() {
    let cluster = cluster();
    let mut spec = spec(&cluster, true);
    // librdkafka's own delivery timeout (300 s): only the stop can end the wait.
    spec.properties.clear();
    let mut sink = KafkaSink::open("out", "test", &spec).unwrap();
    write(&mut sink, 1_000, &pairs(&[("a", 1)])).unwrap();

    cluster.broker_down(1).unwrap();
    let shutdown = Shutdown::new();
    sink.watch(&shutdown);
    shutdown.raise();
    let started = Instant::now();
    let failed = write(&mut sink, 2_000, &pairs(&[("b", 2)])).unwrap_err();
    let took = started.elapsed();
    assert!(
        format!("{failed:#}").contains("batch 2000 was not written"),
        "{failed:#}"
    );
    // Before, the commit waited out TRANSACTION_TIMEOUT, and the abort once more.
    assert!(took < TRANSACTION_TIMEOUT, "the stop took {took:?}");
}
