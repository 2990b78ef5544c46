//! Kafka, as a source and a sink.
//!
//! The source is Spark's direct stream: no receiver, no consumer-group rebalancing.
//! Each cut asks the brokers where every partition of the source's topics ends and
//! journals, per partition, the offset range the batch takes ([`OffsetRange`], in the
//! [`Descriptor::Kafka`](crate::checkpoint::Descriptor::Kafka) of the batch). The batch
//! reads exactly those ranges when it runs, and again after a crash; Kafka partition
//! `i` of the cut is partition `i` of the batch. Offsets are committed to the consumer
//! group once a batch's output is complete.
//!
//! The sink writes each batch through an idempotent producer, flushed before the batch
//! counts as written, or, with `transactional = true`, in one transaction per batch
//! that also records the batch time, so that a batch computed again after a crash is
//! not written twice.
//!
//! - `range.rs`: offset ranges and the arithmetic of a cut (no client).
//! - `codec.rs`: messages to records and records to messages (no client).
//! - `client.rs`: settings, the librdkafka context, broker reachability.
//! - `source.rs`, `fetch.rs`, `housekeeper.rs`: the source, reading ranges, and the
//!   source's thread (group commits, probing brokers that went away).
//! - `sink.rs`, `commits.rs`: the sink, and its transactions' commits topic.
//!
//! Everything that needs librdkafka is behind the `kafka` cargo feature (on by
//! default); the formats (ranges in journals and checkpoints) are not.

mod codec;
mod range;

#[cfg(feature = "kafka")]
mod client;
#[cfg(feature = "kafka")]
mod commits;
#[cfg(feature = "kafka")]
mod fetch;
#[cfg(feature = "kafka")]
mod housekeeper;
#[cfg(feature = "kafka")]
mod sink;
#[cfg(all(test, feature = "kafka"))]
mod sink_tests;
#[cfg(feature = "kafka")]
mod source;

pub use codec::{Consumed, Outgoing, push_consumed, to_message};
pub use range::{
    Adjustment, Cut, OffsetRange, Origin, TopicPartition, Watermarks, cut, starting_offset,
};

#[cfg(feature = "kafka")]
pub use fetch::Reader;
#[cfg(feature = "kafka")]
pub use sink::KafkaSink;
#[cfg(feature = "kafka")]
pub use source::KafkaSource;
