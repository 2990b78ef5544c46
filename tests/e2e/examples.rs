//! The example pipelines of `examples/`, run as written except for what a test must
//! change: socket addresses, plugin paths, sinks and (to keep tests short) timings.

use crate::support::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};

/// The example `name`, with plugin paths made absolute and each `(from, to)` applied.
pub fn example(name: &str, changes: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(repo().join("examples").join(name)).unwrap();
    text = text.replace(
        "path = \"../plugins/",
        &format!("path = \"{}/plugins/", repo().display()),
    );
    for (from, to) in changes {
        assert!(text.contains(from), "{name} no longer contains {from:?}");
        text = text.replace(from, to);
    }
    text
}

fn send(connection: &mut TcpStream, lines: &[&str]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    connection.write_all(text.as_bytes()).unwrap();
    connection.flush().unwrap();
}

#[test]
fn every_example_pipeline_validates() {
    let mut names: Vec<_> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 7, "{names:?}");
    for path in names {
        let done = Sluice::start(&["validate", path.to_str().unwrap()]).finish();
        assert_eq!(
            done.status.code(),
            Some(0),
            "{}:\n{}",
            path.display(),
            done.stderr
        );
    }
}

#[test]
fn stateful_word_count_totals_equal_the_whole_input() {
    let dir = TempDir::new("totals");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let text = example(
        "stateful-wordcount.toml",
        &[
            ("127.0.0.1:9999", &address),
            ("batch_interval = \"1s\"", "batch_interval = \"200ms\""),
            ("type = \"print\"", "type = \"files\"\npath = \"out\""),
        ],
    );
    let pipeline = dir.write("totals.toml", &text);
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    let (mut connection, _) = listener.accept().unwrap();
    let lines = random_lines(30_000, 21);
    for chunk in lines.chunks(10_000) {
        send(
            &mut connection,
            &chunk.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let mut read = 0;
        while read < chunk.len() as u64 {
            read += sluice.wait_for_nonempty_batch();
        }
    }
    // One more batch with no input still writes every total.
    sluice.wait_for_batch(&|e| e["records_in"] == 0);
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    let mut batches: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (batch, word, total) in files_sink_pairs(&dir.path().join("out")) {
        batches
            .entry(batch)
            .or_default()
            .insert(word.as_str().unwrap().into(), total.as_u64().unwrap());
    }
    // Totals only grow, and after the last batch they are the whole input's counts.
    let mut previous = BTreeMap::new();
    for totals in batches.values() {
        for (word, total) in &previous {
            assert!(
                totals.get(word).is_some_and(|t| t >= total),
                "{word} went down"
            );
        }
        previous = totals.clone();
    }
    assert_eq!(previous, count_words(&lines));
}

#[test]
fn error_window_counts_server_errors_per_service_then_forgets_them() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let dir = TempDir::new("errors");
    let text = example(
        "error-window.toml",
        &[
            ("127.0.0.1:9999", &address),
            ("batch_interval = \"1s\"", "batch_interval = \"100ms\""),
            ("window = \"30s\"", "window = \"500ms\""),
            ("slide = \"10s\"", "slide = \"100ms\""),
        ],
    );
    let pipeline = dir.write("errors.toml", &text);
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    let (mut connection, _) = listener.accept().unwrap();
    let requests = std::fs::read_to_string(repo().join("examples/data/requests.jsonl")).unwrap();
    send(&mut connection, &requests.lines().collect::<Vec<_>>());
    sluice.wait_for_nonempty_batch();
    // Until the window has slid past the data.
    sluice.wait_for_batch(&|e| e["records_in"] == 0 && e["records_out"] == 0);
    sluice.signal("INT");
    let done = sluice.finish();
    done.expect_code(0);
    let batches = done.printed_batches();
    let with_errors: Vec<_> = batches.iter().filter(|(_, r)| !r.is_empty()).collect();
    assert!(!with_errors.is_empty(), "{}", done.stdout);
    for (_, records) in &with_errors {
        let mut records = records.clone();
        records.sort();
        assert_eq!(records, ["(checkout,3)", "(search,2)"]);
    }
    assert!(
        batches.last().unwrap().1.is_empty(),
        "services at zero are dropped"
    );
    assert!(
        done.stderr
            .contains("skipping a line that is not a request"),
        "{}",
        done.stderr
    );
}

