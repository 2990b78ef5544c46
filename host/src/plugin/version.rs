//! One version of a plugin: compiled once, validated against the ABI, and called
//! through its [`Guest`] (a pool of wasm instances, so that every worker thread has its
//! own), every call counted and every failure named with the plugin and version.

use super::call_stats::CallStats;
use super::compiled::{Call, Compiled};
use super::error::{CallError, LoadError};
use super::guest::Guest;
use super::pool::InstancePool;
use super::runtime::Runtime;
use super::wasm_sections::custom_section;
use crate::config::Limits;
use crate::record::Records;
use sha2::{Digest, Sha256};
use sluice_sdk::wire::{self, ManifestEntry};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::{ExternType, FuncType, Module, ValType};

/// A compiled, validated plugin version.
pub struct PluginVersion {
    name: Arc<str>,
    hash: Arc<str>,
    /// Sorted by name.
    manifest: Vec<ManifestEntry>,
    limits: Limits,
    /// The module as loaded: kept so that recovery can run this very version again.
    bytes: Arc<[u8]>,
    guest: Box<dyn Guest>,
    stats: CallStats,
}

impl std::fmt::Debug for PluginVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginVersion")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .finish()
    }
}

impl PluginVersion {
    /// Compiles and validates `bytes` as plugin `name`.
    pub fn load(
        runtime: &Runtime,
        name: &str,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<Self, LoadError> {
        let plugin = || name.to_string();
        let section = custom_section(bytes, wire::MANIFEST_SECTION)
            .map_err(|message| LoadError::Compile {
                plugin: plugin(),
                message,
            })?
            .ok_or_else(|| LoadError::NoManifest { plugin: plugin() })?;
        let mut manifest =
            wire::parse_manifest(&section).map_err(|message| LoadError::BadManifest {
                plugin: plugin(),
                message,
            })?;
        // The linker concatenates manifest lines in no promised order.
        manifest.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(twice) = manifest.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(LoadError::BadManifest {
                plugin: plugin(),
                message: format!("function `{}` is declared twice", twice[0].name),
            });
        }
        if manifest.is_empty() {
            return Err(LoadError::NoManifest { plugin: plugin() });
        }
        if let Some(entry) = manifest.iter().find(|e| e.abi != wire::ABI_VERSION) {
            return Err(LoadError::AbiMismatch {
                plugin: plugin(),
                found: entry.abi,
                supported: wire::ABI_VERSION,
            });
        }
        let module =
            super::cache::compile(&runtime.engine, bytes).map_err(|e| LoadError::Compile {
                plugin: plugin(),
                message: format!("{e:#}"),
            })?;
        check_imports(name, &module)?;
        check_exports(name, &module, &manifest, limits.memory)?;
        let pre = runtime
            .linker
            .instantiate_pre(&module)
            .map_err(|e| LoadError::Compile {
                plugin: plugin(),
                message: format!("{e:#}"),
            })?;
        let compiled = Compiled {
            name: Arc::from(name),
            hash: Arc::from(content_hash(bytes)),
            manifest: manifest.clone(),
            limits,
            engine: runtime.engine.clone(),
            pre,
            log_budget: Arc::default(),
        };
        Ok(PluginVersion {
            name: compiled.name.clone(),
            hash: compiled.hash.clone(),
            manifest,
            limits,
            bytes: Arc::from(bytes),
            guest: Box::new(InstancePool::new(compiled, runtime.ticker.clone())),
            stats: CallStats::default(),
        })
    }

    /// A version of plugin `name` whose functions are run by `guest` rather than wasm
    /// (the engine's in-process tests), with `manifest` declaring them; `build` tells
    /// versions of one plugin apart (its hash is that of `name:build`).
    #[cfg(test)]
    pub fn native(
        name: &str,
        build: &str,
        mut manifest: Vec<ManifestEntry>,
        guest: impl Guest + 'static,
    ) -> Self {
        manifest.sort_by(|a, b| a.name.cmp(&b.name));
        PluginVersion {
            name: Arc::from(name),
            hash: Arc::from(content_hash(format!("{name}:{build}").as_bytes())),
            manifest,
            limits: Limits::default(),
            bytes: Arc::from(&b""[..]),
            guest: Box::new(guest),
            stats: CallStats::default(),
        }
    }

    /// The limits its calls run under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The plugin's name in the pipeline.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The short content hash that names this version in logs, output and checkpoints.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The module's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The module's size in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The functions the plugin exports.
    pub fn manifest(&self) -> &[ManifestEntry] {
        &self.manifest
    }

