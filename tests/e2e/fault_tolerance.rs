//! Surviving `kill -9`: the real binary killed at random moments over and over,
//! restarted each time from its checkpoint directory, must end with exactly the output
//! of a run that never crashed: nothing lost, nothing duplicated.
//!
//! "Random moments" are random points in the process's own stream of events (its log
//! lines: files picked up, batches done, checkpoints written), so the kills land in
//! every phase of a batch without the test sleeping for guessed durations.

use crate::support::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;

const INTERVAL: u64 = 100;

/// A pipeline over `source`: running totals per key, a sliding window of sums per key,
/// and every record stamped with the batch time that processed it.
fn pipeline(dir: &TempDir, source: &str) -> String {
    dir.write(
        "durable.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "{INTERVAL}ms"
partitions = 2
checkpoint_dir = "checkpoints"
checkpoint_interval = 3

[plugins.keyed]
path = {wasm}

[sources.lines]
{source}

[stages.pairs]
input = "lines"
op = "map"
function = "keyed::parse_pair"

[stages.totals]
input = "pairs"
op = "update_state_by_key"
function = "keyed::running_total"

[stages.windowed]
input = "pairs"
op = "reduce_by_key_and_window"
function = "keyed::sum"
inverse_function = "keyed::subtract"
filter_function = "keyed::nonzero"
window = "300ms"
slide = "200ms"

[stages.stamped]
input = "pairs"
op = "transform"
function = "keyed::stamp"

[sinks.totals]
input = "totals"
type = "files"
path = "out/totals"

[sinks.windowed]
input = "windowed"
type = "files"
path = "out/windowed"

[sinks.stamped]
input = "stamped"
type = "files"
path = "out/stamped"
"#,
            wasm = toml_path(&plugin_wasm("keyed"))
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// A seeded stream of numbers, for lines and kill points.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// `count` lines of `key value`: values 1 to 9 over 6 keys. Lines repeat, so
/// exactly-once is checked on the whole multiset.
fn lines(count: usize, dice: &mut Dice) -> Vec<String> {
    (0..count)
        .map(|_| format!("k{} {}", dice.roll(6), 1 + dice.roll(9)))
        .collect()
}

/// Kills `sluice` after a random number (1 to `most`) of further log lines.
fn kill_at_random(sluice: &mut Sluice, dice: &mut Dice, most: u64) {
    let after = 1 + dice.roll(most) as usize;
    let seen = sluice.log_so_far().lines().count();
    sluice.wait_for_log_count(seen + after);
    sluice.signal("KILL");
}

/// Per batch time, the records of every complete batch directory of a sink (empty
/// batches included).
fn batches(out: &Path, sink: &str) -> BTreeMap<u64, Vec<Value>> {
    records_by_batch(&out.join(sink))
}

/// Checks the outputs of a finished crash loop against references computed from what
/// the stamped sink says each batch read; `sent` is every line the sources got.
fn check_exactly_once(out: &Path, sent: &[String]) {
    let stamped = batches(out, "stamped");
    // Batch times are contiguous: restarts catch up every interval they missed.
    let times: Vec<u64> = stamped.keys().copied().collect();
    assert!(
        times.windows(2).all(|w| w[1] == w[0] + INTERVAL),
        "batch times have a gap or overlap: {times:?}"
    );
    // Every line was processed exactly once.
    let mut seen: Vec<String> = Vec::new();
    let mut per_batch: BTreeMap<u64, Vec<(String, i64)>> = BTreeMap::new();
    for (time, records) in &stamped {
        for record in records {
            // A stamped record is [key, value, batch time].
            let key = record[0].as_str().unwrap().to_string();
            let value = record[1].as_i64().unwrap();
            assert_eq!(record[2].as_u64(), Some(*time));
            seen.push(format!("{key} {value}"));
            per_batch.entry(*time).or_default().push((key, value));
        }
    }
    let mut expected = sent.to_vec();
    expected.sort();
    seen.sort();
    assert_eq!(seen.len(), expected.len(), "records lost or duplicated");
    assert_eq!(seen, expected);
    // Totals and windows per batch equal an uninterrupted run over the same batches.
    let totals = batches(out, "totals");
    let windowed = batches(out, "windowed");
    let mut running: BTreeMap<String, i64> = BTreeMap::new();
    for &time in &times {
        let pairs = per_batch.get(&time).cloned().unwrap_or_default();
        let mut sums: BTreeMap<String, i64> = BTreeMap::new();
        for (k, v) in &pairs {
            *sums.entry(k.clone()).or_default() += v;
        }
        for k in running
            .keys()
            .chain(sums.keys())
            .cloned()
            .collect::<BTreeSet<_>>()
        {
            let total = running.get(&k).copied().unwrap_or(0) + sums.get(&k).copied().unwrap_or(0);
            if total % 7 == 0 {
                running.remove(&k);
            } else {
                running.insert(k, total);
            }
        }
        let mut want: Vec<String> = running
            .iter()
            .map(|(k, v)| serde_json::json!([k, v]).to_string())
            .collect();
        let mut got: Vec<String> = totals
            .get(&time)
            .expect("a totals directory for every batch")
            .iter()
            .map(Value::to_string)
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "totals of batch {time}");
        if time % 200 == 0 {
            let mut window: BTreeMap<String, i64> = BTreeMap::new();
            for (_, pairs) in per_batch.range(time.saturating_sub(300) + 1..=time) {
                for (k, v) in pairs {
                    *window.entry(k.clone()).or_default() += v;
                }
            }
            let mut want: Vec<String> = window
                .iter()
                .map(|(k, v)| serde_json::json!([k, v]).to_string())
                .collect();
            let mut got: Vec<String> = windowed
                .get(&time)
                .expect("a window at every slide")
                .iter()
                .map(Value::to_string)
                .collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "window at batch {time}");
        }
    }
}

