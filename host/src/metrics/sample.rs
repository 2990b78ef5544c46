//! A small, fixed run's metrics for the renderers' tests.

use super::history::BatchRecord;
use super::state::{MetricsState, RunDescription};
use crate::engine::{BatchReport, PluginCalls, StageMetrics};
use crate::plugin::{CallCounts, FailureKind};
use crate::source::SourceHandle;
use std::sync::Arc;
use std::time::Duration;

/// Two batches of a one-source, one-stage, one-plugin run, with failed calls.
pub fn two_batches() -> MetricsState {
    let mut state = MetricsState::new(10);
    state.run = Some(RunDescription {
        pipeline: "wc \"demo\"".into(),
        batch_interval_ms: 500,
        partitions: 2,
        started_ms: 1_000_000,
        first_batch_ms: 1_000_500,
        sources: vec![Arc::new(SourceHandle::unlimited("lines", "socket"))],
        sinks: vec!["out".into()],
        plugins: Vec::new(),
    });
    for (t, n) in [(1_000_500, 100), (1_001_000, 50)] {
        let mut failures = [0; 6];
        failures[FailureKind::Deadline as usize] = 1;
        failures[FailureKind::Failed as usize] = 2;
        let record = BatchRecord {
            report: BatchReport {
                time_ms: t,
                records_in: vec![n],
                records_out: n * 2,
                scheduling_delay: Duration::from_millis(3),
                processing_time: Duration::from_millis(300),
                stages: vec![StageMetrics {
                    name: "words".into(),
                    records_in: n,
                    records_out: n * 10,
                    time: Duration::from_millis(250),
                    combined: false,
                }],
                versions: Vec::new(),
                dead_letters: 0,
                checkpoint_time: None,
                error: None,
            },
            plugins: vec![PluginCalls {
                plugin: "wordcount".into(),
                version: "0123456789ab".into(),
                counts: CallCounts {
                    calls: 4,
                    time: Duration::from_millis(200),
                    failures,
                },
                bound: true,
            }],
            queued: 0,
            finished_ms: t + 303,
            rate_limits: vec![None],
        };
        state.totals.add(&record);
        state.history.push(record);
    }
    state
}
