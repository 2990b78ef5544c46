//! `type = "kafka"` as a sink: every record of a batch becomes a message (a pair's key
//! is its key), sent by an idempotent producer and flushed before the batch counts as
//! written; a message that cannot be delivered fails the batch.
//!
//! With `transactional = true` each batch is one transaction, and the transaction also
//! writes the batch time to a commits topic (key: the transactional id). On its first
//! batch the sink fences off any earlier producer with its id (aborting what that one
//! left open) and reads the last batch time committed; a batch at or before it was
//! written already (it is being computed again after a crash) and is not written twice.

//!
//! - `settings.rs`: what `[sinks.NAME]` says, read without the Kafka client.
//! - `producer.rs`: the running sink (needs the `kafka` feature).
//! - `commits.rs`: the transactional sink's commits topic.

#[cfg(feature = "kafka")]
mod commits;
#[cfg(feature = "kafka")]
mod producer;
mod settings;
#[cfg(all(test, feature = "kafka"))]
mod tests;

pub use settings::{KafkaSinkSpec, TransactionSpec};

use super::{Sink, SinkKind, SinkSettings};
use std::sync::Arc;

/// `type = "kafka"`: see [`KafkaSinkSpec`].
pub const KIND: SinkKind = SinkKind {
    name: "kafka",
    read: |r, reading| Some(Arc::new(settings::read(r, reading.pipeline)?)),
};

impl SinkSettings for KafkaSinkSpec {
    #[cfg(feature = "kafka")]
    fn open(&self, name: &str, pipeline: &str) -> anyhow::Result<Box<dyn Sink>> {
        Ok(Box::new(producer::KafkaSink::open(name, pipeline, self)?))
    }

    #[cfg(not(feature = "kafka"))]
    fn open(&self, _: &str, _: &str) -> anyhow::Result<Box<dyn Sink>> {
        anyhow::bail!("this sluice was built without Kafka support (the `kafka` cargo feature)")
    }
}
