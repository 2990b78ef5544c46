//! What the host keeps per instance and host imports reach: which plugin version it is,
//! which call it serves (for log lines), a guest panic's message, the version's log
//! budget, and the memory limiter that caps its linear memory.

use super::guest_log::LogBudget;
use std::sync::Arc;
use wasmtime::ResourceLimiter;

/// The host-side state of one instance, reachable from host imports.
pub struct HostState {
    pub(super) plugin: Arc<str>,
    pub(super) version: Arc<str>,
    pub(super) call: CallInfo,
    pub(super) panic: Option<String>,
    pub(super) log_budget: Arc<LogBudget>,
    pub(super) limiter: MemoryLimiter,
}

/// What the instance is doing now, for log lines.
#[derive(Default)]
pub struct CallInfo {
    pub function: Arc<str>,
    pub batch_time_ms: i64,
    pub partition: u32,
}

/// Caps linear memory and remembers a refused growth, so that the trap that follows
/// (Rust aborts when allocation fails) is reported as what it is.
pub(super) struct MemoryLimiter {
    pub(super) limit: u64,
    pub(super) refused: Option<u64>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit {
            self.refused = Some(desired as u64);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}
