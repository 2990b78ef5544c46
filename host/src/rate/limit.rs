//! The rate one source may take records at right now, shared between the rate
//! controller (which writes it after every batch) and the source (which reads it
//! whenever it takes records).

use std::sync::atomic::{AtomicU64, Ordering};

/// A source's current limit: the lower of its fixed `max_rate` and the backpressure
/// estimate, either of which may be absent.
#[derive(Debug)]
pub struct RateLimit {
    /// `max_rate`'s bits as an `f64`; infinity when there is none. Changed only by an
    /// edit of the pipeline file in `sluice dev`.
    max: AtomicU64,
    /// The estimate's bits as an `f64`; infinity when there is none.
    estimate: AtomicU64,
}

impl RateLimit {
    /// A limit of `max_rate` records per second (none when `None`), with no estimate yet.
    pub fn new(max_rate: Option<u64>) -> Self {
        RateLimit {
            max: AtomicU64::new(max_rate.map_or(f64::INFINITY, |r| r as f64).to_bits()),
            estimate: AtomicU64::new(f64::INFINITY.to_bits()),
        }
    }

    /// No limit at all (until an estimate is set).
    pub fn unlimited() -> Self {
        RateLimit::new(None)
    }

    /// The fixed `max_rate`, in records per second.
    pub fn max_rate(&self) -> Option<f64> {
        let rate = f64::from_bits(self.max.load(Ordering::Relaxed));
        rate.is_finite().then_some(rate)
    }

    /// Replaces the fixed `max_rate` (`None` removes it).
    pub fn set_max_rate(&self, max_rate: Option<u64>) {
        let rate = max_rate.map_or(f64::INFINITY, |r| r as f64);
        self.max.store(rate.to_bits(), Ordering::Relaxed);
    }

    /// The backpressure estimate, in records per second.
    pub fn estimate(&self) -> Option<f64> {
        let rate = f64::from_bits(self.estimate.load(Ordering::Relaxed));
        rate.is_finite().then_some(rate)
    }

    /// Replaces the backpressure estimate (`None` removes it).
    pub fn set_estimate(&self, rate: Option<f64>) {
        let bits = rate.filter(|r| r.is_finite()).unwrap_or(f64::INFINITY);
        self.estimate
            .store(bits.max(0.0).to_bits(), Ordering::Relaxed);
    }

    /// The rate in force: the lower of `max_rate` and the estimate; `None` for no limit.
    pub fn current(&self) -> Option<f64> {
        match (self.max_rate(), self.estimate()) {
            (Some(max), Some(estimate)) => Some(max.min(estimate)),
            (one, other) => one.or(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lower_of_max_rate_and_estimate_is_in_force() {
        let limit = RateLimit::new(Some(1_000));
        assert_eq!(limit.current(), Some(1_000.0));
        limit.set_estimate(Some(400.0));
        assert_eq!(limit.current(), Some(400.0));
        limit.set_estimate(Some(5_000.0));
        assert_eq!(limit.current(), Some(1_000.0));
        limit.set_estimate(None);
        assert_eq!(limit.current(), Some(1_000.0));
        let open = RateLimit::unlimited();
        assert_eq!(open.current(), None);
        open.set_estimate(Some(250.0));
        assert_eq!(
            (open.current(), open.estimate()),
            (Some(250.0), Some(250.0))
        );
    }
}
