//! What the Kafka source (`source/kafka`) and the Kafka sink (`sink/kafka`) share: the
//! client and the formats. It imports nothing of sources, sinks, checkpoints or the
//! engine.
//!
//! - `range.rs`: offset ranges and the arithmetic of a cut (no client). A batch's
//!   ranges are what its [`Descriptor::Kafka`](crate::source::Descriptor::Kafka) holds.
//! - `codec.rs`: messages to records and records to messages (no client).
//! - `settings.rs`: the settings sources and sinks share, read from the pipeline file
//!   (no client).
//! - `client.rs`: settings, the librdkafka context, broker reachability.
//! - `fetch.rs`: reading offset ranges ([`Reader`]): a batch's input, and the
//!   transactional sink's commits topic.
//!
//! Everything that needs librdkafka is behind the `kafka` cargo feature (on by
//! default); the formats (ranges in journals and checkpoints) and the settings are not.

pub mod codec;
pub mod range;
pub mod settings;

#[cfg(feature = "kafka")]
pub mod client;
#[cfg(feature = "kafka")]
mod fetch;

pub use codec::{Consumed, Outgoing, push_consumed, to_message};
pub use range::{
    Adjustment, Cut, OffsetRange, Origin, TopicPartition, Watermarks, cut, starting_offset,
};
pub use settings::{KafkaFormat, StartingOffsets, TopicSelection};

#[cfg(feature = "kafka")]
pub use fetch::Reader;
