//! Every operator of the pipeline file, through the binary, against results computed
//! in the test: two socket sources in a union, repartition, flat_map, group_by_key,
//! count_by_value, count, map, reduce and map_partition.

use crate::support::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;

#[test]
fn every_operator_gives_the_reference_result() {
    let dir = TempDir::new("operators");
    let (a, b) = (
        TcpListener::bind("127.0.0.1:0").unwrap(),
        TcpListener::bind("127.0.0.1:0").unwrap(),
    );
    let pipeline = dir.write(
        "ops.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "150ms"
partitions = 2

[plugins.wordcount]
path = {wordcount}

[plugins.ops]
path = {ops}

[sources.a]
type = "socket"
address = "{a}"
reconnect = false

[sources.b]
type = "socket"
address = "{b}"
reconnect = false

[stages.lines]
inputs = ["a", "b"]
op = "union"

[stages.balanced]
input = "lines"
op = "repartition"
partitions = 3

[stages.words]
input = "balanced"
op = "flat_map"
function = "wordcount::split_words"

[stages.by_word]
input = "words"
op = "group_by_key"

[stages.distinct_lines]
input = "lines"
op = "count_by_value"

[stages.line_count]
input = "lines"
op = "count"

[stages.ones]
input = "words"
op = "map"
function = "ops::value_of"

[stages.total_words]
input = "ones"
op = "reduce"
function = "wordcount::sum"

[stages.sorted]
input = "balanced"
op = "map_partition"
function = "ops::sort_partition"

[sinks.by_word]
input = "by_word"
type = "files"
path = "out/by_word"

[sinks.distinct_lines]
input = "distinct_lines"
type = "files"
path = "out/distinct_lines"

[sinks.line_count]
input = "line_count"
type = "files"
path = "out/line_count"

[sinks.total_words]
input = "total_words"
type = "files"
path = "out/total_words"

[sinks.sorted]
input = "sorted"
type = "files"
path = "out/sorted"
"#,
            wordcount = toml_path(&plugin_wasm("wordcount")),
            ops = toml_path(&plugin_wasm("ops")),
            a = a.local_addr().unwrap(),
            b = b.local_addr().unwrap(),
        ),
    );
    let left = random_lines(3_000, 11);
    let right = random_lines(2_000, 12);
    let sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    for (listener, lines) in [(&a, &left), (&b, &right)] {
        let (mut connection, _) = listener.accept().unwrap();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        connection.write_all(text.as_bytes()).unwrap();
    }
    drop((a, b));
    sluice.finish().expect_code(0);

    let all: Vec<&String> = left.iter().chain(&right).collect();
    let words = count_words(&all);
    let out = dir.path().join("out");

    // group_by_key: every 1 of a word, across batches, in its group.
    let mut grouped: BTreeMap<String, u64> = BTreeMap::new();
    for (_, word, ones) in files_sink_pairs(&out.join("by_word")) {
        *grouped.entry(word.as_str().unwrap().into()).or_default() +=
            ones.as_array().unwrap().len() as u64;
    }
    assert_eq!(grouped, words);

    // count_by_value: each distinct line with how often it came.
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for line in &all {
        *lines.entry(line.to_string()).or_default() += 1;
    }
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for (_, line, n) in files_sink_pairs(&out.join("distinct_lines")) {
        *counted.entry(line.as_str().unwrap().into()).or_default() += n.as_u64().unwrap();
    }
    assert_eq!(counted, lines);

    // count and reduce: one record per batch, summing to the totals.
    assert_eq!(sum_of_values(&out.join("line_count")), all.len() as u64);
    assert_eq!(
        sum_of_values(&out.join("total_words")),
        words.values().sum::<u64>()
    );

    // map_partition after repartition: three partitions, each sorted, nothing lost.
    let mut seen = Vec::new();
    for batch in batch_dirs(&out.join("sorted")) {
        let parts: Vec<_> = (0..3)
            .map(|p| batch.join(format!("part-{p:05}.jsonl")))
            .collect();
        assert!(
            parts.iter().all(|p| p.exists()),
            "repartition to 3 partitions in {}",
            batch.display()
        );
        for part in parts {
            let text = std::fs::read_to_string(part).unwrap();
            let records: Vec<String> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert!(records.is_sorted(), "a partition's lines come out sorted");
            seen.extend(records);
        }
    }
    seen.sort();
    let mut expected: Vec<String> = all.iter().map(|l| l.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);
}

fn batch_dirs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// The sum of the single-number records of every batch.
fn sum_of_values(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for batch in batch_dirs(dir) {
        for part in std::fs::read_dir(&batch).unwrap().filter_map(Result::ok) {
            if part.path().extension().is_some_and(|e| e == "jsonl") {
                for line in std::fs::read_to_string(part.path()).unwrap().lines() {
                    total += line.parse::<u64>().unwrap();
                }
            }
        }
    }
    total
}
