//! The pipeline file's contract: what parses, what each mistake is told, and where.

use super::*;

const SOURCES_AND_SINK: &str = r#"
[sources.lines]
type = "stdin"

[sinks.out]
input = "lines"
type = "print"
"#;

pub(super) fn parse(text: &str) -> Result<Pipeline, Diagnostics> {
    parse_str(Path::new("p.toml"), text)
}

/// Every diagnostic as `line:column: key: message [hint]`.
pub(super) fn problems(text: &str) -> Vec<String> {
    let err = parse(text).expect_err("the file has problems");
    err.items
        .iter()
        .map(|d| {
            let hint = d
                .hint
                .as_deref()
                .map(|h| format!(" [{h}]"))
                .unwrap_or_default();
            format!(
                "{}:{}: {}: {}{hint}",
                d.at.line, d.at.column, d.key, d.message
            )
        })
        .collect()
}

#[test]
fn a_minimal_pipeline_gets_defaults() {
    let p = parse(SOURCES_AND_SINK).unwrap();
    assert_eq!(p.name, "p");
    assert_eq!(p.batch_interval, Duration::from_secs(1));
    assert_eq!(p.partitions, default_partitions());
    assert_eq!(p.sources[0].kind, "stdin");
    assert_eq!(
        p.sinks[0].settings_as::<crate::sink::Print>(),
        Some(&crate::sink::Print {
            num: 10,
            skip_empty: false
        })
    );
}

#[test]
fn pipeline_settings_are_read() {
    let p = parse(&format!(
        "[pipeline]\nname = \"wc\"\nbatch_interval = \"250ms\"\npartitions = 3\n{SOURCES_AND_SINK}"
    ))
    .unwrap();
    assert_eq!(
        (p.name.as_str(), p.batch_interval, p.partitions),
        ("wc", Duration::from_millis(250), 3)
    );
}

#[test]
fn generator_and_socket_settings_are_read() {
    let p = parse(
        "[sources.g]\ntype = \"generator\"\nrate = 5\ncount = 20\nseed = 1\nwords_per_line = 3\nvocabulary = 50\n\
         [sources.s]\ntype = \"socket\"\naddress = \"localhost:9\"\nreconnect = false\n\
         [sinks.out]\ninput = \"g\"\ntype = \"print\"\nnum = 3\n",
    )
    .unwrap();
    assert_eq!(
        p.sources[0].settings_as::<GeneratorSpec>(),
        Some(&GeneratorSpec {
            rate: 5,
            count: Some(20),
            seed: 1,
            words_per_line: 3,
            vocabulary: 50
        })
    );
    assert_eq!(p.sources[1].kind, "socket");
    assert_eq!(
        format!("{:?}", p.sources[1].settings),
        r#"Socket { address: "localhost:9", reconnect: false }"#
    );
    assert_eq!(
        p.sinks[0].settings_as::<crate::sink::Print>(),
        Some(&crate::sink::Print {
            num: 3,
            skip_empty: false
        })
    );
}

#[test]
fn no_sources_and_no_sinks_are_both_reported() {
    assert_eq!(
        problems("[pipeline]\nname = \"x\"\n"),
        [
            "1:1: sources: no sources: nothing to read [add a [sources.NAME] section with a `type`]",
            "1:1: sinks: no sinks: nothing would be written [add a [sinks.NAME] section, like `type = \"print\"`]",
        ]
    );
}

#[test]
fn unknown_sections_and_keys_get_suggestions() {
    let found = problems(&format!(
        "[stagse.a]\nx = 1\n[pipeline]\nbatch_intreval = \"1s\"\n{SOURCES_AND_SINK}"
    ));
    assert_eq!(
        found[0],
        "1:2: stagse: unknown section [did you mean `stages`?]"
    );
    assert_eq!(
        found[1],
        "4:1: pipeline.batch_intreval: unknown key [did you mean `batch_interval`?]"
    );
}

