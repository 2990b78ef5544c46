//! Hostile plugins, data and neighbours: records that hang a plugin cost a bounded number
//! of deadlines,
//! a plugin cannot forge log lines or flood the log, data cannot drive the terminal, a
//! partial line does not hold whole ones back, two processes cannot share a checkpoint
//! directory, and mistakes in a pipeline file are caught before data flows.

use crate::failures::faulty_pipeline;
use crate::support::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Standard input printed, with the extra `[pipeline]` keys `extra`.
fn stdin_to_print(dir: &TempDir, extra: &str) -> std::path::PathBuf {
    dir.write(
        "print.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "100ms"
{extra}

[sources.lines]
type = "stdin"

[sinks.out]
input = "lines"
type = "print"
"#
        ),
    )
}

#[test]
fn records_that_hang_the_plugin_cost_a_bounded_number_of_deadlines_and_all_become_dead_letters() {
    let dir = TempDir::new("hang");
    let incoming = dir.path().join("in");
    std::fs::create_dir(&incoming).unwrap();
    let deadline = Duration::from_millis(300);
    let partitions = 2u32;
    let pipeline = dir.write(
        "hang.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "200ms"
partitions = {partitions}
http = "127.0.0.1:0"

[plugins.faulty]
path = {wasm}
deadline = "{}ms"

[sources.lines]
type = "directory"
path = "in"

[stages.out]
input = "lines"
op = "map"
function = "faulty::spin_on_marker"

[sinks.out]
input = "out"
type = "files"
path = "out"
"#,
            deadline.as_millis(),
            wasm = toml_path(&plugin_wasm("faulty")),
        ),
    );
    // 200 records that each hang the plugin among 2,000 that do not, in one file: one
    // batch.
    let mut text = String::new();
    for i in 0..2200 {
        text.push_str(if i % 11 == 0 { "spin\n" } else { "fine\n" });
    }
    std::fs::write(dir.path().join(".f"), &text).unwrap();
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    let http = sluice.http_address();
    std::fs::rename(dir.path().join(".f"), incoming.join("f.txt")).unwrap();
    sluice.wait_for_nonempty_batch();
    // The time a batch of hanging records costs is bounded by how many calls reach
    // their deadline: per partition, the call and its retry, then at most the isolation
    // budget (4 deadlines) and the call under way when it ran out. Counted, not timed.
    let (_, metrics) = http::get(&http, "/metrics");
    let deadlines: u64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("sluice_plugin_failures_total{") && l.contains("kind=\"deadline\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    let bound = u64::from((2 + 4 + 1) * partitions);
    assert!(
        (1..=bound).contains(&deadlines),
        "{deadlines} calls reached their deadline, more than {bound}\n{metrics}"
    );
    sluice.signal("TERM");
    let done = sluice.finish();
    done.expect_code(0);
    // Nothing is lost: every record is in the output or the dead letters, and every
    // hanging one is a dead letter.
    let written = files_sink_pairs(&dir.path().join("out")).len();
    let letters = dead_letters(&dir);
    assert_eq!(written + letters.len(), 2200, "{}", done.stderr);
    let spins = letters.iter().filter(|l| l["record"] == "spin").count();
    assert_eq!(spins, 200);
    for letter in &letters {
        let error = letter["error"].as_str().unwrap();
        assert!(
            error.contains("deadline") || error.starts_with("set aside undecided"),
            "{letter}"
        );
    }
}

