//! Running a pipeline: the threads and the loop that ties sources, scheduler, executor
//! and sinks together.
//!
//! Receivers fill their buffers on their own threads; the scheduler thread cuts a
//! [`BatchInput`](crate::batch::BatchInput) every interval and queues it; this module's
//! loop takes batches off the queue in order, runs each through the
//! [`Executor`] (all partitions in parallel), writes sinks, and reports. When the
//! sources end or shutdown is raised, the queue drains and [`run`] returns the totals.

mod executor;
mod report;
mod swapping;

pub use executor::{BatchResult, Executor, Materialized, PendingChanges, StageMetrics};
pub use report::{BatchReport, RunSummary};

use crate::batch::{BatchInput, BatchScheduler, Clock, Shutdown};
use crate::config::Pipeline;
use crate::plugin::{Registry, Runtime};
use crate::sink::{self, Sink, SinkBatch};
use crate::source;
use crate::swap::{HotSwap, WatchMode};
use anyhow::Context as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swapping::Probation;

/// Everything a pipeline needs to run, opened and checked.
pub struct Prepared {
    pipeline: Pipeline,
    executor: Executor,
    sinks: Vec<Box<dyn Sink>>,
    registry: Registry,
    runtime: Arc<Runtime>,
    hot_swap: Option<HotSwap>,
    /// Versions swapped in that have not yet completed a batch.
    probations: Vec<Probation>,
}

impl Prepared {
    /// Loads and checks every plugin, plans the pipeline and opens its sinks. Nothing
    /// is read yet: a pipeline that fails here has consumed no input.
    pub fn new(pipeline: Pipeline) -> anyhow::Result<Self> {
        let runtime = Arc::new(Runtime::new().context("cannot start the WebAssembly runtime")?);
        let registry = Registry::load(&pipeline, &runtime)?;
        let executor = Executor::new(&pipeline, &registry);
        let sinks = pipeline
            .sinks
            .iter()
            .map(|spec| sink::open(spec).with_context(|| format!("sink `{}`", spec.name)))
            .collect::<anyhow::Result<_>>()?;
        Ok(Prepared {
            pipeline,
            executor,
            sinks,
            registry,
            runtime,
            hot_swap: None,
            probations: Vec::new(),
        })
    }

    /// Watches the pipeline's plugins and swaps in new versions while it runs.
    pub fn watch(&mut self, mode: WatchMode) -> anyhow::Result<()> {
        self.hot_swap = Some(HotSwap::start(
            &self.pipeline,
            self.runtime.clone(),
            &self.registry,
            mode,
        )?);
        Ok(())
    }

    /// Opens the sources and runs batches until the sources end or `shutdown` is
    /// raised; then finishes the queued batches and returns the totals.
    pub fn run(mut self, clock: Arc<dyn Clock>, shutdown: Shutdown) -> anyhow::Result<RunSummary> {
        let interval_ms = self.pipeline.batch_interval.as_millis() as u64;
        self.executor
            .load_initial_state(&self.pipeline, clock.now_ms())?;
        let mut sources = self
            .pipeline
            .sources
            .iter()
            .map(|spec| {
                source::open(spec, self.pipeline.partitions, interval_ms)
                    .with_context(|| format!("source `{}`", spec.name))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let scheduler = BatchScheduler::new(self.pipeline.batch_interval, clock.now_ms());
        let (batches, queue) = crossbeam_channel::unbounded::<BatchInput>();
        let scheduling = {
            let (clock, shutdown) = (clock.clone(), shutdown.clone());
            std::thread::Builder::new()
                .name("batch-scheduler".into())
                .spawn(move || scheduler.run(&*clock, &mut sources, &shutdown, &batches))?
        };
        tracing::info!(
            "running pipeline `{}`: {} sources, {} stages, {} sinks, {} partitions, batch interval {} ms",
            self.pipeline.name,
            self.pipeline.sources.len(),
            self.pipeline.stages.len(),
            self.pipeline.sinks.len(),
            self.pipeline.partitions,
            interval_ms
        );
        let mut summary = RunSummary::default();
        for input in queue {
            // Between two batches: the only place a plugin version changes.
            self.apply_swaps();
            let report = self.process(input, &*clock);
            report.log();
            summary.add(&report);
        }
        let _ = scheduling.join();
        Ok(summary)
    }

    fn process(&mut self, input: BatchInput, clock: &dyn Clock) -> BatchReport {
        let time_ms = input.time_ms;
        let scheduling_delay = Duration::from_millis(clock.now_ms().saturating_sub(time_ms));
        let started = Instant::now();
        let batch = self.executor.materialize(input);
        let mut report = BatchReport {
            time_ms,
            records_in: batch
                .sources
                .iter()
                .map(|parts| parts.iter().map(|p| p.len() as u64).sum())
                .collect(),
            records_out: 0,
            scheduling_delay,
            processing_time: Duration::ZERO,
            stages: Vec::new(),
            versions: Vec::new(),
            error: None,
        };
        loop {
            report.versions = self.registry.versions();
            match self.executor.run(&batch) {
                Ok((result, changes)) => {
                    report.stages = result.stages.clone();
                    match self.write_sinks(&result, &report.versions) {
                        Ok(written) => {
                            report.records_out = written;
                            // Only a batch whose output is written changes state.
                            self.executor.commit(changes);
                            self.end_proven_probations(&report.stages);
                        }
                        Err(e) => report.error = Some(e),
                    }
                }
                Err(e) if self.rolls_back(&e, time_ms) => continue,
                Err(e) => report.error = Some(e.to_string()),
            }
            break;
        }
        report.processing_time = started.elapsed();
        report
    }

    fn write_sinks(
        &mut self,
        result: &BatchResult<'_>,
        versions: &[(String, String)],
    ) -> Result<u64, String> {
        let mut written = 0;
        for ((sink, spec), &node) in self
            .sinks
            .iter_mut()
            .zip(&self.pipeline.sinks)
            .zip(&self.executor.plan().sinks)
        {
            let partitions = result.outputs[node].as_deref().unwrap_or(&[]);
            if partitions.is_empty() {
                // No batch at this time (a window between slides): nothing to write, as
                // Spark's output operations skip times with no RDD.
                continue;
            }
            sink.write(&SinkBatch {
                time_ms: result.time_ms,
                partitions,
                versions,
            })
            .map_err(|e| format!("sink `{}`: {e:#}", spec.name))?;
            written += partitions.iter().map(|p| p.len() as u64).sum::<u64>();
        }
        Ok(written)
    }
}
