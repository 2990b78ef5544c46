//! The terminal: a live status line that the print sink's output and the log never
//! share a line with, and JSON logs for collectors.

use crate::support::*;
use std::io::Write;
use std::process::{Command, Stdio};

/// What a terminal would show of `bytes`: each line as it stands after carriage
/// returns and line clears.
fn visible_lines(bytes: &str) -> Vec<String> {
    bytes
        .split('\n')
        .map(|line| {
            let line = line.trim_end_matches('\r');
            let after_return = line.rsplit('\r').next().unwrap_or("");
            after_return.replace("\x1b[K", "")
        })
        .collect()
}

/// `text` without colour codes (SGR sequences, `ESC [ ... m`); other escapes stay.
fn strip_colours(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("\x1b[") {
        out.push_str(&rest[..start]);
        let sequence = &rest[start + 2..];
        let end = sequence
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(sequence.len());
        if sequence[end..].starts_with('m') {
            rest = &sequence[end + 1..];
        } else {
            out.push_str(&rest[start..start + 2]);
            rest = sequence;
        }
    }
    out.push_str(rest);
    out
}

/// Runs `sluice demo` under `script`, which gives it a pseudo-terminal, with `redirect`
/// appended to its command line; returns what the terminal received.
fn demo_on_a_terminal(redirect: &str) -> String {
    let command = format!(
        "{} demo --seconds 3 --rate 20000 {redirect}",
        sluice_bin().display()
    );
    let output = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("SLUICE_HOME", crate::support::sluice_home())
        .env("RUST_LOG", "info")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The status line was drawn in place, and nothing else shares a line with it.
fn assert_status_steps_around_the_output(raw: &str) -> Vec<String> {
    assert!(
        raw.contains("\r\x1b[Kbatch "),
        "no status line drawn:\n{raw:?}"
    );
    let lines = visible_lines(&strip_colours(raw));
    let left: Vec<&String> = lines.iter().filter(|l| l.contains("rec/s │")).collect();
    assert!(
        left.is_empty(),
        "the status line was left where a line ended: {left:?}"
    );
    // The print sink's headers start their own lines.
    let headers = lines.iter().filter(|l| l.starts_with("Time: ")).count();
    assert!(headers >= 3, "{lines:#?}");
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("Time: ") || l.starts_with("Time: ")),
        "{lines:#?}"
    );
    lines
}

#[test]
fn on_a_terminal_the_status_line_steps_around_the_print_sink_and_the_log() {
    // Standard output and error on the terminal: the line goes under the log.
    let lines = assert_status_steps_around_the_output(&demo_on_a_terminal(""));
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("INFO"))
            .all(|l| l.contains(" INFO ") && !l.contains('│')),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("pipeline `demo-wordcount` finished")),
        "{lines:#?}"
    );
}

#[test]
fn with_the_log_in_a_file_the_status_line_goes_under_the_print_sink() {
    let dir = TempDir::new("status-stdout");
    let log = dir.path().join("log.txt");
    assert_status_steps_around_the_output(&demo_on_a_terminal(&format!("2>{}", log.display())));
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("finished"), "{log}");
    assert!(
        !log.contains('│') && !log.contains('\r'),
        "a plain log: {log}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = TempDir::new("json-logs");
    let pipeline = dir.write(
        "p.toml",
        "[pipeline]\nbatch_interval = \"100ms\"\n[sources.lines]\ntype = \"stdin\"\n[sinks.out]\ninput = \"lines\"\ntype = \"print\"\n",
    );
    let (mut sluice, mut stdin) =
        Sluice::start_with_stdin(&["--log-format", "json", "run", pipeline.to_str().unwrap()]);
    stdin.write_all(b"a\nb\nc\n").unwrap();
    drop(stdin);
    sluice.wait_for_event_where("batch_completed", &|e| e["records_in"] == 3);
    let done = sluice.finish();
    done.expect_code(0);
    let mut messages = Vec::new();
    for line in done.stderr.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(event["timestamp"].is_string(), "{line}");
        assert!(event["level"].is_string(), "{line}");
        messages.push(event["fields"]["message"].as_str().unwrap().to_string());
    }
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("batch ") && m.contains(": 3 records in")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("finished")),
        "{messages:#?}"
    );
}
