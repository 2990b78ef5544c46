//! Poison records: when a per-record plugin function fails on a partition, the call is
//! retried once (a deadline missed under load, say), then the partition is bisected until
//! the records that fail are alone; those become dead letters with the plugin's message,
//! and every other record is processed as usual. The batch completes.
//!
//! Only map, flat_map and filter are bisected: their output is per record, so a subset
//! of the input gives exactly the subset's output. A version on probation (just swapped
//! in) is never bisected: failing, it is rolled back instead.

use super::{StageError, StageFailure, StageRuntime};
use crate::config::{OnError, Op};
use crate::record::Records;

/// A record set aside because a plugin function failed on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The stage.
    pub stage: String,
    /// The function, as `plugin::function`.
    pub function: String,
    /// The plugin version that failed.
    pub version: String,
    /// The partition it was in.
    pub partition: usize,
    /// What the plugin said.
    pub error: String,
    /// The record, encoded.
    pub record: Vec<u8>,
}

/// Whether a failure of `stage` may be bisected.
fn isolatable(
    stage: &StageRuntime,
    error: &StageError,
    on_probation: &dyn Fn(&str) -> bool,
) -> bool {
    let StageFailure::Call(call) = &*error.failure else {
        return false;
    };
    stage.on_error != OnError::Stop
        && matches!(stage.op, Op::Map | Op::FlatMap | Op::Filter)
        && !on_probation(&call.version)
}

/// Calls the stage's function on `input`, isolating records it fails on into `dead`.
pub fn call_isolating(
    stage: &StageRuntime,
    input: &Records,
    time_ms: u64,
    partition: usize,
    on_probation: &dyn Fn(&str) -> bool,
    dead: &mut Vec<DeadLetter>,
) -> Result<Records, StageError> {
    let error = match stage.call(input, 0, time_ms, partition) {
        Ok(output) => return Ok(output),
        Err(error) => error,
    };
    if !isolatable(stage, &error, on_probation) {
        return Err(error);
    }
    if let Ok(output) = stage.call(input, 0, time_ms, partition) {
        tracing::warn!(
            "stage `{}` (partition {partition}) failed once and succeeded on retry: {error}",
            stage.name
        );
        return Ok(output);
    }
    let records: Vec<&[u8]> = input.iter().collect();
    let mut output = Records::new();
    let before = dead.len();
    bisect(stage, &records, time_ms, partition, &mut output, dead)?;
    tracing::warn!(
        "stage `{}` (partition {partition}): {} of {} records failed and were set aside; the rest were processed",
        stage.name,
        dead.len() - before,
        records.len()
    );
    Ok(output)
}

fn bisect(
    stage: &StageRuntime,
    records: &[&[u8]],
    time_ms: u64,
    partition: usize,
    output: &mut Records,
    dead: &mut Vec<DeadLetter>,
) -> Result<(), StageError> {
    if records.is_empty() {
        return Ok(());
    }
    let mut part = Records::new();
    for record in records {
        part.push_encoded(record);
    }
    match stage.call(&part, 0, time_ms, partition) {
        Ok(out) => {
            output.append(&out);
            Ok(())
        }
        Err(error) => {
            let StageFailure::Call(call) = &*error.failure else {
                return Err(error);
            };
            if let [record] = records {
                dead.push(DeadLetter {
                    stage: stage.name.clone(),
                    function: format!("{}::{}", call.plugin, call.function),
                    version: call.version.clone(),
                    partition,
                    error: call.failure.to_string(),
                    record: record.to_vec(),
                });
                return Ok(());
            }
            let (left, right) = records.split_at(records.len() / 2);
            bisect(stage, left, time_ms, partition, output, dead)?;
            bisect(stage, right, time_ms, partition, output, dead)
        }
    }
}

impl DeadLetter {
    /// The dead letter as a record: a map with the stage, function, version, batch time,
    /// partition, error and the record itself (as it was, not re-encoded).
    pub fn encode(&self, batch_time_ms: u64) -> Vec<u8> {
        use sluice_sdk::wire::{write_str, write_u64};
        let mut out = vec![0x87];
        for (key, value) in [
            ("stage", &self.stage),
            ("function", &self.function),
            ("version", &self.version),
            ("error", &self.error),
        ] {
            write_str(&mut out, key);
            write_str(&mut out, value);
        }
        write_str(&mut out, "batch_time_ms");
        write_u64(&mut out, batch_time_ms);
        write_str(&mut out, "partition");
        write_u64(&mut out, self.partition as u64);
        write_str(&mut out, "record");
        out.extend_from_slice(&self.record);
        out
    }
}