#[test]
fn killed_ten_times_a_directory_pipeline_ends_as_if_it_never_crashed() {
    let dir = TempDir::new("crash-dir");
    let incoming = dir.path().join("in");
    std::fs::create_dir(&incoming).unwrap();
    let pipeline = pipeline(&dir, "type = \"directory\"\npath = \"in\"");
    let mut dice = Dice(0x5eed);
    let mut sent = Vec::new();
    let mut logs = String::new();
    let mut file = 0;
    let mut drop_file = |dice: &mut Dice, sent: &mut Vec<String>| {
        let batch = lines(5 + dice.roll(20) as usize, dice);
        let staged = dir.path().join(format!("f{file}"));
        std::fs::write(
            &staged,
            batch.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        std::fs::rename(&staged, incoming.join(format!("f{file:03}.txt"))).unwrap();
        sent.extend(batch);
        file += 1;
    };
    for run in 0..10 {
        let mut sluice = Sluice::start(&["run", &pipeline]);
        if run == 3 || run == 7 {
            // Twice, after a checkpoint: the next start must resume from one, which
            // random kills alone do not promise.
            sluice.wait_for_event("pipeline_started");
            drop_file(&mut dice, &mut sent);
            sluice.wait_for_event("checkpoint_written");
            kill_at_random(&mut sluice, &mut dice, 5);
        } else if dice.roll(3) == 0 {
            // Anywhere from the start: while restoring, re-running journaled batches...
            kill_at_random(&mut sluice, &mut dice, 12);
        } else {
            sluice.wait_for_event("pipeline_started");
            for _ in 0..1 + dice.roll(3) {
                drop_file(&mut dice, &mut sent);
            }
            kill_at_random(&mut sluice, &mut dice, 25);
        }
        let killed = sluice.finish();
        assert_eq!(killed.status.code(), None, "killed by a signal");
        logs.push_str(&killed.stderr);
        // Sometimes a file arrives while sluice is down.
        if dice.roll(2) == 0 {
            drop_file(&mut dice, &mut sent);
        }
    }
    let mut sluice = Sluice::start(&["run", &pipeline]);
    sluice.wait_for_event("pipeline_started");
    drop_file(&mut dice, &mut sent);
    let total = sent.len() as u64;
    wait_until_stamped(&mut sluice, &dir.path().join("out/stamped"), total);
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    check_exactly_once(&dir.path().join("out"), &sent);
    assert_recovered(&logs);
}

/// The kills must have made restarts do real work: resume from checkpoints and compute
/// journaled batches again.
fn assert_recovered(logs: &str) {
    let resumed = logs
        .matches("resuming from the checkpoint of batch")
        .count();
    let recomputed = logs.matches("computing journaled batch").count();
    let relevant: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("checkpoint") || l.contains("journal"))
        .collect();
    assert!(
        resumed >= 2 && recomputed >= 2,
        "{resumed} resumes and {recomputed} recomputed batches only:\n{}",
        relevant.join("\n")
    );
}

