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

mod durability;
mod executor;
mod failure;
#[cfg(test)]
mod harness;
mod listener;
mod observe;
mod output;
mod plugins;
#[cfg(test)]
mod recovery_tests;
mod report;
#[cfg(test)]
mod swap_tests;
#[cfg(test)]
mod tests;
mod versions;
#[cfg(test)]
mod window_tests;

pub use executor::{BatchResult, Executor, Materialized, PendingChanges, StageMetrics};
pub use listener::{BatchListener, CompletedBatch, PluginCalls, RunInfo};
pub use report::{BatchReport, RunSummary};

use crate::batch::{BatchInput, BatchScheduler, Clock, Shutdown};
use crate::checkpoint::{Journal, JournalEntry};
use crate::config::OnError;
use crate::config::Pipeline;
use crate::plugin::{Registry, Runtime};
use crate::record::Records;
use crate::source::{self, Source, SourceHandle};
use crate::source::{Descriptor, Position};
use crate::swap::{Edit, PipelineEdits, WatchMode};
use anyhow::Context as _;
use durability::Durability;
use failure::BatchFailure;
use observe::Observers;
use output::Output;
use plugins::Plugins;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A pipeline's job: everything it needs to run (plugins loaded and checked, sinks
/// open, state recovered), and the batch loop that runs it.
pub struct Job {
    pipeline: Pipeline,
    executor: Executor,
    output: Output,
    plugins: Plugins,
    durability: Option<Durability>,
    /// Why the pipeline stops, once a batch failed for good under a policy that stops
    /// (`on_batch_failure` or a stage's `on_error`): no further batch runs.
    stopped: Option<String>,
    /// The last batch done with (written, or its input set aside), which the last
    /// checkpoint covers.
    completed: Option<u64>,
    /// This process's lock on the checkpoint directory, held while it runs.
    _lock: Option<crate::checkpoint::DirLock>,
    /// Edits of the pipeline file, read while `sluice dev` runs.
    edits: Option<PipelineEdits>,
}

/// Records that recovery could not give again: received without a write-ahead log.
#[derive(Default)]
struct Lost {
    /// In no output and not in the state: lost in the crash.
    records: u64,
    /// In the output of batches written before the crash, but not in the restored state.
    state_only: u64,
}

impl Lost {
    fn log(&self) {
        if self.records + self.state_only == 0 {
            return;
        }
        tracing::warn!(
            "recovery: {} received records were lost in the crash, and {} more are in the output written before it but not in the restored state; set `wal = true` on the receiving sources to keep them",
            self.records,
            self.state_only
        );
    }
}

/// Tells how a graceful stop's drain goes: how many batches are left and, from the
/// mean processing time so far, about how long they take; again every 5 seconds.
#[derive(Default)]
struct Drain {
    last: Option<Instant>,
}

impl Drain {
    fn report(&mut self, left: usize, summary: &RunSummary, journaled: bool) {
        if self
            .last
            .is_some_and(|at| at.elapsed() < Duration::from_secs(5))
        {
            return;
        }
        let mean = summary
            .processing_time
            .checked_div(summary.batches.max(1) as u32)
            .unwrap_or_default();
        let estimate = mean * left as u32;
        tracing::info!(
            "stopping: {left} queued batches to finish, about {:.1} s at {} ms per batch so far (interrupt again to exit now{})",
            estimate.as_secs_f64(),
            mean.as_millis(),
            if journaled {
                "; the unfinished ones stay journaled for the next start"
            } else {
                "; without checkpoint_dir the unfinished ones are lost"
            }
        );
        self.last = Some(Instant::now());
    }
}

/// How to start.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Resume from a checkpoint even if some of its stateful stages are gone.
    pub allow_non_restored_state: bool,
    /// Move the checkpoint directory's contents aside and start from nothing.
    pub reset_state: bool,
}

