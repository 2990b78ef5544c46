//! Integrity under faults: a batch is never dropped. A failed batch is retried, then
//! stops the pipeline with its input still journaled, or sets its input aside as dead
//! letters, by `on_batch_failure`; a record a keyed stage fails on is isolated with its
//! key; an instance idle longer than its deadline still gets the whole deadline.

use crate::support::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;

/// A pipeline file: `[pipeline]` keys, the faulty plugin, a source, `pairs` parsing
/// `key value` lines, then `stage` over it, written to the files sink `out`.
pub fn pipeline(dir: &TempDir, pipeline_keys: &str, source: &str, stage: &str) -> String {
    dir.write(
        "integrity.toml",
        &format!(
            r#"
[pipeline]
partitions = 2
{pipeline_keys}

[plugins.faulty]
path = {wasm}

[sources.lines]
{source}

[stages.pairs]
input = "lines"
op = "map"
function = "faulty::parse_pair"

[stages.out]
input = "pairs"
{stage}

[sinks.out]
input = "out"
type = "files"
path = "out"
"#,
            wasm = toml_path(&plugin_wasm("faulty")),
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// The files sink's pairs, by batch directory: key to value.
fn written(dir: &TempDir) -> Vec<BTreeMap<String, Value>> {
    let mut batches: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (batch, key, value) in files_sink_pairs(&dir.path().join("out")) {
        batches
            .entry(batch)
            .or_default()
            .insert(key.as_str().unwrap().to_string(), value);
    }
    batches.into_values().collect()
}

/// Drops `lines` into the directory source `in/` as one new file.
fn drop_file(dir: &TempDir, name: &str, lines: &str) {
    let incoming = dir.path().join("in");
    std::fs::create_dir_all(&incoming).unwrap();
    let staged = dir.path().join(format!(".{name}"));
    std::fs::write(&staged, lines).unwrap();
    std::fs::rename(&staged, incoming.join(name)).unwrap();
}

#[test]
fn an_instance_idle_longer_than_its_deadline_still_gets_the_whole_deadline() {
    let dir = TempDir::new("idle-deadline");
    // A deadline shorter than the batch interval: the instance that served a batch
    // idles in the pool for longer than its deadline before the next one.
    let file = dir.write(
        "idle.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "1s"
partitions = 1

[plugins.wordcount]
path = {wordcount}

[plugins.totals]
path = {totals}
deadline = "600ms"

[sources.lines]
type = "stdin"

[stages.words]
input = "lines"
op = "flat_map"
function = "wordcount::split_words"

[stages.totals]
input = "words"
op = "update_state_by_key"
function = "totals::running_total"

[sinks.out]
input = "totals"
type = "files"
path = "out"
"#,
            wordcount = toml_path(&plugin_wasm("wordcount")),
            totals = toml_path(&plugin_wasm("totals")),
        ),
    );
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", file.to_str().unwrap()]);
    stdin.write_all(b"hello world\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(sluice.wait_for_nonempty_batch(), 1);
    for _ in 0..3 {
        sluice.wait_for_batch(&|_| true);
    }
    stdin.write_all(b"hello again\n").unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    assert!(!done.stderr.contains("deadline"), "{}", done.stderr);
    let last = written(&dir).pop().unwrap();
    assert_eq!(
        last,
        BTreeMap::from([
            ("again".to_string(), json!(1)),
            ("hello".to_string(), json!(2)),
            ("world".to_string(), json!(1)),
        ])
    );
}

#[test]
fn a_key_update_state_panics_on_is_set_aside_and_the_other_keys_keep_counting() {
    let dir = TempDir::new("keyed-poison");
    let file = pipeline(
        &dir,
        "batch_interval = \"100ms\"",
        "type = \"stdin\"",
        "op = \"update_state_by_key\"\nfunction = \"faulty::total_or_panic\"",
    );
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", &file]);
    stdin
        .write_all(b"a 1\npoison 5\nb 2\npoison 6\nc 3\n")
        .unwrap();
    stdin.flush().unwrap();
    sluice.wait_for_records(5);
    stdin.write_all(b"a 10\n").unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    // Every other key counted, in the batch the poison key was in too, and after it.
    let batches = written(&dir);
    let first = batches
        .iter()
        .find(|b| b.contains_key("c"))
        .expect("the batch with the poison key was written");
    assert_eq!(
        first,
        &BTreeMap::from([
            ("a".to_string(), json!(1)),
            ("b".to_string(), json!(2)),
            ("c".to_string(), json!(3)),
        ])
    );
    assert_eq!(batches.last().unwrap()["a"], json!(11));
    // The poison key's values are the dead letters, with the plugin's words.
    let mut letters = dead_letters(&dir);
    letters.sort_by_key(|l| l["record"].to_string());
    let records: Vec<&Value> = letters.iter().map(|l| &l["record"]).collect();
    assert_eq!(records, [&json!(["poison", 5]), &json!(["poison", 6])]);
    for letter in &letters {
        assert_eq!(letter["stage"], "out");
        assert_eq!(letter["function"], "faulty::total_or_panic");
        let error = letter["error"].as_str().unwrap();
        assert!(
            error.starts_with("panicked: refusing to keep a total for \"poison\""),
            "{error}"
        );
    }
}

/// The directory pipeline whose reduce fails on 666, checkpointed.
fn stopping_pipeline(dir: &TempDir, function: &str) -> String {
    pipeline(
        dir,
        "batch_interval = \"100ms\"\ncheckpoint_dir = \"checkpoints\"\ncheckpoint_interval = 1",
        "type = \"directory\"\npath = \"in\"",
        &format!("op = \"reduce_by_key\"\nfunction = \"faulty::{function}\""),
    )
}

#[test]
fn a_batch_that_fails_every_attempt_stops_the_pipeline_and_runs_again_at_the_next_start() {
    let dir = TempDir::new("stop-policy");
    let file = stopping_pipeline(&dir, "sum_or_panic");
    std::fs::create_dir(dir.path().join("in")).unwrap();
    let mut sluice = Sluice::start(&["run", &file]);
    sluice.wait_for_event("pipeline_started");
    drop_file(&dir, "f1.txt", "a 1\na 2\n");
    assert_eq!(sluice.wait_for_nonempty_batch(), 2);
    drop_file(&dir, "f2.txt", "a 666\na 1\nb 5\n");
    // Retried with backoff, then the pipeline stops by itself, non-zero.
    let done = sluice.finish();
    assert_ne!(done.status.code(), Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("attempt 3 of 3"), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("on_batch_failure is \"stop\"; it stays in the batch journal"),
        "{}",
        done.stderr
    );
    assert_eq!(written(&dir).len(), 1, "the failed batch wrote nothing");
    assert!(dead_letters(&dir).is_empty());

    // Fixed (the plugin's plain sum), the next start runs the failed batch first.
    let fixed = std::fs::read_to_string(&file)
        .unwrap()
        .replace("faulty::sum_or_panic", "keyed::sum")
        .replace(
            "[plugins.faulty]",
            &format!(
                "[plugins.keyed]\npath = {}\n\n[plugins.faulty]",
                toml_path(&plugin_wasm("keyed"))
            ),
        );
    std::fs::write(&file, fixed).unwrap();
    let mut sluice = Sluice::start(&["run", &file]);
    sluice.wait_for_event("batch_rerun");
    sluice.wait_for_nonempty_batch();
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    let batches = written(&dir);
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_eq!(batches[0]["a"], json!(3));
    assert_eq!(
        batches[1],
        BTreeMap::from([("a".to_string(), json!(667)), ("b".to_string(), json!(5))])
    );
}

#[test]
fn with_on_batch_failure_dead_letter_a_failed_batch_is_set_aside_and_the_stream_goes_on() {
    let dir = TempDir::new("dead-letter-policy");
    let file = pipeline(
        &dir,
        "batch_interval = \"100ms\"\non_batch_failure = \"dead_letter\"\nbatch_retries = 1",
        "type = \"stdin\"",
        "op = \"reduce_by_key\"\nfunction = \"faulty::sum_or_panic\"",
    );
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", &file]);
    stdin.write_all(b"a 1\na 666\nb 2\n").unwrap();
    stdin.flush().unwrap();
    sluice.wait_for_log("were set aside as dead letters");
    stdin.write_all(b"a 4\n").unwrap();
    drop(stdin);
    let done = sluice.finish();
    // The run reports the failed batch; the stream went on after it.
    done.expect_code(1);
    assert!(done.stderr.contains("attempt 2 of 2"), "{}", done.stderr);
    assert_eq!(
        written(&dir),
        [BTreeMap::from([("a".to_string(), json!(4))])]
    );
    let mut records: Vec<Value> = dead_letters(&dir)
        .into_iter()
        .map(|l| {
            assert_eq!(l["stage"], "out");
            assert!(
                l["error"].as_str().unwrap().contains("refusing to add"),
                "{l}"
            );
            l["record"].clone()
        })
        .collect();
    records.sort_by_key(Value::to_string);
    assert_eq!(records, [json!("a 1"), json!("a 666"), json!("b 2")]);
}

#[test]
fn a_sink_that_fails_leaves_no_other_sink_with_the_batch_and_the_restart_writes_both() {
    let dir = TempDir::new("sinks-together");
    let file = pipeline(
        &dir,
        "batch_interval = \"100ms\"\ncheckpoint_dir = \"checkpoints\"\nbatch_retries = 1",
        "type = \"directory\"\npath = \"in\"",
        "op = \"update_state_by_key\"\nfunction = \"faulty::total_or_panic\"",
    );
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\n[sinks.copy]\ninput = \"out\"\ntype = \"files\"\npath = \"copy\"\n");
    std::fs::write(&file, text).unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    let mut sluice = Sluice::start(&["run", &file]);
    sluice.wait_for_event("pipeline_started");
    drop_file(&dir, "f1.txt", "a 1\n");
    sluice.wait_for_nonempty_batch();
    // The second sink's directory becomes a file: it cannot write the next batch.
    let copy = dir.path().join("copy");
    std::fs::remove_dir_all(&copy).unwrap();
    std::fs::write(&copy, "in the way").unwrap();
    drop_file(&dir, "f2.txt", "a 2\n");
    let done = sluice.finish();
    assert_ne!(done.status.code(), Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("sink `copy`"), "{}", done.stderr);
    // No batch after the failure is complete anywhere: the first sink's totals never
    // run ahead of the second's.
    let totals: Vec<Value> = written(&dir).iter().map(|b| b["a"].clone()).collect();
    assert_eq!(totals.last(), Some(&json!(1)), "{}", done.stderr);
    let staged: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(
        staged.is_empty(),
        "staged batches are discarded: {staged:?}"
    );

    std::fs::remove_file(&copy).unwrap();
    let mut sluice = Sluice::start(&["run", &file]);
    sluice.wait_for_event("batch_rerun");
    sluice.wait_for_nonempty_batch();
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    let last = |sink: &str| {
        let mut batches: BTreeMap<String, Value> = BTreeMap::new();
        for (batch, _, value) in files_sink_pairs(&dir.path().join(sink)) {
            batches.insert(batch, value);
        }
        batches.into_values().last()
    };
    assert_eq!(last("out"), Some(json!(3)));
    assert_eq!(last("copy"), Some(json!(3)));
}

#[test]
fn a_line_a_connection_broke_off_in_is_not_a_record() {
    let dir = TempDir::new("torn-line");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let file = pipeline(
        &dir,
        "batch_interval = \"100ms\"",
        &format!("type = \"socket\"\naddress = \"{address}\"\nreconnect = false"),
        "op = \"reduce_by_key\"\nfunction = \"faulty::sum_or_panic\"",
    );
    let mut sluice = Sluice::start(&["run", &file]);
    let (mut connection, _) = listener.accept().unwrap();
    // A sender killed in the middle of its third line: "c 3" never ended.
    connection.write_all(b"a 1\nb 2\nc 3").unwrap();
    drop(connection);
    sluice.wait_for_log("ended in the middle of a line (3 bytes without a newline)");
    let done = sluice.finish();
    done.expect_code(0);
    let mut totals = BTreeMap::new();
    for batch in written(&dir) {
        totals.extend(batch);
    }
    assert_eq!(
        totals,
        BTreeMap::from([("a".to_string(), json!(1)), ("b".to_string(), json!(2))])
    );
}

#[test]
fn with_every_checkpoint_lost_a_restart_is_refused_unless_asked_to_start_again() {
    let dir = TempDir::new("lost-checkpoints");
    let file = stopping_pipeline(&dir, "sum_or_panic");
    std::fs::create_dir(dir.path().join("in")).unwrap();
    let mut sluice = Sluice::start(&["run", &file]);
    sluice.wait_for_event("pipeline_started");
    drop_file(&dir, "f1.txt", "a 1\na 2\n");
    sluice.wait_for_nonempty_batch();
    sluice.wait_for_event("checkpoint_written");
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    let checkpoints = dir.path().join("checkpoints");
    let files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&checkpoints)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "ck"))
            .collect()
    };
    // Damaged, every one of them.
    for ck in files() {
        std::fs::write(&ck, b"not a checkpoint").unwrap();
    }
    let refused = Sluice::start(&["run", &file]).finish();
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        refused.stderr.contains("has no intact checkpoint, but its")
            && refused.stderr.contains("are all damaged")
            && refused.stderr.contains("--reset-state"),
        "{}",
        refused.stderr
    );
    // Deleted.
    for ck in files() {
        std::fs::remove_file(ck).unwrap();
    }
    let refused = Sluice::start(&["run", &file]).finish();
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        refused
            .stderr
            .contains("it held checkpoints (the first of batch"),
        "{}",
        refused.stderr
    );
    assert_eq!(written(&dir).len(), 1, "nothing ran");
    // Asked to, it starts again from nothing: the file is read again.
    let mut sluice = Sluice::start(&["run", "--reset-state", &file]);
    sluice.wait_for_nonempty_batch();
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    assert_eq!(written(&dir).len(), 2);
    let aside: Vec<_> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("reset-"))
        .collect();
    assert_eq!(aside.len(), 1, "the old state is kept aside");
}