#[test]
fn a_second_process_on_one_checkpoint_directory_is_refused_with_the_holders_pid() {
    let dir = TempDir::new("lock");
    let pipeline = stdin_to_print(&dir, r#"checkpoint_dir = "checkpoints""#);
    let pipeline = pipeline.to_str().unwrap();
    // A temporary file an interrupted write left behind.
    std::fs::create_dir(dir.path().join("checkpoints")).unwrap();
    let leftover = dir
        .path()
        .join("checkpoints/checkpoint-00000000000000000001.ck.tmp");
    std::fs::write(&leftover, b"half a checkpoint").unwrap();
    let (mut first, stdin) = Sluice::start_with_stdin(&["run", pipeline]);
    first.wait_for_event("pipeline_started");
    assert!(!leftover.exists());
    let second = Sluice::start(&["run", pipeline]).finish();
    second.expect_code(1);
    let expected = format!("is in use by process {}", first.pid());
    assert!(second.stderr.contains(&expected), "{}", second.stderr);
    assert!(
        !second.stderr.contains("running pipeline"),
        "{}",
        second.stderr
    );
    drop(stdin);
    first.finish().expect_code(0);
    // Once the first is gone, the directory is free again.
    let (third, stdin) = Sluice::start_with_stdin(&["run", pipeline]);
    drop(stdin);
    third.finish().expect_code(0);
}

#[test]
fn a_plugin_cannot_forge_log_lines_or_flood_the_log() {
    let dir = TempDir::new("forge");
    let pipeline = faulty_pipeline(&dir, "map", "log_raw", "");
    // One partition: with two, the other partition's flood could spend the version's
    // log budget before the forged line is logged, and it would be held back (counted).
    let text = std::fs::read_to_string(&pipeline).unwrap();
    std::fs::write(&pipeline, text.replace("partitions = 2", "partitions = 1")).unwrap();
    let (sluice, mut stdin) = Sluice::start_with_stdin(&["run", &pipeline]);
    let forged = "2026-01-01T00:00:00.000000Z ERROR sluice: forged by a plugin";
    let mut input = format!("hello|{forged}\n");
    for i in 0..5000 {
        input.push_str(&format!("flood {i}\n"));
    }
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    assert!(
        !done.stderr.lines().any(|l| l.starts_with(forged)),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(&format!("hello\\n{forged}")),
        "{}",
        done.stderr
    );
    // Every line the plugin logged is in the log or in a count of lines held back.
    let shown = done
        .stderr
        .lines()
        .filter(|l| l.contains("function=log_raw") && !l.contains("held back"))
        .count() as u64;
    let held_back: u64 = done
        .stderr
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find("held back ")? + 10..];
            rest.split(' ').next()?.parse::<u64>().ok()
        })
        .sum();
    assert!(held_back > 0, "{}", done.stderr);
    assert_eq!(shown + held_back, 5001);
}

#[test]
fn the_print_sink_does_not_pass_terminal_escapes_through() {
    let dir = TempDir::new("escapes");
    let pipeline = stdin_to_print(&dir, "");
    let (sluice, mut stdin) = Sluice::start_with_stdin(&["run", pipeline.to_str().unwrap()]);
    stdin.write_all(b"\x1b]0;owned\x07 and \x1b[2J\n").unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    assert!(!done.stdout.contains('\x1b'), "{:?}", done.stdout);
    assert!(
        done.stdout.contains("\\u{1b}]0;owned\\u{7} and \\u{1b}[2J"),
        "{:?}",
        done.stdout
    );
}

#[test]
fn a_socket_line_waits_for_no_partial_line_after_it() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let dir = TempDir::new("partial");
    let pipeline = dir.write(
        "socket.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "100ms"

[sources.lines]
type = "socket"
address = "{address}"

[sinks.out]
input = "lines"
type = "print"
"#
        ),
    );
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    let (mut connection, _) = listener.accept().unwrap();
    connection.write_all(b"alpha\nbeta\npartial").unwrap();
    connection.flush().unwrap();
    // The two whole lines are in a batch while the third is still being written.
    assert_eq!(sluice.wait_for_nonempty_batch(), 2);
    connection.write_all(b" line\n").unwrap();
    assert_eq!(sluice.wait_for_nonempty_batch(), 1);
    drop(connection);
    sluice.signal("TERM");
    let done = sluice.finish();
    done.expect_code(0);
    let printed: Vec<String> = done
        .printed_batches()
        .into_iter()
        .flat_map(|(_, records)| records)
        .collect();
    assert_eq!(printed, ["alpha", "beta", "partial line"]);
}

