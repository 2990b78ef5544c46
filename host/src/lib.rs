//! sluice: a micro-batch stream processor whose operators are WebAssembly plugins.
//!
//! # Core concepts
//!
//! - A **pipeline** ([`config::Pipeline`]) is read from a TOML file: sources, stages,
//!   sinks, a batch interval and a partition count.
//! - Every interval the **scheduler** ([`batch::BatchScheduler`]) cuts what the
//!   **sources** ([`source`]) received into a batch, split into partitions.
//! - The **executor** ([`engine::Executor`]) runs the batch through the **plan**
//!   ([`plan::Plan`]): chains of narrow stages fused per partition, shuffles that move
//!   records to the partition owning their key ([`partition`]), all partitions in
//!   parallel on every core.
//! - Stages call **plugin** functions ([`plugin`]): wasm modules compiled once, called
//!   once per partition per batch with the whole partition as MessagePack
//!   ([`record::Records`]), under memory and time limits.
//! - **Sinks** ([`sink`]) write each batch's results: Spark's `print`, JSON-lines
//!   directories written atomically, or a Kafka topic (also a source; [`kafka`] is
//!   the client they share).
//!
//! `ARCHITECTURE.md` at the repository root has the code map and the invariants.
#![warn(missing_docs)]

pub mod batch;
mod bench;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod durable;
pub mod engine;
pub mod kafka;
pub mod logging;
pub mod metrics;
pub mod monitor;
pub mod operator;
pub mod partition;
pub mod plan;
pub mod plugin;
pub mod rate;
pub mod record;
pub mod render;
mod settings;
pub mod shutdown;
pub mod sink;
pub mod source;
pub mod state;
pub mod swap;
pub mod terminal;
pub mod ui;

#[cfg(test)]
mod layering;
