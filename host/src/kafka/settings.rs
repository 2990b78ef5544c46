//! The settings Kafka sources and sinks share, read from their pipeline-file sections:
//! what a record looks like to plugins, broker lists, topic names, per-partition
//! starting offsets and librdkafka properties.
//!
//! Reading them does not need the Kafka client: a binary built without the `kafka`
//! feature still checks them, then says that it cannot run them.

use crate::settings::{Location, TableReader, did_you_mean};
use std::collections::BTreeMap;
use std::ops::Range;
use toml_edit::{Item, Value};

/// What a Kafka record looks like to plugins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KafkaFormat {
    /// The value, as a UTF-8 string (like a line of a text source).
    #[default]
    Value,
    /// A map `{key, value, topic, partition, offset, timestamp}`.
    Record,
}

/// Whether this binary can run Kafka sources and sinks.
pub const SUPPORTED: bool = cfg!(feature = "kafka");

/// Records a diagnostic on `type` when this binary cannot run Kafka.
pub fn refuse_if_unsupported(r: &TableReader<'_, '_>) {
    if !SUPPORTED {
        r.error(
            "type",
            "this sluice was built without Kafka support",
            Some("build it with the `kafka` cargo feature (on by default): cargo install --path host --features kafka".into()),
        );
    }
}

/// `format`: `"value"` (the default) or `"record"`.
pub fn format(r: &TableReader<'_, '_>) -> Option<KafkaFormat> {
    match r.string("format") {
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
    }
}

/// Which topics a Kafka source reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicSelection {
    /// These topics.
    Names(Vec<String>),
    /// Every topic whose whole name matches this regular expression, including topics
    /// created while the pipeline runs.
    Pattern(String),
}

/// Where a partition starts when no checkpoint and no committed group offset says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StartingOffsets {
    /// The oldest record still in the partition.
    Earliest,
    /// The end of the partition when it is first seen: only records produced after.
    #[default]
    Latest,
    /// Per topic, per partition: an offset, or -2 (earliest) or -1 (latest). Partitions
    /// not listed start at the earliest offset.
    Specific(BTreeMap<String, BTreeMap<i32, i64>>),
}

/// What a valid topic name is.
pub const TOPIC_HINT: &str = "topic names are 1 to 249 letters, digits, `.`, `_` and `-`";

