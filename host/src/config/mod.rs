//! The pipeline file: its types, how it is read and what is checked before any plugin
//! is loaded.
//!
//! [`load`] parses the TOML with spans, checks every key, value and reference, and
//! returns either a [`Pipeline`] or every problem at once as [`Diagnostics`]. Checks that
//! need a plugin's manifest (does the function exist, with the right kind?) happen when
//! plugins are loaded (`plugin::registry`), reported the same way.

mod failure;
mod op;
mod operate;
mod parse;
mod stage;
mod validate;
mod writable;

#[cfg(all(test, feature = "kafka"))]
mod kafka_tests;
#[cfg(test)]
mod tests;

pub use crate::kafka::{KafkaFormat, StartingOffsets, TopicSelection};
pub use crate::settings::{Diagnostic, Diagnostics, Location, did_you_mean, units};
pub use crate::sink::{KafkaSinkSpec, SinkSpec, TransactionSpec};
pub use crate::source::{GeneratorSpec, KafkaSourceSpec, RateSpec, SourceSpec};
pub use failure::{FailurePolicy, OnBatchFailure};
pub use op::Op;
pub use operate::{DEFAULT_RETAINED_BATCHES, check_http_address};

use sluice_sdk::wire::Kind;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A checked pipeline file.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// The file it was read from.
    pub file: PathBuf,
    /// `[pipeline] name`, by default the file's stem.
    pub name: String,
    /// `[pipeline] batch_interval`.
    pub batch_interval: Duration,
    /// `[pipeline] partitions`, by default the number of cores.
    pub partitions: usize,
    /// `[pipeline] checkpoint_dir` and `checkpoint_interval`: fault tolerance, when set.
    pub checkpoint: Option<CheckpointSpec>,
    /// `[pipeline] dead_letters`: where records that fail in a plugin are written.
    pub dead_letters: PathBuf,
    /// `[plugins.*]`, in file order.
    pub plugins: Vec<PluginSpec>,
    /// `[sources.*]`, in file order.
    pub sources: Vec<SourceSpec>,
    /// `[stages.*]`, in file order.
    pub stages: Vec<StageSpec>,
    /// `[sinks.*]`, in file order.
    pub sinks: Vec<SinkSpec>,
    /// `[pipeline] http`: the `host:port` the batch timeline, metrics and API are
    /// served on; off when absent.
    pub http: Option<String>,
    /// `[pipeline] retained_batches`: how many recent batches the metrics keep.
    pub retained_batches: usize,
    /// `[pipeline] backpressure`: the default of every source's `backpressure`.
    pub backpressure: bool,
    /// `[pipeline] on_batch_failure`, `batch_retries`, `probation_batches`.
    pub failure: FailurePolicy,
}

/// Checkpointing settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointSpec {
    /// The directory of checkpoints, the batch journal and write-ahead logs.
    pub dir: PathBuf,
    /// A checkpoint every this many batches.
    pub interval: u32,
    /// Where `checkpoint_dir` is written.
    pub at: Location,
}

/// What a stage does with records a plugin fails on (`on_error`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// Isolate them and write them, with the error, to the dead-letter output.
    #[default]
    DeadLetter,
    /// Isolate them and drop them (counted and logged).
    Skip,
    /// Fail the batch and stop the pipeline; a restart re-runs the batch.
    Stop,
}

/// Where a plugin comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginPath {
    /// A crate directory, built for wasm on demand.
    Crate(PathBuf),
    /// A compiled `.wasm` file.
    Wasm(PathBuf),
}

impl PluginPath {
    /// The path as resolved against the pipeline file's directory.
    pub fn path(&self) -> &Path {
        match self {
            PluginPath::Crate(p) | PluginPath::Wasm(p) => p,
        }
    }
}

/// Limits every call into a plugin runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory an instance may grow to, in bytes.
    pub memory: u64,
    /// Wall-clock time one call may take.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 256 << 20,
            deadline: Duration::from_secs(10),
        }
    }
}

/// `[plugins.NAME]`.
#[derive(Clone, Debug)]
pub struct PluginSpec {
    /// The name stages use before `::`.
    pub name: String,
    /// `path`.
    pub path: PluginPath,
    /// `memory_limit` and `deadline`.
    pub limits: Limits,
    /// Where the section starts.
    pub at: Location,
}