impl Job {
    /// Loads and checks every plugin, plans the pipeline, opens its sinks and, with a
    /// checkpoint directory, restores the newest checkpoint. Nothing is read yet: a
    /// pipeline that fails here has consumed no input.
    pub fn new(pipeline: Pipeline, options: Options) -> anyhow::Result<Self> {
        let runtime = Arc::new(Runtime::new().context("cannot start the WebAssembly runtime")?);
        let lock = match &pipeline.checkpoint {
            Some(spec) => {
                let lock = crate::checkpoint::DirLock::acquire(&spec.dir)?;
                for path in crate::checkpoint::remove_temporaries(&lock, &spec.dir)? {
                    tracing::info!(
                        "removed {}, a temporary file an interrupted write left",
                        path.display()
                    );
                }
                Some(lock)
            }
            None => None,
        };
        if let (true, Some(spec)) = (options.reset_state, &pipeline.checkpoint) {
            durability::reset(spec)?;
        }
        let recovered =
            versions::recover(&pipeline, Registry::load(&pipeline, &runtime)?, &runtime)?;
        let mut executor = Executor::new(&pipeline, &recovered.registry);
        let durability = match &pipeline.checkpoint {
            Some(spec) => Some(Durability::open(
                spec,
                &pipeline,
                &mut executor,
                &recovered.registry,
                options,
            )?),
            None => None,
        };
        let plugins = Plugins::recovered(recovered, runtime);
        let mut job = Job::with_sinks(pipeline, executor, plugins)?;
        job.durability = durability;
        job._lock = lock;
        Ok(job)
    }

    /// A job of `pipeline` on `executor` and `plugins`, its sinks opened, with no
    /// checkpoint directory yet.
    fn with_sinks(
        pipeline: Pipeline,
        executor: Executor,
        plugins: Plugins,
    ) -> anyhow::Result<Self> {
        let output = Output::open(&pipeline, &executor.plan().sinks)?;
        Ok(Job {
            pipeline,
            executor,
            output,
            plugins,
            durability: None,
            stopped: None,
            completed: None,
            _lock: None,
            edits: None,
        })
    }

    /// A job of `pipeline` on the plugin versions of `registry` as they are, without a
    /// checkpoint directory (the engine's in-process tests).
    #[cfg(test)]
    fn assemble(pipeline: Pipeline, registry: Registry) -> anyhow::Result<Self> {
        let executor = Executor::new(&pipeline, &registry);
        let plugins = Plugins::new(registry, Arc::new(Runtime::new()?));
        Job::with_sinks(pipeline, executor, plugins)
    }

    /// Watches the pipeline's plugins and swaps in new versions while it runs.
    /// In `sluice dev` it also reads the pipeline file again when it is saved.
    pub fn watch(&mut self, mode: WatchMode) -> anyhow::Result<()> {
        if mode == WatchMode::WasmAndCrates {
            self.edits = Some(PipelineEdits::start(&self.pipeline)?);
        }
        self.plugins.watch(&self.pipeline, mode)
    }

