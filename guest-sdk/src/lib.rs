//! Write [sluice](https://github.com/sluice-rs/sluice) stream operators as plain Rust
//! functions, compile them to WebAssembly, and run them in a sluice pipeline.
//!
//! # Core concepts
//!
//! - A **plugin** is a crate built for `wasm32-unknown-unknown` (`crate-type =
//!   ["cdylib", "rlib"]`). The host loads it, checks its manifest and calls its functions.
//! - A **function** is a plain Rust function with one attribute saying what it does (see
//!   *Kinds* below). The attribute leaves the function as it is, so `cargo test` tests it
//!   natively, and adds (on wasm only) an export that decodes a whole partition, loops over
//!   it inside the guest and encodes the result: the host makes one call per partition per
//!   batch, never one per record.
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
//! # Kinds
//!
//! | attribute | signature | pipeline ops |
//! |---|---|---|
//! | [`map`] | `fn(I) -> O` | `map` |
//! | [`flat_map`] | `fn(I) -> impl IntoIterator<Item = O>` | `flat_map` |
//! | [`filter`] | `fn(&I) -> bool` | `filter`, `reduce_by_key_and_window`'s `filter_function` |
//! | [`map_partition`] | `fn(Vec<I>) -> impl IntoIterator<Item = O>` | `map_partition` |
//! | [`transform`] | `fn(Vec<I>, BatchContext) -> impl IntoIterator<Item = O>` | `transform` |
//! | [`reduce`] | `fn(V, V) -> V` | `reduce`, `reduce_by_key`, `reduce_by_window`, `reduce_by_key_and_window` |
//! | [`inverse_reduce`] | `fn(V, V) -> V` | `reduce_by_key_and_window`'s `inverse_function` |
//! | [`update_state`] | `fn(&K, Vec<V>, Option<S>) -> Option<S>` | `update_state_by_key` |
//! | [`map_with_state`] | `fn(&K, Option<V>, &mut State<S>) -> O` | `map_with_state` |
//!
//! `map`, `flat_map`, `map_partition` and `transform` may also return `Result<_, E>` with
//! `E: Display`: an `Err` fails the partition-batch with its message. A `map_with_state`
//! function may return `Option<O>` to emit a record only for `Some`. A key or record
//! parameter is taken by value or by reference; `&str` and `&[u8]` borrow from the input. A
//! `map_with_state` key taken by value must be `Clone`: each call gets its own copy. A
//! [`State`] is a plain value, so `map_with_state` functions are unit-tested natively too.
//!
//! The wire format and the ABI live in [`wire`] and `ABI.md`.
#![warn(missing_docs)]

pub mod wire;

#[cfg(feature = "guest")]
mod context;
#[cfg(feature = "guest")]
pub use context::{BatchContext, context};

#[cfg(feature = "guest")]
mod state;
#[cfg(feature = "guest")]
pub use state::State;

#[cfg(feature = "guest")]
#[doc(hidden)]
pub mod rt;

#[cfg(feature = "guest")]
pub use log;

#[cfg(feature = "guest")]
pub use sluice_sdk_macros::{
    filter, flat_map, inverse_reduce, map, map_partition, map_with_state, migrate_state, reduce,
    transform, update_state,
};
