//! Rate control: how many records per second a source may take.
//!
//! Two limits combine, as in Spark Streaming. `max_rate` is fixed
//! (`spark.streaming.receiver.maxRate`); `backpressure = true`
//! (`spark.streaming.backpressure.enabled`) lets a [`PidRateEstimator`] set the rate
//! after every batch from its processing time and scheduling delay, through the
//! [`RateController`]. A source's [`RateLimit`] holds the lower of the two.
//!
//! Sources apply it the way each can: receivers (socket, stdin) wait for permits from a
//! [`Throttle`] before reading a record, so an unread connection pushes back on the
//! sender; sources cut on demand (generator, directory) take fewer records per batch,
//! metered by a [`TokenBucket`] on batch time.

mod bucket;
mod controller;
mod limit;
mod meter;
mod pid;
mod throttle;

pub use bucket::TokenBucket;
pub use controller::{BatchTaken, Governed, RateController};
pub use limit::RateLimit;
pub use meter::BatchMeter;
pub use pid::{BatchSample, PidRateEstimator, PidSettings};
pub use throttle::{MonotonicTicker, Throttle, Ticker};
