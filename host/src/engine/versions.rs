//! Which plugin version runs after a restart. The checkpoint directory records the live
//! version of every plugin and the versions that were rolled back
//! (`checkpoint::PluginLog`); a plugin whose file on disk is a rolled-back version runs
//! the version that was live instead, and the file's version stays refused until the
//! file changes again.

use crate::checkpoint::PluginLog;
use crate::config::Pipeline;
use crate::plugin::{PluginVersion, Registry, Runtime};
use anyhow::Context as _;
use std::sync::Arc;

/// The plugin versions to start with, and the record to keep up to date.
pub struct Recovered {
    /// The registry to run: the files' versions, except those that were rolled back.
    pub registry: Registry,
    /// Versions on disk that were rolled back before the restart: the hot swap keeps
    /// them out.
    pub refused: Vec<String>,
    /// The record, when the pipeline has a checkpoint directory.
    pub log: Option<PluginLog>,
}

/// Replaces, in `registry`, every plugin whose file is a version rolled back before the
/// restart with the version that was live, and records the versions that now are.
pub fn recover(
    pipeline: &Pipeline,
    mut registry: Registry,
    runtime: &Runtime,
) -> anyhow::Result<Recovered> {
    let Some(spec) = &pipeline.checkpoint else {
        return Ok(Recovered {
            registry,
            refused: Vec::new(),
            log: None,
        });
    };
    let mut log = PluginLog::open(&spec.dir)?;
    let mut refused = Vec::new();
    for plugin in &pipeline.plugins {
        let (Some(on_disk), Some(record)) = (registry.get(&plugin.name), log.record(&plugin.name))
        else {
            continue;
        };
        let disk = on_disk.hash().to_string();
        if !record.refused.contains(&disk) || record.live == disk {
            if record.live != disk {
                tracing::info!(
                    "plugin `{}`: version {} was live before the restart; the file is version {disk} now, which runs",
                    plugin.name,
                    record.live
                );
            }
            continue;
        }
        let live = record.live.clone();
        let bytes = log.module(&plugin.name, &live).with_context(|| {
            format!(
                "plugin `{}`: the file is version {disk}, which failed and was rolled back, and the version that was live ({live}) is not kept in {}",
                plugin.name,
                spec.dir.display()
            )
        })?;
        let version = PluginVersion::load(runtime, &plugin.name, &bytes, plugin.limits)?;
        tracing::warn!(
            "plugin `{}`: the file {} is version {disk}, which failed and was rolled back before the restart; running version {live}, which was live, until the file changes",
            plugin.name,
            plugin.path.path().display()
        );
        refused.push(disk);
        registry = registry.with(&plugin.name, Arc::new(version));
    }
    registry.check(pipeline)?;
    for (_, version) in registry.iter() {
        log.set_live(version)?;
    }
    Ok(Recovered {
        registry,
        refused,
        log: Some(log),
    })
}
