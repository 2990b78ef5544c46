//! Preparing a new plugin version on its own thread: wait for the changes to settle,
//! build (crates), hash (an unchanged or refused version is skipped), compile and
//! validate. What reaches the engine is ready to swap in at once.

use super::LiveVersions;
use crate::config::Pipeline;
use crate::plugin::{PluginVersion, Runtime, artifact, content_hash, read_module};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Changes closer together than this are one change (editors and cargo write several
/// files, and some write a file more than once).
const SETTLE: Duration = Duration::from_millis(75);

/// A compiled, validated version waiting for the next batch boundary.
pub struct SwapRequest {
    /// The plugin's name.
    pub plugin: String,
    /// The new version.
    pub version: Arc<PluginVersion>,
    /// When the change was first noticed.
    pub noticed: Instant,
    /// Time spent building the crate (zero for a `.wasm` file).
    pub build_time: Duration,
    /// Time spent compiling and validating the module.
    pub compile_time: Duration,
}

pub struct Preparer {
    pub pipeline: Pipeline,
    pub runtime: Arc<Runtime>,
    /// What runs now and what is refused, as the engine publishes it.
    pub live: Arc<LiveVersions>,
    pub changed: Receiver<String>,
    pub ready: Sender<SwapRequest>,
}

pub fn spawn(preparer: Preparer) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("plugin-preparer".into())
        .spawn(move || preparer.run())?;
    Ok(())
}

impl Preparer {
    fn run(self) {
        // The last version handed to the engine per plugin: until the engine swaps it
        // in, a change is compared with it rather than with what runs, so that a file
        // changed back to the running version undoes a hand-over still pending.
        let mut handed: HashMap<String, String> = HashMap::new();
        while let Ok(first) = self.changed.recv() {
            let noticed = Instant::now();
            let mut plugins = BTreeSet::from([first]);
            loop {
                match self.changed.recv_timeout(SETTLE) {
                    Ok(more) => {
                        plugins.insert(more);
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            for plugin in plugins {
                let running = self.running(&plugin);
                let latest = handed.get(&plugin).unwrap_or(&running).clone();
                if let Some(request) = self.prepare(&plugin, noticed, &running, &latest) {
                    let hash = request.version.hash().to_string();
                    handed.insert(plugin.clone(), hash.clone());
                    let (build, compile) = (request.build_time, request.compile_time);
                    if self.ready.send(request).is_err() {
                        return;
                    }
                    // Said once the engine has it, so that it is true when read: the
                    // batch running now is the last on the version it replaces. That
                    // version is read now, not before the build: a swap or a rollback
                    // may have happened meanwhile.
                    let replaces = self.running(&plugin);
                    tracing::info!(
                        event = "version_ready",
                        plugin = %plugin,
                        version = %hash,
                        replaces = %replaces,
                        "plugin `{plugin}`: version {hash} ready (build {} ms, compile and validate {} ms); it replaces {} at the next batch",
                        build.as_millis(),
                        compile.as_millis(),
                        replaces
                    );
                }
            }
        }
    }

    /// The content hash of the version of `plugin` that runs now.
    fn running(&self, plugin: &str) -> String {
        self.live
            .registry()
            .get(plugin)
            .map_or_else(|| "?".into(), |v| v.hash().to_string())
    }

    /// Builds and checks the new version of `plugin`; `running` is what the stages call
    /// now, `latest` the version last handed over (or `running`).
    fn prepare(
        &self,
        plugin: &str,
        noticed: Instant,
        running: &str,
        latest: &str,
    ) -> Option<SwapRequest> {
        let spec = self.pipeline.plugins.iter().find(|p| p.name == plugin)?;
        let keeps = format!("version {running} keeps running");
        let started = Instant::now();
        let path = match artifact(spec) {
            Ok(path) => path,
            Err(e) => {
                tracing::error!("plugin `{plugin}`: the new version cannot be used ({e}); {keeps}");
                return None;
            }
        };
        let build_time = started.elapsed();
        let bytes = match read_module(spec, &path) {
            Ok(bytes) => bytes,
            Err(e) => {
                // A file caught between a write and a rename; the rename brings another event.
                tracing::debug!("plugin `{plugin}`: {e}");
                return None;
            }
        };
        let hash = content_hash(&bytes);
        // Refused first: after a rollback, the refused version is also the last one this
        // thread prepared.
        if self.live.is_refused(&hash) {
            tracing::warn!(
                "plugin `{plugin}`: version {hash} was rolled back before and stays out until the file changes"
            );
            return None;
        }
        if hash == latest {
            tracing::debug!("plugin `{plugin}`: unchanged ({hash})");
            return None;
        }
        let compiling = Instant::now();
        // The running version's limits: an edit of the pipeline file may have changed
        // them since this thread's copy of it was made.
        let limits = self
            .live
            .registry()
            .get(plugin)
            .map_or(spec.limits, |v| v.limits());
        let version = match PluginVersion::load(&self.runtime, plugin, &bytes, limits) {
            Ok(version) => Arc::new(version),
            Err(e) => {
                tracing::error!("plugin `{plugin}`: new version {hash} refused: {e}; {keeps}");
                return None;
            }
        };
        if let Err(problems) = self
            .live
            .registry()
            .with(plugin, version.clone())
            .check(&self.pipeline)
        {
            tracing::error!(
                "plugin `{plugin}`: new version {hash} refused: it does not serve this pipeline:\n{problems}\n{keeps}"
            );
            return None;
        }
        let compile_time = compiling.elapsed();
        Some(SwapRequest {
            plugin: plugin.to_string(),
            version,
            noticed,
            build_time,
            compile_time,
        })
    }
}
