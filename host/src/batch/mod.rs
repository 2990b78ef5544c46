//! Cutting time into batches.
//!
//! The [`BatchScheduler`] wakes at every multiple of the batch interval (the batch
//! time), takes from each source what arrived since the last cut, and queues the result
//! as one [`BatchInput`]. It never waits for processing: if the executor falls behind,
//! batches queue up and their scheduling delay grows, as in Spark; nothing is dropped.
//! Time comes from a [`Clock`], so tests drive the scheduler with a [`ManualClock`].

mod clock;
mod scheduler;

pub use crate::shutdown::Shutdown;
pub use clock::{Clock, ManualClock, SystemClock};
pub use scheduler::{BatchInput, BatchScheduler};
