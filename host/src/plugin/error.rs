//! What can go wrong loading a plugin, and calling one.

use crate::config::units::format_bytes;
use std::path::PathBuf;
use std::time::Duration;

/// A plugin that cannot be used. Every variant says which plugin and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("plugin `{plugin}`: cannot read {}", path.display())]
    Read {
        /// The plugin.
        plugin: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// wasmtime refused the module.
    #[error("plugin `{plugin}`: not a valid WebAssembly module: {message}")]
    Compile {
        /// The plugin.
        plugin: String,
        /// wasmtime's words.
        message: String,
    },
    /// No `sluice_manifest` section.
    #[error(
        "plugin `{plugin}` has no sluice manifest: build it with sluice-sdk and mark its functions with #[map], #[flat_map], ..."
    )]
    NoManifest {
        /// The plugin.
        plugin: String,
    },
    /// The manifest does not parse, or contradicts the exports.
    #[error("plugin `{plugin}`: {message}")]
    BadManifest {
        /// The plugin.
        plugin: String,
        /// What is wrong.
        message: String,
    },
    /// Built against an ABI this host does not speak.
    #[error(
        "plugin `{plugin}` was built for plugin ABI version {found}, but this sluice speaks version {supported}: rebuild it against a matching sluice-sdk"
    )]
    AbiMismatch {
        /// The plugin.
        plugin: String,
        /// The version the plugin declares.
        found: u32,
        /// The version the host speaks.
        supported: u32,
    },
    /// An import the host does not provide.
    #[error(
        "plugin `{plugin}` imports `{module}::{name}`, which sluice does not provide: plugins get no WASI; build for wasm32-unknown-unknown"
    )]
    UnknownImport {
        /// The plugin.
        plugin: String,
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// The module's initial memory is larger than its `memory_limit`.
    #[error(
        "plugin `{plugin}`: the module starts with {} KiB of memory, more than its memory_limit of {}; no call could run: set memory_limit to at least \"{}KiB\"",
        initial / 1024,
        crate::config::units::format_bytes(*limit),
        initial / 1024
    )]
    MemoryLimit {
        /// The plugin.
        plugin: String,
        /// The memory the module declares it starts with, in bytes.
        initial: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A required export is missing or has the wrong type.
    #[error("plugin `{plugin}`: export `{export}` {problem}")]
    BadExport {
        /// The plugin.
        plugin: String,
        /// The export.
        export: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Building the plugin crate failed.
    #[error("plugin `{plugin}` does not build")]
    Build {
        /// The plugin.
        plugin: String,
        /// Why.
        source: super::BuildError,
    },
}

/// A failed call into a plugin, naming the plugin, its version and the function.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin `{plugin}` ({version}) function `{function}` {failure}")]
pub struct CallError {
    /// The plugin's name.
    pub plugin: String,
    /// The content hash of the version that failed.
    pub version: String,
    /// The function called.
    pub function: String,
    /// What happened.
    pub failure: CallFailure,
}

/// How a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    /// The guest panicked; the message is the plugin's own.
    #[error("panicked: {message}")]
    Panicked {
        /// The panic message and location.
        message: String,
    },
    /// The guest returned an error (a record it could not decode, or an `Err`).
    #[error("failed: {message}")]
    Failed {
        /// The guest's message.
        message: String,
    },
    /// The call ran past its deadline and was interrupted.
    #[error("ran past its deadline of {}", humanize(*deadline))]
    DeadlineExceeded {
        /// The limit.
        deadline: Duration,
    },
    /// The guest tried to grow its memory past the limit.
    #[error("exceeded its memory limit of {} (it asked for {})", format_bytes(*limit), format_bytes(*requested))]
    MemoryExceeded {
        /// Bytes the guest asked for.
        requested: u64,
        /// The limit.
        limit: u64,
    },
    /// Any other trap.
    #[error("trapped: {trap}")]
    Trapped {
        /// wasmtime's description, with the innermost wasm function if known.
        trap: String,
    },
    /// The guest broke the ABI (bad status, malformed output).
    #[error("broke the plugin ABI: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