#[test]
fn sluice_plugin_test_enforces_the_deadline() {
    let dir = TempDir::new("plugin-test");
    let input = dir.write("input.jsonl", "\"fine\"\n\"spin\"\n");
    let done = Sluice::start(&[
        "plugin",
        "test",
        plugin_wasm("faulty").to_str().unwrap(),
        "--function",
        "spin_on_marker",
        "--input",
        input.to_str().unwrap(),
    ])
    .finish();
    assert_ne!(done.status.code(), Some(0));
    assert!(done.stderr.contains("deadline"), "{}", done.stderr);
}

#[test]
fn validate_refuses_what_would_fail_once_data_flows() {
    let dir = TempDir::new("validate-hostile");
    let wasm = toml_path(&plugin_wasm("wordcount"));
    let cases = [
        (
            format!(
                "[plugins.wordcount]\npath = {wasm}\nmemory_limit = \"1KiB\"\n\
                 [sources.lines]\ntype = \"stdin\"\n\
                 [stages.words]\ninput = \"lines\"\nop = \"flat_map\"\nfunction = \"wordcount::split_words\"\n\
                 [sinks.out]\ninput = \"words\"\ntype = \"print\"\n"
            ),
            "plugin `wordcount`: the module starts with",
        ),
        (
            "[pipeline]\npartitions = 100000000\n[sources.lines]\ntype = \"stdin\"\n\
             [sinks.out]\ninput = \"lines\"\ntype = \"print\"\n"
                .to_string(),
            "pipeline.partitions: must be at most 4096, found 100000000",
        ),
        (
            "[sources.a]\ntype = \"stdin\"\n[sources.b]\ntype = \"stdin\"\n\
             [sinks.out]\ninput = \"a\"\ntype = \"print\"\n"
                .to_string(),
            "a second stdin source",
        ),
        (
            format!(
                "[plugins.wordcount]\npath = {wasm}\n[sources.lines]\ntype = \"stdin\"\n\
                 [stages.counts]\ninput = \"lines\"\nop = \"reduce_by_key\"\nfunction = \"wordcount::sum\"\n\
                 [sinks.out]\ninput = \"counts\"\ntype = \"print\"\n"
            ),
            "6:9: stages.counts.input: op `reduce_by_key` needs [key, value] pairs, but its input `lines` gives lines of text",
        ),
        (
            format!(
                "[plugins.faulty]\npath = {faulty}\n[plugins.wordcount]\npath = {wasm}\n\
                 [sources.lines]\ntype = \"stdin\"\n\
                 [stages.lengths]\ninput = \"lines\"\nop = \"map\"\nfunction = \"faulty::spin_on_marker\"\n\
                 [stages.counts]\ninput = \"lengths\"\nop = \"reduce_by_key\"\nfunction = \"wordcount::sum\"\n\
                 [sinks.out]\ninput = \"counts\"\ntype = \"print\"\n",
                faulty = toml_path(&plugin_wasm("faulty"))
            ),
            "its input `lengths` gives `usize`",
        ),
        (
            // A structural problem and a missing function, reported together.
            format!(
                "[plugins.wordcount]\npath = {wasm}\n[sources.lines]\ntype = \"sockett\"\n\
                 [sources.more]\ntype = \"stdin\"\n\
                 [stages.words]\ninput = \"more\"\nop = \"flat_map\"\nfunction = \"wordcount::split_wrods\"\n\
                 [sinks.out]\ninput = \"words\"\ntype = \"print\"\n"
            ),
            "unknown source type `sockett`",
        ),
    ];
    std::fs::write(
        dir.path().join("taken"),
        "a file where a directory should be",
    )
    .unwrap();
    let cases = cases.into_iter().chain([
        (
            "[sources.lines]\ntype = \"stdin\"\n\
             [sinks.out]\ninput = \"lines\"\ntype = \"files\"\npath = \"taken/out\"\n"
                .to_string(),
            "sinks.out.path: cannot create",
        ),
        (
            "[pipeline]\ncheckpoint_dir = \"taken\"\n[sources.lines]\ntype = \"stdin\"\n\
             [sinks.out]\ninput = \"lines\"\ntype = \"print\"\n"
                .to_string(),
            "2:18: pipeline.checkpoint_dir:",
        ),
    ]);
    for (i, (text, expected)) in cases.enumerate() {
        let path = dir.write(&format!("case{i}.toml"), &text);
        let done = Sluice::start(&["validate", path.to_str().unwrap()]).finish();
        assert_ne!(done.status.code(), Some(0), "{text}");
        assert!(
            done.stderr.contains(expected),
            "{expected}\n{}",
            done.stderr
        );
        if expected.contains("sockett") {
            assert!(
                done.stderr
                    .contains("plugin `wordcount` has no function `split_wrods`"),
                "{}",
                done.stderr
            );
        }
    }
}

