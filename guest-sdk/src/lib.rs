//! Write [sluice](https://github.com/sluice-rs/sluice) stream operators as plain Rust
//! functions, compile them to WebAssembly, and run them in a sluice pipeline.
//!
//! # Core concepts
//!
//! - A **plugin** is a crate built for `wasm32-unknown-unknown` (`crate-type =
//!   ["cdylib", "rlib"]`). The host loads it, checks its manifest and calls its functions.
//! - A **function** is a plain Rust function with one attribute saying what it does:
//!   [`map`], [`flat_map`], [`filter`], [`map_partition`] or [`reduce`]. The attribute leaves
//!   the function as it is, so `cargo test` tests it natively, and adds (on wasm only) an
//!   export that decodes a whole partition, loops over it inside the guest and encodes the
//!   result: the host makes one call per partition per batch, never one per record.
//! - **Records** are any `serde` types. They cross the boundary as MessagePack; a pair
//!   stream's records are 2-tuples `(key, value)`. Borrowed inputs such as `&str` are decoded
//!   without copying.
//! - **Logging** goes through the [`log`] crate (re-exported here) and ends up in the host's
//!   log tagged with the plugin, batch and partition. A panic reaches the host with its
//!   message and fails that partition-batch, never the process.
//!
//! ```ignore
//! use sluice_sdk::{flat_map, reduce};
//!
//! #[flat_map]
//! fn split_words(line: &str) -> Vec<(&str, u64)> {
//!     line.split_whitespace().map(|w| (w, 1)).collect()
//! }
//!
//! #[reduce]
//! fn sum(a: u64, b: u64) -> u64 {
//!     a + b
//! }
//! ```
//!
//! The wire format and the ABI live in [`wire`] and `ABI.md`.
#![warn(missing_docs)]

pub mod wire;

#[cfg(feature = "guest")]
mod context;
#[cfg(feature = "guest")]
pub use context::{BatchContext, context};

#[cfg(feature = "guest")]
#[doc(hidden)]
pub mod rt;

#[cfg(feature = "guest")]
pub use log;

#[cfg(feature = "guest")]
pub use sluice_sdk_macros::{filter, flat_map, map, map_partition, reduce};
