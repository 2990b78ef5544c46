//! A Prometheus histogram of durations: counts per upper bound, a sum and a count.

use std::time::Duration;

/// Upper bounds, in seconds, from a few milliseconds (a small batch) to minutes (a
/// stream far behind).
pub const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Observations of a duration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Observations at or below each of [`BUCKETS`] (not cumulative).
    counts: [u64; BUCKETS.len()],
    /// Observations above the last bound.
    over: u64,
    sum: f64,
}

impl Histogram {
    /// Adds one observation.
    pub fn observe(&mut self, value: Duration) {
        let secs = value.as_secs_f64();
        match BUCKETS.iter().position(|&bound| secs <= bound) {
            Some(i) => self.counts[i] += 1,
            None => self.over += 1,
        }
        self.sum += secs;
    }

    /// How many observations there were.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.over
    }

    /// Their sum, in seconds.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// `(upper bound, observations at or below it)` for every bound, then infinity:
    /// Prometheus's cumulative `le` buckets.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut running = 0;
        BUCKETS
            .iter()
            .zip(self.counts)
            .map(move |(&bound, n)| {
                running += n;
                (bound, running)
            })
            .chain(std::iter::once((f64::INFINITY, self.count())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let mut h = Histogram::default();
        for ms in [3, 5, 7, 200, 1_000, 500_000] {
            h.observe(Duration::from_millis(ms));
        }
        let buckets: Vec<(f64, u64)> = h.cumulative().collect();
        assert_eq!(buckets[0], (0.005, 2), "an observation on a bound is in it");
        assert_eq!(buckets[1], (0.01, 3));
        assert_eq!(buckets[5], (0.25, 4));
        assert_eq!(buckets[7], (1.0, 5));
        assert_eq!(buckets[13], (120.0, 5));
        assert_eq!(buckets[14], (f64::INFINITY, 6));
        assert_eq!(h.count(), 6);
        assert!((h.sum() - 501.215).abs() < 1e-9);
    }
}