    /// The functions a pipeline can name, as `name (kind)`, comma-separated. (Combining
    /// exports of `#[flat_map(combine)]` are the host's to use, not the pipeline's.)
    pub fn listing(&self) -> String {
        self.manifest
            .iter()
            .filter(|e| e.kind != wire::Kind::FlatMapCombine)
            .map(|e| format!("{} ({})", e.name, e.kind))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The manifest entry of `function`.
    pub fn entry(&self, function: &str) -> Option<&ManifestEntry> {
        self.manifest.iter().find(|e| e.name == function)
    }

    /// Runs consecutive calls on one instance, each taking the previous one's output as
    /// its input inside the guest; only the last output crosses back. Returns it, with the
    /// record count of every call's output. A failure names the call that failed; the
    /// instance is dropped.
    pub fn call_chain(
        &self,
        calls: &[Call<'_>],
        input: &Records,
    ) -> Result<(Records, Vec<u64>), CallError> {
        let started = Instant::now();
        let result = self.guest.call_chain(calls, input);
        // Each call of the chain counts as a call, the time shared among them.
        let share = started.elapsed() / calls.len().max(1) as u32;
        let failed_at = result.as_ref().err().map(|(at, _)| *at);
        for at in 0..calls.len() {
            match (failed_at, &result) {
                (Some(failed), Err((_, failure))) if failed == at => {
                    self.stats.record(share, Some(failure.kind()))
                }
                (Some(failed), _) if at > failed => {}
                _ => self.stats.record(share, None),
            }
        }
        result.map_err(|(at, failure)| CallError {
            plugin: self.name.to_string(),
            version: self.hash.to_string(),
            function: calls.get(at).map_or("", |c| c.function).to_string(),
            failure,
        })
    }

    /// How many calls this version served, for how long, and how many failed.
    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    /// Runs one call, and counts it.
    pub fn call(&self, call: &Call<'_>, input: &Records) -> Result<Records, CallError> {
        self.call_chain(std::slice::from_ref(call), input)
            .map(|(records, _)| records)
    }
}

/// The first 12 hex digits of the SHA-256 of a module's bytes.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn check_imports(name: &str, module: &Module) -> Result<(), LoadError> {
    for import in module.imports() {
        if !Runtime::provided_imports().contains(&(import.module(), import.name())) {
            return Err(LoadError::UnknownImport {
                plugin: name.to_string(),
                module: import.module().to_string(),
                name: import.name().to_string(),
            });
        }
    }
    Ok(())
}

/// Checks the exports against the ABI and the manifest, and that the module's initial
/// memory fits in `limit` bytes (otherwise no call could ever run).
fn check_exports(
    name: &str,
    module: &Module,
    manifest: &[ManifestEntry],
    limit: u64,
) -> Result<(), LoadError> {
    let engine = module.engine();
    let bad = |export: &str, problem: String| LoadError::BadExport {
        plugin: name.to_string(),
        export: export.to_string(),
        problem,
    };
    match module.get_export("memory") {
        Some(ExternType::Memory(memory)) => {
            let initial = memory.minimum().saturating_mul(memory.page_size());
            if initial > limit {
                return Err(LoadError::MemoryLimit {
                    plugin: name.to_string(),
                    initial,
                    limit,
                });
            }
        }
        _ => {
            return Err(bad(
                "memory",
                "is missing: a plugin must export its memory".into(),
            ));
        }
    }
    let i32_ = || ValType::I32;
    let mut wanted: Vec<(String, FuncType)> = vec![
        (
            "sluice_input".into(),
            FuncType::new(engine, [i32_()], [i32_()]),
        ),
        (
            "sluice_output_ptr".into(),
            FuncType::new(engine, [], [i32_()]),
        ),
        (
            "sluice_output_len".into(),
            FuncType::new(engine, [], [i32_()]),
        ),
        ("sluice_chain".into(), FuncType::new(engine, [], [i32_()])),
    ];
    for entry in manifest {
        wanted.push((
            entry.export_name(),
            FuncType::new(engine, [i32_(), ValType::I64, i32_(), i32_()], [i32_()]),
        ));
    }
    for (export, ty) in wanted {
        match module.get_export(&export) {
            Some(ExternType::Func(found)) if FuncType::eq(&found, &ty) => {}
            Some(ExternType::Func(found)) => {
                return Err(bad(&export, format!("has type {found}, expected {ty}")));
            }
            _ => {
                let why = if export.starts_with(wire::EXPORT_PREFIX) {
                    "is missing although the manifest lists the function"
                } else {
                    "is missing: was the plugin built with sluice-sdk?"
                };
                return Err(bad(&export, why.into()));
            }
        }
    }
    Ok(())
}
