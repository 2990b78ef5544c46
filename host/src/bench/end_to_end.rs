//! A workload as users run it: files on disk taken by the directory source (one file a
//! batch), the real batch loop (scheduler, source cut, executor) and the files sink,
//! which writes each batch as a synced directory renamed into place. Timed the way
//! `sluice run` reports it: the processing time of the batches (from the start of a
//! batch, reading its files included, to the end of its sinks), and the CPU time of the
//! whole process (every thread: scheduler, partitions, sinks) batch by batch.
//!
//! The native baseline does the same I/O on one thread: read the files, run the
//! workload's logic, write each batch's output to a file that is synced and renamed
//! into place.

use super::data::Dataset;
use super::native::{Emit, Keyed};
use crate::batch::{Shutdown, SystemClock};
use crate::config;
use crate::durable;
use crate::engine::{BatchListener, CompletedBatch, Job, Options};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one end-to-end run took, counting only the batches that read lines: every file
/// is there from the start, so the batch times that pass while the backlog runs come
/// due afterwards as empty batches (running totals and windows still output), which a
/// pipeline that keeps up would not have.
#[derive(Default)]
pub struct Measured {
    /// The process's CPU time (all threads) from the end of the batch before each of
    /// them to its own end, summed.
    pub cpu: Duration,
    /// Their processing time, in order.
    pub per_batch: Vec<Duration>,
    /// The longest one of them waited past its time for the batch before it.
    pub max_scheduling_delay: Duration,
}

impl Measured {
    /// Batches that read lines.
    pub fn batches(&self) -> usize {
        self.per_batch.len()
    }

    /// Their processing time, summed.
    pub fn processing(&self) -> Duration {
        self.per_batch.iter().sum()
    }

    /// The `q`-quantile (0 to 1) of the batches' processing time.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.per_batch.clone();
        sorted.sort();
        let at = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
        sorted.get(at).copied().unwrap_or_default()
    }
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

/// Stops the run once every line has been through a batch, and measures the batches
/// that read lines on the way.
struct StopWhenRead {
    expected: u64,
    seen: u64,
    shutdown: Shutdown,
    cpu_at_last: Duration,
    measured: Arc<Mutex<Measured>>,
}

impl BatchListener for StopWhenRead {
    fn on_batch_completed(&mut self, batch: &CompletedBatch<'_>) {
        let now = cpu_time();
        let cpu = now.saturating_sub(self.cpu_at_last);
        self.cpu_at_last = now;
        let read = batch.report.total_in();
        if read > 0 {
            let mut m = self.measured.lock().unwrap_or_else(|e| e.into_inner());
            m.cpu += cpu;
            m.per_batch.push(batch.report.processing_time);
            m.max_scheduling_delay = m.max_scheduling_delay.max(batch.report.scheduling_delay);
        }
        self.seen += read;
        if self.seen >= self.expected {
            self.shutdown.raise();
        }
    }
}

/// The CPU time this process has used, all threads (zero where the clock is missing).
fn cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }
    #[cfg(not(unix))]
    Duration::ZERO
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
    let measured = Arc::new(Mutex::new(Measured::default()));
    let stop = StopWhenRead {
        expected: data.len() as u64,
        seen: 0,
        shutdown: shutdown.clone(),
        cpu_at_last: cpu_time(),
        measured: measured.clone(),
    };
    let summary = job.run_observed(Arc::new(SystemClock), shutdown, vec![Box::new(stop)])?;
    if summary.records_in != data.len() as u64 || summary.failed > 0 {
        anyhow::bail!(
            "the end-to-end run read {} of {} lines with {} failed batches",
            summary.records_in,
            data.len(),
            summary.failed
        );
    }
    let measured = std::mem::take(&mut *measured.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(measured)
}

/// What the files sink's exactly-once protocol costs a batch with nothing else to do:
/// a staging directory, `parts` part files and `_SUCCESS` written and synced, the
/// directory synced, renamed into place and its parent synced. The mean wall and CPU
/// time over `batches`.
pub fn sync_floor(parts: usize, batches: usize) -> anyhow::Result<(Duration, Duration)> {
    let scratch = Scratch::new("sync")?;
    let out = scratch.0.join("out");
    let parts: Vec<(String, &[u8])> = (0..parts)
        .map(|p| (format!("part-{p:05}.jsonl"), &b"[\"a\",1]\n"[..]))
        .chain([("_SUCCESS".to_string(), &b"{}"[..])])
        .collect();
    let started = Instant::now();
    let cpu = cpu_time();
    for b in 0..batches {
        commit_batch(&out, b, &parts)?;
    }
    let n = batches.max(1) as u32;
    Ok((started.elapsed() / n, cpu_time().saturating_sub(cpu) / n))
}

/// Writes `files` as batch `index`'s directory in `out` the way the files sink commits
/// a batch: a staging directory, each file written and synced, the directory synced,
/// renamed into place, the parent synced.
fn commit_batch(out: &Path, index: usize, files: &[(String, &[u8])]) -> std::io::Result<()> {
    let temp = out.join(format!(".batch-{index}.tmp"));
    std::fs::create_dir(&temp)?;
    for (name, bytes) in files {
        durable::write_synced(&temp.join(name), bytes)?;
    }
    durable::sync_dir(&temp)?;
    durable::rename(&temp, &out.join(format!("batch-{index}")))?;
    durable::sync_dir(out)
}

/// Each batch's output written as the files sink writes it ([`commit_batch`], one part).
struct SyncedFiles {
    out: PathBuf,
    error: Option<std::io::Error>,
}

impl Emit for SyncedFiles {
    fn batch(&mut self, index: usize, pairs: &mut dyn Iterator<Item = (&str, u64)>) {
        let mut text = String::new();
        for (word, n) in pairs {
            let _ = writeln!(text, "[{word:?},{n}]");
        }
        let part = [("part-00000.jsonl".to_string(), text.as_bytes())];
        if let Err(e) = commit_batch(&self.out, index, &part) {
            self.error.get_or_insert(e);
        }
    }
}

/// A native workload with the same I/O as [`run`]: every file read, the workload's
/// logic, each batch's output written as the files sink writes it. Returns the time
/// taken.
pub fn native(data: &Dataset, workload: Keyed) -> anyhow::Result<Duration> {
    let scratch = Scratch::new("native")?;
    let files = write_files(data, &scratch.0.join("in"))?;
    let started = Instant::now();
    let texts = files
        .iter()
        .map(std::fs::read_to_string)
        .collect::<Result<Vec<_>, _>>()?;
    let batches: Vec<Vec<&str>> = texts.iter().map(|t| t.lines().collect()).collect();
    let mut sink = SyncedFiles {
        out: scratch.0.join("out"),
        error: None,
    };
    workload(&batches, &mut sink);
    if let Some(e) = sink.error {
        return Err(e.into());
    }
    Ok(started.elapsed())
}
