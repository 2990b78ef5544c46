//! Fault tolerance on disk: checkpoints, the batch journal and recovery.
//!
//! - [`Checkpoint`]: everything needed to resume after a batch: its time, each source's
//!   position, every stateful stage's state by name, plugin hashes and the pipeline's
//!   hash. No plugin code. Written every `checkpoint_interval` batches by [`store`],
//!   atomically, the last few kept.
//! - [`Journal`]: the batch journal. When the scheduler cuts a batch it appends the
//!   batch's time and what each source contributed (files, a generated range, a
//!   write-ahead-log range), synced, before the batch is processed. Recovery re-runs the
//!   journaled batches after the checkpoint with exactly the same inputs and times, so a
//!   recomputed batch writes exactly what it wrote before.
//! - [`recovery`]: putting a checkpoint back: state (at any partition count), source
//!   positions, and the check that the pipeline can still serve it.
//! - [`PluginLog`]: which plugin version is live and which were rolled back, with the
//!   live versions' modules, so that a restart runs what was live.
//! - [`DirLock`]: one process per checkpoint directory, and the temporary files a crash
//!   left removed under the lock.
//!
//! `docs/checkpoints.md` documents the on-disk formats.

mod format;
#[cfg(test)]
mod golden;
mod journal;
mod lock;
mod plugins;
pub mod recovery;
mod snapshot;
mod store;

pub use format::{CHECKPOINT_FORMAT, Checkpoint, SourcePosition, StageSnapshot, StateSnapshot};
pub use journal::{Journal, JournalEntry};
pub use lock::{DirLock, remove_temporaries};
pub use plugins::{PluginLog, PluginRecord};
pub use snapshot::{RecordsBlob, snapshot_state};
pub use store::{CheckpointStore, KEEP};
