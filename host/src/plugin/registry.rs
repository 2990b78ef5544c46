//! Loading every plugin a pipeline names and checking each stage's function against the
//! plugin's manifest, before any data flows.

use super::build_crate;
use super::error::LoadError;
use super::runtime::Runtime;
use super::version::PluginVersion;
use crate::config::{Diagnostics, Pipeline, PluginPath, PluginSpec, did_you_mean};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The loaded plugins of a pipeline, by name.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    plugins: BTreeMap<String, Arc<PluginVersion>>,
}

/// Why a pipeline's plugins cannot serve it.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A plugin failed to build or load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Stages name functions the plugins do not export, or of the wrong kind.
    #[error("{0}")]
    Mismatch(Diagnostics),
}

impl Registry {
    /// Builds (for crate paths), compiles and validates every plugin of `pipeline`, then
    /// checks every stage's function against its plugin's manifest.
    pub fn load(pipeline: &Pipeline, runtime: &Runtime) -> Result<Registry, RegistryError> {
        let mut plugins = BTreeMap::new();
        for spec in &pipeline.plugins {
            plugins.insert(spec.name.clone(), Arc::new(load_plugin(spec, runtime)?));
        }
        let registry = Registry { plugins };
        registry.check(pipeline).map_err(RegistryError::Mismatch)?;
        Ok(registry)
    }

    /// A registry of `versions` as they are, unchecked (the engine's in-process tests).
    #[cfg(test)]
    pub fn of(versions: impl IntoIterator<Item = PluginVersion>) -> Registry {
        let plugins = versions
            .into_iter()
            .map(|v| (v.name().to_string(), Arc::new(v)))
            .collect();
        Registry { plugins }
    }

    /// The plugin named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<PluginVersion>> {
        self.plugins.get(name)
    }

    /// Every plugin, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<PluginVersion>)> {
        self.plugins.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// This registry with plugin `name` at `version` instead.
    pub fn with(&self, name: &str, version: Arc<PluginVersion>) -> Registry {
        let mut plugins = self.plugins.clone();
        plugins.insert(name.to_string(), version);
        Registry { plugins }
    }

    /// The plugin names and content hashes, by name: a batch's lineage.
    pub fn versions(&self) -> Vec<(String, String)> {
        self.plugins
            .iter()
            .map(|(name, v)| (name.clone(), v.hash().to_string()))
            .collect()
    }

    /// Checks every stage's functions against the manifests: they exist, with the kind
    /// the stage's op needs.
    pub fn check(&self, pipeline: &Pipeline) -> Result<(), Diagnostics> {
        let mut diagnostics = Diagnostics::new(&pipeline.file);
        for (stage, (field, function, kind)) in pipeline
            .stages
            .iter()
            .flat_map(|s| s.functions().map(move |f| (s, f)))
        {
            let key = format!("stages.{}.{field}", stage.name);
            let Some(plugin) = self.plugins.get(&function.plugin) else {
                continue;
            };
            let exported = || plugin.listing();
            match plugin.entry(&function.function) {
                None => {
                    let hint = did_you_mean(
                        &function.function,
                        plugin.manifest().iter().map(|e| e.name.as_str()),
                    )
                    .map(|h| format!("{h} it exports: {}", exported()))
                    .unwrap_or_else(|| format!("it exports: {}", exported()));
                    diagnostics.push(
                        function.at,
                        &key,
                        format!(
                            "plugin `{}` has no function `{}`",
                            function.plugin, function.function
                        ),
                        Some(hint),
                    );
                }
                Some(entry) if entry.kind != kind => diagnostics.push(
                    function.at,
                    &key,
                    format!(
                        "`{function}` is a {} function, but `{field}` of op `{}` needs a {kind} function",
                        entry.kind,
                        stage.op.name()
                    ),
                    Some(format!(
                        "mark the function #[{kind}], or pick an op that takes a {} function",
                        entry.kind
                    )),
                ),
                Some(_) => {}
            }
        }
        for mismatch in super::shape::mismatches(pipeline, self) {
            let stage = &pipeline.stages[mismatch.stage];
            diagnostics.push(
                stage.input_at,
                &format!("stages.{}.input", stage.name),
                format!(
                    "op `{}` needs [key, value] pairs, but its input `{}` gives {}",
                    stage.op.name(),
                    mismatch.input,
                    mismatch.gives
                ),
                Some(
                    "put a map or flat_map that returns (key, value) tuples in between, like wordcount::split_words"
                        .into(),
                ),
            );
        }
        diagnostics.into_result(())
    }
}

/// The `.wasm` file of a plugin: its path, or the artifact of building its crate.
pub fn artifact(spec: &PluginSpec) -> Result<PathBuf, LoadError> {
    match &spec.path {
        PluginPath::Wasm(path) => Ok(path.clone()),
        PluginPath::Crate(dir) => {
            tracing::info!(
                "building plugin `{}` from {}",
                spec.name,
                std::path::absolute(dir).as_deref().unwrap_or(dir).display()
            );
            build_crate(dir).map_err(|source| LoadError::Build {
                plugin: spec.name.clone(),
                source,
            })
        }
    }
}

/// Reads a plugin's module bytes from `path`.
pub fn read_module(spec: &PluginSpec, path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Read {
        plugin: spec.name.clone(),
        path: path.to_path_buf(),
        source,
    })
}

fn load_plugin(spec: &PluginSpec, runtime: &Runtime) -> Result<PluginVersion, LoadError> {
    let path = artifact(spec)?;
    let bytes = read_module(spec, &path)?;
    let started = Instant::now();
    let version = PluginVersion::load(runtime, &spec.name, &bytes, spec.limits)?;
    tracing::info!(
        "loaded plugin `{}` version {} ({} functions, {} KiB) in {} ms",
        spec.name,
        version.hash(),
        version.manifest().len(),
        version.size() / 1024,
        started.elapsed().as_millis()
    );
    Ok(version)
}