    /// Applies the pipeline file's edits read since the last batch.
    fn apply_edits(&mut self, handles: &[Arc<SourceHandle>]) {
        let Some(edits) = &self.edits else {
            return;
        };
        for edit in edits.ready() {
            let applied = match &edit {
                Edit::Sink { name, settings, .. } => self.output.reconfigure(name, &**settings),
                Edit::MaxRate {
                    source, max_rate, ..
                } => handles
                    .iter()
                    .find(|h| h.name() == source)
                    .map(|h| h.limit().set_max_rate(*max_rate))
                    .is_some(),
                Edit::PluginLimits { plugin, limits, .. } => {
                    match self.plugins.set_limits(plugin, *limits, &mut self.executor) {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(
                                "plugin `{plugin}`: cannot run it under the edited limits ({e:#}); it keeps its limits"
                            );
                            false
                        }
                    }
                }
            };
            if applied {
                tracing::info!(
                    event = "pipeline_edit_applied",
                    key = %edit.key(),
                    "{}: `{}` changed; applied from this batch on",
                    self.pipeline.file.display(),
                    edit.key()
                );
            } else {
                tracing::warn!(
                    event = "pipeline_edit_needs_restart",
                    keys = %edit.key(),
                    "{}: `{}` changed, and it takes effect only on a restart of sluice",
                    self.pipeline.file.display(),
                    edit.key()
                );
            }
        }
    }

    /// Opens the sources, re-runs journaled batches a crash interrupted, and runs
    /// batches until the sources end or `shutdown` is raised; then finishes the queued
    /// batches, writes a last checkpoint and returns the totals.
    pub fn run(self, clock: Arc<dyn Clock>, shutdown: Shutdown) -> anyhow::Result<RunSummary> {
        self.run_observed(clock, shutdown, Vec::new())
    }

    /// [`Job::run`], telling `listeners` about every batch.
    ///
    /// The loop of ARCHITECTURE.md's diagram: sources feed the scheduler thread, which
    /// journals and queues a batch every interval; here each queued batch runs (after
    /// any swap prepared since the last), is written and reported, until the queue ends.
    pub fn run_observed(
        mut self,
        clock: Arc<dyn Clock>,
        shutdown: Shutdown,
        listeners: Vec<Box<dyn BatchListener>>,
    ) -> anyhow::Result<RunSummary> {
        self.output.watch(&shutdown);
        if !self.durability.as_ref().is_some_and(|d| d.restored) {
            self.executor
                .load_initial_state(&self.pipeline, clock.now_ms())?;
        }
        let mut sources = self.open_sources()?;
        let (scheduler, journal, replay) = self.resume(&sources, clock.now_ms());
        let handles: Vec<Arc<SourceHandle>> = sources.iter().map(|s| s.handle().clone()).collect();
        let first = replay
            .first()
            .map_or(scheduler.first_batch_time(), |e| e.batch_time_ms);
        let mut observers = Observers::start(
            listeners,
            &self.pipeline,
            &handles,
            &self.executor,
            clock.now_ms(),
            first,
        );
        let mut summary = RunSummary::default();
        self.rerun_journaled(replay, &mut sources, &*clock, &mut observers, &mut summary);
        let (scheduling, queue) = start_scheduler(scheduler, sources, journal, &clock, &shutdown)?;
        self.log_start();
        if let Some(reason) = &self.stopped {
            // A journaled batch failed again: new batches would only queue behind it.
            tracing::error!("stopping: {reason}");
            shutdown.raise();
        }
        let mut drain = Drain::default();
        let mut idle = report::Idle::default();
        for input in queue.iter() {
            if self.stopped.is_some() {
                // Journaled, not processed: a restart runs it.
                summary.not_run += 1;
                continue;
            }
            if shutdown.is_raised() {
                drain.report(queue.len() + 1, &summary, self.durability.is_some());
            }
            // Between two batches: the only place a plugin version changes.
            self.plugins.apply_swaps(&mut self.executor);
            self.apply_edits(&handles);
            observers.batch_started(input.time_ms);
            let report = self.process(input, &*clock);
            idle.log(&report);
            summary.add(&report);
            observers.batch_completed(&report, &self.executor, queue.len(), clock.now_ms());
            if let Some(reason) = &self.stopped {
                tracing::error!("stopping: {reason}");
                shutdown.raise();
            }
        }
        let _ = scheduling.join();
        summary.stopped = self.stopped.clone();
        self.finish();
        observers.finish(&summary);
        Ok(summary)
    }

    /// Opens every source where the newest checkpoint left it.
    fn open_sources(&self) -> anyhow::Result<Vec<Box<dyn Source>>> {
        let interval_ms = self.pipeline.batch_interval.as_millis() as u64;
        let positions: Vec<Position> = match &self.durability {
            Some(d) => d.positions().to_vec(),
            None => vec![Position::Start; self.pipeline.sources.len()],
        };
        let checkpoint_dir = self.durability.as_ref().map(|d| d.dir().to_path_buf());
        let sources = self
            .pipeline
            .sources
            .iter()
            .zip(&positions)
            .map(|(spec, position)| {
                source::open(
                    spec,
                    self.pipeline.partitions,
                    interval_ms,
                    position,
                    checkpoint_dir.as_deref(),
                )
                .with_context(|| format!("source `{}`", spec.name))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(sources)
    }

    /// Wires the sources to the output (committers) and to the checkpoints (receivers'
    /// buffers); gives the scheduler (resuming after the newest journaled batch), the
    /// journal it appends to, and the journaled batches a crash interrupted.
    fn resume(
        &mut self,
        sources: &[Box<dyn Source>],
        now_ms: u64,
    ) -> (BatchScheduler, Option<Arc<Journal>>, Vec<JournalEntry>) {
        self.output
            .set_committers(sources.iter().map(|s| s.committer()).collect());
        let interval = self.pipeline.batch_interval;
        let Some(durability) = &mut self.durability else {
            return (BatchScheduler::new(interval, now_ms), None, Vec::new());
        };
        durability.set_receivers(sources.iter().map(|s| s.received()).collect());
        let scheduler = match durability.resume_after {
            Some(last) => BatchScheduler::resuming(interval, last),
            None => BatchScheduler::new(interval, now_ms),
        };
        (
            scheduler,
            Some(durability.journal()),
            std::mem::take(&mut durability.replay),
        )
    }

    /// Runs again, in order, the journaled batches a crash interrupted.
    fn rerun_journaled(
        &mut self,
        replay: Vec<JournalEntry>,
        sources: &mut [Box<dyn Source>],
        clock: &dyn Clock,
        observers: &mut Observers,
        summary: &mut RunSummary,
    ) {
        let mut lost = Lost::default();
        for entry in replay {
            if self.stopped.is_some() {
                break;
            }
            observers.batch_started(entry.batch_time_ms);
            let Some(report) = self.replay(entry, sources, clock, &mut lost) else {
                continue;
            };
            report.log(false);
            summary.add(&report);
            observers.batch_completed(&report, &self.executor, 0, clock.now_ms());
        }
        lost.log();
    }

    fn log_start(&self) {
        tracing::info!(
            event = "pipeline_started",
            pipeline = %self.pipeline.name,
            sources = self.pipeline.sources.len(),
            stages = self.pipeline.stages.len(),
            sinks = self.pipeline.sinks.len(),
            partitions = self.pipeline.partitions,
            interval_ms = self.pipeline.batch_interval.as_millis() as u64,
            "running pipeline `{}`: {} sources, {} stages, {} sinks, {} partitions, batch interval {} ms",
            self.pipeline.name,
            self.pipeline.sources.len(),
            self.pipeline.stages.len(),
            self.pipeline.sinks.len(),
            self.pipeline.partitions,
            self.pipeline.batch_interval.as_millis()
        );
    }

    /// After the last batch: a last checkpoint, and its writer done.
    fn finish(&mut self) {
        if let (Some(durability), Some(time)) = (&mut self.durability, self.completed) {
            durability.checkpoint(
                time,
                &self.pipeline,
                &self.executor,
                self.plugins.registry(),
                true,
            );
        }
        if let Some(durability) = &mut self.durability {
            durability.wait_for_writer();
        }
    }

    fn process(&mut self, mut input: BatchInput, clock: &dyn Clock) -> BatchReport {
        let descriptors: Vec<Descriptor> = input.sources.iter().map(|s| s.descriptor()).collect();
        let scheduling_delay = Duration::from_millis(clock.now_ms().saturating_sub(input.time_ms));
        let started = Instant::now();
        let not_durable = input.not_durable.take();
        let batch = self.executor.materialize(input);
        self.process_batch(batch, &descriptors, not_durable, scheduling_delay, started)
    }

    /// Runs a journaled batch again, with exactly the input it had.
    /// Runs a journaled batch again, with exactly the input it had; returns `None` for
    /// a batch that is not run again: its output was written before the crash and part
    /// of its input cannot be given again, so running it would write less.
    fn replay(
        &mut self,
        entry: JournalEntry,
        sources: &mut [Box<dyn source::Source>],
        clock: &dyn Clock,
        lost: &mut Lost,
    ) -> Option<BatchReport> {
        let time_ms = entry.batch_time_ms;
        let unreplayable: u64 = entry
            .sources
            .iter()
            .map(|d| match d {
                Descriptor::Volatile { records } => *records,
                _ => 0,
            })
            .sum();
        if entry.completed && unreplayable > 0 {
            lost.state_only += unreplayable;
            tracing::warn!(
                "batch {time_ms} is not computed again: its output was written before the crash, and {unreplayable} of its records were received without a write-ahead log, so they are not in the restored state"
            );
            self.completed = Some(time_ms);
            return None;
        }
        let started = Instant::now();
        let scheduling_delay = Duration::from_millis(clock.now_ms().saturating_sub(time_ms));
        let mut inputs = Vec::with_capacity(sources.len());
        for ((source, descriptor), spec) in sources
            .iter_mut()
            .zip(&entry.sources)
            .zip(&self.pipeline.sources)
        {
            match source.replay(descriptor, self.pipeline.partitions) {
                Ok(parts) => inputs.push(parts),
                Err(e) => {
                    if let Descriptor::Volatile { records } = descriptor {
                        lost.records += records;
                    }
                    tracing::error!(
                        "batch {time_ms} runs again without the records of source `{}`: {e:#}",
                        spec.name
                    );
                    // An empty share, not "no batch": the batch still happened.
                    inputs.push(vec![Records::new(); self.pipeline.partitions]);
                }
            }
        }
        tracing::info!(
            event = "batch_rerun",
            batch = time_ms,
            "computing journaled batch {time_ms} again"
        );
        let batch = Materialized {
            time_ms,
            sources: inputs,
        };
        Some(self.process_batch(batch, &entry.sources, None, scheduling_delay, started))
    }

    fn process_batch(
        &mut self,
        batch: Materialized,
        descriptors: &[Descriptor],
        not_durable: Option<String>,
        scheduling_delay: Duration,
        started: Instant,
    ) -> BatchReport {
        let time_ms = batch.time_ms;
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
            dead_letters: 0,
            checkpoint_time: None,
            error: None,
        };
        let failure = match not_durable {
            // Running it would make output that no crash could make again: it fails.
            Some(message) => Some(BatchFailure {
                place: "the batch journal".into(),
                component: "journal".into(),
                stage_stops: false,
                message,
            }),
            None => self.attempt(&batch, descriptors, &mut report),
        };
        if let Some(failure) = failure {
            report.versions = self.plugins.registry().versions();
            report.error = Some(failure.message.clone());
            report.dead_letters = self.handle_failed_batch(&batch, &failure, &report.versions);
        } else if let Some(durability) = &self.durability
            && descriptors
                .iter()
                .any(|d| matches!(d, Descriptor::Volatile { records } if *records > 0))
            && let Err(e) = durability.journal().mark_completed(time_ms)
        {
            // Only recovery's accounting depends on it: the batch itself is done.
            tracing::warn!("cannot mark batch {time_ms} completed in the batch journal: {e}");
        }
        if self.stopped.is_none() {
            // The batch is done with: its output is written, or its input set aside.
            self.completed = Some(time_ms);
            if let Some(durability) = &mut self.durability {
                report.checkpoint_time = durability.after_batch(
                    time_ms,
                    descriptors,
                    &self.pipeline,
                    &self.executor,
                    self.plugins.registry(),
                );
            }
        }
        report.processing_time = started.elapsed();
        report
    }

    /// Runs the batch until it succeeds, rolling back versions on probation that fail
    /// and retrying other failures `batch_retries` times. Returns the last failure if
    /// no attempt succeeded.
    fn attempt(
        &mut self,
        batch: &Materialized,
        descriptors: &[Descriptor],
        report: &mut BatchReport,
    ) -> Option<BatchFailure> {
        let time_ms = batch.time_ms;
        let retries = self.pipeline.failure.retries;
        let mut attempt = 0;
        loop {
            report.versions = self.plugins.registry().versions();
            self.executor.set_probation(self.plugins.probation_hashes());
            let failure = match self.executor.run(batch) {
                Ok((result, changes)) => {
                    report.stages = result.stages.clone();
                    report.dead_letters = result.dead_letters.len() as u64;
                    match self.output.write(&result, &report.versions) {
                        Ok(written) => {
                            report.records_out = written;
                            // Only a batch whose output is written changes state.
                            self.executor.commit(changes);
                            self.output.complete(descriptors);
                            self.plugins.end_proven_probations(
                                &report.stages,
                                &self.executor,
                                self.pipeline.failure.probation_batches,
                            );
                            return None;
                        }
                        Err(e) => e.failure(),
                    }
                }
                Err(e) if self.plugins.rolls_back(&e, time_ms, &mut self.executor) => continue,
                Err(e) => BatchFailure {
                    place: format!("stage `{}`", e.stage),
                    component: e.stage.clone(),
                    stage_stops: self.stage_policy(&e.stage) == Some(OnError::Stop),
                    message: e.to_string(),
                },
            };
            if attempt >= retries {
                return Some(failure);
            }
            attempt += 1;
            let wait = failure::backoff(attempt);
            tracing::warn!(
                "batch {time_ms} failed ({failure}); attempt {} of {} in {} ms",
                attempt + 1,
                retries + 1,
                wait.as_millis()
            );
            std::thread::sleep(wait);
        }
    }
}

/// Starts the scheduler's thread: it cuts `sources` every interval, journals each batch
/// and queues it.
fn start_scheduler(
    scheduler: BatchScheduler,
    mut sources: Vec<Box<dyn Source>>,
    journal: Option<Arc<Journal>>,
    clock: &Arc<dyn Clock>,
    shutdown: &Shutdown,
) -> anyhow::Result<(
    std::thread::JoinHandle<u64>,
    crossbeam_channel::Receiver<BatchInput>,
)> {
    let (batches, queue) = crossbeam_channel::unbounded::<BatchInput>();
    let (clock, shutdown) = (clock.clone(), shutdown.clone());
    let thread = std::thread::Builder::new()
        .name("batch-scheduler".into())
        .spawn(move || {
            scheduler.run(
                &*clock,
                &mut sources,
                &shutdown,
                &batches,
                journal.as_deref(),
            )
        })?;
    Ok((thread, queue))
}
