//! Running a pipeline through the real engine on in-memory batches: the plugins, the
//! plugin runtime, the executor's partitions, shuffles and state, with no source
//! waiting, no scheduler sleeping and no sink writing.

use super::data::Dataset;
use crate::config::{self, Pipeline};
use crate::engine::{Executor, Materialized};
use crate::plugin::{Registry, Runtime};
use std::path::Path;
use std::time::{Duration, Instant};

/// The pipeline `text` at `partitions` partitions, with its plugins loaded.
pub fn load(text: &str, partitions: usize) -> anyhow::Result<(Pipeline, Registry)> {
    let file = Path::new("bench.toml");
    let mut pipeline = config::parse_str(file, text).map_err(|d| anyhow::anyhow!("{d}"))?;
    pipeline.partitions = partitions;
    let runtime = Runtime::new()?;
    let registry = Registry::load(&pipeline, &runtime)?;
    Ok((pipeline, registry))
}

/// `data`'s batches as the executor takes them, split into `partitions`, one every
/// `interval_ms`.
pub fn materialize(data: &Dataset, partitions: usize, interval_ms: u64) -> Vec<Materialized> {
    data.encoded
        .iter()
        .enumerate()
        .map(|(i, records)| Materialized {
            time_ms: (i as u64 + 1) * interval_ms,
            sources: vec![records.split(partitions)],
        })
        .collect()
}

/// Times one pass of `data` through the pipeline `text` (its source is replaced by the
/// data) at `partitions` partitions; returns the total and each batch's time.
pub fn run(
    text: &str,
    data: &Dataset,
    partitions: usize,
    interval_ms: u64,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let (pipeline, registry) = load(text, partitions)?;
    let mut executor = Executor::new(&pipeline, &registry);
    let batches = materialize(data, partitions, interval_ms);
    // A first batch outside the timing: instances are created, code is paged in.
    if let Some(first) = batches.first() {
        executor.run(first).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut per_batch = Vec::with_capacity(batches.len());
    let started = Instant::now();
    for batch in &batches {
        let began = Instant::now();
        let (result, changes) = executor.run(batch).map_err(|e| anyhow::anyhow!("{e}"))?;
        drop(result);
        executor.commit(changes);
        per_batch.push(began.elapsed());
    }
    Ok((started.elapsed(), per_batch))
}