/// Waits for batches until the stamped sink holds `total` records.
fn wait_until_stamped(sluice: &mut Sluice, stamped: &Path, total: u64) {
    loop {
        let done: u64 = files_sink_pairs(stamped).len() as u64;
        if done >= total {
            // Two more batches, so that the window slides past the data too.
            sluice.wait_for_batch(&|_| true);
            sluice.wait_for_batch(&|_| true);
            return;
        }
        sluice.wait_for_batch(&|_| true);
    }
}

#[test]
fn killed_ten_times_a_socket_pipeline_with_a_write_ahead_log_loses_nothing() {
    let dir = TempDir::new("crash-wal");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let source = format!(
        "type = \"socket\"\naddress = \"{}\"\nwal = true",
        listener.local_addr().unwrap()
    );
    let pipeline = pipeline(&dir, &source);
    let mut dice = Dice(0xfeed);
    let all = lines(3_000, &mut dice);
    let mut sent_up_to = 0;
    let mut logs = String::new();
    for round in 0..11 {
        let mut sluice = Sluice::start(&["run", &pipeline]);
        // What the write-ahead log holds was received for good; the rest is sent again,
        // as a reliable sender would after a lost connection.
        let held = sluice.wait_for_log("its write-ahead log holds");
        let acknowledged: usize = held
            .split("holds ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            acknowledged <= sent_up_to,
            "the log holds more than was sent"
        );
        let (mut connection, _) = listener.accept().unwrap();
        sent_up_to = if round == 10 {
            all.len()
        } else {
            (sent_up_to.max(acknowledged) + 300).min(all.len())
        };
        let text: String = all[acknowledged..sent_up_to]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        connection.write_all(text.as_bytes()).unwrap();
        if round == 10 {
            wait_until_stamped(
                &mut sluice,
                &dir.path().join("out/stamped"),
                all.len() as u64,
            );
            sluice.signal("TERM");
            sluice.finish().expect_code(0);
            break;
        }
        // Mostly once new batches run (checkpoints get written), sometimes anywhere
        // (while re-running journaled batches, say).
        if dice.roll(3) != 0 {
            sluice.wait_for_event("pipeline_started");
            sluice.wait_for_events("checkpoint_written", &|_| true, 1);
        }
        kill_at_random(&mut sluice, &mut dice, 30);
        let killed = sluice.finish();
        assert_eq!(killed.status.code(), None, "killed by a signal");
        logs.push_str(&killed.stderr);
    }
    check_exactly_once(&dir.path().join("out"), &all);
    assert_recovered(&logs);
}

