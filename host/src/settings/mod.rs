//! Reading settings tables: typed reads of a TOML table that record a diagnostic
//! (file, line, column, key, hint) instead of stopping, so that a file's every problem
//! is reported at once, and notice the keys nobody read (typos).
//!
//! The lowest folder of the pipeline file's vocabulary: `config/` reads the file's
//! sections with it, and each source (`source/`) and the Kafka settings (`kafka/`)
//! read their own keys with it, so that a source's settings live in the source's file.

mod diagnostic;
mod reader;
pub mod units;

pub use diagnostic::{Diagnostic, Diagnostics, LineIndex, Location, did_you_mean};
pub use reader::{Context, Reading, TableReader, resolve};
