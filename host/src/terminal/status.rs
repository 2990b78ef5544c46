//! The live status: after every batch, one line saying where the stream is (batch,
//! records per second, delays, plugin versions), redrawn in place.

use super::StatusLine;
use crate::engine::{BatchListener, CompletedBatch, RunInfo, RunSummary};
use std::sync::Arc;

/// Draws a run's status on a [`StatusLine`].
pub struct LiveStatus {
    line: Arc<StatusLine>,
    interval_ms: u64,
}

impl LiveStatus {
    /// A listener drawing on `line`.
    pub fn new(line: Arc<StatusLine>) -> Self {
        LiveStatus {
            line,
            interval_ms: 1000,
        }
    }
}

impl BatchListener for LiveStatus {
    fn on_start(&mut self, run: &RunInfo<'_>) {
        self.interval_ms = (run.pipeline.batch_interval.as_millis() as u64).max(1);
    }

    fn on_batch_started(&mut self, _time_ms: u64) {
        // The batch's sinks (the print sink on the same terminal) write next.
        self.line.hide();
    }

    fn on_batch_completed(&mut self, batch: &CompletedBatch<'_>) {
        self.line.show(&status_text(batch, self.interval_ms));
    }

    fn on_finish(&mut self, _summary: &RunSummary) {
        self.line.close();
    }
}

/// The status of the stream after `batch`.
pub fn status_text(batch: &CompletedBatch<'_>, interval_ms: u64) -> String {
    let report = batch.report;
    let rate = report.total_in() as f64 * 1000.0 / interval_ms as f64;
    let mut text = format!(
        "batch {} │ {} rec/s │ scheduling {} ms │ processing {} ms │ total {} ms",
        report.time_ms,
        group_thousands(rate.round() as u64),
        report.scheduling_delay.as_millis(),
        report.processing_time.as_millis(),
        report.total_delay().as_millis(),
    );
    if batch.queued > 0 {
        text.push_str(&format!(" │ {} queued", batch.queued));
    }
    if report.error.is_some() {
        text.push_str(" │ FAILED");
    }
    for plugin in batch.plugins.iter().filter(|p| p.bound) {
        text.push_str(&format!(" │ {}@{}", plugin.plugin, plugin.version));
    }
    text
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{BatchReport, PluginCalls};
    use crate::plugin::CallCounts;
    use std::time::Duration;

    #[test]
    fn the_status_names_the_batch_its_rate_delays_and_versions() {
        let report = BatchReport {
            time_ms: 1_795_248_253_000,
            records_in: vec![150_000, 50_000],
            records_out: 10,
            scheduling_delay: Duration::from_millis(12),
            processing_time: Duration::from_millis(299),
            stages: Vec::new(),
            versions: Vec::new(),
            dead_letters: 0,
            checkpoint_time: None,
            error: None,
        };
        let plugins = [PluginCalls {
            plugin: "wordcount".into(),
            version: "1a2b3c4d5e6f".into(),
            counts: CallCounts::default(),
            bound: true,
        }];
        let batch = CompletedBatch {
            report: &report,
            plugins: &plugins,
            queued: 2,
            finished_ms: 0,
        };
        assert_eq!(
            status_text(&batch, 1000),
            "batch 1795248253000 │ 200,000 rec/s │ scheduling 12 ms │ processing 299 ms │ total 311 ms │ 2 queued │ wordcount@1a2b3c4d5e6f"
        );
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }
}
