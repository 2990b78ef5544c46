//! What a plugin may put in the log: its messages with control characters escaped
//! (`render::escape_controls`: a newline cannot start a line that looks like sluice's
//! own), at most
//! [`LINES_PER_SECOND`] lines a second per plugin version, and a count of what was held
//! back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Log lines a plugin version may emit per second; the rest are counted, not logged.
pub const LINES_PER_SECOND: u32 = 200;

/// Logs that `count` lines of plugin `plugin` version `version` were held back.
pub fn report_suppressed(plugin: &str, version: &str, count: u64) {
    tracing::warn!(
        target: "sluice::plugin",
        plugin,
        version,
        suppressed = count,
        "held back {count} log lines of plugin `{plugin}` (more than {LINES_PER_SECOND} in a second)"
    );
}

/// A plugin version's log budget: one-second windows of [`LINES_PER_SECOND`] lines.
#[derive(Debug)]
pub struct LogBudget {
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    emitted: u32,
    suppressed: u64,
}

/// What to do with one log line.
#[derive(Debug, PartialEq, Eq)]
pub struct Admit {
    /// Whether to log the line.
    pub emit: bool,
    /// Lines held back in the window that just ended, to report before this one.
    pub suppressed_before: u64,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            window: Mutex::new(Window {
                started: Instant::now(),
                emitted: 0,
                suppressed: 0,
            }),
        }
    }
}

impl LogBudget {
    /// Takes one line from the budget at `now`.
    pub fn admit(&self, now: Instant) -> Admit {
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let mut suppressed_before = 0;
        if now.duration_since(window.started) >= Duration::from_secs(1) {
            suppressed_before = window.suppressed;
            *window = Window {
                started: now,
                emitted: 0,
                suppressed: 0,
            };
        }
        let emit = window.emitted < LINES_PER_SECOND;
        if emit {
            window.emitted += 1;
        } else {
            window.suppressed += 1;
        }
        Admit {
            emit,
            suppressed_before,
        }
    }

    /// Lines held back and not reported yet (reported when the version is dropped).
    pub fn take_suppressed(&self) -> u64 {
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut window.suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_emits_its_budget_and_reports_the_rest_in_the_next() {
        let budget = LogBudget::default();
        let start = Instant::now();
        let emitted = (0..LINES_PER_SECOND + 50)
            .filter(|_| budget.admit(start).emit)
            .count();
        assert_eq!(emitted, LINES_PER_SECOND as usize);
        let next = budget.admit(start + Duration::from_secs(1));
        assert_eq!(
            next,
            Admit {
                emit: true,
                suppressed_before: 50
            }
        );
        assert_eq!(budget.take_suppressed(), 0);
    }
}
