//! What a source gave a batch ([`Descriptor`]), enough to give it again, and how far a
//! source has got ([`Position`]). The batch journal records the first for every batch
//! it cuts, a checkpoint the second for every source: both are this folder's
//! vocabulary, which `checkpoint/` stores without looking inside.

use super::WalPos;
use crate::kafka::OffsetRange;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What one source gave one batch, enough to give it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Descriptor {
    /// These files, read whole, in order.
    Files(Vec<PathBuf>),
    /// Lines `from..to` of a generator whose first batch started at `start_ms`.
    Generated {
        /// The generator's start time.
        start_ms: u64,
        /// First line.
        from: u64,
        /// One past the last line.
        to: u64,
    },
    /// The write-ahead log's records between two positions.
    Wal {
        /// Start position.
        from: WalPos,
        /// End position.
        to: WalPos,
    },
    /// Records received without a write-ahead log: they cannot be given again.
    Volatile {
        /// How many there were.
        records: u64,
    },
    /// Offset ranges of Kafka topic-partitions, one batch partition each, in order.
    Kafka {
        /// The ranges.
        ranges: Vec<OffsetRange>,
    },
}

/// How far a source has got, by kind of source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Position {
    /// Nothing yet.
    #[default]
    Start,
    /// The last batch's descriptor, and for directories every file taken so far.
    After {
        /// What the source gave the last batch.
        last: Descriptor,
        /// Directory sources: every file name taken so far.
        taken: Vec<String>,
    },
}
