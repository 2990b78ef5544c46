//! `type = "stdin"`: lines from standard input until end of file.

use super::received::{ReadEnd, Received, read_lines};
use super::{Source, SourceBatch};
use crate::checkpoint::Descriptor;
use crate::record::Records;
use std::io::BufReader;
use std::sync::Arc;

/// A standard-input receiver.
pub struct StdinSource {
    received: Arc<Received>,
}

impl StdinSource {
    /// Starts the receiver thread. It is not joined on stop: a read from a terminal
    /// cannot be interrupted, and the process exits after the last batch anyway.
    pub fn start(received: Arc<Received>) -> anyhow::Result<Self> {
        let filling = received.clone();
        std::thread::Builder::new()
            .name("receiver-stdin".into())
            .spawn(move || {
                let (lines, end) = read_lines(
                    &mut BufReader::with_capacity(256 << 10, std::io::stdin()),
                    &filling,
                );
                match end {
                    ReadEnd::Eof => {
                        tracing::info!("source stdin: end of input after {lines} lines")
                    }
                    ReadEnd::Error(e) => {
                        tracing::warn!("source stdin: read failed after {lines} lines: {e}")
                    }
                }
                filling.finish();
            })?;
        Ok(StdinSource { received })
    }
}

impl Source for StdinSource {
    fn cut(&mut self, _batch_time_ms: u64) -> SourceBatch {
        let (parts, descriptor) = self.received.take();
        SourceBatch::Received(parts, descriptor)
    }

    fn replay(
        &mut self,
        descriptor: &Descriptor,
        partitions: usize,
    ) -> anyhow::Result<Vec<Records>> {
        match descriptor {
            Descriptor::Wal { from, to } => self.received.replay(*from, *to, partitions),
            other => super::replay_described(other, partitions, None),
        }
    }

    fn received(&self) -> Option<Arc<Received>> {
        Some(self.received.clone())
    }

    fn is_finished(&self) -> bool {
        self.received.is_finished()
    }

    fn stop(&mut self) {}
}
