//! A plugin that fails on a record: the record is set aside as a dead letter with the
//! plugin's own words and everything else is processed (or, with `on_error = "stop"`,
//! the batch fails and the pipeline stops).

use crate::support::*;
use std::io::Write;

/// A stdin pipeline with one `map`-like stage calling `faulty::FUNCTION`.
pub fn faulty_pipeline(dir: &TempDir, op: &str, function: &str, limits: &str) -> String {
    let path = dir.write(
        "faulty.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "100ms"
partitions = 2

[plugins.faulty]
path = {wasm}
{limits}

[sources.lines]
type = "stdin"

[stages.out]
input = "lines"
op = "{op}"
function = "faulty::{function}"

[sinks.out]
input = "out"
type = "files"
path = "out"
"#,
            wasm = toml_path(&plugin_wasm("faulty"))
        ),
    );
    path.to_str().unwrap().to_string()
}

#[test]
fn a_record_a_plugin_panics_on_becomes_a_dead_letter_and_the_rest_is_counted() {
    let dir = TempDir::new("panic");
    let pipeline = faulty_pipeline(&dir, "flat_map", "split_or_panic", "");
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", &pipeline]);
    stdin.write_all(b"one two\nthree\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(sluice.wait_for_nonempty_batch(), 2);
    stdin.write_all(b"four\na boom here\nfive six\n").unwrap();
    stdin.flush().unwrap();
    let set_aside = sluice.wait_for_log("set aside in");
    stdin.write_all(b"seven\n").unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    assert!(!done.stderr.contains(" failed: "), "{}", done.stderr);
    // Every other record was processed, in the batch the poison record was in too.
    let mut words: Vec<String> = files_sink_pairs(&dir.path().join("out"))
        .into_iter()
        .map(|(_, w, _)| w.as_str().unwrap().to_string())
        .collect();
    words.sort();
    assert_eq!(
        words,
        ["five", "four", "one", "seven", "six", "three", "two"]
    );
    // The dead letter holds the record and the plugin's own words.
    let letters = dead_letters(&dir);
    assert_eq!(letters.len(), 1, "{set_aside}");
    let letter = &letters[0];
    assert_eq!(letter["record"], "a boom here");
    assert_eq!(
        (letter["stage"].as_str(), letter["function"].as_str()),
        (Some("out"), Some("faulty::split_or_panic"))
    );
    let error = letter["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "panicked: refusing to count a line with boom in it: \"a boom here\" (at "
        ),
        "{error}"
    );
}

/// Runs `function` over `input` and returns the one dead letter it makes.
fn dead_letter_of(function: &str, limits: &str, input: &str) -> serde_json::Value {
    let dir = TempDir::new(function);
    let pipeline = faulty_pipeline(&dir, "map", function, limits);
    let (sluice, mut stdin) = Sluice::start_with_stdin(&["run", &pipeline]);
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    sluice.finish().expect_code(0);
    let mut letters = dead_letters(&dir);
    assert_eq!(letters.len(), 1, "{letters:?}");
    letters.remove(0)
}

#[test]
fn a_call_past_its_deadline_is_interrupted() {
    let letter = dead_letter_of("spin_on_marker", "deadline = \"300ms\"", "fine\nspin\n");
    assert_eq!(letter["record"], "spin");
    assert_eq!(letter["error"], "ran past its deadline of 300ms");
}

#[test]
fn a_plugin_over_its_memory_limit_is_stopped() {
    let letter = dead_letter_of("hog_on_marker", "memory_limit = \"64MiB\"", "fine\nhog\n");
    assert_eq!(letter["record"], "hog");
    assert!(
        letter["error"]
            .as_str()
            .unwrap()
            .starts_with("exceeded its memory limit of 64 MiB"),
        "{letter}"
    );
}

#[test]
fn an_error_returned_by_a_plugin_names_the_record() {
    let letter = dead_letter_of("parse_number", "", "12\nnot a number\n");
    assert_eq!(letter["record"], "not a number");
    assert_eq!(
        letter["error"],
        "failed: record 0: invalid digit found in string"
    );
}

#[test]
fn with_on_error_stop_a_failure_fails_the_batch_and_stops_the_pipeline() {
    let dir = TempDir::new("stop");
    let pipeline = faulty_pipeline(&dir, "flat_map", "split_or_panic", "");
    let text = std::fs::read_to_string(&pipeline).unwrap().replace(
        "function = \"faulty::split_or_panic\"",
        "function = \"faulty::split_or_panic\"\non_error = \"stop\"",
    );
    std::fs::write(&pipeline, text).unwrap();
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", &pipeline]);
    stdin.write_all(b"a boom here\n").unwrap();
    stdin.flush().unwrap();
    let failure = sluice.wait_for_event("batch_failed")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        failure.contains("stage `out` (partition ")
            && failure.contains("plugin `faulty` (")
            && failure.contains("function `split_or_panic` panicked: refusing to count"),
        "{failure}"
    );
    let done = sluice.finish();
    done.expect_code(1);
    assert!(
        done.stderr.contains("its on_error is \"stop\""),
        "{}",
        done.stderr
    );
    assert!(dead_letters(&dir).is_empty());
}

#[test]
fn plugin_logs_reach_the_host_log_with_their_origin() {
    let dir = TempDir::new("log");
    let pipeline = faulty_pipeline(&dir, "map", "shout", "");
    let (sluice, mut stdin) = Sluice::start_with_stdin(&["run", &pipeline]);
    stdin.write_all(b"hello\n").unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    let line = done
        .stderr
        .lines()
        .find(|l| l.contains("shouting \"hello\""))
        .expect(&done.stderr);
    for field in [
        "plugin=faulty",
        "function=shout",
        "batch=",
        "partition=",
        "version=",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}
