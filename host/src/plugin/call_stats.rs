//! Counters of the calls into one plugin version: how many, how long, and how many
//! failed, by kind of failure. Kept on the [`PluginVersion`](super::PluginVersion)
//! itself, so every version (old and new, across swaps) has its own, and read by the
//! metrics as differences between two snapshots.

use super::CallFailure;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a call failed, as a metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// The guest panicked.
    Panicked,
    /// The guest returned an error.
    Failed,
    /// The call ran past its deadline.
    Deadline,
    /// The guest went over its memory limit.
    Memory,
    /// Any other trap.
    Trapped,
    /// The guest broke the ABI.
    Protocol,
}

impl FailureKind {
    /// Every kind, in label order.
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Panicked,
        FailureKind::Failed,
        FailureKind::Deadline,
        FailureKind::Memory,
        FailureKind::Trapped,
        FailureKind::Protocol,
    ];

    /// The label metrics use.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Panicked => "panicked",
            FailureKind::Failed => "failed",
            FailureKind::Deadline => "deadline",
            FailureKind::Memory => "memory",
            FailureKind::Trapped => "trapped",
            FailureKind::Protocol => "protocol",
        }
    }

    /// Whether the failure was a trap of the instance (as opposed to an error the
    /// plugin returned on purpose).
    pub fn is_trap(self) -> bool {
        self != FailureKind::Failed
    }
}

impl CallFailure {
    /// The kind of this failure.
    pub fn kind(&self) -> FailureKind {
        match self {
            CallFailure::Panicked { .. } => FailureKind::Panicked,
            CallFailure::Failed { .. } => FailureKind::Failed,
            CallFailure::DeadlineExceeded { .. } => FailureKind::Deadline,
            CallFailure::MemoryExceeded { .. } => FailureKind::Memory,
            CallFailure::Trapped { .. } => FailureKind::Trapped,
            CallFailure::Protocol { .. } => FailureKind::Protocol,
        }
    }
}

/// Live counters, updated by every call.
#[derive(Debug, Default)]
pub struct CallStats {
    calls: AtomicU64,
    nanos: AtomicU64,
    failures: [AtomicU64; 6],
}

/// The counters at one moment, or the difference between two moments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Calls made.
    pub calls: u64,
    /// Time spent in them, summed over threads.
    pub time: Duration,
    /// Failed calls, by [`FailureKind::ALL`] order.
    pub failures: [u64; 6],
}

impl CallStats {
    /// Counts one call that took `time` and failed with `failure`, if it did.
    pub fn record(&self, time: Duration, failure: Option<FailureKind>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.nanos
            .fetch_add(time.as_nanos() as u64, Ordering::Relaxed);
        if let Some(kind) = failure {
            self.failures[kind as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> CallCounts {
        CallCounts {
            calls: self.calls.load(Ordering::Relaxed),
            time: Duration::from_nanos(self.nanos.load(Ordering::Relaxed)),
            failures: std::array::from_fn(|i| self.failures[i].load(Ordering::Relaxed)),
        }
    }
}

impl CallCounts {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &CallCounts) -> CallCounts {
        CallCounts {
            calls: self.calls.saturating_sub(earlier.calls),
            time: self.time.saturating_sub(earlier.time),
            failures: std::array::from_fn(|i| self.failures[i].saturating_sub(earlier.failures[i])),
        }
    }

    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &CallCounts) {
        self.calls += other.calls;
        self.time += other.time;
        for (mine, theirs) in self.failures.iter_mut().zip(other.failures) {
            *mine += theirs;
        }
    }

    /// All failed calls.
    pub fn failed(&self) -> u64 {
        self.failures.iter().sum()
    }

    /// Failed calls of `kind`.
    pub fn failures_of(&self, kind: FailureKind) -> u64 {
        self.failures[kind as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_subtract_to_what_happened_between() {
        let stats = CallStats::default();
        stats.record(Duration::from_millis(5), None);
        let before = stats.snapshot();
        stats.record(Duration::from_millis(7), Some(FailureKind::Deadline));
        stats.record(Duration::from_millis(1), None);
        let delta = stats.snapshot().since(&before);
        assert_eq!(delta.calls, 2);
        assert_eq!(delta.time, Duration::from_millis(8));
        assert_eq!(delta.failures_of(FailureKind::Deadline), 1);
        assert_eq!(delta.failed(), 1);
        let mut total = before;
        total.add(&delta);
        assert_eq!(total, stats.snapshot());
    }
}
