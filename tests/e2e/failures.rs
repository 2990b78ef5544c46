//! A plugin that fails fails that batch, with the plugin's own words, and the process
//! keeps serving later batches.

use crate::support::*;
use std::io::Write;

/// A stdin pipeline with one `map`-like stage calling `faulty::FUNCTION`.
fn faulty_pipeline(dir: &TempDir, op: &str, function: &str, limits: &str) -> String {
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
fn a_panicking_plugin_fails_its_batch_and_later_batches_still_run() {
    let dir = TempDir::new("panic");
    let pipeline = faulty_pipeline(&dir, "flat_map", "split_or_panic", "");
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", &pipeline]);
    stdin.write_all(b"one two\nthree\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(sluice.wait_for_nonempty_batch(), 2);
    stdin.write_all(b"a boom here\n").unwrap();
    stdin.flush().unwrap();
    let failure = sluice.wait_for_log("failed:");
    stdin.write_all(b"four five six\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(
        sluice.wait_for_nonempty_batch(),
        1,
        "the batch after the failure runs"
    );
    drop(stdin);
    let done = sluice.finish();

    // Which stage, which plugin, which function, and the plugin's own panic message.
    assert!(failure.contains("stage `out`"), "{failure}");
    assert!(
        failure.contains("plugin `faulty` (") && failure.contains("function `split_or_panic` panicked: refusing to count a line with boom in it: \"a boom here\""),
        "{failure}"
    );
    assert!(
        failure.contains("src/lib.rs:"),
        "the panic's location is kept: {failure}"
    );
    // A finite run with a failed batch says so in its exit status.
    done.expect_code(1);
    assert!(done.stderr.contains("1 of "), "{}", done.stderr);
    // The failed batch wrote nothing; the others wrote everything.
    let words: Vec<String> = files_sink_pairs(&dir.path().join("out"))
        .into_iter()
        .map(|(_, w, _)| w.as_str().unwrap().to_string())
        .collect();
    let mut words = words;
    words.sort();
    assert_eq!(words, ["five", "four", "one", "six", "three", "two"]);
}

fn run_to_failure(op: &str, function: &str, limits: &str, input: &str) -> String {
    let dir = TempDir::new(function);
    let pipeline = faulty_pipeline(&dir, op, function, limits);
    let (sluice, mut stdin) = Sluice::start_with_stdin(&["run", &pipeline]);
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(1);
    done.stderr
        .lines()
        .find(|l| l.contains("failed:"))
        .unwrap_or_else(|| panic!("no failed batch:\n{}", done.stderr))
        .to_string()
}

#[test]
fn a_call_past_its_deadline_is_interrupted() {
    let failure = run_to_failure(
        "map",
        "spin_on_marker",
        "deadline = \"300ms\"",
        "fine\nspin\n",
    );
    assert!(
        failure.contains("function `spin_on_marker` ran past its deadline of 300ms"),
        "{failure}"
    );
}

#[test]
fn a_plugin_over_its_memory_limit_is_stopped() {
    let failure = run_to_failure(
        "map",
        "hog_on_marker",
        "memory_limit = \"64MiB\"",
        "fine\nhog\n",
    );
    assert!(
        failure.contains("function `hog_on_marker` exceeded its memory limit of 64 MiB"),
        "{failure}"
    );
}

#[test]
fn an_error_returned_by_a_plugin_names_the_record() {
    let failure = run_to_failure("map", "parse_number", "", "12\nnot a number\n");
    assert!(
        failure.contains("function `parse_number` failed: record 1: invalid digit found in string"),
        "{failure}"
    );
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
