//! Holding a receiver to its rate limit: before it reads a record, it waits for a
//! permit. A receiver that waits stops reading its connection, the kernel's buffers
//! fill, and TCP tells the sender to wait too: the limit pushes back to the producer
//! instead of piling records up in memory.
//!
//! Permits come from a [`TokenBucket`] in chunks of about 10 ms of records, so a
//! receiver at a high rate touches the shared limit rarely and one at a low rate still
//! spreads its records over the interval. Time comes from a [`Ticker`], so tests run
//! the throttle without sleeping.

use super::{RateLimit, TokenBucket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Permits handed out at once when there is no limit: the limit is looked at again
/// after this many records, so a limit set later (backpressure) takes effect quickly.
const UNLIMITED_CHUNK: u64 = 8192;
/// The longest single sleep, so that a stop or a higher rate is noticed quickly.
const LONGEST_NAP: Duration = Duration::from_millis(50);

/// Where a throttle gets the time and how it waits.
pub trait Ticker {
    /// Time since a fixed origin.
    fn now(&self) -> Duration;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration);
}

/// The monotonic clock and a real sleep.
#[derive(Clone, Copy, Debug)]
pub struct MonotonicTicker {
    origin: Instant,
}

impl Default for MonotonicTicker {
    fn default() -> Self {
        MonotonicTicker {
            origin: Instant::now(),
        }
    }
}

impl Ticker for MonotonicTicker {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// Permits for one receiver thread.
pub struct Throttle<'a, T: Ticker = MonotonicTicker> {
    limit: &'a RateLimit,
    ticker: T,
    bucket: Option<TokenBucket>,
    granted: u64,
    wait: Duration,
}

/// Permits handed out per refill: about 10 ms of records, between 1 and 1024.
fn chunk(rate: f64) -> u64 {
    (rate * 0.01).clamp(1.0, 1024.0) as u64
}

/// Tokens a receiver may save up: 50 ms of records, and at least one chunk.
fn burst(rate: f64) -> f64 {
    (rate * 0.05).max(chunk(rate) as f64)
}

impl<'a> Throttle<'a, MonotonicTicker> {
    /// A throttle on `limit`, on the monotonic clock.
    pub fn new(limit: &'a RateLimit) -> Self {
        Throttle::with_ticker(limit, MonotonicTicker::default())
    }
}

impl<'a, T: Ticker> Throttle<'a, T> {
    /// A throttle on `limit` that reads time from `ticker`.
    pub fn with_ticker(limit: &'a RateLimit, ticker: T) -> Self {
        Throttle {
            limit,
            ticker,
            bucket: None,
            granted: 0,
            wait: Duration::ZERO,
        }
    }

    /// Takes a permit for one record if one can be had without waiting.
    pub fn try_admit(&mut self) -> bool {
        if self.granted == 0 && !self.refill() {
            return false;
        }
        self.granted -= 1;
        true
    }

    /// Takes a permit for one record, waiting as long as the limit says; returns false
    /// (without a permit) if `stopping` is raised while it waits.
    pub fn admit(&mut self, stopping: &AtomicBool) -> bool {
        loop {
            if self.try_admit() {
                return true;
            }
            if stopping.load(Ordering::SeqCst) {
                return false;
            }
            self.ticker.sleep(self.wait.min(LONGEST_NAP));
        }
    }

    /// Grants the next chunk of permits if the bucket has them; otherwise records how
    /// long until it will.
    fn refill(&mut self) -> bool {
        let Some(rate) = self.limit.current() else {
            self.bucket = None;
            self.granted = UNLIMITED_CHUNK;
            return true;
        };
        let now = self.ticker.now();
        let bucket = self
            .bucket
            .get_or_insert_with(|| TokenBucket::new(rate, burst(rate)));
        if bucket.rate() != rate {
            bucket.set_rate(rate, burst(rate), now);
        }
        let n = chunk(rate);
        self.wait = bucket.wait_for(n as f64, now);
        if self.wait.is_zero() {
            bucket.take(n as f64);
            self.granted = n;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A clock that moves only when the throttle sleeps.
    #[derive(Default)]
    struct FakeTicker {
        clock: Cell<Duration>,
        slept: Cell<u32>,
    }

    impl Ticker for &FakeTicker {
        fn now(&self) -> Duration {
            self.clock.get()
        }
        fn sleep(&self, duration: Duration) {
            self.clock.set(self.clock.get() + duration);
            self.slept.set(self.slept.get() + 1);
        }
    }

    /// Records admitted in each of `seconds` one-second windows.
    fn admitted_per_second(limit: &RateLimit, seconds: u64) -> Vec<u64> {
        let ticker = FakeTicker::default();
        let mut throttle = Throttle::with_ticker(limit, &ticker);
        let stop = AtomicBool::new(false);
        let mut counts = vec![0; seconds as usize];
        loop {
            assert!(throttle.admit(&stop));
            let second = ticker.clock.get().as_secs();
            if second >= seconds {
                return counts;
            }
            counts[second as usize] += 1;
        }
    }

    #[test]
    fn a_limited_receiver_takes_the_rate_every_second() {
        let limit = RateLimit::new(Some(1_000));
        let counts = admitted_per_second(&limit, 5);
        // The first second also spends the initial burst (50 ms of records).
        assert!((1_000..=1_060).contains(&counts[0]), "{counts:?}");
        for &n in &counts[1..] {
            assert!((990..=1_010).contains(&n), "{counts:?}");
        }
    }

    #[test]
    fn a_low_rate_spreads_single_records() {
        let limit = RateLimit::new(Some(4));
        let counts = admitted_per_second(&limit, 3);
        assert!(counts.iter().all(|&n| (4..=5).contains(&n)), "{counts:?}");
    }

    #[test]
    fn no_limit_never_waits() {
        let limit = RateLimit::unlimited();
        let ticker = FakeTicker::default();
        let mut throttle = Throttle::with_ticker(&limit, &ticker);
        for _ in 0..100_000 {
            assert!(throttle.try_admit());
        }
        assert_eq!(ticker.slept.get(), 0);
    }

    #[test]
    fn a_limit_set_later_takes_effect_within_a_chunk() {
        let limit = RateLimit::unlimited();
        let ticker = FakeTicker::default();
        let mut throttle = Throttle::with_ticker(&limit, &ticker);
        assert!(throttle.try_admit());
        limit.set_estimate(Some(100.0));
        let free = (0..UNLIMITED_CHUNK * 2)
            .take_while(|_| throttle.try_admit())
            .count() as u64;
        assert!(free < UNLIMITED_CHUNK + 10, "{free}");
    }

    #[test]
    fn a_stop_ends_the_wait() {
        let limit = RateLimit::new(Some(1));
        let ticker = FakeTicker::default();
        let mut throttle = Throttle::with_ticker(&limit, &ticker);
        assert!(throttle.try_admit());
        let stop = AtomicBool::new(true);
        assert!(!throttle.admit(&stop));
    }
}
