//! `type = "stdin"`: lines from standard input until end of file.

use super::received::{ReadEnd, Received, read_lines};
use super::{Source, SourceBatch};
use std::io::BufReader;
use std::sync::Arc;

/// A standard-input receiver.
pub struct StdinSource {
    received: Arc<Received>,
}

impl StdinSource {
    /// Starts the receiver thread. It is not joined on stop: a read from a terminal
    /// cannot be interrupted, and the process exits after the last batch anyway.
    pub fn start(partitions: usize) -> anyhow::Result<Self> {
        let received = Received::new(partitions);
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
        SourceBatch::Records(self.received.take())
    }

    fn is_finished(&self) -> bool {
        self.received.is_finished()
    }

    fn stop(&mut self) {}
}
