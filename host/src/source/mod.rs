//! Sources: where a pipeline's records come from.
//!
//! Two families, as in Spark Streaming. **Receivers** (`socket`, `stdin`) run a thread
//! that reads lines as they arrive into a [`Received`] buffer; a cut takes what is
//! there. **Replayable sources** (`directory`, `generator`) hand out, at each cut, a
//! description of the batch's input (which files, which range of generated lines) that
//! the executor reads in parallel; that description is also what a checkpoint records.
//! A Kafka source (`kafka/`) is replayable too: its description is offset ranges.
//!
//! Each source's file holds all of it: its settings and how they are read from the
//! pipeline file (its [`SourceKind`], listed in [`KINDS`]), how it opens, cuts and
//! replays. This folder knows nothing of checkpoints: `checkpoint/` stores its
//! [`Descriptor`]s and [`Position`]s without looking inside.
//!
//! Every source obeys the rate limit in its [`SourceHandle`] (see `rate`): receivers
//! wait before they read, the others take less at a cut.

mod directory;
mod file_lines;
mod generator;
mod handle;
mod kafka;
mod kind;
mod position;
mod received;
mod socket;
mod stdin;
mod wal;

pub use generator::GeneratorSpec;
pub use generator::{Generator, Vocabulary};
pub use handle::{SourceError, SourceHandle};
pub use kafka::KafkaSourceSpec;
pub use kind::{Opening, RateSpec, SourceKind, SourceSettings, SourceSpec};
pub use position::{Descriptor, Position};
pub use received::{Received, ReceivedCut};
pub use wal::{Wal, WalPos};

use crate::record::Records;
use std::path::Path;
use std::sync::Arc;

/// A source of records, cut into batches by the scheduler.
pub trait Source: Send {
    /// Takes what belongs to the batch at `batch_time_ms`.
    fn cut(&mut self, batch_time_ms: u64) -> SourceBatch;

    /// Whether the source has ended: everything it will ever produce is in cuts
    /// already taken or in the next one.
    fn is_finished(&self) -> bool;

    /// Stops receiving; what was received stays for the next cut.
    fn stop(&mut self);

    /// The records of a journaled batch, given again exactly as they were.
    fn replay(
        &mut self,
        descriptor: &Descriptor,
        partitions: usize,
    ) -> anyhow::Result<Vec<Records>>;

    /// A receiver's buffer (and write-ahead log), for housekeeping after checkpoints.
    fn received(&self) -> Option<Arc<Received>> {
        None
    }

    /// The source's rate limit and status, shared with the rest of the run.
    fn handle(&self) -> &Arc<SourceHandle>;

    /// What to tell when a batch this source fed is complete (a Kafka source commits
    /// its offsets to the consumer group).
    fn committer(&self) -> Option<Arc<dyn Committer>> {
        None
    }
}

/// Told, with the batch's descriptor, once a batch's output is written and its state
/// committed. Called on the batch loop's thread: it must not block.
pub trait Committer: Send + Sync {
    /// The batch fed `descriptor` is complete.
    fn commit(&self, descriptor: &Descriptor);
}

/// One source's share of a batch: what the source cut, and how to read it. Each source
/// implements it in its own file, beside its [`Source::cut`].
pub trait Cut: Send {
    /// What the batch journal records of this share, enough to give it again.
    fn descriptor(&self) -> Descriptor;

    /// Reads the share's records into `partitions` partitions (a source may keep its
    /// own partitioning: a Kafka source gives one partition per Kafka partition).
    fn read(self: Box<Self>, partitions: usize) -> Vec<Records>;
}

/// One source's share of a batch, as the scheduler and executor handle it.
pub struct SourceBatch(Box<dyn Cut>);

impl SourceBatch {
    /// A share cut as `cut`.
    pub fn new(cut: impl Cut + 'static) -> Self {
        SourceBatch(Box::new(cut))
    }

    /// What the batch journal records of this share.
    pub fn descriptor(&self) -> Descriptor {
        self.0.descriptor()
    }

    /// Reads the batch's records into `partitions` partitions.
    pub fn materialize(self, partitions: usize) -> Vec<Records> {
        self.0.read(partitions)
    }
}

impl std::fmt::Debug for SourceBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SourceBatch")
            .field(&self.descriptor())
            .finish()
    }
}

/// Every kind of source, as `type = "..."` names them. A new source is its own file,
/// which defines its [`SourceKind`], and one line here.
pub const KINDS: [&SourceKind; 5] = [
    &socket::KIND,
    &directory::KIND,
    &stdin::KIND,
    &generator::KIND,
    &kafka::KIND,
];

/// Opens the source `spec` for a pipeline of `partitions` partitions with batches of
/// `interval_ms`, resuming after `position`. Write-ahead logs live under `checkpoint_dir`.
/// Its [`SourceHandle`] carries the rate limit from `spec`.
pub fn open(
    spec: &SourceSpec,
    partitions: usize,
    interval_ms: u64,
    position: &Position,
    checkpoint_dir: Option<&Path>,
) -> anyhow::Result<Box<dyn Source>> {
    spec.settings.open(Opening {
        name: &spec.name,
        handle: Arc::new(SourceHandle::new(spec)),
        partitions,
        interval_ms,
        position,
        wal: checkpoint_dir
            .filter(|_| spec.wal)
            .map(|dir| dir.join("wal").join(&spec.name)),
    })
}

/// Replays a descriptor that any source kind can give again from its description alone.
fn replay_described(
    descriptor: &Descriptor,
    partitions: usize,
    generator: Option<&Generator>,
) -> anyhow::Result<Vec<Records>> {
    match (descriptor, generator) {
        (Descriptor::Files(files), _) => {
            if let Some(gone) = files.iter().find(|f| !f.is_file()) {
                anyhow::bail!(
                    "cannot read {} again: it is gone (input files must stay until their batch is checkpointed)",
                    gone.display()
                );
            }
            Ok(file_lines::read_files(files, partitions))
        }
        (Descriptor::Generated { from, to, .. }, Some(generator)) => {
            Ok(generator::generate(generator, *from..*to, partitions))
        }
        (Descriptor::Volatile { records: 0 }, _) => Ok(vec![Records::new(); partitions.max(1)]),
        (Descriptor::Volatile { records }, _) => {
            anyhow::bail!(
                "its {records} received records were not written ahead (set `wal = true` on the source to keep them) and are lost"
            )
        }
        (other, _) => anyhow::bail!("this source cannot give {other:?} again"),
    }
}
