//! Sinks: where a batch's results go once every stage has run.
//!
//! Sinks run in pipeline order, after the whole batch succeeded, so a failed batch
//! writes nothing anywhere.

mod files;
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
    /// Writes one batch.
    fn write(&mut self, batch: &SinkBatch<'_>) -> anyhow::Result<()>;
}

/// Opens the sink `spec` of the pipeline named `pipeline`.
pub fn open(spec: &SinkSpec, pipeline: &str) -> anyhow::Result<Box<dyn Sink>> {
    Ok(match &spec.kind {
        SinkKind::Print { num } => Box::new(PrintSink::stdout(*num)),
        SinkKind::Files { path, prefix } => Box::new(FilesSink::new(path, prefix)?),
        #[cfg(feature = "kafka")]
        SinkKind::Kafka(kafka) => {
            Box::new(crate::kafka::KafkaSink::open(&spec.name, pipeline, kafka)?)
        }
        #[cfg(not(feature = "kafka"))]
        SinkKind::Kafka(_) => {
            let _ = pipeline;
            anyhow::bail!("this sluice was built without Kafka support (the `kafka` cargo feature)")
        }
    })
}