#[test]
fn values_of_the_wrong_type_say_what_was_expected() {
    let found = problems(&format!(
        "[pipeline]\npartitions = \"two\"\n{SOURCES_AND_SINK}"
    ));
    assert_eq!(
        found,
        ["2:14: pipeline.partitions: expected an integer, found string"]
    );
}

#[test]
fn references_to_missing_inputs_get_suggestions() {
    let found = problems(
        "[sources.lines]\ntype = \"stdin\"\n[stages.words]\ninput = \"lnes\"\nop = \"union\"\n\
         [sinks.out]\ninput = \"wrods\"\ntype = \"print\"\n",
    );
    assert_eq!(
        found,
        [
            "4:9: stages.words.input: no source or stage named `lnes` [did you mean `lines`?]",
            "7:9: sinks.out.input: no source or stage named `wrods` [did you mean `words`?]",
        ]
    );
}

#[test]
fn one_stdin_and_a_bounded_number_of_partitions() {
    let found = problems(
        "[pipeline]\npartitions = 100000000\n[sources.a]\ntype = \"stdin\"\n[sources.b]\ntype = \"stdin\"\n\
         [sinks.out]\ninput = \"a\"\ntype = \"print\"\n",
    );
    assert_eq!(
        found,
        [
            format!("2:14: pipeline.partitions: must be at most 4096, found 100000000 [{}]", super::PARTITIONS_BOUND),
            "5:10: sources.b: a second stdin source (`a` is one already) [a process has one standard input: read it from one source and fan out with stages]".to_string(),
        ]
    );
}

#[test]
fn cycles_are_named_stage_by_stage() {
    let found = problems(
        "[sources.s]\ntype = \"stdin\"\n\
         [stages.a]\ninputs = [\"s\", \"c\"]\nop = \"union\"\n\
         [stages.b]\ninput = \"a\"\nop = \"union\"\n\
         [stages.c]\ninput = \"b\"\nop = \"union\"\n\
         [sinks.out]\ninput = \"c\"\ntype = \"print\"\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("stages form a cycle: a -> b -> c -> a") || found[0].contains("cycle"),
        "{found:?}"
    );
}

#[test]
fn functions_are_required_exactly_where_an_op_calls_one() {
    let found = problems(
        "[plugins.p]\npath = \"/\"\n\
         [sources.s]\ntype = \"stdin\"\n\
         [stages.a]\ninput = \"s\"\nop = \"map\"\n\
         [stages.b]\ninput = \"s\"\nop = \"union\"\nfunction = \"p::f\"\n\
         [stages.c]\ninput = \"s\"\nop = \"filter\"\nfunction = \"no_colons\"\n\
         [sinks.out]\ninput = \"s\"\ntype = \"print\"\n",
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("stages.a.function: op `map` needs a `function`")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|f| f.contains(
            "stages.b.function: op `union` calls no plugin function [remove `function`]"
        )),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("stages.c.function: `no_colons` is not plugin::function")),
        "{found:?}"
    );
    // `/` is a directory without a Cargo.toml.
    assert!(
        found
            .iter()
            .any(|f| f.contains("plugins.p.path: / is not a plugin crate")),
        "{found:?}"
    );
}

#[test]
fn partitions_only_where_an_op_moves_records() {
    let found = problems(
        "[sources.s]\ntype = \"stdin\"\n[stages.a]\ninput = \"s\"\nop = \"union\"\npartitions = 4\n\
         [stages.b]\ninput = \"a\"\nop = \"repartition\"\npartitions = 4\n\
         [sinks.out]\ninput = \"b\"\ntype = \"print\"\n",
    );
    assert_eq!(
        found,
        [
            "6:14: stages.a.partitions: op `union` has no `partitions` [`partitions` applies to repartition, reduce_by_key, group_by_key, count_by_value, update_state_by_key, map_with_state, reduce_by_key_and_window, count_by_value_and_window, join, left_outer_join, right_outer_join, full_outer_join, cogroup]"
        ]
    );
}

