//! `sluice bench`: sluice against native Rust on the same data, in one process and one
//! run, and the table that says how far apart they are.
//!
//! Every workload runs natively (single thread, plain Rust, no wasm, no engine) and
//! through sluice (in-memory batches, the example plugins, the real engine, no I/O) at
//! one partition and at one per core. The word count, running totals and window also run
//! end to end, as users run them (`end_to_end`: files in a directory, the batch loop,
//! the files sink), against native baselines that do the same I/O. The two designs of
//! the map-side combine (`combine`), the fixed cost of a batch (in memory and end to
//! end) and the start-up time are measured apart. Figures are printed, never asserted:
//! this is a benchmark, not a test.

mod combine;
mod data;
mod end_to_end;
mod engine;
mod native;
mod startup;

use crate::plugin::build_crate;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct BenchOptions {
    /// Lines of input for the throughput workloads.
    pub lines: usize,
    /// Batches they are cut into.
    pub batches: usize,
}

/// One row of the table.
struct Row {
    workload: &'static str,
    native: f64,
    one: f64,
    all: f64,
}

/// The batch interval of the end-to-end workloads.
const END_TO_END_INTERVAL_MS: u64 = 10;

fn rate(records: usize, time: Duration) -> f64 {
    records as f64 / time.as_secs_f64()
}

fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else {
        format!("{:.0} k/s", r / 1e3)
    }
}

/// Builds the example plugins the workloads use and returns their `.wasm` paths.
fn plugins(tree: &Path) -> anyhow::Result<Vec<(&'static str, PathBuf)>> {
    ["wordcount", "totals", "errors"]
        .into_iter()
        .map(|name| {
            Ok((
                name,
                build_crate(&tree.join("plugins").join(name))
                    .with_context(|| format!("building plugin {name}"))?,
            ))
        })
        .collect()
}

fn pipeline(plugins: &[(&str, PathBuf)], stages: &str) -> String {
    let mut text = String::from("[pipeline]\nbatch_interval = \"1s\"\n");
    for (name, path) in plugins {
        text.push_str(&format!(
            "[plugins.{name}]\npath = {:?}\n",
            path.display().to_string()
        ));
    }
    text.push_str("[sources.lines]\ntype = \"stdin\"\n");
    text.push_str(stages);
    text.push_str("[sinks.out]\ninput = \"out\"\ntype = \"print\"\n");
    text
}

const WORD_COUNT: &str = "[stages.words]\ninput = \"lines\"\nop = \"flat_map\"\nfunction = \"wordcount::split_words\"\n\
    [stages.out]\ninput = \"words\"\nop = \"reduce_by_key\"\nfunction = \"wordcount::sum\"\n";
const STATEFUL: &str = "[stages.words]\ninput = \"lines\"\nop = \"flat_map\"\nfunction = \"wordcount::split_words\"\n\
    [stages.counts]\ninput = \"words\"\nop = \"reduce_by_key\"\nfunction = \"wordcount::sum\"\n\
    [stages.out]\ninput = \"counts\"\nop = \"update_state_by_key\"\nfunction = \"totals::running_total\"\n";
/// The sliding window count, 6 batch intervals long every 2, at batch interval
/// `interval`.
fn window(interval_ms: u64) -> String {
    format!(
        "[stages.words]\ninput = \"lines\"\nop = \"flat_map\"\nfunction = \"wordcount::split_words\"\n\
         [stages.out]\ninput = \"words\"\nop = \"reduce_by_key_and_window\"\nfunction = \"wordcount::sum\"\n\
         inverse_function = \"errors::subtract\"\nfilter_function = \"errors::nonzero\"\n\
         window = \"{}ms\"\nslide = \"{}ms\"\n",
        6 * interval_ms,
        2 * interval_ms
    )
}
const PARSE: &str = "[stages.parsed]\ninput = \"lines\"\nop = \"flat_map\"\nfunction = \"errors::parse\"\n\
    [stages.kept]\ninput = \"parsed\"\nop = \"filter\"\nfunction = \"errors::is_server_error\"\n\
    [stages.out]\ninput = \"kept\"\nop = \"map\"\nfunction = \"errors::by_service\"\n";
const THREE_STAGES: &str = "[stages.words]\ninput = \"lines\"\nop = \"flat_map\"\nfunction = \"wordcount::split_words\"\n\
    [stages.counts]\ninput = \"words\"\nop = \"reduce_by_key\"\nfunction = \"wordcount::sum\"\n\
    [stages.out]\ninput = \"counts\"\nop = \"filter\"\nfunction = \"errors::nonzero\"\n";

