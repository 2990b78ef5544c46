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

mod files;
#[cfg(feature = "kafka")]
mod kafka;
mod print;

pub use files::FilesSink;
pub use print::PrintSink;

use crate::config::{SinkKind, SinkSpec};
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
    fn watch(&mut self, shutdown: &crate::batch::Shutdown) {
        let _ = shutdown;
    }
}

/// Opens the sink `spec` of the pipeline named `pipeline`.
pub fn open(spec: &SinkSpec, pipeline: &str) -> anyhow::Result<Box<dyn Sink>> {
    Ok(match &spec.kind {
        SinkKind::Print { num } => Box::new(PrintSink::stdout(*num)),
        SinkKind::Files { path, prefix } => Box::new(FilesSink::new(path, prefix)?),
        #[cfg(feature = "kafka")]
        SinkKind::Kafka(kafka) => Box::new(kafka::KafkaSink::open(&spec.name, pipeline, kafka)?),
        #[cfg(not(feature = "kafka"))]
        SinkKind::Kafka(_) => {
            let _ = pipeline;
            anyhow::bail!("this sluice was built without Kafka support (the `kafka` cargo feature)")
        }
    })
}
