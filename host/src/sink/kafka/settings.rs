//! The settings of `type = "kafka"` sinks, read from their section of the pipeline
//! file. They are read (and checked) by every binary, also one built without the
//! `kafka` feature, which then says it cannot run them. What Kafka sources and sinks
//! share is in `kafka::settings`.

use crate::kafka::settings::{TOPIC_HINT, brokers, properties, refuse_if_unsupported, valid_topic};
use crate::settings::TableReader;

/// Settings of a Kafka sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSinkSpec {
    /// `brokers`: bootstrap servers, `host:port`.
    pub brokers: Vec<String>,
    /// `topic`: where records are written.
    pub topic: String,
    /// `transactional = true`: each batch in one transaction, written exactly once.
    pub transaction: Option<TransactionSpec>,
    /// `properties`: extra librdkafka settings (security, tuning).
    pub properties: Vec<(String, String)>,
}

/// How a transactional Kafka sink identifies itself and its committed batches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionSpec {
    /// `transactional_id`: fences off an earlier incarnation of the same sink.
    pub id: String,
    /// `commits_topic`: where each transaction records its batch time.
    pub commits_topic: String,
}

/// librdkafka settings the sink sets itself; `properties` may not.
const RESERVED: [&str; 3] = [
    "bootstrap.servers",
    "transactional.id",
    "enable.idempotence",
];

/// Reads the settings of `[sinks.NAME]` with `type = "kafka"`.
pub fn read(r: &TableReader<'_, '_>, pipeline: &str) -> Option<KafkaSinkSpec> {
    refuse_if_unsupported(r);
    let brokers = brokers(r);
    let topic = r
        .required_string("topic", "the topic records are written to")
        .and_then(|(topic, at)| {
            if valid_topic(&topic) {
                Some(topic)
            } else {
                r.error_at(
                    at,
                    "topic",
                    format!("`{topic}` is not a valid topic name"),
                    Some(TOPIC_HINT.into()),
                );
                None
            }
        });
    let transactional = r.boolean("transactional").unwrap_or(false);
    let id = r.string("transactional_id");
    let commits = r.string("commits_topic");
    for (key, given) in [("transactional_id", &id), ("commits_topic", &commits)] {
        if given.is_some() && !transactional {
            r.error(
                key,
                format!("`{key}` without `transactional = true`"),
                Some("add transactional = true, or remove it".into()),
            );
        }
    }
    let transaction = transactional.then(|| TransactionSpec {
        id: id.map_or_else(|| format!("sluice-{pipeline}-{}", r.name()), |(id, _)| id),
        commits_topic: commits.map_or_else(|| "__sluice_commits".to_string(), |(t, _)| t),
    });
    let properties = properties(r, &RESERVED);
    Some(KafkaSinkSpec {
        brokers: brokers?,
        topic: topic?,
        transaction,
        properties: properties?,
    })
}
