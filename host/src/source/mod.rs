//! Sources: where a pipeline's records come from.
//!
//! Two families, as in Spark Streaming. **Receivers** (`socket`, `stdin`) run a thread
//! that reads lines as they arrive into a [`Received`] buffer; a cut takes what is
//! there. **Replayable sources** (`directory`, `generator`) hand out, at each cut, a
//! description of the batch's input (which files, which range of generated lines) that
//! the executor reads in parallel; that description is also what a checkpoint records.
//! A Kafka source (`crate::kafka`) is replayable too: its description is offset ranges.
//!
//! Every source obeys the rate limit in its [`SourceHandle`] (see `rate`): receivers
//! wait before they read, the others take less at a cut.

mod directory;
mod generator;
mod handle;
#[cfg(feature = "kafka")]
mod kafka;
mod position;
mod received;
mod socket;
mod stdin;
mod wal;

pub use generator::{Generator, Vocabulary};
pub use handle::{SourceError, SourceHandle};
pub use position::{Descriptor, Position};
pub use received::Received;
pub use wal::{Wal, WalPos};

use crate::config::{SourceKind, SourceSpec};
use crate::record::Records;
use rayon::prelude::*;
use std::ops::Range;
use std::path::{Path, PathBuf};
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

/// One source's share of a batch.
#[derive(Debug)]
pub enum SourceBatch {
    /// Records already received and spread over partitions, and how to get them again.
    Received(Vec<Records>, Descriptor),
    /// Files to read, in order.
    Files(Vec<PathBuf>),
    /// Lines `range` of a generator that started at the given time.
    Generated(Arc<Generator>, u64, Range<u64>),
    /// Offset ranges of Kafka partitions, to read with the source's reader.
    #[cfg(feature = "kafka")]
    Kafka(Arc<crate::kafka::Reader>, Vec<crate::kafka::OffsetRange>),
}

impl SourceBatch {
    /// What the batch journal records of this share.
    pub fn descriptor(&self) -> Descriptor {
        match self {
            SourceBatch::Received(_, descriptor) => descriptor.clone(),
            SourceBatch::Files(files) => Descriptor::Files(files.clone()),
            SourceBatch::Generated(_, start_ms, range) => Descriptor::Generated {
                start_ms: *start_ms,
                from: range.start,
                to: range.end,
            },
            #[cfg(feature = "kafka")]
            SourceBatch::Kafka(_, ranges) => Descriptor::Kafka {
                ranges: ranges.clone(),
            },
        }
    }

    /// Reads the batch's records into `partitions` partitions (a Kafka source's into one
    /// partition per Kafka partition).
    pub fn materialize(self, partitions: usize) -> Vec<Records> {
        match self {
            SourceBatch::Received(parts, _) => parts,
            SourceBatch::Files(files) => read_files(&files, partitions),
            SourceBatch::Generated(generator, _, range) => generate(&generator, range, partitions),
            #[cfg(feature = "kafka")]
            SourceBatch::Kafka(reader, ranges) => reader.read(&ranges),
        }
    }
}

/// The lines of `files`, in order, split evenly into `partitions` partitions.
fn read_files(files: &[PathBuf], partitions: usize) -> Vec<Records> {
    let read: Vec<Records> = files.par_iter().map(|f| directory::read_lines(f)).collect();
    Records::concat(&read).split(partitions)
}

/// Lines `range` of `generator`, generated in parallel, one contiguous run per partition.
fn generate(generator: &Generator, range: Range<u64>, partitions: usize) -> Vec<Records> {
    let len = range.end - range.start;
    let n = partitions as u64;
    (0..n)
        .into_par_iter()
        .map(|p| generator.lines(range.start + len * p / n..range.start + len * (p + 1) / n))
        .collect()
}

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
    let handle = Arc::new(SourceHandle::new(spec));
    let last = match position {
        Position::Start => None,
        Position::After { last, .. } => Some(last),
    };
    let received = || -> anyhow::Result<Arc<Received>> {
        match checkpoint_dir.filter(|_| spec.wal) {
            Some(dir) => {
                let wal = Wal::open(&dir.join("wal").join(&spec.name))?;
                let resume = match last {
                    Some(Descriptor::Wal { to, .. }) => *to,
                    _ => WalPos::default(),
                };
                let received = Received::with_wal(partitions, wal, resume)?;
                if let Some(n) = received.logged() {
                    tracing::info!(
                        "source `{}`: its write-ahead log holds {n} records received so far",
                        spec.name
                    );
                }
                Ok(received)
            }
            None => Ok(Received::new(partitions)),
        }
    };
    Ok(match &spec.kind {
        SourceKind::Socket { address, reconnect } => Box::new(socket::SocketSource::start(
            handle,
            address,
            *reconnect,
            received()?,
        )?),
        SourceKind::Stdin => Box::new(stdin::StdinSource::start(handle, received()?)?),
        SourceKind::Directory { path } => {
            let taken = match position {
                Position::After { taken, .. } => taken.clone(),
                Position::Start => Vec::new(),
            };
            Box::new(directory::DirectorySource::new(
                handle,
                path,
                interval_ms,
                taken,
            ))
        }
        SourceKind::Generator(g) => {
            let resume = match last {
                Some(Descriptor::Generated { start_ms, to, .. }) => Some((*start_ms, *to)),
                _ => None,
            };
            Box::new(generator::GeneratorSource::new(
                Generator::new(g.clone()),
                interval_ms,
                handle,
                resume,
            ))
        }
        #[cfg(feature = "kafka")]
        SourceKind::Kafka(kafka) => Box::new(kafka::KafkaSource::open(
            handle,
            kafka,
            interval_ms,
            position,
        )?),
        #[cfg(not(feature = "kafka"))]
        SourceKind::Kafka(_) => {
            anyhow::bail!("this sluice was built without Kafka support (the `kafka` cargo feature)")
        }
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
            Ok(read_files(files, partitions))
        }
        (Descriptor::Generated { from, to, .. }, Some(generator)) => {
            Ok(generate(generator, *from..*to, partitions))
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
