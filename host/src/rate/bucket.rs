//! A token bucket: the arithmetic of a rate limit, with time passed in.
//!
//! Tokens accrue at `rate` per second up to `burst`; taking records spends them. The
//! bucket may go into debt (a file of 5000 lines taken with 1000 tokens left): later
//! takes wait until the debt is paid, so the average rate holds even when records come
//! in lumps. Time is whatever the caller passes, measured from any fixed origin: the
//! socket receiver passes a monotonic clock, sources cut on demand pass the batch time,
//! tests pass numbers.

use std::time::Duration;

/// Tokens accruing at a rate, up to a burst.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Duration>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens filling at `rate` per second.
    pub fn new(rate: f64, burst: f64) -> Self {
        let burst = burst.max(1.0);
        TokenBucket {
            rate: rate.max(0.0),
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// The rate tokens accrue at, per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Changes the rate and burst from now on; tokens above the new burst are dropped.
    pub fn set_rate(&mut self, rate: f64, burst: f64, now: Duration) {
        self.refill(now);
        self.rate = rate.max(0.0);
        self.burst = burst.max(1.0);
        self.tokens = self.tokens.min(self.burst);
    }

    fn refill(&mut self, now: Duration) {
        if let Some(last) = self.last
            && now > last
        {
            let earned = (now - last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + earned).min(self.burst);
        }
        self.last = Some(self.last.map_or(now, |last| last.max(now)));
    }

    /// Tokens available at `now` (negative while in debt).
    pub fn available(&mut self, now: Duration) -> f64 {
        self.refill(now);
        self.tokens
    }

    /// Whether the bucket holds all the tokens it can.
    pub fn is_full(&mut self, now: Duration) -> bool {
        self.available(now) >= self.burst
    }

    /// Spends `n` tokens, going into debt if there are fewer.
    pub fn take(&mut self, n: f64) {
        self.tokens -= n;
    }

    /// How long from `now` until `n` tokens (at most a full bucket) are available.
    pub fn wait_for(&mut self, n: f64, now: Duration) -> Duration {
        let missing = n.min(self.burst) - self.available(now);
        if missing <= 0.0 {
            Duration::ZERO
        } else if self.rate <= 0.0 {
            Duration::MAX
        } else {
            Duration::from_secs_f64(missing / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn tokens_accrue_at_the_rate_up_to_the_burst() {
        let mut bucket = TokenBucket::new(1000.0, 100.0);
        assert_eq!(bucket.available(ms(0)), 100.0);
        bucket.take(100.0);
        assert_eq!(bucket.available(ms(0)), 0.0);
        assert!((bucket.available(ms(50)) - 50.0).abs() < 1e-9);
        assert_eq!(bucket.available(ms(10_000)), 100.0);
    }

    #[test]
    fn debt_is_paid_before_more_is_taken() {
        let mut bucket = TokenBucket::new(100.0, 100.0);
        bucket.take(300.0);
        assert_eq!(bucket.available(ms(0)), -200.0);
        assert_eq!(bucket.wait_for(1.0, ms(0)), Duration::from_millis(2010));
        assert!((bucket.available(ms(2_000)) - 0.0).abs() < 1e-9);
    }

    #[test]
    fn waits_are_for_at_most_a_full_bucket() {
        let mut bucket = TokenBucket::new(10.0, 5.0);
        bucket.take(5.0);
        assert_eq!(bucket.wait_for(1_000.0, ms(0)), Duration::from_millis(500));
        assert_eq!(bucket.wait_for(1.0, ms(100)), Duration::ZERO);
    }

    #[test]
    fn time_going_backwards_earns_nothing() {
        let mut bucket = TokenBucket::new(1000.0, 1000.0);
        bucket.available(ms(500));
        bucket.take(1000.0);
        assert_eq!(bucket.available(ms(100)), 0.0);
        assert!((bucket.available(ms(600)) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn a_new_rate_applies_from_now_and_caps_the_tokens() {
        let mut bucket = TokenBucket::new(1000.0, 1000.0);
        bucket.available(ms(0));
        bucket.set_rate(10.0, 10.0, ms(0));
        assert_eq!(bucket.available(ms(0)), 10.0);
        bucket.take(10.0);
        assert!((bucket.available(ms(500)) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn a_zero_rate_never_refills() {
        let mut bucket = TokenBucket::new(0.0, 1.0);
        bucket.take(1.0);
        assert_eq!(bucket.wait_for(1.0, ms(0)), Duration::MAX);
    }
}
