//! The terminal: a live status line, under the log when standard error is a terminal,
//! else under the print sink's output when standard output is.
//!
//! On standard error, log lines are written through the [`StatusLine`] (see `logging`),
//! which clears it, writes the line and draws it again. Wherever it is, the batch loop
//! hides it before a batch's sinks run, so the print sink's output starts on a clean
//! line, and [`LiveStatus`] draws it again once the batch is done. Nothing is drawn when
//! neither stream is a terminal, with `--log-format json`, or with `--no-status`.

mod status;
mod status_line;

pub use status::{LiveStatus, status_text};
pub use status_line::StatusLine;
