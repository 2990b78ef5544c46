//! The stop signal shared by the scheduler, the receivers and the signal handler.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Raised once to ask the pipeline to drain and stop; threads can sleep on it.
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    raised: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Shutdown {
    /// A signal not yet raised.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks everything to stop receiving and drain; wakes every sleeper.
    pub fn raise(&self) {
        let _guard = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.inner.raised.store(true, Ordering::SeqCst);
        self.inner.wake.notify_all();
    }

    /// Whether [`Shutdown::raise`] was called.
    pub fn is_raised(&self) -> bool {
        self.inner.raised.load(Ordering::SeqCst)
    }

    /// Sleeps for at most `timeout`; returns early (true) if the signal is raised.
    pub fn wait(&self, timeout: Duration) -> bool {
        let guard = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_raised() {
            return true;
        }
        let _ = self.inner.wake.wait_timeout(guard, timeout);
        self.is_raised()
    }
}
