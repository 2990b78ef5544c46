//! The engine's side of fault tolerance: what to recover at start, where each source
//! stands after every batch, and checkpoints every `checkpoint_interval` batches,
//! written on a thread of their own so the next batch need not wait for the disk.

use crate::checkpoint::recovery::{check_compatible, restore};
use crate::checkpoint::{
    Checkpoint, CheckpointStore, Journal, JournalEntry, SourcePosition, snapshot_state,
};
use crate::config::{CheckpointSpec, Pipeline};
use crate::engine::Executor;
use crate::plugin::{PluginVersion, Registry};
use crate::source::{Descriptor, Position, Received};
use crate::swap::migrate::migrate_stages;
use anyhow::Context as _;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use xxhash_rust::xxh3::xxh3_64;

/// Receivers' buffers with their positions at a checkpoint.
type LogPositions = Vec<(Arc<Received>, Position)>;

/// Checkpoints, the batch journal and source positions of a running pipeline.
pub struct Durability {
    store: Arc<CheckpointStore>,
    journal: Arc<Journal>,
    interval: u32,
    since_checkpoint: u32,
    pipeline_hash: String,
    /// Per source, where it stands after the last batch processed.
    positions: Vec<Position>,
    /// Receivers' buffers, whose write-ahead logs a checkpoint lets go of.
    receivers: Vec<Option<Arc<Received>>>,
    writing: Option<JoinHandle<()>>,
    /// Receivers' log positions at the checkpoints written by this process, oldest first.
    logged: std::collections::VecDeque<(u64, LogPositions)>,
    /// Whether state came from a checkpoint (then `initial_state` files are not loaded).
    pub restored: bool,
    /// The journaled batches after the checkpoint, to run again before new ones.
    pub replay: Vec<JournalEntry>,
    /// The last batch time recovered (checkpoint or journal): new batches follow it.
    pub resume_after: Option<u64>,
}

/// Moves the checkpoint directory's contents aside (`--reset-state`): the run starts
/// from nothing.
pub fn reset(spec: &CheckpointSpec) -> anyhow::Result<()> {
    let store = CheckpointStore::open(&spec.dir)?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let aside = store.move_aside(now_ms)?;
    tracing::warn!(
        "--reset-state: starting from nothing; the checkpoints, batch journal, write-ahead logs and plugin versions that were in {} are in {} now",
        spec.dir.display(),
        aside.display()
    );
    Ok(())
}

/// A hash of the pipeline file's text, to tell whether a checkpoint came from this one.
pub fn pipeline_hash(pipeline: &Pipeline) -> String {
    let text = std::fs::read(&pipeline.file).unwrap_or_default();
    format!("{:016x}", xxh3_64(&text))
}

/// Migrates the restored state of every keyed stage whose function `version` (not the
/// version the checkpoint was written with) serves and has a `#[migrate_state]` for,
/// as a swap to it would have: a crash after a migrating swap and before the next
/// checkpoint leaves the checkpoint's state in the old encoding. Returns the keys
/// migrated.
fn migrate_restored(
    executor: &mut Executor,
    version: &Arc<PluginVersion>,
) -> anyhow::Result<usize> {
    let migrated = migrate_stages(executor.stages(), |i| executor.state(i).keyed(), version)
        .map_err(|(stage, e)| {
            anyhow::anyhow!(
                "migrating the restored state of stage `{stage}` to plugin `{}` version {}: {e}",
                version.name(),
                version.hash()
            )
        })?;
    let keys = migrated.iter().map(|(_, state)| state.len()).sum();
    for (index, state) in migrated {
        executor.replace_state(index, crate::state::StageState::Keyed(state));
    }
    Ok(keys)
}

/// Moves a source's position past a batch it gave `descriptor` to.
fn advance(position: &mut Position, descriptor: &Descriptor) {
    let mut taken = match std::mem::take(position) {
        Position::After { taken, .. } => taken,
        Position::Start => Vec::new(),
    };
    if let Descriptor::Files(files) = descriptor {
        taken.extend(
            files
                .iter()
                .filter_map(|f| f.file_name())
                .map(|n| n.to_string_lossy().into_owned()),
        );
    }
    *position = Position::After {
        last: descriptor.clone(),
        taken,
    };
}

