//! Logging set-up: human-readable lines on standard error, or one JSON object per line
//! with `--log-format json` (for log collectors). With a live status line, log lines
//! are written through it so that the two never share a line.

use crate::terminal::StatusLine;
use std::io::Write;
use std::sync::Arc;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-01-01T00:00:00Z  INFO message`, coloured on a terminal.
    #[default]
    Text,
    /// `{"timestamp":...,"level":"INFO","fields":{"message":...}}`, one per line.
    Json,
}

/// Installs the global subscriber: `filter` (a level or a tracing filter; else
/// `RUST_LOG`; else `info`) in `format`, around `status` if there is one.
pub fn init(filter: Option<&str>, format: LogFormat, status: Option<Arc<StatusLine>>) {
    let filter = filter
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Only a line on standard error shares the log's stream.
    let status = status.filter(|s| s.is_on_stderr());
    let writer = LogWriter { status };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(false)
            .with_current_span(false)
            .try_init(),
    };
}

/// Standard error, or the status line's way of writing to it.
#[derive(Clone)]
struct LogWriter {
    status: Option<Arc<StatusLine>>,
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Write for LogWriter {
    /// The formatter hands over one whole event per call.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &self.status {
            Some(status) => status.write_above(buf)?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
