//! The commits topic of transactional Kafka sinks: one message per committed batch,
//! written inside the batch's transaction, keyed by the sink's transactional id, whose
//! value says which batch it was. Read (committed messages only) when a sink starts, to
//! know which batches are in the output topic already.

use super::TransactionSpec;
use crate::kafka::KafkaFormat;
use crate::kafka::Reader;
use crate::kafka::client::{self, Context, Health, REQUEST_TIMEOUT};
use crate::kafka::range::OffsetRange;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use std::sync::Arc;

/// How many messages the first look back reads; each further look doubles it.
const FIRST_WINDOW: i64 = 256;

/// The value of the commit marker of batch `time_ms`.
pub fn marker(pipeline: &str, sink: &str, topic: &str, time_ms: u64) -> String {
    serde_json::json!({
        "batch_time_ms": time_ms,
        "pipeline": pipeline,
        "sink": sink,
        "topic": topic,
    })
    .to_string()
}

/// Creates the commits topic if it does not exist: one partition, compacted (only the
/// last marker of each sink matters), replicated as the brokers' default.
pub fn ensure_topic(
    config: &ClientConfig,
    label: &str,
    topic: &str,
    health: &Arc<Health>,
) -> anyhow::Result<()> {
    let admin: AdminClient<Context> = client::create(config, Context::new(label, health.clone()))?;
    let metadata = admin
        .inner()
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the Kafka brokers to look up the commits topic `{topic}`: {e}"
            )
        })?;
    let exists = metadata
        .topics()
        .iter()
        .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
    if exists {
        return Ok(());
    }
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(-1)).set("cleanup.policy", "compact");
    let options = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
    let results = client::block_on(admin.create_topics([&new], &options))
        .map_err(|e| anyhow::anyhow!("cannot create the commits topic `{topic}`: {e}"))?;
    for result in results {
        match result {
            Ok(_) => tracing::info!(
                "{label}: created the topic `{topic}`, where each transaction records its batch"
            ),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => anyhow::bail!(
                "cannot create the commits topic `{topic}`: {code}; create it (one partition, cleanup.policy=compact) or name another with `commits_topic`"
            ),
        }
    }
    Ok(())
}

/// The newest batch time that `transaction`'s id committed, reading the commits topic
/// backwards from its end, committed messages only.
pub fn last_committed(
    config: &ClientConfig,
    label: &str,
    transaction: &TransactionSpec,
    health: &Arc<Health>,
) -> anyhow::Result<Option<u64>> {
    let topic = &transaction.commits_topic;
    let mut consumer_config = config.clone();
    consumer_config
        .set("group.id", format!("{}-commits", transaction.id))
        .set("isolation.level", "read_committed");
    let consumer: BaseConsumer<Context> =
        client::create(&consumer_config, Context::new(label, health.clone()))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("cannot read the commits topic `{topic}`: {e}"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let reader = Reader::new(
        label,
        config,
        &format!("{}-commits", transaction.id),
        KafkaFormat::Record,
        health.clone(),
    );
    let mut newest = None;
    for partition in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("cannot read the commits topic `{topic}`: {e}"))?;
        let mut end = high;
        let mut window = FIRST_WINDOW;
        while end > low {
            let from = (end - window).max(low);
            let range = OffsetRange {
                topic: topic.clone(),
                partition,
                from,
                until: end,
            };
            let found = reader.read(&[range])[0]
                .iter()
                .filter_map(|record| batch_of(record, &transaction.id))
                .max();
            if found.is_some() {
                newest = newest.max(found);
                break;
            }
            end = from;
            window = window.saturating_mul(2);
        }
    }
    Ok(newest)
}

/// The batch time of a commits-topic record (in the source's `record` format) written
/// with transactional id `id`.
fn batch_of(record: &[u8], id: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Marker {
        key: Option<String>,
        value: Option<String>,
    }
    let marker: Marker = rmp_serde::from_slice(record).ok()?;
    if marker.key.as_deref() != Some(id) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(marker.value.as_deref()?).ok()?;
    value["batch_time_ms"].as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::codec::{Consumed, push_consumed};
    use crate::record::Records;

    #[test]
    fn a_marker_is_found_by_its_transactional_id() {
        let mut records = Records::new();
        for (key, time) in [("other", 9), ("mine", 5)] {
            let value = marker("p", "sink `out`", "t", time);
            let consumed = Consumed {
                key: Some(key.as_bytes()),
                value: Some(value.as_bytes()),
                topic: "__sluice_commits",
                partition: 0,
                offset: 0,
                timestamp: None,
            };
            push_consumed(&mut records, KafkaFormat::Record, &consumed);
        }
        let found: Vec<Option<u64>> = records.iter().map(|r| batch_of(r, "mine")).collect();
        assert_eq!(found, [None, Some(5)]);
    }
}
