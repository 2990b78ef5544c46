//! `type = "kafka"` as a source: Spark's direct stream. No receiver: at each cut the
//! source asks the brokers where every partition ends and takes the range from where it
//! stands to there (at most `max_records_per_partition`); the ranges are the batch's
//! journal descriptor, read when the batch runs and read again after a crash. Offsets
//! live in the journal and checkpoints; they are also committed to the consumer group
//! once a batch's output is complete, for monitoring and for runs without checkpoints.
//!
//! When the brokers cannot be reached, cuts are empty (offsets do not move, nothing is
//! lost), a thread of the source's own retries every second and says when they are back.
//!
//! - `settings.rs`: what `[sources.NAME]` says, read without the Kafka client.
//! - `direct.rs`: the running source (needs the `kafka` feature).
//! - `housekeeper.rs`: the thread that commits offsets and watches the brokers.

#[cfg(feature = "kafka")]
mod direct;
#[cfg(feature = "kafka")]
mod housekeeper;
mod settings;

pub use settings::KafkaSourceSpec;

use super::{Opening, Source, SourceKind, SourceSettings};
use std::sync::Arc;

/// `type = "kafka"`: see [`KafkaSourceSpec`].
pub const KIND: SourceKind = SourceKind {
    name: "kafka",
    receives: false,
    alone: None,
    read: |r, reading| Some(Arc::new(settings::read(r, reading.pipeline)?)),
};

impl SourceSettings for KafkaSourceSpec {
    #[cfg(feature = "kafka")]
    fn open(&self, opening: Opening<'_>) -> anyhow::Result<Box<dyn Source>> {
        Ok(Box::new(direct::KafkaSource::open(
            opening.handle,
            self,
            opening.interval_ms,
            opening.position,
        )?))
    }

    #[cfg(not(feature = "kafka"))]
    fn open(&self, _: Opening<'_>) -> anyhow::Result<Box<dyn Source>> {
        anyhow::bail!("this sluice was built without Kafka support (the `kafka` cargo feature)")
    }

    /// A record is a string or a map, as `format` says.
    fn lines(&self) -> bool {
        false
    }
}
