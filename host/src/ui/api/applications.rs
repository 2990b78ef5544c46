//! Spark's paths to the streaming API: `/api/v1/applications` lists the one
//! application a sluice process runs (its id is the pipeline's name), and
//! `/api/v1/applications/<id>/streaming/...` serves the same documents as
//! `/api/v1/...`, plus Spark's output operations of a batch (one per sink).

use crate::metrics::{MetricsState, Phase};
use crate::ui::dates::spark_date;
use serde::Serialize;

/// One entry of `/api/v1/applications`, in the fields of Spark's `ApplicationInfo`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    id: String,
    name: String,
    attempts: Vec<Attempt>,
}

/// Spark's `ApplicationAttemptInfo`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Attempt {
    start_time: String,
    end_time: String,
    last_updated: String,
    duration: u64,
    spark_user: String,
    completed: bool,
    app_spark_version: String,
    start_time_epoch: u64,
    /// -1 while running, as Spark writes it.
    end_time_epoch: i64,
    last_updated_epoch: u64,
}

/// The application's id: the pipeline's name.
pub fn application_id(state: &MetricsState) -> Option<&str> {
    state.run.as_ref().map(|r| r.pipeline.as_str())
}

/// The application this process runs, once it has started.
pub fn application(state: &MetricsState, now_ms: u64) -> Option<Application> {
    let run = state.run.as_ref()?;
    let completed = state.phase == Phase::Finished;
    let last = state
        .history
        .iter()
        .last()
        .map_or(run.started_ms, |b| b.finished_ms);
    let end = if completed { Some(last) } else { None };
    Some(Application {
        id: run.pipeline.clone(),
        name: run.pipeline.clone(),
        attempts: vec![Attempt {
            start_time: spark_date(run.started_ms),
            // Spark writes a running application's end as the epoch minus 1 ms.
            end_time: end.map_or_else(|| "1969-12-31T23:59:59.999GMT".into(), spark_date),
            last_updated: spark_date(last),
            duration: end.unwrap_or(now_ms).saturating_sub(run.started_ms),
            spark_user: std::env::var("USER").unwrap_or_default(),
            completed,
            app_spark_version: format!("sluice {}", env!("CARGO_PKG_VERSION")),
            start_time_epoch: run.started_ms,
            end_time_epoch: end.map_or(-1, |e| e as i64),
            last_updated_epoch: last,
        }],
    })
}

/// One of `/api/v1/applications/<id>/streaming/batches/<batch>/operations`, in the
/// fields of Spark's `OutputOperationInfo`: a sink. A batch's output is all or nothing,
/// so a failed batch fails every one with the batch's reason. sluice does not time
/// sinks apart, so `startTime`, `endTime` and `duration` are absent, as Spark leaves
/// them for an operation that did not run.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputOperation {
    output_op_id: usize,
    name: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    job_ids: Vec<u64>,
}

/// The output operations of the retained batch `id`.
pub fn operations(state: &MetricsState, id: u64) -> Option<Vec<OutputOperation>> {
    let batch = state.history.iter().find(|b| b.report.time_ms == id)?;
    let sinks = state.run.as_ref().map_or(&[][..], |r| &r.sinks[..]);
    Some(
        sinks
            .iter()
            .enumerate()
            .map(|(i, sink)| OutputOperation {
                output_op_id: i,
                name: sink.clone(),
                description: format!("sink `{sink}`"),
                failure_reason: batch.report.error.clone(),
                job_ids: Vec::new(),
            })
            .collect(),
    )
}