impl Durability {
    /// Opens the checkpoint directory and, if it holds a checkpoint, restores the state
    /// into `executor` and works out what to run again.
    pub fn open(
        spec: &CheckpointSpec,
        pipeline: &Pipeline,
        executor: &mut Executor,
        registry: &Registry,
        options: super::Options,
    ) -> anyhow::Result<Self> {
        let store = CheckpointStore::open(&spec.dir)?;
        let (journal, entries) = Journal::open(&spec.dir)
            .with_context(|| format!("cannot open the batch journal in {}", spec.dir.display()))?;
        let mut positions = vec![Position::Start; pipeline.sources.len()];
        let mut restored = false;
        let mut after = None;
        let latest = store.latest();
        if latest.is_none()
            && let Some(lost) = store.lost_state()
        {
            anyhow::bail!(
                "the checkpoint directory {} has no intact checkpoint, but {lost}; starting from empty state would compute everything again from the sources' beginnings. Restore a checkpoint there, or start with --reset-state to begin again from nothing",
                spec.dir.display()
            );
        }
        if let Some((checkpoint, path)) = latest {
            check_compatible(&checkpoint, pipeline, options.allow_non_restored_state)?;
            let mut keys = 0;
            for snapshot in &checkpoint.stages {
                let Some(index) = pipeline.stages.iter().position(|s| s.name == snapshot.name)
                else {
                    continue;
                };
                let stage = &executor.stages()[index];
                let state = restore(stage.op, stage.partitions, snapshot)
                    .with_context(|| format!("restoring stage `{}`", snapshot.name))?;
                if let Some(keyed) = state.keyed() {
                    keys += keyed.len();
                }
                executor.replace_state(index, state);
            }
            for saved in &checkpoint.sources {
                if let Some(i) = pipeline.sources.iter().position(|s| s.name == saved.name) {
                    positions[i] = saved.position.clone();
                }
            }
            for (name, hash) in &checkpoint.plugins {
                if let Some(now) = registry.get(name).filter(|v| v.hash() != hash) {
                    let migrated = migrate_restored(executor, now)?;
                    tracing::info!(
                        "plugin `{name}` was version {hash} at the checkpoint and is {} now; its state carries over{}",
                        now.hash(),
                        if migrated > 0 {
                            format!(", migrated by its migrate_state ({migrated} keys)")
                        } else {
                            String::new()
                        }
                    );
                }
            }
            if checkpoint.pipeline_hash != pipeline_hash(pipeline) {
                tracing::info!(
                    "the pipeline file changed since the checkpoint; every stateful stage is still there"
                );
            }
            tracing::info!(
                "resuming from the checkpoint of batch {} ({}): {keys} keys of state in {} stages",
                checkpoint.batch_time_ms,
                path.display(),
                checkpoint.stages.len()
            );
            restored = true;
            after = Some(checkpoint.batch_time_ms);
        } else if !entries.is_empty() {
            tracing::info!(
                "no checkpoint yet in {}; running the journaled batches again from the start",
                spec.dir.display()
            );
        }
        let replay: Vec<JournalEntry> = entries
            .into_iter()
            .filter(|e| after.is_none_or(|t| e.batch_time_ms > t))
            .collect();
        for entry in &replay {
            for (position, descriptor) in positions.iter_mut().zip(&entry.sources) {
                advance(position, descriptor);
            }
        }
        if !replay.is_empty() {
            tracing::info!(
                "{} journaled batches after it will be computed again",
                replay.len()
            );
        }
        let resume_after = replay.last().map(|e| e.batch_time_ms).or(after);
        Ok(Durability {
            store: Arc::new(store),
            journal: Arc::new(journal),
            interval: spec.interval.max(1),
            since_checkpoint: 0,
            pipeline_hash: pipeline_hash(pipeline),
            positions,
            receivers: Vec::new(),
            writing: None,
            logged: Default::default(),
            restored,
            replay,
            resume_after,
        })
    }

    /// Where each source resumes.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// The journal the scheduler appends to.
    pub fn journal(&self) -> Arc<Journal> {
        self.journal.clone()
    }

    /// The checkpoint directory (write-ahead logs live under it).
    pub fn dir(&self) -> &std::path::Path {
        self.store.dir()
    }