/// Whether `name` is a valid topic name.
pub fn valid_topic(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `brokers`: a list, or one comma-separated string, of `host:port`.
pub fn brokers(r: &TableReader<'_, '_>) -> Option<Vec<String>> {
    if !r.has("brokers") {
        r.mark_read("brokers");
        r.error(
            "type",
            "missing key `brokers`",
            Some("the Kafka bootstrap servers, like brokers = [\"127.0.0.1:9092\"]".into()),
        );
        return None;
    }
    let (list, at) = r.strings("brokers")?;
    let brokers: Vec<String> = list
        .iter()
        .flat_map(|b| b.split(','))
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect();
    let bad = brokers.iter().find(|b| {
        !b.rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
    });
    if let Some(bad) = bad {
        r.error_at(
            at,
            "brokers",
            format!("`{bad}` is not host:port"),
            Some("like \"127.0.0.1:9092\"".into()),
        );
        return None;
    }
    if brokers.is_empty() {
        r.error_at(
            at,
            "brokers",
            "no brokers",
            Some("like brokers = [\"127.0.0.1:9092\"]".into()),
        );
        return None;
    }
    Some(brokers)
}

/// `starting_offsets`: "earliest", "latest", or `{ topic = { partition = offset } }`.
pub fn starting_offsets(
    r: &TableReader<'_, '_>,
    topics: Option<&TopicSelection>,
) -> Option<StartingOffsets> {
    const HINT: &str = "\"earliest\", \"latest\", or per topic and partition, like { events = { 0 = 42, 1 = -2 } } (-2 is earliest, -1 latest)";
    let Some((item, at)) = r.item("starting_offsets") else {
        return Some(StartingOffsets::default());
    };
    if let Some(text) = item.as_str() {
        return match text {
            "earliest" => Some(StartingOffsets::Earliest),
            "latest" => Some(StartingOffsets::Latest),
            other => {
                r.error_at(
                    at,
                    "starting_offsets",
                    format!("unknown starting offsets `{other}`"),
                    did_you_mean(other, ["earliest", "latest"]).or(Some(HINT.into())),
                );
                None
            }
        };
    }
    let Some(table) = item.as_table_like() else {
        r.error_at(
            at,
            "starting_offsets",
            "expected a string or a table",
            Some(HINT.into()),
        );
        return None;
    };
    let mut specific = BTreeMap::new();
    let mut ok = true;
    for (topic, partitions) in table.iter() {
        let where_ = at_or(r, partitions.span(), at);
        if let Some(TopicSelection::Names(names)) = topics
            && !names.iter().any(|n| n == topic)
        {
            r.error_at(
                where_,
                "starting_offsets",
                format!("topic `{topic}` is not one of `topics`"),
                did_you_mean(topic, names.iter().map(String::as_str))
                    .or(Some(format!("topics are {}", names.join(", ")))),
            );
            ok = false;
            continue;
        }
        let Some(partitions) = partitions.as_table_like() else {
            r.error_at(
                where_,
                "starting_offsets",
                format!("`{topic}`: expected a table of partition = offset"),
                Some(HINT.into()),
            );
            ok = false;
            continue;
        };
        let mut offsets = BTreeMap::new();
        for (partition, offset) in partitions.iter() {
            let at = at_or(r, offset.span(), where_);
            let offset = offset.as_value().and_then(Value::as_integer);
            match (partition.parse::<i32>(), offset) {
                (Ok(p), Some(o)) if p >= 0 && o >= -2 => {
                    offsets.insert(p, o);
                }
                _ => {
                    r.error_at(at, "starting_offsets", format!("`{topic}.{partition}`: expected a partition number = an offset (-2 earliest, -1 latest)"), Some(HINT.into()));
                    ok = false;
                }
            }
        }
        specific.insert(topic.to_string(), offsets);
    }
    ok.then_some(StartingOffsets::Specific(specific))
}

/// `properties`: a table of librdkafka settings, values as strings, numbers or booleans.
pub fn properties(r: &TableReader<'_, '_>, reserved: &[&str]) -> Option<Vec<(String, String)>> {
    let Some((item, at)) = r.item("properties") else {
        return Some(Vec::new());
    };
    let Some(table) = item.as_table_like() else {
        r.error_at(
            at,
            "properties",
            "expected a table",
            Some(
                "librdkafka settings, like properties = { \"security.protocol\" = \"ssl\" }".into(),
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (key, value) in table.iter() {
        let here = at_or(r, value.span(), at);
        let text = match value {
            Item::Value(Value::String(s)) => Some(s.value().clone()),
            Item::Value(Value::Integer(n)) => Some(n.value().to_string()),
            Item::Value(Value::Boolean(b)) => Some(b.value().to_string()),
            Item::Value(Value::Float(f)) => Some(f.value().to_string()),
            _ => None,
        };
        if reserved.contains(&key) {
            r.error_at(
                here,
                "properties",
                format!("`{key}` is set by sluice"),
                Some(format!(
                    "sluice sets {} itself; use the source or sink keys instead",
                    reserved.join(", ")
                )),
            );
            ok = false;
        } else if let Some(text) = text {
            out.push((key.to_string(), text));
        } else {
            r.error_at(
                here,
                "properties",
                format!("`{key}`: expected a string, number or boolean"),
                None,
            );
            ok = false;
        }
    }
    ok.then_some(out)
}

/// Where `span` is, or `fallback` when the parser kept no span for it.
fn at_or(r: &TableReader<'_, '_>, span: Option<Range<usize>>, fallback: Location) -> Location {
    span.map_or(fallback, |s| r.locate(Some(s)))
}