#[test]
fn a_damaged_newest_checkpoint_is_skipped_for_the_one_before() {
    let dir = TempDir::new("damaged");
    let incoming = dir.path().join("in");
    std::fs::create_dir(&incoming).unwrap();
    let pipeline = pipeline(&dir, "type = \"directory\"\npath = \"in\"");
    let mut dice = Dice(7);
    let mut sent = Vec::new();
    let mut sluice = Sluice::start(&["run", &pipeline]);
    sluice.wait_for_event("pipeline_started");
    for i in 0..8 {
        let batch = lines(10, &mut dice);
        std::fs::write(
            dir.path().join("staged"),
            batch.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        std::fs::rename(dir.path().join("staged"), incoming.join(format!("f{i}"))).unwrap();
        sent.extend(batch);
        assert_eq!(sluice.wait_for_nonempty_batch(), 10);
    }
    sluice.wait_for_events("checkpoint_written", &|_| true, 3);
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    // Damage the newest checkpoint (the final one written at shutdown).
    let checkpoints = dir.path().join("checkpoints");
    let mut files: Vec<_> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ck"))
        .collect();
    files.sort();
    let newest = files.pop().unwrap();
    let mut bytes = std::fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&newest, bytes).unwrap();
    let previous = files.pop().unwrap();
    let previous_time = previous
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("checkpoint-")
        .trim_start_matches('0')
        .to_string();

    let mut sluice = Sluice::start(&["run", &pipeline]);
    let damaged = sluice.wait_for_log("is damaged");
    assert!(
        damaged.contains("checksum mismatch") && damaged.contains("trying the one before it"),
        "{damaged}"
    );
    let resumed = sluice.wait_for_log("resuming from the checkpoint of batch");
    assert!(resumed.contains(&previous_time), "{resumed}");
    sluice.wait_for_event("pipeline_started");
    let batch = lines(10, &mut dice);
    std::fs::write(
        dir.path().join("staged"),
        batch.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    std::fs::rename(dir.path().join("staged"), incoming.join("last")).unwrap();
    sent.extend(batch);
    let total = sent.len() as u64;
    wait_until_stamped(&mut sluice, &dir.path().join("out/stamped"), total);
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    check_exactly_once(&dir.path().join("out"), &sent);
}

#[test]
fn a_checkpoint_restores_at_another_partition_count_with_the_same_results() {
    let dir = TempDir::new("repartition");
    let incoming = dir.path().join("in");
    std::fs::create_dir(&incoming).unwrap();
    let pipeline = pipeline(&dir, "type = \"directory\"\npath = \"in\"");
    let mut dice = Dice(11);
    let mut sent = Vec::new();
    for (round, partitions) in ["2", "3", "1"].into_iter().enumerate() {
        let mut sluice = Sluice::start(&["run", &pipeline, "--partitions", partitions]);
        sluice.wait_for_event("pipeline_started");
        for i in 0..4 {
            let batch = lines(15, &mut dice);
            std::fs::write(
                dir.path().join("staged"),
                batch.iter().map(|l| format!("{l}\n")).collect::<String>(),
            )
            .unwrap();
            std::fs::rename(
                dir.path().join("staged"),
                incoming.join(format!("r{round}f{i}")),
            )
            .unwrap();
            sent.extend(batch);
            assert_eq!(sluice.wait_for_nonempty_batch(), 15);
        }
        if round == 2 {
            let total = sent.len() as u64;
            wait_until_stamped(&mut sluice, &dir.path().join("out/stamped"), total);
        }
        sluice.signal("TERM");
        sluice.finish().expect_code(0);
    }
    check_exactly_once(&dir.path().join("out"), &sent);
}

#[test]
fn a_renamed_stateful_stage_is_refused_unless_its_state_may_be_dropped() {
    let dir = TempDir::new("renamed");
    let incoming = dir.path().join("in");
    std::fs::create_dir(&incoming).unwrap();
    let pipeline = pipeline(&dir, "type = \"directory\"\npath = \"in\"");
    std::fs::write(incoming.join("f"), "k1 3\n").unwrap();
    let mut sluice = Sluice::start(&["run", &pipeline]);
    sluice.wait_for_nonempty_batch();
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    let text = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace("[stages.totals]", "[stages.sums]")
        .replace("input = \"totals\"", "input = \"sums\"");
    std::fs::write(&pipeline, text).unwrap();
    let refused = Sluice::start(&["run", &pipeline]).finish();
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("the checkpoint holds the state of stage `totals` (update_state_by_key), which the pipeline no longer has"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--allow-non-restored-state"),
        "{}",
        refused.stderr
    );
    let mut allowed = Sluice::start(&["run", &pipeline, "--allow-non-restored-state"]);
    allowed.wait_for_log("starting without it");
    allowed.wait_for_event("pipeline_started");
    allowed.signal("TERM");
    allowed.finish().expect_code(0);
}

#[test]
fn one_poison_record_in_100k_is_one_dead_letter_and_the_rest_is_processed() {
    let dir = TempDir::new("poison");
    let pipeline = dir.write(
        "poison.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "200ms"
partitions = 2

[plugins.faulty]
path = {faulty}

[plugins.wordcount]
path = {wordcount}

[sources.lines]
type = "stdin"

[stages.words]
input = "lines"
op = "flat_map"
function = "faulty::split_or_panic"

[stages.counts]
input = "words"
op = "reduce_by_key"
function = "wordcount::sum"

[sinks.out]
input = "counts"
type = "files"
path = "out"
"#,
            faulty = toml_path(&plugin_wasm("faulty")),
            wordcount = toml_path(&plugin_wasm("wordcount"))
        ),
    );
    let mut lines = random_lines(100_000, 9);
    lines[61_803] = "this one goes boom".to_string();
    let (sluice, mut stdin) = Sluice::start_with_stdin(&["run", pipeline.to_str().unwrap()]);
    stdin
        .write_all(
            lines
                .iter()
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .as_bytes(),
        )
        .unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    let mut good: Vec<&String> = lines.iter().collect();
    good.remove(61_803);
    assert_eq!(
        word_counts_from_files(&dir.path().join("out")),
        count_words(&good)
    );
    let letters: Vec<Value> = std::fs::read_dir(dir.path().join("dead-letters"))
        .unwrap()
        .flat_map(|b| std::fs::read_dir(b.unwrap().path()).unwrap())
        .map(|p| p.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["record"], "this one goes boom");
    assert!(
        letters[0]["error"]
            .as_str()
            .unwrap()
            .contains("refusing to count a line with boom in it")
    );
    assert!(
        done.stderr.contains("1 dead letters"),
        "the batch line counts it:\n{}",
        done.stderr
    );
}
