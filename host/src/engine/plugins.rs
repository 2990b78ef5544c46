//! The engine's plugin versions, kept in one place: which version each plugin runs
//! (the registry the stages were bound from), which were swapped in and are on
//! probation with the way back, which were refused, and the record a restart reads.
//! The hot swap's watcher reads what this publishes rather than keeping its own copy.
//!
//! Swapping in puts a prepared version in place between two batches (migrating the
//! state it owns); rolling back undoes that when a batch fails in it.

use super::executor::{Executor, StageMetrics};
use super::versions::Recovered;
use crate::checkpoint::PluginLog;
use crate::config::{Limits, Pipeline};
use crate::operator::StageError;
use crate::operator::StageFailure;
use crate::plugin::{PluginVersion, Registry, Runtime};
use crate::state::StageState;
use crate::swap::migrate::migrate_stages;
use crate::swap::{HotSwap, SwapRequest, WatchMode};
use anyhow::Context as _;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// The plugin versions of a running job.
pub struct Plugins {
    /// The version each plugin runs.
    registry: Registry,
    runtime: Arc<Runtime>,
    hot_swap: Option<HotSwap>,
    /// Versions swapped in that have not yet completed a batch.
    probations: Vec<Probation>,
    /// The record of live and rolled-back versions (with a checkpoint directory).
    log: Option<PluginLog>,
    /// Versions on disk that were rolled back before a restart: kept out by hot swap.
    refused_at_start: Vec<String>,
}

/// A version swapped in that has not yet completed `probation_batches` batches with
/// records for it: what to go back to if it fails.
pub struct Probation {
    plugin: String,
    hash: String,
    previous: Arc<PluginVersion>,
    /// The states as they were before the swap migrated them, by stage index.
    states_before: Vec<(usize, StageState)>,
    /// Batches with records for it that it completed.
    proven: u32,
    /// Whether the swap migrated state to the new version's encoding.
    migrated: bool,
}

impl Plugins {
    /// The versions of `registry`, without a record for restarts (a job without a
    /// checkpoint directory).
    pub fn new(registry: Registry, runtime: Arc<Runtime>) -> Self {
        Plugins {
            registry,
            runtime,
            hot_swap: None,
            probations: Vec::new(),
            log: None,
            refused_at_start: Vec::new(),
        }
    }

    /// The versions recovery chose, with the record it kept.
    pub fn recovered(recovered: Recovered, runtime: Arc<Runtime>) -> Self {
        Plugins {
            log: recovered.log,
            refused_at_start: recovered.refused,
            ..Plugins::new(recovered.registry, runtime)
        }
    }

    /// The version each plugin runs.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Watches the pipeline's plugins, to swap in new versions while it runs.
    pub fn watch(&mut self, pipeline: &Pipeline, mode: WatchMode) -> anyhow::Result<()> {
        let hot_swap = HotSwap::start(pipeline, self.runtime.clone(), &self.registry, mode)?;
        for hash in &self.refused_at_start {
            hot_swap.refuse(hash);
        }
        self.hot_swap = Some(hot_swap);
        Ok(())
    }

    /// Swaps in every version prepared since the last batch.
    pub fn apply_swaps(&mut self, executor: &mut Executor) {
        let Some(hot_swap) = &self.hot_swap else {
            return;
        };
        for request in hot_swap.ready() {
            self.swap_in(request, executor);
        }
    }

    /// Puts `request`'s version in place of the running one, on probation.
    pub fn swap_in(&mut self, request: SwapRequest, executor: &mut Executor) {
        let started = Instant::now();
        let name = request.plugin.clone();
        let Some(running) = self.registry.get(&name).cloned() else {
            return;
        };
        if running.hash() == request.version.hash() {
            // The file went back to the version that is running (after a rollback, say).
            return;
        }
        // A swap on top of a version still on probation keeps that probation's way back:
        // the last version that completed a batch, and the state from before.
        let earlier = self
            .probations
            .iter()
            .position(|p| p.plugin == name)
            .map(|i| self.probations.remove(i));
        let new = request.version.clone();
        let migrated = match migrate_stages(executor.stages(), |i| executor.state(i).keyed(), &new)
        {
            Ok(migrated) => migrated,
            Err((stage, e)) => {
                tracing::error!(
                    "plugin `{name}`: version {} refused: migrating the state of stage `{stage}` failed: {e}",
                    new.hash()
                );
                if let Some(hot_swap) = &self.hot_swap {
                    hot_swap.refuse(new.hash());
                }
                self.probations.extend(earlier);
                return;
            }
        };
        let migrated_keys: usize = migrated.iter().map(|(_, state)| state.len()).sum();
        let states_before: Vec<(usize, StageState)> = migrated
            .into_iter()
            .map(|(index, state)| {
                (
                    index,
                    executor.replace_state(index, StageState::Keyed(state)),
                )
            })
            .collect();
        executor.rebind(&name, &new);
        self.registry = self.registry.with(&name, new.clone());
        self.publish_live();
        self.record_live(&new);
        let (previous, states_before) = match earlier {
            Some(earlier) => {
                let mut states = earlier.states_before;
                let kept: Vec<usize> = states.iter().map(|(i, _)| *i).collect();
                states.extend(states_before.into_iter().filter(|(i, _)| !kept.contains(i)));
                (earlier.previous, states)
            }
            None => (running.clone(), states_before),
        };
        self.probations.push(Probation {
            plugin: name.clone(),
            hash: new.hash().to_string(),
            migrated: !states_before.is_empty(),
            previous,
            states_before,
            proven: 0,
        });
        let migrated = if migrated_keys > 0 {
            format!("; migrated the state of {migrated_keys} keys")
        } else {
            String::new()
        };
        tracing::info!(
            event = "version_swapped",
            plugin = %name,
            from = %running.hash(),
            to = %new.hash(),
            migrated_keys = migrated_keys as u64,
            "swapped plugin `{name}` from version {} to {} in {} ms, {} ms after the change was noticed (build {} ms, compile {} ms){migrated}",
            running.hash(),
            new.hash(),
            started.elapsed().as_millis(),
            request.noticed.elapsed().as_millis(),
            request.build_time.as_millis(),
            request.compile_time.as_millis(),
        );
    }

