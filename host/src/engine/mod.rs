//! Running a pipeline: the threads and the loop that ties sources, scheduler, executor
//! and sinks together.
//!
//! Receivers fill their buffers on their own threads; the scheduler thread cuts a
//! [`BatchInput`](crate::batch::BatchInput) every interval and queues it; this module's
//! loop takes batches off the queue in order, runs each through the
//! [`Executor`] (all partitions in parallel), writes sinks, and reports. When the
//! sources end or shutdown is raised, the queue drains and [`run`] returns the totals.
//! Around every batch, [`BatchListener`]s are told and the sources' rates adjusted
//! (`observe`).

mod executor;
mod listener;
mod observe;
mod report;

pub use executor::{BatchResult, Executor, PendingChanges, StageMetrics};
pub use listener::{BatchListener, CompletedBatch, PluginCalls, RunInfo};
pub use report::{BatchReport, RunSummary};

use crate::batch::{BatchInput, BatchScheduler, Clock, Shutdown};
use crate::config::Pipeline;
use crate::plugin::{Registry, Runtime};
use crate::sink::{self, Sink, SinkBatch};
use crate::source::{self, SourceHandle};
use anyhow::Context as _;
use observe::Observers;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything a pipeline needs to run, opened and checked.
pub struct Prepared {
    pipeline: Pipeline,
    executor: Executor,
    sinks: Vec<Box<dyn Sink>>,
    _runtime: Runtime,
}

impl Prepared {
    /// Loads and checks every plugin, plans the pipeline and opens its sinks. Nothing
    /// is read yet: a pipeline that fails here has consumed no input.
    pub fn new(pipeline: Pipeline) -> anyhow::Result<Self> {
        let runtime = Runtime::new().context("cannot start the WebAssembly runtime")?;
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
            _runtime: runtime,
        })
    }

    /// Opens the sources and runs batches until the sources end or `shutdown` is
    /// raised; then finishes the queued batches and returns the totals.
    pub fn run(self, clock: Arc<dyn Clock>, shutdown: Shutdown) -> anyhow::Result<RunSummary> {
        self.run_observed(clock, shutdown, Vec::new())
    }

    /// [`Prepared::run`], telling `listeners` about every batch.
    pub fn run_observed(
        mut self,
        clock: Arc<dyn Clock>,
        shutdown: Shutdown,
        listeners: Vec<Box<dyn BatchListener>>,
    ) -> anyhow::Result<RunSummary> {
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
        let handles: Vec<Arc<SourceHandle>> = sources.iter().map(|s| s.handle().clone()).collect();
        let mut observers = Observers::start(
            listeners,
            &self.pipeline,
            &handles,
            &self.executor,
            clock.now_ms(),
            scheduler.first_batch_time(),
        );
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
        for input in queue.iter() {
            observers.batch_started(input.time_ms);
            let report = self.process(input, &*clock);
            report.log();
            summary.add(&report);
            observers.batch_completed(&report, &self.executor, queue.len(), clock.now_ms());
        }
        let _ = scheduling.join();
        observers.finish(&summary);
        Ok(summary)
    }

    fn process(&mut self, input: BatchInput, clock: &dyn Clock) -> BatchReport {
        let time_ms = input.time_ms;
        let scheduling_delay = Duration::from_millis(clock.now_ms().saturating_sub(time_ms));
        let started = Instant::now();
        let mut records_in = vec![0; self.pipeline.sources.len()];
        let mut stages = Vec::new();
        let mut records_out = 0;
        let outcome = self
            .executor
            .run(input)
            .map_err(|e| e.to_string())
            .and_then(|(result, changes)| {
                records_in = result.records_in.clone();
                stages = result.stages.clone();
                records_out = self.write_sinks(&result)?;
                // Only a batch whose output is written changes state.
                self.executor.commit(changes);
                Ok(())
            });
        BatchReport {
            time_ms,
            records_in,
            records_out,
            scheduling_delay,
            processing_time: started.elapsed(),
            stages,
            error: outcome.err(),
        }
    }

    fn write_sinks(&mut self, result: &BatchResult) -> Result<u64, String> {
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
            })
            .map_err(|e| format!("sink `{}`: {e:#}", spec.name))?;
            written += partitions.iter().map(|p| p.len() as u64).sum::<u64>();
        }
        Ok(written)
    }
}