#[test]
fn sessions_report_clicks_and_end_when_users_go_idle() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let dir = TempDir::new("sessions");
    let text = example(
        "sessions.toml",
        &[
            ("127.0.0.1:9999", &address),
            ("batch_interval = \"1s\"", "batch_interval = \"100ms\""),
            ("timeout = \"30s\"", "timeout = \"400ms\""),
        ],
    );
    let pipeline = dir.write("sessions.toml", &text);
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    let (mut connection, _) = listener.accept().unwrap();
    send(&mut connection, &["ann /", "bob /search", "ann /cart"]);
    sluice.wait_for_nonempty_batch();
    send(&mut connection, &["bob /checkout"]);
    sluice.wait_for_nonempty_batch();
    let stdout_has = |text: &str, sluice: &Sluice| sluice.stdout_so_far().contains(text);
    // Both users go idle; each gets a last report.
    while !(stdout_has("\"user\":\"ann\",\"pages\":2,\"ended\":true", &sluice)
        && stdout_has("\"user\":\"bob\",\"pages\":2,\"ended\":true", &sluice))
    {
        sluice.wait_for_batch(&|_| true);
    }
    sluice.signal("INT");
    let done = sluice.finish();
    done.expect_code(0);
    for report in [
        r#"{"user":"ann","pages":1,"ended":false,"entry":"/"}"#,
        r#"{"user":"ann","pages":2,"ended":false,"entry":"/"}"#,
        r#"{"user":"bob","pages":2,"ended":false,"entry":"/search"}"#,
        r#"{"user":"bob","pages":2,"ended":true,"entry":"/search"}"#,
    ] {
        assert!(
            done.stdout.contains(report),
            "{report} missing from\n{}",
            done.stdout
        );
    }
    // The snapshots sink holds the live sessions of every batch: ann's at some point,
    // nobody's at the end.
    let state = dir.path().join("out/sessions-state");
    let snapshots = files_sink_pairs(&state);
    assert!(
        snapshots
            .iter()
            .any(|(_, user, session)| user == "ann" && session["pages"] == 2)
    );
    let mut batches: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    batches.sort();
    let last = batches.last().unwrap();
    assert!(
        snapshots.iter().all(|(batch, _, _)| batch != last),
        "sessions left after everyone went idle"
    );
}

#[test]
fn ad_clicks_join_clicks_with_recent_impressions() {
    let impressions = TcpListener::bind("127.0.0.1:0").unwrap();
    let clicks = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = TempDir::new("adclicks");
    let text = example(
        "ad-clicks.toml",
        &[
            (
                "127.0.0.1:9997",
                &impressions.local_addr().unwrap().to_string(),
            ),
            ("127.0.0.1:9998", &clicks.local_addr().unwrap().to_string()),
            ("batch_interval = \"1s\"", "batch_interval = \"100ms\""),
            ("window = \"60s\"", "window = \"5s\""),
        ],
    );
    let pipeline = dir.write("ads.toml", &text);
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    let (mut shown, _) = impressions.accept().unwrap();
    let (mut clicked, _) = clicks.accept().unwrap();
    send(&mut shown, &["ad1 ann", "ad2 bob"]);
    sluice.wait_for_nonempty_batch();
    send(&mut clicked, &["ad1 ann", "ad2 carl", "ad3 dan"]);
    sluice.wait_for_nonempty_batch();
    sluice.signal("INT");
    let done = sluice.finish();
    done.expect_code(0);
    let mut joined: Vec<String> = done
        .printed_batches()
        .into_iter()
        .flat_map(|(_, r)| r)
        .collect();
    joined.sort();
    assert_eq!(joined, [r#"["ad1","ann",true]"#, r#"["ad2","carl",false]"#]);
}