    /// Tells the preparer thread which versions the stages call now.
    fn publish_live(&self) {
        if let Some(hot_swap) = &self.hot_swap {
            hot_swap.publish(&self.registry);
        }
    }

    /// Runs `plugin` under `limits` from the next batch: the same module (same hash),
    /// loaded again with them (its compiled code comes from the cache).
    pub fn set_limits(
        &mut self,
        plugin: &str,
        limits: Limits,
        executor: &mut Executor,
    ) -> anyhow::Result<()> {
        let current = self
            .registry
            .get(plugin)
            .with_context(|| format!("no plugin `{plugin}` runs"))?;
        let version = Arc::new(PluginVersion::load(
            &self.runtime,
            plugin,
            current.bytes(),
            limits,
        )?);
        executor.rebind(plugin, &version);
        self.registry = self.registry.with(plugin, version);
        self.publish_live();
        Ok(())
    }

    /// Records `version` as the live one of its plugin, for a restart.
    fn record_live(&mut self, version: &Arc<PluginVersion>) {
        if let Some(log) = &mut self.log
            && let Err(e) = log.set_live(version)
        {
            tracing::error!(
                "cannot record that plugin `{}` version {} is live ({e:#}); a restart may run the file's version instead",
                version.name(),
                version.hash()
            );
        }
    }

    /// The content hashes of the versions on probation.
    pub fn probation_hashes(&self) -> HashSet<String> {
        self.probations.iter().map(|p| p.hash.clone()).collect()
    }

    /// Counts a successful batch that gave a version on probation records (a batch with
    /// none proves nothing), and ends the probation of those that completed
    /// `probation_batches` such batches: they have shown they work.
    pub fn end_proven_probations(
        &mut self,
        stages: &[StageMetrics],
        executor: &Executor,
        needed: u32,
    ) {
        self.probations.retain_mut(|probation| {
            let proven = executor
                .stages()
                .iter()
                .zip(stages)
                .any(|(stage, metrics)| {
                    metrics.records_in > 0
                        && [&stage.function, &stage.inverse, &stage.filter]
                            .into_iter()
                            .flatten()
                            .any(|f| f.plugin.name() == probation.plugin)
                });
            if !proven {
                return true;
            }
            probation.proven += 1;
            // The state before the swap is the way back only until a batch has changed
            // state with the new version; afterwards a rollback keeps the state.
            probation.states_before.retain(|_| false);
            if probation.proven < needed {
                return true;
            }
            tracing::info!(
                "plugin `{}` version {} completed {} batches with records: its probation is over",
                probation.plugin,
                probation.hash,
                probation.proven
            );
            false
        });
    }

    /// Rolls back if `error` came from a version on probation: the previous version and
    /// the state from before the swap come back, the failed version is refused until its
    /// file changes, and the caller runs the batch again. Returns whether it did.
    pub fn rolls_back(
        &mut self,
        error: &StageError,
        time_ms: u64,
        executor: &mut Executor,
    ) -> bool {
        let StageFailure::Call(call) = &*error.failure else {
            return false;
        };
        let Some(at) = self
            .probations
            .iter()
            .position(|p| p.plugin == call.plugin && p.hash == call.version)
        else {
            return false;
        };
        let probation = self.probations.remove(at);
        if probation.migrated && probation.states_before.is_empty() {
            // The state is in the new encoding and batches have changed it since: the
            // previous version cannot read it, and the state from before the swap would
            // undo those batches.
            tracing::error!(
                "plugin `{}` version {} failed on batch {time_ms} ({error}) after {} batches; it migrated the state, so it is not rolled back",
                probation.plugin,
                probation.hash,
                probation.proven
            );
            return false;
        }
        for (index, state) in probation.states_before {
            executor.replace_state(index, state);
        }
        executor.rebind(&probation.plugin, &probation.previous);
        self.registry = self
            .registry
            .with(&probation.plugin, probation.previous.clone());
        if let Some(hot_swap) = &self.hot_swap {
            hot_swap.refuse(&probation.hash);
        }
        self.publish_live();
        if let Some(log) = &mut self.log
            && let Err(e) = log.refuse(&probation.plugin, &probation.hash)
        {
            tracing::error!(
                "cannot record that plugin `{}` version {} was rolled back ({e:#}); a restart could run it again",
                probation.plugin,
                probation.hash
            );
        }
        let previous = probation.previous.clone();
        self.record_live(&previous);
        tracing::warn!(
            event = "version_rolled_back",
            plugin = %probation.plugin,
            version = %probation.hash,
            to = %probation.previous.hash(),
            "plugin `{}` version {} failed on batch {time_ms} ({error}); rolled back to version {} and running the batch again",
            probation.plugin,
            probation.hash,
            probation.previous.hash()
        );
        true
    }
}
