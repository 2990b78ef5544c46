//! Sinks: where a batch's results go once every stage has run.
//!
//! A batch's output is all or nothing across sinks. Sinks that can write out of sight
//! (files: a hidden directory) [`Sink::stage`] the batch first; then the sinks that
//! write where readers see at once (print, Kafka) write it; only then are the staged
//! batches published (files: renamed into place). A failure before publishing discards
//! every staged batch, so no sink shows a batch another sink failed on; a failure while
//! publishing (a rename) leaves some directories published, and the batch's retry (or
//! its re-run at the next start) rewrites them whole, since a batch's directory is
//! replaced, never appended to.
//!
//! Each sink's file holds all of it: its settings and how they are read from the
//! pipeline file (its [`SinkKind`], listed in [`KINDS`]), how it opens and writes.

mod files;
mod kafka;
mod kind;
mod print;

pub use files::{Files, FilesSink};
pub use kafka::{KafkaSinkSpec, TransactionSpec};
pub use kind::{SinkKind, SinkSettings, SinkSpec};
pub use print::{Print, PrintSink};

use crate::record::Records;

/// One batch's records for one sink.
pub struct SinkBatch<'a> {
    /// The batch time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The records, by partition.
    pub partitions: &'a [Records],
    /// The plugin versions that produced them: (plugin, content hash), by name.
    pub versions: &'a [(String, String)],
}

/// A place results are written.
pub trait Sink: Send {
    /// Writes one batch. A sink that [`stages`](Sink::stages) writes it out of sight, to
    /// be [`publish`](Sink::publish)ed or [`discard`](Sink::discard)ed; any other
    /// writes it where readers see it.
    fn write(&mut self, batch: &SinkBatch<'_>) -> anyhow::Result<()>;

    /// Whether [`write`](Sink::write) stages the batch out of sight.
    fn stages(&self) -> bool {
        false
    }

    /// Makes the staged batch `time_ms` visible.
    fn publish(&mut self, time_ms: u64) -> anyhow::Result<()> {
        let _ = time_ms;
        Ok(())
    }

    /// Drops the staged batch `time_ms`: another sink failed on it.
    fn discard(&mut self, time_ms: u64) {
        let _ = time_ms;
    }

    /// Tells the sink the run's stop signal: a sink that waits on something outside
    /// (brokers) gives up on the batch once it is raised, so a stop is obeyed in seconds.
    fn watch(&mut self, shutdown: &crate::shutdown::Shutdown) {
        let _ = shutdown;
    }

    /// Takes `settings`, edited in the pipeline file while it runs, from the next batch
    /// on; returns whether it could (by default it cannot: a restart is needed).
    fn reconfigure(&mut self, settings: &dyn SinkSettings) -> bool {
        let _ = settings;
        false
    }
}

/// Every kind of sink, as `type = "..."` names them. A new sink is its own file, which
/// defines its [`SinkKind`], and one line here.
pub const KINDS: [&SinkKind; 3] = [&print::KIND, &files::KIND, &kafka::KIND];

/// Opens the sink `spec` of the pipeline named `pipeline`.
pub fn open(spec: &SinkSpec, pipeline: &str) -> anyhow::Result<Box<dyn Sink>> {
    spec.settings.open(&spec.name, pipeline)
}
