//! Hot swap: replacing a plugin while the pipeline runs, state kept, with automatic
//! rollback.
//!
//! - [`edits`] reads the pipeline file again when `sluice dev` sees it saved: what can
//!   change live (a print sink's `num`, a source's `max_rate`) is applied between two
//!   batches, the rest is reported as needing a restart.
//! - [`watch`] notices a plugin's file (or crate sources) change.
//! - [`prepare`] builds, hashes, compiles and validates the new version on its own
//!   thread, off the hot path, and hands the engine a [`SwapRequest`]; a version that
//!   does not build or validate is reported and the running one stays.
//! - The engine swaps between two batches (`engine::Job`): the next batch runs on
//!   the new version on every partition at once. [`migrate`] runs the plugin's
//!   `#[migrate_state]` over the state it owns.
//! - Until its first successful batch the new version is on probation: if a batch fails
//!   in it, the engine reinstates the previous version and the state from before the
//!   swap, re-runs the batch, and the failed version's hash is refused until the file
//!   changes again.

mod edits;
mod live;
pub mod migrate;
mod prepare;
mod watch;

pub use edits::{Edit, PipelineEdits};
pub use live::LiveVersions;
pub use prepare::SwapRequest;

use crate::config::{Pipeline, PluginPath};
use crate::plugin::{Registry, Runtime};
use crossbeam_channel::Receiver;
use std::sync::Arc;

/// Which plugins are watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchMode {
    /// `sluice run --watch`: plugins given as `.wasm` files are reloaded when the file
    /// changes.
    Wasm,
    /// `sluice dev`: also plugins given as crates, rebuilt when their sources change.
    WasmAndCrates,
}

/// Changes of the sources of a pipeline's plugin crates, noticed from when it is
/// started: `sluice dev` starts it before building, so that a fix saved during a build
/// that fails is not missed, and waits on it while a crate does not build yet.
pub struct CrateChanges {
    changed: Receiver<String>,
    _watcher: watch::PluginWatcher,
}

impl CrateChanges {
    /// Watches every plugin of `pipeline` that is a crate.
    pub fn start(pipeline: &Pipeline) -> anyhow::Result<Self> {
        let targets: Vec<watch::Target> = pipeline
            .plugins
            .iter()
            .filter(|p| matches!(p.path, PluginPath::Crate(_)))
            .map(|p| watch::Target {
                plugin: p.name.clone(),
                path: p.path.clone(),
            })
            .collect();
        let (changed_tx, changed) = crossbeam_channel::unbounded();
        let watcher = watch::PluginWatcher::start(&targets, changed_tx)?;
        Ok(CrateChanges {
            changed,
            _watcher: watcher,
        })
    }

    /// Blocks until a source of `plugin` changed since [`start`](Self::start).
    pub fn wait_for(&self, plugin: &str) -> anyhow::Result<()> {
        while self.changed.recv()? != plugin {}
        Ok(())
    }
}

/// The hot-swap machinery of a running pipeline.
pub struct HotSwap {
    ready: Receiver<SwapRequest>,
    live: Arc<LiveVersions>,
    _watcher: watch::PluginWatcher,
}

impl HotSwap {
    /// Starts watching the pipeline's plugins and the thread that prepares new versions.
    pub fn start(
        pipeline: &Pipeline,
        runtime: Arc<Runtime>,
        registry: &Registry,
        mode: WatchMode,
    ) -> anyhow::Result<Self> {
        let targets: Vec<watch::Target> = pipeline
            .plugins
            .iter()
            .filter(|p| mode == WatchMode::WasmAndCrates || matches!(p.path, PluginPath::Wasm(_)))
            .map(|p| watch::Target {
                plugin: p.name.clone(),
                path: p.path.clone(),
            })
            .collect();
        let (changed_tx, changed) = crossbeam_channel::unbounded();
        let (ready_tx, ready) = crossbeam_channel::unbounded();
        let live = Arc::new(LiveVersions::new(registry));
        let watcher = watch::PluginWatcher::start(&targets, changed_tx)?;
        for target in &targets {
            tracing::info!(
                event = "watching_plugin",
                plugin = %target.plugin,
                "watching plugin `{}` at {}",
                target.plugin,
                std::path::absolute(target.path.path())
                    .as_deref()
                    .unwrap_or(target.path.path())
                    .display()
            );
        }
        prepare::spawn(prepare::Preparer {
            pipeline: pipeline.clone(),
            runtime,
            live: live.clone(),
            changed,
            ready: ready_tx,
        })?;
        Ok(HotSwap {
            ready,
            live,
            _watcher: watcher,
        })
    }

    /// The versions prepared since the last call, the newest per plugin.
    pub fn ready(&self) -> Vec<SwapRequest> {
        let mut latest: Vec<SwapRequest> = Vec::new();
        for request in self.ready.try_iter() {
            latest.retain(|r| r.plugin != request.plugin);
            latest.push(request);
        }
        latest
    }

    /// Keeps the version with content hash `hash` out until the file changes again.
    pub fn refuse(&self, hash: &str) {
        self.live.refuse(hash);
    }

    /// Publishes the versions the stages call now, for the preparer to compare with.
    pub fn publish(&self, registry: &Registry) {
        self.live.publish(registry);
    }
}
