//! Preparing a new plugin version on its own thread: wait for the changes to settle,
//! build (crates), hash (an unchanged or refused version is skipped), compile and
//! validate. What reaches the engine is ready to swap in at once.

use crate::config::Pipeline;
use crate::plugin::{PluginVersion, Registry, Runtime, artifact, content_hash, read_module};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
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
    pub registry: Registry,
    pub refused: Arc<Mutex<HashSet<String>>>,
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
    fn run(mut self) {
        let mut current: HashMap<String, String> = self.registry.versions().into_iter().collect();
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
                if let Some(request) = self.prepare(&plugin, noticed, &current) {
                    let hash = request.version.hash().to_string();
                    let running = current.insert(plugin.clone(), hash.clone());
                    self.registry = self.registry.with(&request.plugin, request.version.clone());
                    let (build, compile) = (request.build_time, request.compile_time);
                    if self.ready.send(request).is_err() {
                        return;
                    }
                    // Said once the engine has it, so that it is true when read: the
                    // batch running now is the last on the version it replaces.
                    tracing::info!(
                        "plugin `{plugin}`: version {hash} ready (build {} ms, compile and validate {} ms); it replaces {} at the next batch",
                        build.as_millis(),
                        compile.as_millis(),
                        running.as_deref().unwrap_or("?")
                    );
                }
            }
        }
    }

    fn prepare(
        &self,
        plugin: &str,
        noticed: Instant,
        current: &HashMap<String, String>,
    ) -> Option<SwapRequest> {
        let spec = self.pipeline.plugins.iter().find(|p| p.name == plugin)?;
        let running = current.get(plugin).map(String::as_str).unwrap_or("?");
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
        if self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&hash)
        {
            tracing::warn!(
                "plugin `{plugin}`: version {hash} was rolled back before and stays out until the file changes"
            );
            return None;
        }
        if hash == running {
            tracing::debug!("plugin `{plugin}`: unchanged ({hash})");
            return None;
        }
        let compiling = Instant::now();
        let version = match PluginVersion::load(&self.runtime, plugin, &bytes, spec.limits) {
            Ok(version) => Arc::new(version),
            Err(e) => {
                tracing::error!("plugin `{plugin}`: new version {hash} refused: {e}; {keeps}");
                return None;
            }
        };
        if let Err(problems) = self
            .registry
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
