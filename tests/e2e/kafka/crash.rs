//! `kill -9` at random moments of a Kafka word count, over and over: every restart
//! resumes from the checkpoint and reads exactly the offset ranges its journal holds, so
//! the files sinks end as if the process never crashed, and the (non-transactional)
//! Kafka sink holds every count at least once.

use super::*;
use std::collections::BTreeMap;

/// A pipeline reading `lines` in small batches: the lines themselves and their word
/// counts to files, the counts to the topic `word-counts` too.
fn pipeline(dir: &TempDir, broker: &Broker) -> String {
    dir.write(
        "crash.toml",
        &word_count(
            r#"
batch_interval = "100ms"
partitions = 2
checkpoint_dir = "checkpoints"
checkpoint_interval = 3
"#,
            &format!(
                r#"
[sources.lines]
type = "kafka"
brokers = "{brokers}"
topics = ["lines"]
starting_offsets = "earliest"
max_records_per_partition = 150
"#,
                brokers = broker.address()
            ),
            &format!(
                r#"
[sinks.lines]
input = "lines"
type = "files"
path = "out/lines"

[sinks.counts]
input = "counts"
type = "files"
path = "out/counts"

[sinks.topic]
input = "counts"
type = "kafka"
brokers = "{brokers}"
topic = "word-counts"
"#,
                brokers = broker.address()
            ),
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// A seeded stream of numbers for kill points.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Kills `sluice` after a random number (1 to `most`) of further log lines.
fn kill_at_random(sluice: &mut Sluice, dice: &mut Dice, most: u64) {
    let after = 1 + dice.roll(most) as usize;
    let seen = sluice.log_so_far().lines().count();
    sluice.wait_for_log_count(seen + after);
    sluice.signal("KILL");
}

/// Waits for batches until the `lines` files sink holds `total` records.
fn wait_until_written(sluice: &mut Sluice, out: &Path, total: usize) {
    while written_lines(out).len() < total {
        sluice.wait_for_batch(&|_| true);
    }
}

#[test]
fn killed_eight_times_a_kafka_word_count_reads_every_record_exactly_once() {
    let broker = Broker::start();
    broker.create_topic("lines", 4);
    broker.create_topic("word-counts", 4);
    let dir = TempDir::new("kafka-crash");
    let pipeline = pipeline(&dir, &broker);
    let all = keyed_lines(24_000, 99);
    let mut produced = 8_000;
    broker.produce("lines", &all[..produced]);
    let mut dice = Dice(0x6b61);
    let mut logs = String::new();
    for _ in 0..8 {
        let mut sluice = Sluice::start(&["run", &pipeline]);
        if dice.roll(3) == 0 {
            // Anywhere from the start: restoring, reading journaled ranges again...
            kill_at_random(&mut sluice, &mut dice, 12);
        } else {
            sluice.wait_for_event("pipeline_started");
            if produced < 20_000 {
                broker.produce("lines", &all[produced..produced + 2_000]);
                produced += 2_000;
            }
            kill_at_random(&mut sluice, &mut dice, 30);
        }
        let killed = sluice.finish();
        assert_eq!(killed.status.code(), None, "killed by a signal");
        logs.push_str(&killed.stderr);
    }
    broker.produce("lines", &all[produced..]);
    let mut sluice = Sluice::start(&["run", &pipeline]);
    let out = dir.path().join("out");
    wait_until_written(&mut sluice, &out.join("lines"), all.len());
    sluice.signal("TERM");
    sluice.finish().expect_code(0);

    // Every record was read exactly once, whatever the crashes.
    let mut read = written_lines(&out.join("lines"));
    let mut sent = values(&all);
    read.sort();
    sent.sort();
    assert_eq!(read.len(), sent.len(), "records lost or read twice");
    assert_eq!(read, sent);

    // Every batch's counts are the counts of that batch's lines, as an uninterrupted
    // run computes them; so the totals equal the reference.
    let lines = records_by_batch(&out.join("lines"));
    let counts = records_by_batch(&out.join("counts"));
    for (time, records) in &lines {
        let batch_lines: Vec<&str> = records.iter().map(|r| r.as_str().unwrap()).collect();
        let got: BTreeMap<String, u64> = counts
            .get(time)
            .unwrap_or_else(|| panic!("batch {time} has lines but no counts directory"))
            .iter()
            .map(|pair| {
                (
                    pair[0].as_str().unwrap().to_string(),
                    pair[1].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, count_words(&batch_lines), "counts of batch {time}");
    }
    assert_eq!(
        word_counts_from_files(&out.join("counts")),
        count_words(&sent)
    );

    // The Kafka sink is at least once: every count a batch wrote is in the topic (a
    // batch computed again after a crash may be there twice).
    let mut in_topic: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for (word, count) in broker.read_all("word-counts") {
        *in_topic
            .entry((word.unwrap(), count.parse().unwrap()))
            .or_default() += 1;
    }
    let mut in_files: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for pair in counts.values().flatten() {
        let key = (
            pair[0].as_str().unwrap().to_string(),
            pair[1].as_u64().unwrap(),
        );
        *in_files.entry(key).or_default() += 1;
    }
    for (pair, times) in &in_files {
        assert!(
            in_topic.get(pair).copied().unwrap_or(0) >= *times,
            "{pair:?} was written {times} times to files but less to the topic"
        );
    }

    // The kills made restarts do real work.
    let resumed = logs
        .matches("resuming from the checkpoint of batch")
        .count();
    let recomputed = logs.matches("computing journaled batch").count();
    assert!(
        resumed >= 2 && recomputed >= 2,
        "{resumed} resumes and {recomputed} recomputed batches only"
    );
}
