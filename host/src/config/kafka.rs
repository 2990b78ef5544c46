//! `type = "kafka"` sources and sinks: their settings and how they are read from a
//! pipeline file, with the same `file:line:column` diagnostics as every other section.
//!
//! Reading the settings does not need the Kafka client: a binary built without the
//! `kafka` feature still checks them, then says that it cannot run them.

use super::did_you_mean;
use super::kafka_values::{
    StartingOffsets, TOPIC_HINT, TopicSelection, brokers, properties, starting_offsets, valid_topic,
};
use super::reader::TableReader;

/// Settings of a Kafka source (Spark's direct stream).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSourceSpec {
    /// `brokers`: bootstrap servers, `host:port`.
    pub brokers: Vec<String>,
    /// `topics` or `topic_pattern`.
    pub topics: TopicSelection,
    /// `group_id`: the consumer group offsets are committed to.
    pub group_id: String,
    /// `starting_offsets`: where to start when neither a checkpoint nor the group knows.
    pub starting_offsets: StartingOffsets,
    /// `max_records_per_partition`: the most records one batch takes from one partition.
    pub max_records_per_partition: Option<u64>,
    /// `format`: what a record looks like to plugins.
    pub format: KafkaFormat,
    /// `properties`: extra librdkafka settings (security, tuning).
    pub properties: Vec<(String, String)>,
}

/// What a Kafka record looks like to plugins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KafkaFormat {
    /// The value, as a UTF-8 string (like a line of a text source).
    #[default]
    Value,
    /// A map `{key, value, topic, partition, offset, timestamp}`.
    Record,
}

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

/// librdkafka settings sluice sets itself, per client kind; `properties` may not.
const SOURCE_RESERVED: [&str; 7] = [
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
    "auto.offset.reset",
    "isolation.level",
];
const SINK_RESERVED: [&str; 3] = [
    "bootstrap.servers",
    "transactional.id",
    "enable.idempotence",
];

/// Whether this binary can run Kafka sources and sinks.
pub const SUPPORTED: bool = cfg!(feature = "kafka");

fn refuse_if_unsupported(r: &TableReader<'_, '_>) {
    if !SUPPORTED {
        r.error(
            "type",
            "this sluice was built without Kafka support",
            Some("build it with the `kafka` cargo feature (on by default): cargo install --path host --features kafka".into()),
        );
    }
}

/// Reads the settings of `[sources.NAME]` with `type = "kafka"`.
pub fn source(r: &TableReader<'_, '_>, pipeline: &str) -> Option<KafkaSourceSpec> {
    refuse_if_unsupported(r);
    let brokers = brokers(r);
    let topics = match (r.has("topics"), r.has("topic_pattern")) {
        (true, true) => {
            r.mark_read("topic_pattern");
            r.mark_read("topics");
            r.error(
                "topic_pattern",
                "`topics` and `topic_pattern` together",
                Some("keep one: a list of topics, or a regular expression".into()),
            );
            None
        }
        (false, false) => {
            r.error(
                "type",
                "a Kafka source needs `topics` or `topic_pattern`",
                Some("like topics = [\"events\"] or topic_pattern = \"events-.*\"".into()),
            );
            None
        }
        (true, false) => r.strings("topics").and_then(|(names, at)| {
            let bad = names.iter().find(|n| !valid_topic(n));
            if names.is_empty() {
                r.error_at(at, "topics", "no topics", Some("name at least one".into()));
                None
            } else if let Some(bad) = bad {
                r.error_at(
                    at,
                    "topics",
                    format!("`{bad}` is not a valid topic name"),
                    Some(TOPIC_HINT.into()),
                );
                None
            } else {
                Some(TopicSelection::Names(names))
            }
        }),
        (false, true) => {
            r.string("topic_pattern")
                .and_then(|(pattern, at)| match regex::Regex::new(&pattern) {
                    Ok(_) => Some(TopicSelection::Pattern(pattern)),
                    Err(e) => {
                        let first = e
                            .to_string()
                            .lines()
                            .last()
                            .unwrap_or_default()
                            .trim()
                            .to_string();
                        r.error_at(
                            at,
                            "topic_pattern",
                            format!("not a regular expression: {first}"),
                            Some("it must match whole topic names, like \"events-.*\"".into()),
                        );
                        None
                    }
                })
        }
    };
    let group_id = r
        .string("group_id")
        .map_or_else(|| format!("sluice-{pipeline}-{}", r.name()), |(g, _)| g);
    let starting_offsets = starting_offsets(r, topics.as_ref());
    let max_records_per_partition = r.integer("max_records_per_partition", 1).map(|n| n as u64);
    let format = match r.string("format") {
        None => Some(KafkaFormat::Value),
        Some((f, _)) if f == "value" => Some(KafkaFormat::Value),
        Some((f, _)) if f == "record" => Some(KafkaFormat::Record),
        Some((other, at)) => {
            r.error_at(
                at,
                "format",
                format!("unknown format `{other}`"),
                did_you_mean(&other, ["value", "record"]).or(Some(
                    "\"value\" (the value as a string) or \"record\" (a map of key, value, topic, partition, offset, timestamp)".into(),
                )),
            );
            None
        }
    };
    let properties = properties(r, &SOURCE_RESERVED);
    Some(KafkaSourceSpec {
        brokers: brokers?,
        topics: topics?,
        group_id,
        starting_offsets: starting_offsets?,
        max_records_per_partition,
        format: format?,
        properties: properties?,
    })
}

/// Reads the settings of `[sinks.NAME]` with `type = "kafka"`.
pub fn sink(r: &TableReader<'_, '_>, pipeline: &str) -> Option<KafkaSinkSpec> {
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
    let properties = properties(r, &SINK_RESERVED);
    Some(KafkaSinkSpec {
        brokers: brokers?,
        topic: topic?,
        transaction,
        properties: properties?,
    })
}

#[cfg(all(test, not(feature = "kafka")))]
mod tests {
    #[test]
    fn a_binary_without_the_feature_refuses_kafka_with_a_hint() {
        let text = "[sources.events]\ntype = \"kafka\"\nbrokers = \"h:1\"\ntopics = \"a\"\n\
                    [sinks.out]\ninput = \"events\"\ntype = \"print\"\n";
        let err = super::super::parse_str(std::path::Path::new("k.toml"), text).unwrap_err();
        let first = &err.items[0];
        assert_eq!(
            (first.at.line, first.key.as_str()),
            (2, "sources.events.type")
        );
        assert_eq!(first.message, "this sluice was built without Kafka support");
        assert!(first.hint.as_deref().unwrap().contains("--features kafka"));
    }
}
