//! `type = "socket"`: lines from a TCP server, like Spark's socketTextStream. Connects,
//! reads lines until the connection closes, and reconnects with backoff unless told
//! the stream is finite (`reconnect = false`). Under a rate limit it stops reading
//! while it waits, so TCP holds the sender back.

use super::Descriptor;
use super::received::{LastLine, ReadEnd, Received, read_lines};
use super::{Opening, ReceivedCut, Source, SourceBatch, SourceHandle};
use super::{SourceKind, SourceSettings};
use crate::rate::Throttle;
use crate::record::Records;
use crate::settings::{Reading, TableReader};
use std::io::BufReader;
use std::net::{Shutdown as NetShutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// `type = "socket"`: `address` (`host:port`) and `reconnect` (default true).
pub const KIND: SourceKind = SourceKind {
    name: "socket",
    receives: true,
    alone: None,
    read,
};

/// The settings of a socket source.
#[derive(Debug)]
pub struct Socket {
    /// `host:port` to connect to.
    pub address: String,
    /// Reconnect with backoff when the connection drops; when false the source ends
    /// with the connection.
    pub reconnect: bool,
}

fn read(r: &TableReader<'_, '_>, _: &Reading<'_>) -> Option<Arc<dyn SourceSettings>> {
    let address = r.required_string(
        "address",
        "the server to read lines from, like \"127.0.0.1:9999\"",
    );
    let reconnect = r.boolean("reconnect").unwrap_or(true);
    let (address, _) = address?;
    let port_ok = address
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
    if !port_ok {
        r.error(
            "address",
            format!("`{address}` is not host:port"),
            Some("like \"127.0.0.1:9999\"".into()),
        );
        return None;
    }
    Some(Arc::new(Socket { address, reconnect }))
}

impl SourceSettings for Socket {
    fn open(&self, opening: Opening<'_>) -> anyhow::Result<Box<dyn Source>> {
        let received = opening.received()?;
        Ok(Box::new(SocketSource::start(
            opening.handle,
            &self.address,
            self.reconnect,
            received,
        )?))
    }
}

/// A socket receiver.
pub struct SocketSource {
    handle: Arc<SourceHandle>,
    received: Arc<Received>,
    stopping: Arc<AtomicBool>,
    connection: Arc<Mutex<Option<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl SocketSource {
    /// Starts the receiver thread.
    pub fn start(
        handle: Arc<SourceHandle>,
        address: &str,
        reconnect: bool,
        received: Arc<Received>,
    ) -> anyhow::Result<Self> {
        let stopping = Arc::new(AtomicBool::new(false));
        let connection = Arc::new(Mutex::new(None));
        let name = handle.name().to_string();
        let receiver = Receiver {
            handle: handle.clone(),
            name: name.clone(),
            address: address.to_string(),
            reconnect,
            received: received.clone(),
            stopping: stopping.clone(),
            connection: connection.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("receiver-{name}"))
            .spawn(move || receiver.run())?;
        Ok(SocketSource {
            handle,
            received,
            stopping,
            connection,
            thread: Some(thread),
        })
    }
}

impl Source for SocketSource {
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
        self.stopping.store(true, Ordering::SeqCst);
        self.received.close();
        if let Some(stream) = self
            .connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            let _ = stream.shutdown(NetShutdown::Both);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn handle(&self) -> &Arc<SourceHandle> {
        &self.handle
    }
}

struct Receiver {
    handle: Arc<SourceHandle>,
    name: String,
    address: String,
    reconnect: bool,
    received: Arc<Received>,
    stopping: Arc<AtomicBool>,
    connection: Arc<Mutex<Option<TcpStream>>>,
}

impl Receiver {
    fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        // One throttle for the receiver's life: a reconnect does not reset the rate.
        let mut throttle = Throttle::new(self.handle.limit());
        let mut torn_lines = 0u64;
        while !self.stopping.load(Ordering::SeqCst) {
            let stream = match TcpStream::connect(&self.address) {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(
                        "source `{}`: cannot connect to {} ({e}); retrying in {} ms",
                        self.name,
                        self.address,
                        backoff.as_millis()
                    );
                    self.handle
                        .report_error(format!("cannot connect to {}: {e}", self.address));
                    self.sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            backoff = FIRST_BACKOFF;
            tracing::info!("source `{}`: connected to {}", self.name, self.address);
            let reader_stream = match stream.try_clone() {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("source `{}`: {e}", self.name);
                    continue;
                }
            };
            *self.connection.lock().unwrap_or_else(|p| p.into_inner()) = Some(stream);
            // A stop that raced with the connect: shut the new connection down too.
            if self.stopping.load(Ordering::SeqCst) {
                let _ = reader_stream.shutdown(NetShutdown::Both);
            }
            // A connection that ends mid-line was cut off (a sender killed while
            // writing, a reset): the part of a line it carried is not a record.
            let (lines, end, torn) = read_lines(
                &mut BufReader::with_capacity(256 << 10, reader_stream),
                &self.received,
                &mut throttle,
                &self.stopping,
                LastLine::Torn,
            );
            *self.connection.lock().unwrap_or_else(|p| p.into_inner()) = None;
            if torn > 0 {
                torn_lines += 1;
                tracing::warn!(
                    "source `{}`: the connection to {} ended in the middle of a line ({torn} bytes without a newline); it is not a record ({torn_lines} such lines so far)",
                    self.name,
                    self.address
                );
            }
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            match end {
                ReadEnd::Eof => tracing::info!(
                    event = "connection_closed",
                    source = %self.name,
                    lines,
                    "source `{}`: {} closed the connection after {lines} lines",
                    self.name,
                    self.address
                ),
                ReadEnd::Error(e) => {
                    tracing::warn!(
                        "source `{}`: connection to {} failed after {lines} lines: {e}",
                        self.name,
                        self.address
                    );
                    self.handle.report_error(format!(
                        "connection to {} failed after {lines} lines: {e}",
                        self.address
                    ));
                }
                ReadEnd::Stopped => break,
            }
            if !self.reconnect {
                break;
            }
            self.sleep(backoff);
        }
        self.received.finish();
    }

    fn sleep(&self, duration: Duration) {
        let step = Duration::from_millis(20);
        let mut slept = Duration::ZERO;
        while slept < duration && !self.stopping.load(Ordering::SeqCst) {
            std::thread::sleep(step);
            slept += step;
        }
    }
}