/// `[stages.NAME]`.
#[derive(Clone, Debug)]
pub struct StageSpec {
    /// The stage's stable name: how downstream stages, sinks and (later) checkpoints
    /// refer to it.
    pub name: String,
    /// `input` or `inputs`: sources or stages, unioned when several.
    pub inputs: Vec<String>,
    /// Where `input` or `inputs` is written.
    pub input_at: Location,
    /// `op`.
    pub op: Op,
    /// `function = "plugin::function"`, for ops that call one.
    pub function: Option<FunctionRef>,
    /// `partitions`, for ops that shuffle.
    pub partitions: Option<usize>,
    /// `window` and `slide`, for windowed ops.
    pub window: Option<WindowSpec>,
    /// `inverse_function`: reduce_by_key_and_window's incremental mode.
    pub inverse: Option<FunctionRef>,
    /// `filter_function`: reduce_by_key_and_window drops the pairs it rejects.
    pub filter: Option<FunctionRef>,
    /// `timeout`: map_with_state removes keys idle this long, after a last call.
    pub timeout: Option<Duration>,
    /// `initial_state`: a JSON-lines file of `[key, state]` loaded before the first batch.
    pub initial_state: Option<PathBuf>,
    /// `state_snapshots`: map_with_state also outputs every `(key, state)` each batch, as
    /// the node `<stage>.snapshots`.
    pub state_snapshots: bool,
    /// `on_error`: what to do with records the plugin fails on.
    pub on_error: OnError,
    /// Where the section starts.
    pub at: Location,
}

impl StageSpec {
    /// Every plugin function the stage calls: its key in the file, the reference, and
    /// the kind it must have.
    pub fn functions(&self) -> impl Iterator<Item = (&'static str, &FunctionRef, Kind)> {
        let main = self
            .function
            .as_ref()
            .zip(self.op.function_kind())
            .map(|(f, k)| ("function", f, k));
        let inverse = self
            .inverse
            .as_ref()
            .map(|f| ("inverse_function", f, Kind::InverseReduce));
        let filter = self
            .filter
            .as_ref()
            .map(|f| ("filter_function", f, Kind::Filter));
        main.into_iter().chain(inverse).chain(filter)
    }

    /// The name of the node holding this stage's state snapshots, if it has one.
    pub fn snapshots_node(&self) -> Option<String> {
        self.state_snapshots
            .then(|| format!("{}.snapshots", self.name))
    }
}

/// The span of a window and how often it is computed, both multiples of the batch
/// interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// `window`: how much time one window covers.
    pub length: Duration,
    /// `slide`: how often a window is computed (default: every batch).
    pub slide: Duration,
}

/// A plugin function named by a stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionRef {
    /// The plugin's name in `[plugins.*]`.
    pub plugin: String,
    /// The function's name in the plugin's manifest.
    pub function: String,
    /// Where the `function` value is.
    pub at: Location,
}

impl std::fmt::Display for FunctionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}::{}", self.plugin, self.function)
    }
}

/// Reads and checks a pipeline file.
pub fn load(file: &Path) -> Result<Pipeline, LoadError> {
    load_partial(file)?.map_err(|(_, problems)| LoadError::Invalid(problems))
}

/// Reads and checks a pipeline file; when it has problems, also gives the pipeline as
/// far as it could be read, so that checks needing more than the file (its plugins'
/// manifests) can report their problems in the same list.
pub fn load_partial(file: &Path) -> Result<Result<Pipeline, (Pipeline, Diagnostics)>, LoadError> {
    let text = std::fs::read_to_string(file).map_err(|source| LoadError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    let (pipeline, diagnostics) = parse::parse_partial(file, &text);
    if !diagnostics.items.is_empty() {
        return Ok(Err((pipeline, diagnostics)));
    }
    match writable::check(&pipeline) {
        Ok(()) => Ok(Ok(pipeline)),
        Err(problems) => Ok(Err((pipeline, problems))),
    }
}

/// Checks pipeline text as if it were read from `file` (relative paths resolve
/// against `file`'s directory).
pub fn parse_str(file: &Path, text: &str) -> Result<Pipeline, Diagnostics> {
    parse::parse(file, text)
}

/// Why a pipeline file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read pipeline file {}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file has problems.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// The most partitions a pipeline or stage may have.
pub const MAX_PARTITIONS: i64 = 4096;

/// Why partitions are bounded, for the diagnostic.
pub const PARTITIONS_BOUND: &str = "every partition is a plugin call and a state map per stage per batch; more partitions than a few per core only add overhead";

/// The default number of partitions: one per core.
pub fn default_partitions() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
