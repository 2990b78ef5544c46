//! Sources: where a pipeline's records come from.
//!
//! Two families, as in Spark Streaming. **Receivers** (`socket`, `stdin`) run a thread
//! that reads lines as they arrive into a [`Received`] buffer; a cut takes what is
//! there. **Replayable sources** (`directory`, `generator`) hand out, at each cut, a
//! description of the batch's input (which files, which range of generated lines) that
//! the executor reads in parallel; that description is also what a checkpoint records.
//!
//! Every source obeys the rate limit in its [`SourceHandle`] (see `rate`): receivers
//! wait before they read, the others take less at a cut.

mod directory;
mod generator;
mod handle;
mod received;
mod socket;
mod stdin;

pub use generator::{Generator, Vocabulary};
pub use handle::{SourceError, SourceHandle};
pub use received::Received;

use crate::config::{SourceKind, SourceSpec};
use crate::record::Records;
use rayon::prelude::*;
use std::ops::Range;
use std::path::PathBuf;
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

    /// The source's rate limit and status, shared with the rest of the run.
    fn handle(&self) -> &Arc<SourceHandle>;
}

/// One source's share of a batch.
#[derive(Debug)]
pub enum SourceBatch {
    /// Records already received, already spread over partitions.
    Records(Vec<Records>),
    /// Files to read, in order.
    Files(Vec<PathBuf>),
    /// Lines `range` of a generator.
    Generated(Arc<Generator>, Range<u64>),
}

impl SourceBatch {
    /// Reads the batch's records into `partitions` partitions.
    pub fn materialize(self, partitions: usize) -> Vec<Records> {
        match self {
            SourceBatch::Records(parts) => parts,
            SourceBatch::Files(files) => {
                let read: Vec<Records> =
                    files.par_iter().map(|f| directory::read_lines(f)).collect();
                Records::concat(&read).split(partitions)
            }
            SourceBatch::Generated(generator, range) => {
                let len = range.end - range.start;
                let n = partitions as u64;
                (0..n)
                    .into_par_iter()
                    .map(|p| {
                        generator.lines(range.start + len * p / n..range.start + len * (p + 1) / n)
                    })
                    .collect()
            }
        }
    }

    /// How many records the batch holds, where that is known before reading it.
    pub fn known_len(&self) -> Option<u64> {
        match self {
            SourceBatch::Records(parts) => Some(parts.iter().map(|p| p.len() as u64).sum()),
            SourceBatch::Files(_) => None,
            SourceBatch::Generated(_, range) => Some(range.end - range.start),
        }
    }
}

/// Opens the source `spec` for a pipeline of `partitions` partitions with batches of
/// `interval_ms`. Its [`SourceHandle`] carries the rate limit from `spec`.
pub fn open(
    spec: &SourceSpec,
    partitions: usize,
    interval_ms: u64,
) -> anyhow::Result<Box<dyn Source>> {
    let handle = Arc::new(SourceHandle::new(spec));
    Ok(match &spec.kind {
        SourceKind::Socket { address, reconnect } => Box::new(socket::SocketSource::start(
            handle, address, *reconnect, partitions,
        )?),
        SourceKind::Stdin => Box::new(stdin::StdinSource::start(handle, partitions)?),
        SourceKind::Directory { path } => {
            Box::new(directory::DirectorySource::new(handle, path, interval_ms))
        }
        SourceKind::Generator(g) => Box::new(generator::GeneratorSource::new(
            Generator::new(g.clone()),
            interval_ms,
            handle,
        )),
    })
}