    /// Remembers the sources' receive buffers.
    pub fn set_receivers(&mut self, receivers: Vec<Option<Arc<Received>>>) {
        self.receivers = receivers;
    }

    /// Accounts for a processed batch (successful, or failed and given up on) and
    /// checkpoints when it is time; returns how long the batch loop spent on the
    /// checkpoint (the snapshot; writing it happens on a thread of its own).
    pub fn after_batch(
        &mut self,
        time_ms: u64,
        descriptors: &[Descriptor],
        pipeline: &Pipeline,
        executor: &Executor,
        registry: &Registry,
    ) -> Option<Duration> {
        for (position, descriptor) in self.positions.iter_mut().zip(descriptors) {
            advance(position, descriptor);
        }
        self.since_checkpoint += 1;
        (self.since_checkpoint >= self.interval)
            .then(|| self.checkpoint(time_ms, pipeline, executor, registry, false))
    }

    /// Writes a checkpoint of the state after batch `time_ms`; with `wait`, before
    /// returning (at shutdown). Returns the time taken before returning.
    pub fn checkpoint(
        &mut self,
        time_ms: u64,
        pipeline: &Pipeline,
        executor: &Executor,
        registry: &Registry,
        wait: bool,
    ) -> Duration {
        self.since_checkpoint = 0;
        self.wait_for_writer();
        let started = Instant::now();
        let states: Vec<_> = (0..pipeline.stages.len())
            .map(|i| executor.state(i))
            .collect();
        let checkpoint = Checkpoint {
            pipeline: pipeline.name.clone(),
            pipeline_hash: self.pipeline_hash.clone(),
            batch_time_ms: time_ms,
            sources: pipeline
                .sources
                .iter()
                .zip(&self.positions)
                .map(|(s, p)| SourcePosition {
                    name: s.name.clone(),
                    position: p.clone(),
                })
                .collect(),
            stages: snapshot_state(&pipeline.stages, &states),
            plugins: registry.versions(),
        };
        let bytes = match checkpoint.encode() {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!("cannot encode the checkpoint of batch {time_ms}: {e}");
                return started.elapsed();
            }
        };
        let snapshot_time = started.elapsed();
        let (store, journal) = (self.store.clone(), self.journal.clone());
        let logs: LogPositions = self
            .receivers
            .iter()
            .zip(&self.positions)
            .filter_map(|(r, p)| Some((r.clone()?, p.clone())))
            .collect();
        self.logged.push_back((time_ms, logs));
        while self.logged.len() > crate::checkpoint::KEEP {
            self.logged.pop_front();
        }
        // Recovery may fall back to the oldest checkpoint kept (the newer ones damaged):
        // the journal and the logs must still reach back to it.
        let oldest_logs = self
            .logged
            .front()
            .map(|(t, logs)| (*t, logs.clone()))
            .filter(|_| self.logged.len() == crate::checkpoint::KEEP);
        let write = move || {
            match store.write(time_ms, &bytes) {
                Ok(path) => {
                    tracing::info!(
                        event = "checkpoint_written",
                        batch = time_ms,
                        "checkpoint of batch {time_ms} written: {} KiB in {} ms ({} ms to snapshot the state), {}",
                        bytes.len() / 1024,
                        started.elapsed().as_millis(),
                        snapshot_time.as_millis(),
                        path.display()
                    );
                    // What every kept checkpoint covers is no longer needed to recover.
                    if let Some(oldest) = store.oldest_kept()
                        && let Err(e) = journal.compact(oldest)
                    {
                        tracing::warn!("cannot compact the batch journal: {e}");
                    }
                    for (received, position) in oldest_logs.into_iter().flat_map(|(_, logs)| logs) {
                        if let Position::After {
                            last: Descriptor::Wal { to, .. },
                            ..
                        } = position
                        {
                            received.truncate_before(to);
                        }
                    }
                }
                Err(e) => tracing::error!("cannot write the checkpoint of batch {time_ms}: {e:#}"),
            }
        };
        if wait {
            write();
        } else {
            self.writing = std::thread::Builder::new()
                .name("checkpoint-writer".into())
                .spawn(write)
                .ok();
        }
        started.elapsed()
    }

    /// Waits for a checkpoint being written.
    pub fn wait_for_writer(&mut self) {
        if let Some(writing) = self.writing.take() {
            let _ = writing.join();
        }
    }
}
