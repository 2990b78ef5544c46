//! `type = "stdin"`: lines from standard input until end of file. Under a rate limit
//! it stops reading while it waits, so a full pipe holds the writer back.

use super::Descriptor;
use super::received::{LastLine, ReadEnd, Received, read_lines};
use super::{Opening, ReceivedCut, Source, SourceBatch, SourceHandle, SourceKind, SourceSettings};
use crate::rate::Throttle;
use crate::record::Records;
use std::io::BufReader;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// `type = "stdin"`: no settings of its own.
pub const KIND: SourceKind = SourceKind {
    name: "stdin",
    receives: true,
    alone: Some(
        "a process has one standard input: read it from one source and fan out with stages",
    ),
    read: |_, _| Some(Arc::new(Stdin)),
};

/// The settings of a stdin source: none.
#[derive(Debug)]
pub struct Stdin;

impl SourceSettings for Stdin {
    fn open(&self, opening: Opening<'_>) -> anyhow::Result<Box<dyn Source>> {
        let received = opening.received()?;
        Ok(Box::new(StdinSource::start(opening.handle, received)?))
    }
}

/// A standard-input receiver.
pub struct StdinSource {
    handle: Arc<SourceHandle>,
    received: Arc<Received>,
}

impl StdinSource {
    /// Starts the receiver thread. It is not joined on stop: a read from a terminal
    /// cannot be interrupted, and the process exits after the last batch anyway.
    pub fn start(handle: Arc<SourceHandle>, received: Arc<Received>) -> anyhow::Result<Self> {
        let filling = received.clone();
        let limits = handle.clone();
        std::thread::Builder::new()
            .name("receiver-stdin".into())
            .spawn(move || {
                // Never raised: the thread is not joined (see above).
                let never = AtomicBool::new(false);
                let (lines, end, torn) = read_lines(
                    &mut BufReader::with_capacity(256 << 10, std::io::stdin()),
                    &filling,
                    &mut Throttle::new(limits.limit()),
                    &never,
                    LastLine::Keep,
                );
                if torn > 0 {
                    tracing::warn!(
                        "source stdin: input broke off in the middle of a line ({torn} bytes without a newline); it is not a record"
                    );
                }
                match end {
                    ReadEnd::Eof => {
                        tracing::info!("source stdin: end of input after {lines} lines")
                    }
                    ReadEnd::Error(e) => {
                        tracing::warn!("source stdin: read failed after {lines} lines: {e}");
                        limits.report_error(format!("read failed after {lines} lines: {e}"));
                    }
                    ReadEnd::Stopped => {}
                }
                filling.finish();
            })?;
        Ok(StdinSource { handle, received })
    }
}

impl Source for StdinSource {
    fn cut(&mut self, _batch_time_ms: u64) -> SourceBatch {
        let (parts, descriptor) = self.received.take();
        SourceBatch::new(ReceivedCut { parts, descriptor })
    }

    fn replay(
        &mut self,
        descriptor: &Descriptor,
        partitions: usize,
    ) -> anyhow::Result<Vec<Records>> {
        self.received.replay(descriptor, partitions)
    }

    fn received(&self) -> Option<Arc<Received>> {
        Some(self.received.clone())
    }

    fn is_finished(&self) -> bool {
        self.received.is_finished()
    }

    fn stop(&mut self) {
        self.received.close();
    }

    fn handle(&self) -> &Arc<SourceHandle> {
        &self.handle
    }
}