#[test]
fn a_source_and_a_stage_cannot_share_a_name() {
    let found = problems(
        "[sources.x]\ntype = \"stdin\"\n[stages.x]\ninput = \"x\"\nop = \"union\"\n[sinks.out]\ninput = \"x\"\ntype = \"print\"\n",
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("stages.x: `x` is both a source and a stage")),
        "{found:?}"
    );
}

#[test]
fn sources_say_which_required_key_is_missing() {
    let found = problems(
        "[sources.a]\ntype = \"socket\"\n[sources.b]\ntype = \"directory\"\npath = \"/no/such/dir\"\n[sinks.out]\ninput = \"a\"\ntype = \"files\"\n",
    );
    assert_eq!(
        found,
        [
            "1:10: sources.a: missing key `address` [the server to read lines from, like \"127.0.0.1:9999\"]",
            "5:8: sources.b.path: no such directory: /no/such/dir [create it first; paths are relative to the pipeline file's directory]",
            "6:8: sinks.out: missing key `path` [the directory batch directories are written in]",
        ]
    );
}

#[test]
fn invalid_toml_points_at_the_error() {
    let found = problems("[pipeline]\nname = \"x\n");
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("2:") && found[0].contains("invalid TOML"),
        "{found:?}"
    );
}

#[test]
fn operating_keys_are_read() {
    let p = parse(
        "[pipeline]\nhttp = \"127.0.0.1:4040\"\nretained_batches = 50\nbackpressure = true\n\
         [sources.a]\ntype = \"generator\"\nmax_rate = 500\ninitial_rate = 200\n\
         [sources.b]\ntype = \"stdin\"\nbackpressure = false\n\
         [sinks.out]\ninput = \"a\"\ntype = \"print\"\n",
    )
    .unwrap();
    assert_eq!(
        (p.http.as_deref(), p.retained_batches, p.backpressure),
        (Some("127.0.0.1:4040"), 50, true)
    );
    assert_eq!(
        p.sources[0].rate,
        RateSpec {
            max_rate: Some(500),
            backpressure: true,
            initial_rate: Some(200)
        }
    );
    assert_eq!(p.sources[1].rate, RateSpec::default());
    let defaults = parse(SOURCES_AND_SINK).unwrap();
    assert_eq!(
        (
            defaults.http,
            defaults.retained_batches,
            defaults.backpressure
        ),
        (None, DEFAULT_RETAINED_BATCHES, false)
    );
}

#[test]
fn operating_mistakes_point_at_their_line() {
    let found = problems(
        "[pipeline]\nhttp = \"localhost\"\nretained_batches = 0\n\
         [sources.lines]\ntype = \"stdin\"\nmax_rate = 0\ninitial_rate = 10\n\
         [sinks.out]\ninput = \"lines\"\ntype = \"print\"\n",
    );
    assert_eq!(
        found,
        [
            "2:8: pipeline.http: `localhost` is not host:port [write it like \"127.0.0.1:4040\" (port 0 picks a free port)]",
            "3:20: pipeline.retained_batches: must be at least 1, found 0",
            "6:12: sources.lines.max_rate: must be at least 1 record per second, found 0 [remove `max_rate` for no limit]",
            "7:16: sources.lines.initial_rate: applies only with backpressure [set `backpressure = true` here or in [pipeline], or remove `initial_rate`]",
        ]
    );
}

#[cfg(not(feature = "kafka"))]
mod without_kafka {
    #[test]
    fn a_binary_without_the_feature_refuses_kafka_with_a_hint() {
        let text = "[sources.events]\ntype = \"kafka\"\nbrokers = \"h:1\"\ntopics = \"a\"\n\
                    [sinks.out]\ninput = \"events\"\ntype = \"print\"\n";
        let err = super::parse_str(std::path::Path::new("k.toml"), text).unwrap_err();
        let first = &err.items[0];
        assert_eq!(
            (first.at.line, first.key.as_str()),
            (2, "sources.events.type")
        );
        assert_eq!(first.message, "this sluice was built without Kafka support");
        assert!(first.hint.as_deref().unwrap().contains("--features kafka"));
    }
}
