//! Holding a source that is cut on demand (generator, directory) to its rate limit:
//! an allowance that grows with batch time at the rate, so that a batch takes at most
//! `rate × interval` records. Unused whole records are not saved up into a flood later;
//! the unused fraction of one is, so that rates below one record per batch still come
//! through; an overdraft (a file larger than the allowance) is paid off by the batches
//! after it.

use super::RateLimit;

/// The allowance of successive batches of one source.
#[derive(Clone, Debug)]
pub struct BatchMeter {
    interval_secs: f64,
    state: Option<Allowance>,
}

#[derive(Clone, Copy, Debug)]
struct Allowance {
    /// The batch time it was computed for.
    at_ms: u64,
    /// Records one batch may take at the current rate.
    per_batch: f64,
    /// Records left (negative while in debt).
    left: f64,
}

impl BatchMeter {
    /// A meter for batches `interval_ms` apart.
    pub fn new(interval_ms: u64) -> Self {
        BatchMeter {
            interval_secs: interval_ms.max(1) as f64 / 1000.0,
            state: None,
        }
    }

    /// How many records the batch at `batch_time_ms` may take under `limit` (negative
    /// while an earlier batch's overdraft is paid off); `None` when there is no limit.
    pub fn allowance(&mut self, limit: &RateLimit, batch_time_ms: u64) -> Option<f64> {
        let Some(rate) = limit.current() else {
            self.state = None;
            return None;
        };
        let per_batch = rate * self.interval_secs;
        let left = match self.state {
            None => per_batch,
            Some(last) if batch_time_ms > last.at_ms => {
                let earned = rate * (batch_time_ms - last.at_ms) as f64 / 1000.0;
                let carried = if last.left > 0.0 {
                    last.left.fract()
                } else {
                    0.0
                };
                (last.left + earned).min(per_batch + carried)
            }
            Some(last) => last.left,
        };
        self.state = Some(Allowance {
            at_ms: batch_time_ms,
            per_batch,
            left,
        });
        Some(left)
    }

    /// Whether the last allowance was a whole batch's worth (nothing spent, no debt).
    pub fn is_full(&self) -> bool {
        self.state.is_none_or(|s| s.left >= s.per_batch)
    }

    /// Spends `records` of the allowance.
    pub fn spend(&mut self, records: u64) {
        if let Some(state) = &mut self.state {
            state.left -= records as f64;
        }
    }

    /// How many of `wanted` records the batch at `batch_time_ms` takes under `limit`,
    /// spent at once.
    pub fn take_up_to(&mut self, limit: &RateLimit, batch_time_ms: u64, wanted: u64) -> u64 {
        let taken = match self.allowance(limit, batch_time_ms) {
            None => wanted,
            Some(allowed) => wanted.min(allowed.max(0.0).floor() as u64),
        };
        self.spend(taken);
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_batch_takes_at_most_its_interval_at_the_rate() {
        let limit = RateLimit::new(Some(1_000));
        let mut meter = BatchMeter::new(500);
        let taken: Vec<u64> = (1..=4)
            .map(|b| meter.take_up_to(&limit, b * 500, 10_000))
            .collect();
        assert_eq!(taken, [500, 500, 500, 500]);
    }

    #[test]
    fn unused_allowance_is_not_saved_beyond_one_batch() {
        let limit = RateLimit::new(Some(1_000));
        let mut meter = BatchMeter::new(1_000);
        assert_eq!(meter.take_up_to(&limit, 1_000, 10), 10);
        // Five quiet seconds later, still one batch's worth.
        assert_eq!(meter.take_up_to(&limit, 6_000, 10_000), 1_000);
    }

    #[test]
    fn fractional_allowances_carry_over() {
        let limit = RateLimit::new(Some(3));
        let mut meter = BatchMeter::new(100);
        let total: u64 = (1..=100)
            .map(|b| meter.take_up_to(&limit, b * 100, 1_000))
            .sum();
        // 10 s at 3/s, the first batch's allowance rounded down.
        assert!((29..=30).contains(&total), "{total}");
    }

    #[test]
    fn an_overdraft_is_paid_by_later_batches() {
        let limit = RateLimit::new(Some(100));
        let mut meter = BatchMeter::new(1_000);
        assert_eq!(meter.allowance(&limit, 1_000), Some(100.0));
        assert!(meter.is_full());
        meter.spend(250);
        assert_eq!(meter.allowance(&limit, 2_000), Some(-50.0));
        assert_eq!(meter.allowance(&limit, 3_000), Some(50.0));
        assert!(!meter.is_full());
    }

    #[test]
    fn no_limit_takes_everything() {
        let limit = RateLimit::unlimited();
        let mut meter = BatchMeter::new(1_000);
        assert_eq!(meter.take_up_to(&limit, 1_000, 123_456), 123_456);
        assert_eq!(meter.allowance(&limit, 2_000), None);
    }

    #[test]
    fn a_new_rate_resizes_the_allowance() {
        let limit = RateLimit::new(None);
        limit.set_estimate(Some(10_000.0));
        let mut meter = BatchMeter::new(1_000);
        assert_eq!(meter.take_up_to(&limit, 1_000, 1_000_000), 10_000);
        limit.set_estimate(Some(2_000.0));
        assert_eq!(meter.take_up_to(&limit, 2_000, 1_000_000), 2_000);
    }
}
