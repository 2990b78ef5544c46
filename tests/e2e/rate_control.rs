//! Rate control: `max_rate` bounds what enters every batch, and backpressure holds a
//! source to what the pipeline keeps up with, where without it the delay grows.

use crate::support::*;
use std::io::Write;
use std::net::TcpListener;

/// One batch as its log line tells it.
#[derive(Clone, Copy, Debug)]
struct Batch {
    records: u64,
    processing_ms: u64,
}

fn number_after(line: &str, label: &str) -> u64 {
    let rest = &line[line
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {line}"))
        + label.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Every batch of a finished run, in order.
fn batches(log: &str) -> Vec<Batch> {
    log.lines()
        .filter_map(|line| {
            Some(Batch {
                records: records_in(line)?,
                processing_ms: number_after(line, "processing "),
            })
        })
        .collect()
}

#[test]
fn max_rate_bounds_every_batch_of_a_generator() {
    let dir = TempDir::new("max-rate-generator");
    let pipeline = dir.write(
        "limited.toml",
        r#"
[pipeline]
batch_interval = "200ms"
partitions = 2

[sources.lines]
type = "generator"
rate = 20000
count = 4000
max_rate = 2000

[stages.n]
input = "lines"
op = "count"

[sinks.out]
input = "n"
type = "print"
"#,
    );
    let done = Sluice::start(&["run", pipeline.to_str().unwrap()]).finish();
    done.expect_code(0);
    let batches = batches(&done.stderr);
    let total: u64 = batches.iter().map(|b| b.records).sum();
    assert_eq!(total, 4000, "every line comes, later:\n{}", done.stderr);
    assert!(
        batches.iter().all(|b| b.records <= 400),
        "2000 records/s over 200 ms is 400 a batch: {batches:?}"
    );
    assert!(batches.len() >= 10, "{batches:?}");
}

#[test]
fn max_rate_on_a_socket_bounds_every_batch_and_loses_nothing() {
    let dir = TempDir::new("max-rate-socket");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let pipeline = dir.write(
        "limited.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "200ms"
partitions = 2

[sources.lines]
type = "socket"
address = "{}"
reconnect = false
max_rate = 10000

[stages.n]
input = "lines"
op = "count"

[sinks.out]
input = "n"
type = "print"
"#,
            listener.local_addr().unwrap()
        ),
    );
    let sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    let (mut connection, _) = listener.accept().unwrap();
    let lines = random_lines(12_000, 3);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    connection.write_all(text.as_bytes()).unwrap();
    drop(connection);
    let done = sluice.finish();
    done.expect_code(0);
    let batches = batches(&done.stderr);
    assert_eq!(batches.iter().map(|b| b.records).sum::<u64>(), 12_000);
    // 2000 a batch, plus what the receiver may save up (50 ms) and one chunk of
    // permits (10 ms), for a cut that falls between a permit and its line.
    assert!(
        batches.iter().all(|b| b.records <= 2_000 + 500 + 100),
        "{batches:?}"
    );
    assert!(
        batches.iter().filter(|b| b.records > 0).count() >= 5,
        "12000 lines at 10000/s take more than a second: {batches:?}"
    );
}

/// A generator offering `rate` lines per second, `count` in all, into a plugin that
/// works a fixed time per record; backpressure on or off.
fn overloaded(dir: &TempDir, backpressure: bool, rate: u64, count: u64) -> String {
    let path = dir.write(
        &format!("overloaded-{backpressure}.toml"),
        &format!(
            r#"
[pipeline]
batch_interval = "{INTERVAL_MS}ms"
partitions = 2
backpressure = {backpressure}

[plugins.slow]
path = {wasm}

[sources.lines]
type = "generator"
rate = {rate}
count = {count}
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
type = "print"
"#,
            wasm = toml_path(&plugin_wasm("slow")),
        ),
    );
    path.to_str().unwrap().to_string()
}

const INTERVAL_MS: u64 = 250;

/// Records per second of processing time over `batches`: what the pipeline sustains.
fn sustained(batches: &[Batch]) -> f64 {
    let records: u64 = batches.iter().map(|b| b.records).sum();
    let ms: u64 = batches.iter().map(|b| b.processing_ms).sum();
    records as f64 * 1000.0 / ms.max(1) as f64
}

/// How the controller settles (delay, rate against capacity) is tested on virtual time
/// in `rate/controller.rs`; through the binary, what a process alone shows: backpressure
/// starts low, holds an overloaded source well below its offer, and loses nothing.
#[test]
fn backpressure_holds_an_overloaded_source_below_its_offer_and_loses_nothing() {
    let dir = TempDir::new("backpressure");

    // Without backpressure every batch takes all that was offered.
    let offered = 20_000;
    let run = Sluice::start(&["run", &overloaded(&dir, false, offered, offered)]).finish();
    run.expect_code(0);
    let without = batches(&run.stderr);
    assert_eq!(without.iter().map(|b| b.records).sum::<u64>(), offered);
    let capacity = sustained(&without);

    // With it, offer ten times what the pipeline just sustained, for long enough to
    // settle (about eight seconds' worth of what it sustains).
    let offered = (10.0 * capacity) as u64;
    let count = (8.0 * capacity) as u64;
    let run = Sluice::start(&["run", &overloaded(&dir, true, offered, count)]).finish();
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("backpressure on, starting at 100 records/s"),
        "{}",
        run.stderr
    );
    let with = batches(&run.stderr);
    assert_eq!(with.iter().map(|b| b.records).sum::<u64>(), count);
    // Records per batch, not time: the source was held to a fraction of the offer.
    let settled = &with[with.len() / 3..with.len() - 2];
    assert!(settled.len() >= 10, "{with:?}");
    let per_batch = settled.iter().map(|b| b.records).sum::<u64>() / settled.len() as u64;
    let offered_per_batch = offered * INTERVAL_MS / 1000;
    eprintln!(
        "backpressure: offered {offered_per_batch} records a batch, took {per_batch} (capacity {capacity:.0} records/s)"
    );
    assert!(
        per_batch * 3 < offered_per_batch,
        "{per_batch} of {offered_per_batch} records a batch: {with:?}"
    );
}
