//! Plugins: WebAssembly modules that hold the pipeline's user code.
//!
//! - [`Runtime`] is the one wasmtime engine of the process, its host imports and the
//!   epoch ticker that enforces call deadlines.
//! - [`PluginVersion`] is one compiled, validated version of a plugin: its manifest, its
//!   content hash, and a pool of instances (one per worker thread in use).
//! - [`Registry`] loads every plugin a pipeline names (building crates on demand) and
//!   checks each stage's function against the plugin's manifest before data flows,
//!   and (`shape`) that keyed ops are fed pairs where signatures tell.
//!
//! - `guest_log` is what a plugin may log: control characters escaped, a budget of lines
//!   per second per version, and a count of the lines held back.
//!
//! A failed call (trap, panic, deadline, memory) is a [`CallError`] for that
//! partition-batch; the instance is dropped and a fresh one serves the next call.

mod build;
mod cache;
mod call_stats;
mod compiled;
mod error;
mod guest;
mod guest_log;
mod host_state;
mod instance;
#[cfg(test)]
mod native;
mod pool;
mod registry;
mod runtime;
mod shape;
mod version;
mod wasm_sections;

pub use build::{BuildError, build_crate, ensure_wasm_target};
pub use call_stats::{CallCounts, CallStats, FailureKind};
pub use compiled::Call;
pub use error::{CallError, CallFailure, LoadError};
pub use guest::Guest;
#[cfg(test)]
pub use native::NativeGuest;
pub use registry::{Registry, RegistryError, artifact, read_module};
pub use runtime::Runtime;
pub use version::{PluginVersion, content_hash};

#[cfg(test)]
mod tests;
