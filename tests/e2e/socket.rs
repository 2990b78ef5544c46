//! The socket source: Spark's socketTextStream, against a real TCP server in the test.

use crate::support::*;
use std::io::Write;
use std::net::TcpListener;

fn wordcount_over_socket(
    dir: &TempDir,
    address: &str,
    reconnect: bool,
    partitions: usize,
) -> std::path::PathBuf {
    dir.write(
        "socket.toml",
        &word_count(
            &format!("batch_interval = \"200ms\"\npartitions = {partitions}"),
            &format!(
                "[sources.lines]\ntype = \"socket\"\naddress = \"{address}\"\nreconnect = {reconnect}"
            ),
            FILES_OUT,
        ),
    )
}

#[test]
fn socket_word_count_over_100k_lines_equals_the_reference() {
    let dir = TempDir::new("socket");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let pipeline =
        wordcount_over_socket(&dir, &listener.local_addr().unwrap().to_string(), false, 3);
    let lines = random_lines(100_000, 7);
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    let (mut connection, _) = listener.accept().unwrap();
    // Four chunks, each waited for, so that the input spans several batches.
    for chunk in lines.chunks(25_000) {
        let text: String = chunk.iter().map(|l| format!("{l}\n")).collect();
        connection.write_all(text.as_bytes()).unwrap();
        connection.flush().unwrap();
        let mut read = 0;
        while read < chunk.len() as u64 {
            read += sluice.wait_for_nonempty_batch();
        }
    }
    drop(connection);
    let done = sluice.finish();
    done.expect_code(0);
    let out = dir.path().join("out");
    assert_eq!(word_counts_from_files(&out), count_words(&lines));
    let per_partition = records_per_partition(&out);
    assert_eq!(per_partition.len(), 3, "three output partitions");
    assert!(
        per_partition.values().all(|&n| n > 0),
        "every partition did work: {per_partition:?}"
    );
}

#[test]
fn socket_source_reconnects_and_a_signal_drains_it() {
    let dir = TempDir::new("reconnect");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let pipeline =
        wordcount_over_socket(&dir, &listener.local_addr().unwrap().to_string(), true, 2);
    let first = random_lines(1_000, 1);
    let second = random_lines(1_500, 2);
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    for lines in [&first, &second] {
        let (mut connection, _) = listener.accept().unwrap();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        connection.write_all(text.as_bytes()).unwrap();
        drop(connection);
        sluice.wait_for_event_where("connection_closed", &|e| e["lines"] == lines.len());
    }
    sluice.wait_for_records(2_500);
    sluice.signal("TERM");
    let done = sluice.finish();
    done.expect_code(0);
    assert!(done.stderr.contains("stopping"), "{}", done.stderr);
    let all: Vec<&String> = first.iter().chain(&second).collect();
    assert_eq!(
        word_counts_from_files(&dir.path().join("out")),
        count_words(&all)
    );
}
