//! Whole-batch operators: the batch becomes one partition holding one record.

use super::{StageError, StageRuntime, first_error};
use crate::record::Records;
use rayon::prelude::*;
use sluice_sdk::wire::ReduceMode;

/// `count`: the number of records in the batch (Spark's DStream.count), 0 included.
pub fn count(input: &[Records]) -> Vec<Records> {
    if input.is_empty() {
        // No batch upstream at this time: no count either (an empty batch counts 0).
        return Vec::new();
    }
    let mut out = Records::new();
    out.push_u64(input.iter().map(|p| p.len() as u64).sum());
    vec![out]
}

/// `reduce`: every record combined with the plugin's reduce function, partition by
/// partition in parallel and then once across partitions. An empty batch gives no
/// record.
pub fn reduce(
    stage: &StageRuntime,
    input: &[Records],
    time_ms: u64,
) -> Result<Vec<Records>, StageError> {
    if input.is_empty() {
        return Ok(Vec::new());
    }
    let whole = ReduceMode::Whole as u32;
    let partials = first_error(
        input
            .par_iter()
            .enumerate()
            .filter(|(_, part)| !part.is_empty())
            .map(|(p, part)| stage.call(part, whole, time_ms, p))
            .collect(),
    )?;
    let merged = Records::concat(&partials);
    let result = if merged.len() > 1 {
        stage.call(&merged, whole, time_ms, 0)?
    } else {
        merged
    };
    Ok(vec![result])
}