/// Peak resident memory of this process, from /proc.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

/// Runs the benchmark and prints its table.
pub fn run(tree: &Path, options: BenchOptions) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!("building the example plugins...");
    let plugins = plugins(tree)?;
    eprintln!(
        "generating {} lines of words and {} request lines...",
        options.lines, options.lines
    );
    let words = data::words(options.lines, options.batches);
    let requests = data::requests(options.lines, options.batches);
    let mut rows = Vec::new();
    let in_memory_window = window(1_000);
    let workloads: [(&str, &str, &data::Dataset, native::Keyed); 4] = [
        (
            "word count (flat_map + reduce_by_key)",
            WORD_COUNT,
            &words,
            native::word_count,
        ),
        (
            "stateful word count (update_state_by_key)",
            STATEFUL,
            &words,
            native::stateful_word_count,
        ),
        (
            "sliding window count (window 6, slide 2, inverse)",
            &in_memory_window,
            &words,
            native::window_6_2,
        ),
        (
            "parse, filter, map JSON log lines",
            PARSE,
            &requests,
            native::parse_filter_map,
        ),
    ];
    for (name, stages, data, baseline) in workloads {
        eprintln!("{name}...");
        let lines = native::borrowed(data);
        let started = Instant::now();
        baseline(&lines, &mut native::Discard);
        let native = rate(data.len(), started.elapsed());
        let text = pipeline(&plugins, stages);
        let (one, _) = engine::run(&text, data, 1, 1_000)?;
        let (all, _) = engine::run(&text, data, cores, 1_000)?;
        rows.push(Row {
            workload: name,
            native,
            one: rate(data.len(), one),
            all: rate(data.len(), all),
        });
    }
    eprintln!("the map-side combine, in the guest and on the host...");
    let designs = combine::measure(&plugins, &words)?;
    eprintln!("fixed cost of a batch...");
    let tiny = data::tiny(2_000, 10);
    let (_, per_batch) = engine::run(&pipeline(&plugins, THREE_STAGES), &tiny, 2, 1)?;
    let mut sorted = per_batch.clone();
    sorted.sort();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = per_batch.iter().sum::<Duration>() / per_batch.len().max(1) as u32;
    let p99 = sorted[sorted.len() * 99 / 100];
    let keeps_up = [1u64, 2, 5, 10, 20, 50, 100]
        .into_iter()
        .find(|ms| p99 <= Duration::from_millis(*ms))
        .unwrap_or(1_000);
    // End to end at a 10 ms interval: batches queue and run back to back.
    let e2e_window = window(END_TO_END_INTERVAL_MS);
    let end_to_end_workloads: [(&str, &str, native::Keyed); 3] = [
        ("word count, end to end", WORD_COUNT, native::word_count),
        (
            "stateful word count, end to end",
            STATEFUL,
            native::stateful_word_count,
        ),
        (
            "sliding window count, end to end",
            &e2e_window,
            native::window_6_2,
        ),
    ];
    let mut e2e_rows = Vec::new();
    for (name, stages, baseline) in end_to_end_workloads {
        eprintln!("{name} (directory source, files sink)...");
        let native = rate(words.len(), end_to_end::native(&words, baseline)?);
        let one = end_to_end::run(&plugins, stages, &words, 1, END_TO_END_INTERVAL_MS)?;
        let all = end_to_end::run(&plugins, stages, &words, cores, END_TO_END_INTERVAL_MS)?;
        e2e_rows.push((name, native, one, all));
    }
    eprintln!("word count end to end at 100k lines/s...");
    let steady = data::words(100_000, 100);
    let steady_e2e = end_to_end::run(&plugins, WORD_COUNT, &steady, cores, END_TO_END_INTERVAL_MS)?;
    eprintln!("fixed cost of a batch end to end...");
    let tiny_e2e = data::tiny(200, 10);
    let fixed_e2e = end_to_end::run(&plugins, THREE_STAGES, &tiny_e2e, 2, END_TO_END_INTERVAL_MS)?;
    let sync_floor = end_to_end::sync_floor(2, 200)?;
    eprintln!("start-up...");
    let startup = startup::measure(&plugins)?;

    println!();
    println!(
        "sluice bench: {} lines of 10 words (10,000-word Zipf vocabulary) in {} batches; {cores} cores",
        options.lines, options.batches
    );
    println!();
    println!(
        "| workload | native, 1 thread | sluice, 1 partition | ratio | sluice, {cores} partitions | ratio | scaling |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {:.2} | {} | {:.2} | {:.2}x |",
            row.workload,
            fmt_rate(row.native),
            fmt_rate(row.one),
            row.one / row.native,
            fmt_rate(row.all),
            row.all / row.native,
            row.all / row.one
        );
    }
    println!();
    println!(
        "End to end: {} files of {} lines in a directory, the batch loop at a {END_TO_END_INTERVAL_MS} ms interval, the files sink (synced batch directories); sluice's rate is per second of batch processing time, the native baseline reads the files, runs the same logic and writes each batch's output as the files sink does, on one thread",
        words.batches.len(),
        words.batches.first().map_or(0, Vec::len)
    );
    println!();
    println!(
        "| workload | native, 1 thread, same I/O | sluice, 1 partition | ratio | sluice, {cores} partitions | ratio | scaling | CPU per 1,000 lines, 1 / {cores} partitions |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let per_thousand = |m: &end_to_end::Measured| micros(m.cpu) * 1000.0 / words.len() as f64;
    for (name, native, one_e2e, all_e2e) in &e2e_rows {
        let (one, all) = (
            rate(words.len(), one_e2e.processing()),
            rate(words.len(), all_e2e.processing()),
        );
        println!(
            "| {name} | {} | {} | {:.2} | {} | {:.2} | {:.2}x | {:.0} us / {:.0} us |",
            fmt_rate(*native),
            fmt_rate(one),
            one / native,
            fmt_rate(all),
            all / native,
            all / one,
            per_thousand(one_e2e),
            per_thousand(all_e2e)
        );
    }
    println!();
    println!(
        "map-side combine of the word count, 1 partition, per batch of {} lines: in the guest (#[flat_map(combine)], the whole word count) {:.1} ms; on the host, at least {:.1} ms (the flat_map emitting every pair {:.1} ms, grouping their key bytes natively {:.1} ms, merging the values not counted)",
        words.batches.first().map_or(0, Vec::len),
        designs.in_guest.as_secs_f64() * 1e3,
        (designs.flat_map + designs.grouping).as_secs_f64() * 1e3,
        designs.flat_map.as_secs_f64() * 1e3,
        designs.grouping.as_secs_f64() * 1e3,
    );
    println!();
    println!(
        "fixed cost of a batch (3 stages, 2 partitions, 10 lines): mean {:.0} us, p99 {:.0} us; keeps up with a {keeps_up} ms batch interval",
        micros(mean),
        micros(p99)
    );
    println!(
        "fixed cost of a batch end to end (10-line files, 3 stages, 2 partitions, files sink): processing {:.0} us and CPU {:.0} us per batch, mean of {}",
        micros(fixed_e2e.processing()) / fixed_e2e.batches().max(1) as f64,
        micros(fixed_e2e.cpu) / fixed_e2e.batches().max(1) as f64,
        fixed_e2e.batches()
    );
    println!(
        "  of which the files sink's exactly-once protocol alone (stage a directory, write and fsync 2 parts and _SUCCESS, fsync it, rename it, fsync the parent), done natively: {:.0} us of wall time and {:.0} us of CPU per batch",
        micros(sync_floor.0),
        micros(sync_floor.1)
    );
    // Kept up: no batch waited more than an interval for the one before it.
    let keeps = steady_e2e.max_scheduling_delay <= Duration::from_millis(END_TO_END_INTERVAL_MS);
    println!(
        "word count end to end at 100k lines/s ({} files of {} lines, one every {END_TO_END_INTERVAL_MS} ms, {cores} partitions, files sink): processing median {:.1} ms, p99 {:.1} ms; longest scheduling delay {:.1} ms: {}",
        steady.batches.len(),
        steady.batches.first().map_or(0, Vec::len),
        steady_e2e.quantile(0.5).as_secs_f64() * 1e3,
        steady_e2e.quantile(0.99).as_secs_f64() * 1e3,
        steady_e2e.max_scheduling_delay.as_secs_f64() * 1e3,
        if keeps {
            "keeps up (no batch waited an interval)"
        } else {
            "falls behind (batches waited more than an interval)"
        }
    );
    println!(
        "start-up of `sluice run` (word count, .wasm plugins) to the first batch boundary: {} ms with compiled plugins cached, {} ms without",
        startup.cached.as_millis(),
        startup.cold.as_millis()
    );
    if let Some(rss) = peak_rss() {
        println!(
            "peak resident memory of the benchmark process: {} MiB",
            rss >> 20
        );
    }
    Ok(())
}
