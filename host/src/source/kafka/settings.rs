//! The settings of `type = "kafka"` sources, read from their section of the pipeline
//! file. They are read (and checked) by every binary, also one built without the
//! `kafka` feature, which then says it cannot run them.

use crate::kafka::settings::{
    KafkaFormat, StartingOffsets, TOPIC_HINT, TopicSelection, brokers, format, properties,
    refuse_if_unsupported, starting_offsets, valid_topic,
};
use crate::settings::TableReader;

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

/// librdkafka settings the source sets itself; `properties` may not.
const RESERVED: [&str; 7] = [
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
    "auto.offset.reset",
    "isolation.level",
];

/// Reads the settings of `[sources.NAME]` with `type = "kafka"`.
pub fn read(r: &TableReader<'_, '_>, pipeline: &str) -> Option<KafkaSourceSpec> {
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
    let format = format(r);
    let properties = properties(r, &RESERVED);
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
