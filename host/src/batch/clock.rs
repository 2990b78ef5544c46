//! Where the scheduler gets the time: the system clock in production, a hand-driven
//! clock in tests.

use super::Shutdown;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now.
    fn now_ms(&self) -> u64;

    /// Sleeps until `deadline_ms`. Returns true when the deadline was reached, false
    /// when `shutdown` was raised first.
    fn sleep_until(&self, deadline_ms: u64, shutdown: &Shutdown) -> bool;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn sleep_until(&self, deadline_ms: u64, shutdown: &Shutdown) -> bool {
        loop {
            // A scheduler behind time (slow cuts, a downtime's catch-up) still stops.
            if shutdown.is_raised() {
                return false;
            }
            let now = self.now_ms();
            if now >= deadline_ms {
                return true;
            }
            if shutdown.wait(Duration::from_millis(deadline_ms - now)) {
                return false;
            }
        }
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Mutex<u64>,
    moved: Condvar,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        ManualClock {
            now: Mutex::new(start_ms),
            moved: Condvar::new(),
        }
    }

    /// Moves the clock to `ms` (never backwards) and wakes sleepers.
    pub fn set(&self, ms: u64) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now = (*now).max(ms);
        self.moved.notify_all();
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        let now = self.now_ms();
        self.set(now + ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sleep_until(&self, deadline_ms: u64, shutdown: &Shutdown) -> bool {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        while *now < deadline_ms {
            if shutdown.is_raised() {
                return false;
            }
            // Short waits so that a raised shutdown is noticed without the clock moving.
            now = self
                .moved
                .wait_timeout(now, Duration::from_millis(5))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}