#[test]
fn a_graceful_stop_under_a_backlog_says_how_many_batches_are_left_and_finishes_them() {
    let dir = TempDir::new("drain");
    // Each batch takes longer than the interval: batches queue.
    let file = dir.write(
        "drain.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "100ms"
partitions = 1

[plugins.slow]
path = {wasm}

[sources.lines]
type = "generator"
rate = 4000
words_per_line = 1

[stages.crawled]
input = "lines"
op = "map"
function = "slow::crawl"

[stages.n]
input = "crawled"
op = "count"

[sinks.out]
input = "n"
type = "files"
path = "out"
"#,
            wasm = toml_path(&plugin_wasm("slow")),
        ),
    );
    let mut sluice = Sluice::start(&["run", file.to_str().unwrap()]);
    sluice.wait_for_batch(&|e| e["scheduling_delay_ms"].as_u64().is_some_and(|d| d >= 600));
    sluice.signal("TERM");
    let line = sluice.wait_for_log("queued batches to finish");
    let left: usize = line[line.find("stopping: ").unwrap() + 10..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(left >= 2, "{line}");
    assert!(
        line.contains("about ") && line.contains(" ms per batch"),
        "{line}"
    );
    let done = sluice.finish();
    done.expect_code(0);
    let after = &done.stderr[done.stderr.find("queued batches to finish").unwrap()..];
    let finished = after.lines().filter(|l| records_in(l).is_some()).count();
    assert!(
        finished >= left,
        "{left} announced, {finished} finished:\n{after}"
    );
}

