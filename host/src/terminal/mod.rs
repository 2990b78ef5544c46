//! The terminal: a live status line under the log when standard error is a terminal.
//!
//! The line lives on standard error, where the log goes. Log lines are written through
//! the [`StatusLine`] (see `logging`), which clears it, writes the line and draws it
//! again; the batch loop hides it before a batch's sinks run, so the print sink's
//! output on the same terminal starts on a clean line, and [`LiveStatus`] draws it
//! again once the batch is done. Nothing is drawn when standard error is not a
//! terminal, with `--log-format json`, or with `--no-status`.

mod status;
mod status_line;

pub use status::{LiveStatus, status_text};
pub use status_line::StatusLine;
