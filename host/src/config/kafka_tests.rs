//! The Kafka source's and sink's settings: defaults, every form a value may take, and
//! what each mistake is told, where.

use super::tests::{parse, problems};
use super::*;
use std::collections::BTreeMap;

const PRINT: &str = "[sinks.out]\ninput = \"events\"\ntype = \"print\"\n";

fn source(settings: &str) -> KafkaSourceSpec {
    let p = parse(&format!(
        "[sources.events]\ntype = \"kafka\"\n{settings}\n{PRINT}"
    ))
    .unwrap();
    match p.sources[0].settings_as::<KafkaSourceSpec>() {
        Some(spec) => spec.clone(),
        None => panic!("{:?}", p.sources[0].settings),
    }
}

#[test]
fn a_kafka_source_gets_defaults() {
    let spec = source("brokers = \"a:9092, b:9093\"\ntopics = \"lines\"");
    assert_eq!(
        spec,
        KafkaSourceSpec {
            brokers: vec!["a:9092".into(), "b:9093".into()],
            topics: TopicSelection::Names(vec!["lines".into()]),
            group_id: "sluice-p-events".into(),
            starting_offsets: StartingOffsets::Latest,
            max_records_per_partition: None,
            format: KafkaFormat::Value,
            properties: Vec::new(),
        }
    );
}

#[test]
fn every_kafka_source_setting_is_read() {
    let spec = source(
        "brokers = [\"127.0.0.1:9092\"]\ntopic_pattern = \"events-.*\"\ngroup_id = \"g\"\n\
         starting_offsets = \"earliest\"\nmax_records_per_partition = 500\nformat = \"record\"\n\
         properties = { \"fetch.max.bytes\" = 1048576, \"security.protocol\" = \"plaintext\" }",
    );
    assert_eq!(spec.topics, TopicSelection::Pattern("events-.*".into()));
    assert_eq!(spec.group_id, "g");
    assert_eq!(spec.starting_offsets, StartingOffsets::Earliest);
    assert_eq!(spec.max_records_per_partition, Some(500));
    assert_eq!(spec.format, KafkaFormat::Record);
    assert_eq!(
        spec.properties,
        [
            ("fetch.max.bytes".to_string(), "1048576".to_string()),
            ("security.protocol".to_string(), "plaintext".to_string())
        ]
    );
}

#[test]
fn starting_offsets_may_name_partitions_inline_or_as_a_section() {
    let want = StartingOffsets::Specific(BTreeMap::from([(
        "a".to_string(),
        BTreeMap::from([(0, 42), (1, -2)]),
    )]));
    let inline = source(
        "brokers = \"h:1\"\ntopics = [\"a\", \"b\"]\nstarting_offsets = { a = { 0 = 42, 1 = -2 } }",
    );
    assert_eq!(inline.starting_offsets, want);
    let p = parse(&format!(
        "[sources.events]\ntype = \"kafka\"\nbrokers = \"h:1\"\ntopics = [\"a\"]\n\
         [sources.events.starting_offsets.a]\n0 = 42\n1 = -2\n{PRINT}"
    ))
    .unwrap();
    assert_eq!(
        p.sources[0]
            .settings_as::<KafkaSourceSpec>()
            .map(|s| &s.starting_offsets),
        Some(&want)
    );
}

#[test]
fn kafka_source_mistakes_are_located_and_explained() {
    let found = problems(&format!(
        "[sources.events]\ntype = \"kafka\"\nbrokers = [\"nohost\"]\ntopics = [\"ok\", \"bad topic\"]\n\
         max_records_per_partition = 0\nformat = \"recrod\"\nwal = true\n{PRINT}"
    ));
    assert_eq!(
        found,
        [
            "3:11: sources.events.brokers: `nohost` is not host:port [like \"127.0.0.1:9092\"]",
            "4:10: sources.events.topics: `bad topic` is not a valid topic name [topic names are 1 to 249 letters, digits, `.`, `_` and `-`]",
            "5:29: sources.events.max_records_per_partition: must be at least 1, found 0",
            "6:10: sources.events.format: unknown format `recrod` [did you mean `record`?]",
            "7:1: sources.events.wal: unknown key [known keys here: type, brokers, topics, group_id, starting_offsets, max_records_per_partition, format, properties, max_rate, backpressure, initial_rate]",
            "9:9: sinks.out.input: no source or stage named `events` [sources and stages are: ]",
        ]
    );
}

