//! What a plugin knows about the call it is in: the batch time and the partition.
//!
//! This is a plugin's only clock. It comes from the host with every call, so a batch
//! replayed against the same plugin sees the same time and produces the same output.

use std::cell::Cell;

/// The batch a call belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchContext {
    /// The batch time, in milliseconds since the Unix epoch.
    pub batch_time_ms: i64,
    /// The index of the partition this call processes.
    pub partition: u32,
}

thread_local! {
    static CURRENT: Cell<BatchContext> = const { Cell::new(BatchContext { batch_time_ms: 0, partition: 0 }) };
}

/// The batch the current call belongs to. Outside a call (in a native unit test, say)
/// it is the default: time 0, partition 0.
pub fn context() -> BatchContext {
    CURRENT.get()
}

pub(crate) fn set(context: BatchContext) {
    CURRENT.set(context);
}