/// The most memory the process `pid` has held, from `/proc`.
fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[test]
fn the_http_endpoint_withstands_huge_requests_slow_clients_and_other_hosts() {
    let dir = TempDir::new("http-hostile");
    let pipeline = stdin_to_print(&dir, r#"http = "127.0.0.1:0""#);
    let (mut sluice, stdin) = Sluice::start_with_stdin(&["run", pipeline.to_str().unwrap()]);
    let address = sluice.http_address();
    let before = peak_memory_kib(sluice.pid());
    // A request line of up to 256 MiB that never ends: the server stops reading it.
    let mut huge = TcpStream::connect(&address).unwrap();
    huge.write_all(b"GET /").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0usize;
    while sent < 256 << 20 && huge.write_all(&chunk).is_ok() {
        sent += chunk.len();
    }
    assert!(sent < 256 << 20, "the server read a 256 MiB request line");
    // 100 clients that send a request head a byte at a time and never finish.
    let slow: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(&address).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHo").unwrap();
            s
        })
        .collect();
    assert_eq!(http::get(&address, "/healthz").0, 200);
    assert_eq!(http::get(&address, "/metrics").0, 200);
    // A page served from another name (DNS rebinding) gets nothing.
    let mut rebound = TcpStream::connect(&address).unwrap();
    rebound
        .write_all(b"GET /api/v1/batches HTTP/1.1\r\nHost: attacker.example\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    rebound.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
    let grown = peak_memory_kib(sluice.pid()).saturating_sub(before);
    assert!(grown < 64 << 10, "the process grew by {grown} KiB");
    drop(slow);
    drop(stdin);
    sluice.finish().expect_code(0);
}

#[test]
fn a_kafka_sink_without_brokers_obeys_a_stop_in_seconds() {
    let dir = TempDir::new("kafka-nowhere");
    let nowhere = format!("127.0.0.1:{}", free_port());
    let pipeline = dir.write(
        "nowhere.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "100ms"

[sources.lines]
type = "stdin"

[sinks.topic]
input = "lines"
type = "kafka"
brokers = "{nowhere}"
topic = "lines"
# Longer than the test waits for an exit: only obeying the stop ends the run in time.
properties = {{ "message.timeout.ms" = 900000 }}
"#
        ),
    );
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", pipeline.to_str().unwrap()]);
    stdin.write_all(b"a line for no one\n").unwrap();
    stdin.flush().unwrap();
    sluice.wait_for_log("waits for the Kafka brokers");
    sluice.signal("TERM");
    // Without the stop the batch's delivery would wait for message.timeout.ms, longer
    // than `finish` waits for an exit; the sink gives up because of the stop.
    let done = sluice.finish();
    assert!(
        done.stderr.contains("stopping: batch") && done.stderr.contains("was not written"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("took batch"), "{}", done.stderr);
    drop(stdin);
}