#[test]
fn topics_and_offsets_must_agree() {
    let found = problems(&format!(
        "[sources.events]\ntype = \"kafka\"\nbrokers = \"h:1\"\ntopics = [\"a\"]\n\
         starting_offsets = {{ b = {{ 0 = 1 }}, a = {{ x = 1 }} }}\n\
         properties = {{ \"group.id\" = \"mine\" }}\n{PRINT}"
    ));
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(
        found[0]
            .starts_with("5:26: sources.events.starting_offsets: topic `b` is not one of `topics`"),
        "{found:?}"
    );
    assert!(
        found[1].contains("`a.x`: expected a partition number = an offset"),
        "{found:?}"
    );
    assert!(
        found[2].contains("properties: `group.id` is set by sluice"),
        "{found:?}"
    );
    let neither = problems(&format!(
        "[sources.events]\ntype = \"kafka\"\nbrokers = \"h:1\"\n{PRINT}"
    ));
    assert_eq!(
        neither[0],
        "2:8: sources.events.type: a Kafka source needs `topics` or `topic_pattern` [like topics = [\"events\"] or topic_pattern = \"events-.*\"]"
    );
    let bad_pattern = problems(&format!(
        "[sources.events]\ntype = \"kafka\"\nbrokers = \"h:1\"\ntopic_pattern = \"(\"\n{PRINT}"
    ));
    assert!(
        bad_pattern[0].starts_with("4:17: sources.events.topic_pattern: not a regular expression"),
        "{bad_pattern:?}"
    );
}

#[test]
fn a_kafka_sink_gets_defaults_and_its_transaction_settings() {
    let sinks = |settings: &str| {
        let p = parse(&format!(
            "[sources.s]\ntype = \"stdin\"\n[sinks.out]\ninput = \"s\"\ntype = \"kafka\"\nbrokers = \"h:9092\"\ntopic = \"counts\"\n{settings}"
        ))
        .unwrap();
        match p.sinks[0].settings_as::<KafkaSinkSpec>() {
            Some(spec) => spec.clone(),
            None => panic!("{:?}", p.sinks[0].settings),
        }
    };
    let plain = sinks("");
    assert_eq!(
        plain,
        KafkaSinkSpec {
            brokers: vec!["h:9092".into()],
            topic: "counts".into(),
            transaction: None,
            properties: Vec::new(),
        }
    );
    assert_eq!(
        sinks("transactional = true").transaction,
        Some(TransactionSpec {
            id: "sluice-p-out".into(),
            commits_topic: "__sluice_commits".into(),
        })
    );
    assert_eq!(
        sinks("transactional = true\ntransactional_id = \"wc-1\"\ncommits_topic = \"wc-commits\"")
            .transaction,
        Some(TransactionSpec {
            id: "wc-1".into(),
            commits_topic: "wc-commits".into(),
        })
    );
}

#[test]
fn kafka_sink_mistakes_are_located_and_explained() {
    let found = problems(
        "[sources.s]\ntype = \"stdin\"\n[sinks.out]\ninput = \"s\"\ntype = \"kafka\"\nbrokers = \"h:9092\"\n\
         transactional_id = \"x\"\nproperties = { \"enable.idempotence\" = false }\n",
    );
    assert_eq!(
        found,
        [
            "3:8: sinks.out: missing key `topic` [the topic records are written to]",
            "7:20: sinks.out.transactional_id: `transactional_id` without `transactional = true` [add transactional = true, or remove it]",
            "8:39: sinks.out.properties: `enable.idempotence` is set by sluice [sluice sets bootstrap.servers, transactional.id, enable.idempotence itself; use the source or sink keys instead]",
        ]
    );
}
