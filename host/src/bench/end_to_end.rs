//! A workload as users run it: files on disk taken by the directory source (one file a
//! batch), the real batch loop (scheduler, source cut, executor) and the files sink,
//! which writes each batch as a synced directory renamed into place. Timed the way
//! `sluice run` reports it: the processing time of the batches (from the start of a
//! batch, reading its files included, to the end of its sinks), and the CPU time of the
//! whole process over the run (every thread: scheduler, partitions, sinks).
//!
//! The native baseline does the same I/O on one thread: read the file, count, write the
//! counts to a file that is synced and renamed into place.

use super::data::Dataset;
use crate::batch::{Shutdown, SystemClock};
use crate::config;
use crate::durable;
use crate::engine::{BatchListener, CompletedBatch, Job, Options};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one end-to-end run took.
pub struct Measured {
    /// Batches run.
    pub batches: u64,
    /// The batches' processing time, summed.
    pub processing: Duration,
    /// The process's CPU time over the run, all threads.
    pub cpu: Duration,
}

/// A scratch directory for one run, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("sluice-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("in"))?;
        std::fs::create_dir_all(dir.join("out"))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes each batch of `data` as one file in `dir`, in order.
fn write_files(data: &Dataset, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for (i, lines) in data.batches.iter().enumerate() {
        let mut text = lines.join("\n");
        text.push('\n');
        let path = dir.join(format!("part-{i:05}.txt"));
        std::fs::write(&path, text)?;
        files.push(path);
    }
    Ok(files)
}

/// Stops the run once every line has been through a batch.
struct StopWhenRead {
    expected: u64,
    seen: u64,
    shutdown: Shutdown,
}

impl BatchListener for StopWhenRead {
    fn on_batch_completed(&mut self, batch: &CompletedBatch<'_>) {
        self.seen += batch.report.total_in();
        if self.seen >= self.expected {
            self.shutdown.raise();
        }
    }
}

/// The CPU time this process has used, all threads (from /proc; zero elsewhere).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // The kernel's USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// Runs `stages` (reading node `lines`, writing node `out`) with `plugins` over `data`
/// at `partitions` partitions, one file a batch every `interval_ms` (batches that take
/// longer queue and run back to back, as they would under a backlog).
pub fn run(
    plugins: &[(&str, PathBuf)],
    stages: &str,
    data: &Dataset,
    partitions: usize,
    interval_ms: u64,
) -> anyhow::Result<Measured> {
    let scratch = Scratch::new("e2e")?;
    write_files(data, &scratch.0.join("in"))?;
    let per_file = data.batches.first().map_or(1, Vec::len) as u64;
    let mut text = format!(
        "[pipeline]\nname = \"bench\"\nbatch_interval = \"{interval_ms}ms\"\npartitions = {partitions}\n"
    );
    for (name, path) in plugins {
        text.push_str(&format!(
            "[plugins.{name}]\npath = {:?}\n",
            path.display().to_string()
        ));
    }
    // The rate limit lets one file into each batch.
    text.push_str(&format!(
        "[sources.lines]\ntype = \"directory\"\npath = {:?}\nmax_rate = {}\n",
        scratch.0.join("in").display().to_string(),
        per_file * 1000 / interval_ms
    ));
    text.push_str(stages);
    text.push_str(&format!(
        "[sinks.out]\ninput = \"out\"\ntype = \"files\"\npath = {:?}\n",
        scratch.0.join("out").display().to_string()
    ));
    let file = scratch.0.join("bench.toml");
    let pipeline = config::parse_str(&file, &text).map_err(|d| anyhow::anyhow!("{d}"))?;
    let job = Job::new(pipeline, Options::default())?;
    let shutdown = Shutdown::new();
    let stop = StopWhenRead {
        expected: data.len() as u64,
        seen: 0,
        shutdown: shutdown.clone(),
    };
    let cpu = cpu_time();
    let summary = job.run_observed(Arc::new(SystemClock), shutdown, vec![Box::new(stop)])?;
    let cpu = cpu_time().saturating_sub(cpu);
    if summary.records_in != data.len() as u64 || summary.failed > 0 {
        anyhow::bail!(
            "the end-to-end run read {} of {} lines with {} failed batches",
            summary.records_in,
            data.len(),
            summary.failed
        );
    }
    Ok(Measured {
        batches: summary.batches,
        processing: summary.processing_time,
        cpu,
    })
}

/// What the files sink's exactly-once protocol costs a batch with nothing else to do:
/// a staging directory, `parts` part files and `_SUCCESS` written and synced, the
/// directory synced, renamed into place and its parent synced. The mean over `batches`.
pub fn sync_floor(parts: usize, batches: usize) -> anyhow::Result<Duration> {
    let scratch = Scratch::new("sync")?;
    let out = scratch.0.join("out");
    let started = Instant::now();
    for b in 0..batches {
        let temp = out.join(format!(".batch-{b}.tmp"));
        std::fs::create_dir(&temp)?;
        for p in 0..parts {
            durable::write_synced(&temp.join(format!("part-{p:05}.jsonl")), b"[\"a\",1]\n")?;
        }
        durable::write_synced(&temp.join("_SUCCESS"), b"{}")?;
        durable::sync_dir(&temp)?;
        durable::rename(&temp, &out.join(format!("batch-{b}")))?;
        durable::sync_dir(&out)?;
    }
    Ok(started.elapsed() / batches.max(1) as u32)
}

/// The native word count with the same I/O: per file, read it, count its words, write
/// the counts to a file that is synced and renamed into place. Returns the time taken.
pub fn native_word_count(data: &Dataset) -> anyhow::Result<Duration> {
    let scratch = Scratch::new("native")?;
    let files = write_files(data, &scratch.0.join("in"))?;
    let started = Instant::now();
    for (i, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path)?;
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for line in text.lines() {
            for word in line.split_whitespace() {
                *counts.entry(word).or_insert(0) += 1;
            }
        }
        let mut out = String::new();
        for (word, n) in &counts {
            out.push_str(&format!("[{word:?},{n}]\n"));
        }
        let temp = scratch.0.join("out").join(format!(".batch-{i}"));
        std::fs::create_dir_all(&temp)?;
        durable::write_synced(&temp.join("part-00000"), out.as_bytes())?;
        durable::sync_dir(&temp)?;
        durable::rename(&temp, &scratch.0.join("out").join(format!("batch-{i}")))?;
        durable::sync_dir(&scratch.0.join("out"))?;
    }
    Ok(started.elapsed())
}
