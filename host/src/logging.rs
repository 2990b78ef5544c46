//! Logging set-up: human-readable lines on standard error, or one JSON object per line
//! with `--log-format json` (for log collectors). With a live status line, log lines
//! are written through it so that the two never share a line.
//!
//! The moments a tool follows a run by (a batch completed, a checkpoint written, a
//! plugin version swapped in) are structured events: log lines with an `event` field
//! and typed fields ([`EVENTS`]), in the JSON log, and with `--event-log FILE` also in
//! a file of their own (Spark's event log), whatever the log level.

use crate::terminal::StatusLine;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::{self, MakeWriter};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-01-01T00:00:00Z  INFO message`, coloured on a terminal.
    #[default]
    Text,
    /// `{"timestamp":...,"level":"INFO","fields":{"message":...}}`, one per line.
    Json,
}

/// `filter` with the file watcher's own messages (notify logs routine inotify
/// bookkeeping, such as "unable to remove watch descriptor" on every rebuild, at info)
/// moved to debug: kept out unless the filter is debug or finer, or names notify.
pub fn quiet_dependencies(filter: &str) -> String {
    let fine = ["debug", "trace", "notify"]
        .iter()
        .any(|word| filter.to_ascii_lowercase().contains(word));
    if fine {
        filter.to_string()
    } else {
        format!("{filter},notify=warn")
    }
}

/// Installs the global subscriber: `filter` (a level or a tracing filter; else
/// `RUST_LOG`; else `info`; then [`quiet_dependencies`]) in `format`, around `status` if there is one. With `events`,
/// every structured event (a log line with an `event` field: see [`EVENTS`]) is also
/// written to that file as one JSON object per line, whatever the filter.
pub fn init(
    filter: Option<&str>,
    format: LogFormat,
    status: Option<Arc<StatusLine>>,
    events: Option<&Path>,
) -> anyhow::Result<()> {
    let filter = filter
        .map(str::to_string)
        .or_else(|| std::env::var("RUST_LOG").ok().filter(|f| !f.is_empty()))
        .unwrap_or_else(|| "info".into());
    let filter = EnvFilter::new(quiet_dependencies(&filter));
    // Only a line on standard error shares the log's stream.
    let status = status.filter(|s| s.is_on_stderr());
    let writer = LogWriter { status };
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    layers.push(match format {
        LogFormat::Text => fmt::layer()
            .with_writer(writer)
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .fmt_fields(Sentences)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(false)
            .with_current_span(false)
            .with_writer(writer)
            .with_target(false)
            .with_filter(filter)
            .boxed(),
    });
    if let Some(path) = events {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot open the event log {}: {e}", path.display()))?;
        layers.push(
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_writer(Mutex::new(file))
                .with_target(false)
                .with_filter(filter_fn(|meta| meta.fields().field("event").is_some()))
                .boxed(),
        );
    }
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(())
}

/// The structured events, by the name in their `event` field, and their other fields.
/// Tools (and the end-to-end tests) follow a run by these rather than by its sentences.
pub const EVENTS: [(&str, &str); 16] = [
    (
        "pipeline_started",
        "pipeline, sources, stages, sinks, partitions, interval_ms",
    ),
    ("http_serving", "address"),
    (
        "batch_completed",
        "batch, records_in, records_out, dead_letters, scheduling_delay_ms, processing_ms, plugins",
    ),
    ("batch_failed", "batch, error"),
    (
        "batch_rerun",
        "batch (a journaled batch a crash interrupted, computed again)",
    ),
    ("checkpoint_written", "batch"),
    (
        "connection_closed",
        "source, lines (a socket source's server closed it)",
    ),
    (
        "file_picked_up",
        "source, path (a directory source took a new file)",
    ),
    ("watching_plugin", "plugin (hot swap watches its file)"),
    ("version_ready", "plugin, version, replaces"),
    ("pipeline_edit_applied", "key"),
    (
        "waiting_for_fix",
        "plugin (sluice dev: the crate does not build yet)",
    ),
    ("pipeline_edit_needs_restart", "keys (comma-separated)"),
    (
        "pipeline_edit_refused",
        "(the edited pipeline file does not load: nothing of it applied)",
    ),
    ("version_swapped", "plugin, from, to, migrated_keys"),
    ("version_rolled_back", "plugin, version, to"),
];

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

/// Text log fields: the sentence, and the other fields after it, except for a
/// structured event, whose sentence already says what its fields hold (they are for
/// tools: the JSON log and the event log).
struct Sentences;

impl<'w> fmt::FormatFields<'w> for Sentences {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: fmt::format::Writer<'w>,
        fields: R,
    ) -> std::fmt::Result {
        #[derive(Default)]
        struct Collect {
            message: String,
            others: Vec<(&'static str, String)>,
            structured: bool,
        }
        impl tracing::field::Visit for Collect {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                match field.name() {
                    "message" => self.message = format!("{value:?}"),
                    "event" => self.structured = true,
                    name => self.others.push((name, format!("{value:?}"))),
                }
            }
        }
        let mut collect = Collect::default();
        fields.record(&mut collect);
        write!(writer, "{}", collect.message)?;
        if !collect.structured {
            for (name, value) in &collect.others {
                write!(writer, " {name}={value}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Sentences, quiet_dependencies};
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_file_watchers_info_lines_show_only_when_asked_for() {
        assert_eq!(quiet_dependencies("info"), "info,notify=warn");
        assert_eq!(quiet_dependencies("sluice=info"), "sluice=info,notify=warn");
        assert_eq!(quiet_dependencies("debug"), "debug");
        assert_eq!(quiet_dependencies("info,notify=info"), "info,notify=info");
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn text_shows_a_structured_events_sentence_alone_and_other_fields_after_theirs() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .with_level(false)
            .fmt_fields(Sentences)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                event = "batch_completed",
                batch = 7,
                "batch 7: 3 records in"
            );
            tracing::info!(plugin = %"faulty", partition = 1, "shouting");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "batch 7: 3 records in\nshouting plugin=faulty partition=1\n"
        );
    }
}