#[test]
fn without_a_wal_recovery_keeps_written_batches_and_counts_exactly_what_it_cannot_restore() {
    let dir = TempDir::new("no-wal");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let file = pipeline(
        &dir,
        "batch_interval = \"100ms\"\ncheckpoint_dir = \"checkpoints\"\ncheckpoint_interval = 100000",
        &format!("type = \"socket\"\naddress = \"{address}\""),
        "op = \"update_state_by_key\"\nfunction = \"faulty::total_or_panic\"",
    );
    let mut sluice = Sluice::start(&["run", &file]);
    let (mut connection, _) = listener.accept().unwrap();
    connection.write_all(b"a 1\na 2\nb 5\n").unwrap();
    assert_eq!(sluice.wait_for_nonempty_batch(), 3);
    let time = sluice.wait_for_event_where("batch_completed", &|e| e["records_in"] == 3)["batch"]
        .to_string();
    sluice.signal("KILL");
    sluice.finish();
    drop(connection);
    let batch_dir = dir.path().join("out").join(format!("out-{time}"));
    let before = std::fs::read_to_string(batch_dir.join("part-00000.jsonl")).unwrap()
        + &std::fs::read_to_string(batch_dir.join("part-00001.jsonl")).unwrap();

    let mut sluice = Sluice::start(&["run", &file]);
    let skipped = sluice.wait_for_log(&format!("batch {time} is not computed again"));
    assert!(skipped.contains("3 of its records"), "{skipped}");
    let summary = sluice.wait_for_log("recovery: ");
    assert!(
        summary.contains("0 received records were lost in the crash, and 3 more"),
        "{summary}"
    );
    sluice.wait_for_event("pipeline_started");
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    // The batch written before the crash is as it was, not computed again with less.
    let after = std::fs::read_to_string(batch_dir.join("part-00000.jsonl")).unwrap()
        + &std::fs::read_to_string(batch_dir.join("part-00001.jsonl")).unwrap();
    assert_eq!(after, before);
    assert!(before.contains("[\"a\",3]"), "{before}");
}
