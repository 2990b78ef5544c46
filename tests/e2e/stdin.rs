//! The stdin source, and the logstats example run as the README shows it.

use crate::support::*;
use std::collections::BTreeMap;
use std::io::Write;

#[test]
fn stdin_word_count_over_100k_lines_equals_the_reference() {
    let dir = TempDir::new("stdin");
    let pipeline = dir.write(
        "stdin.toml",
        &word_count(
            "batch_interval = \"100ms\"\npartitions = 2",
            "[sources.lines]\ntype = \"stdin\"",
            FILES_OUT,
        ),
    );
    let lines = random_lines(100_000, 3);
    let (sluice, mut stdin) = Sluice::start_with_stdin(&["run", pipeline.to_str().unwrap()]);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    assert!(
        done.stderr.contains("end of input after 100000 lines"),
        "{}",
        done.stderr
    );
    assert_eq!(
        word_counts_from_files(&dir.path().join("out")),
        count_words(&lines)
    );
}

#[test]
fn logstats_example_counts_status_codes_of_page_views() {
    let example = repo().join("examples/logstats.toml");
    let log = std::fs::read_to_string(repo().join("examples/data/access.log")).unwrap();
    let (sluice, mut stdin) = Sluice::start_with_stdin(&["run", example.to_str().unwrap()]);
    stdin.write_all(log.as_bytes()).unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    let mut counts: BTreeMap<u16, u64> = BTreeMap::new();
    for (_, records) in done.printed_batches() {
        for record in records {
            let (status, n) = record.trim_matches(['(', ')']).split_once(',').unwrap();
            *counts.entry(status.parse().unwrap()).or_default() += n.parse::<u64>().unwrap();
        }
    }
    let expected = BTreeMap::from([
        (200, 4),
        (201, 1),
        (204, 1),
        (304, 1),
        (403, 1),
        (404, 1),
        (500, 2),
    ]);
    assert_eq!(counts, expected, "{}", done.stdout);
    // The malformed line was skipped with the plugin's own warning, tagged with where
    // it came from.
    let warning = done
        .stderr
        .lines()
        .find(|l| l.contains("not in Common Log Format"))
        .expect(&done.stderr);
    assert!(
        warning.contains("plugin=logstats") && warning.contains("partition="),
        "{warning}"
    );
}
