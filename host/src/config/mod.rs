//! The pipeline file: its types, how it is read and what is checked before any plugin
//! is loaded.
//!
//! [`load`] parses the TOML with spans, checks every key, value and reference, and
//! returns either a [`Pipeline`] or every problem at once as [`Diagnostics`]. Checks that
//! need a plugin's manifest (does the function exist, with the right kind?) happen when
//! plugins are loaded (`plugin::registry`), reported the same way.

mod diagnostic;
mod parse;
mod reader;
pub mod units;
mod validate;

#[cfg(test)]
mod tests;

pub use diagnostic::{Diagnostic, Diagnostics, Location, did_you_mean};

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
    /// `[plugins.*]`, in file order.
    pub plugins: Vec<PluginSpec>,
    /// `[sources.*]`, in file order.
    pub sources: Vec<SourceSpec>,
    /// `[stages.*]`, in file order.
    pub stages: Vec<StageSpec>,
    /// `[sinks.*]`, in file order.
    pub sinks: Vec<SinkSpec>,
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

/// `[sources.NAME]`.
#[derive(Clone, Debug)]
pub struct SourceSpec {
    /// The name stages and sinks use as `input`.
    pub name: String,
    /// `type` and its settings.
    pub kind: SourceKind,
    /// Where the section starts.
    pub at: Location,
}

/// The kinds of source, with their settings.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceKind {
    /// Lines from a TCP server (Spark's socketTextStream).
    Socket {
        /// `host:port` to connect to.
        address: String,
        /// Reconnect with backoff when the connection drops; when false the source
        /// ends with the connection.
        reconnect: bool,
    },
    /// Lines of files that appear in a directory (Spark's textFileStream).
    Directory {
        /// The directory watched.
        path: PathBuf,
    },
    /// Lines from standard input until end of file.
    Stdin,
    /// Seeded, rate-controlled lines of words.
    Generator(GeneratorSpec),
}

/// Settings of the generator source.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorSpec {
    /// Lines per second.
    pub rate: u64,
    /// Total lines, or unbounded.
    pub count: Option<u64>,
    /// Seed: the same seed gives the same lines.
    pub seed: u64,
    /// Words per line.
    pub words_per_line: usize,
    /// Distinct words, drawn with a Zipf distribution.
    pub vocabulary: usize,
}

impl Default for GeneratorSpec {
    fn default() -> Self {
        GeneratorSpec {
            rate: 1_000,
            count: None,
            seed: 42,
            words_per_line: 10,
            vocabulary: 10_000,
        }
    }
}

/// `[stages.NAME]`.
#[derive(Clone, Debug)]
pub struct StageSpec {
    /// The stage's stable name: how downstream stages, sinks and (later) checkpoints
    /// refer to it.
    pub name: String,
    /// `input` or `inputs`: sources or stages, unioned when several.
    pub inputs: Vec<String>,
    /// `op`.
    pub op: Op,
    /// `function = "plugin::function"`, for ops that call one.
    pub function: Option<FunctionRef>,
    /// `partitions`, for ops that shuffle.
    pub partitions: Option<usize>,
    /// Where the section starts.
    pub at: Location,
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

/// The operators a stage can apply (Spark's DStream operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `map`: one record out per record in.
    Map,
    /// `flat_map`: any number out per record in.
    FlatMap,
    /// `filter`: keep records the function accepts.
    Filter,
    /// `map_partition`: a whole partition in (Spark's mapPartitions).
    MapPartition,
    /// `union`: the inputs' records together.
    Union,
    /// `repartition`: spread records evenly over `partitions`.
    Repartition,
    /// `reduce_by_key`: combine values per key, map-side first.
    ReduceByKey,
    /// `group_by_key`: all values of a key in one record `[key, [values]]`.
    GroupByKey,
    /// `count_by_value`: `[record, count]` per distinct record.
    CountByValue,
    /// `count`: one record, the number of records in the batch.
    Count,
    /// `reduce`: combine all records of the batch into one.
    Reduce,
}

impl Op {
    /// Every op, in documentation order.
    pub const ALL: [Op; 11] = [
        Op::Map,
        Op::FlatMap,
        Op::Filter,
        Op::MapPartition,
        Op::Union,
        Op::Repartition,
        Op::ReduceByKey,
        Op::GroupByKey,
        Op::CountByValue,
        Op::Count,
        Op::Reduce,
    ];

    /// The op's name in pipeline files.
    pub fn name(self) -> &'static str {
        match self {
            Op::Map => "map",
            Op::FlatMap => "flat_map",
            Op::Filter => "filter",
            Op::MapPartition => "map_partition",
            Op::Union => "union",
            Op::Repartition => "repartition",
            Op::ReduceByKey => "reduce_by_key",
            Op::GroupByKey => "group_by_key",
            Op::CountByValue => "count_by_value",
            Op::Count => "count",
            Op::Reduce => "reduce",
        }
    }

    /// The op named `name`.
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The kind of plugin function the op calls, if it calls one.
    pub fn function_kind(self) -> Option<Kind> {
        match self {
            Op::Map => Some(Kind::Map),
            Op::FlatMap => Some(Kind::FlatMap),
            Op::Filter => Some(Kind::Filter),
            Op::MapPartition => Some(Kind::MapPartition),
            Op::ReduceByKey | Op::Reduce => Some(Kind::Reduce),
            Op::Union | Op::Repartition | Op::GroupByKey | Op::CountByValue | Op::Count => None,
        }
    }

    /// Whether the op works on each partition alone (and so can be fused with its
    /// neighbours), rather than moving records between partitions.
    pub fn is_narrow(self) -> bool {
        matches!(
            self,
            Op::Map | Op::FlatMap | Op::Filter | Op::MapPartition | Op::Union
        )
    }

    /// Whether `partitions` means something for the op.
    pub fn takes_partitions(self) -> bool {
        matches!(
            self,
            Op::Repartition | Op::ReduceByKey | Op::GroupByKey | Op::CountByValue
        )
    }
}

/// `[sinks.NAME]`.
#[derive(Clone, Debug)]
pub struct SinkSpec {
    /// The sink's name.
    pub name: String,
    /// The source or stage it writes.
    pub input: String,
    /// `type` and its settings.
    pub kind: SinkKind,
    /// Where the section starts.
    pub at: Location,
}

/// The kinds of sink, with their settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkKind {
    /// Spark's pprint: a header with the batch time, then the first `num` records.
    Print {
        /// How many records to show per batch.
        num: usize,
    },
    /// A directory per batch of JSON-lines part files, written atomically.
    Files {
        /// The directory batch directories are written in.
        path: PathBuf,
        /// Batch directories are named `<prefix>-<batch time ms>`.
        prefix: String,
    },
}

/// Reads and checks a pipeline file.
pub fn load(file: &Path) -> Result<Pipeline, LoadError> {
    let text = std::fs::read_to_string(file).map_err(|source| LoadError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    parse_str(file, &text).map_err(LoadError::Invalid)
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

/// The default number of partitions: one per core.
pub fn default_partitions() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
