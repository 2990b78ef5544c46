//! Putting a checkpoint back: can this pipeline serve it, and its state restored at the
//! pipeline's partition count (keys re-split by their hash).

use super::{Checkpoint, StageSnapshot, StateSnapshot};
use crate::config::{Op, Pipeline};
use crate::partition::partition_of;
use crate::record::Records;
use crate::state::{KeyedState, StageState, StateEntry, WindowState};
use anyhow::bail;
use sluice_sdk::wire;

/// Checks that every stateful stage of the checkpoint still exists, with an op that
/// keeps the same kind of state. With `allow_non_restored` a missing stage is only
/// reported and its state dropped.
pub fn check_compatible(
    checkpoint: &Checkpoint,
    pipeline: &Pipeline,
    allow_non_restored: bool,
) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for snapshot in &checkpoint.stages {
        let stage = pipeline.stages.iter().find(|s| s.name == snapshot.name);
        let problem = match stage {
            None => format!(
                "the checkpoint holds the state of stage `{}` ({}), which the pipeline no longer has (renamed or removed?)",
                snapshot.name, snapshot.op
            ),
            Some(stage) if !same_family(stage.op, &snapshot.op) => format!(
                "stage `{}` was `{}` when the checkpoint was written and is `{}` now; its state cannot carry over",
                snapshot.name,
                snapshot.op,
                stage.op.name()
            ),
            Some(_) => continue,
        };
        problems.push(problem);
    }
    if problems.is_empty() {
        return Ok(());
    }
    if allow_non_restored {
        for problem in &problems {
            tracing::warn!("{problem}; starting without it (--allow-non-restored-state)");
        }
        return Ok(());
    }
    bail!(
        "cannot resume from the checkpoint of batch {}:\n  {}\nrestore the stage names, or start with --allow-non-restored-state to drop that state",
        checkpoint.batch_time_ms,
        problems.join("\n  ")
    )
}

fn same_family(op: Op, was: &str) -> bool {
    match Op::parse(was) {
        Some(old) if old.is_keyed_state() => op.is_keyed_state(),
        Some(old) if old.is_windowed() => op == old,
        _ => false,
    }
}

/// The state a stage of `op` at `partitions` partitions gets from `snapshot`.
pub fn restore(op: Op, partitions: usize, snapshot: &StageSnapshot) -> anyhow::Result<StageState> {
    Ok(match &snapshot.state {
        StateSnapshot::Keyed(blobs) => {
            let mut state = KeyedState::with_encoding(partitions, snapshot.encoding.clone());
            for blob in blobs {
                for entry in blob.records().map_err(anyhow::Error::msg)?.iter() {
                    let (key, state_bytes, touched_ms) = keyed_entry(entry)?;
                    state.insert(
                        key,
                        StateEntry {
                            state: state_bytes.into(),
                            touched_ms,
                        },
                    );
                }
            }
            StageState::Keyed(state)
        }
        StateSnapshot::Window { partials, previous } => {
            let resplit = |blobs: &[super::RecordsBlob]| -> anyhow::Result<Vec<Records>> {
                let parts = blobs
                    .iter()
                    .map(|b| b.records().map_err(anyhow::Error::msg))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                repartition(op, parts, partitions)
            };
            let mut window = WindowState::default();
            for (time, blobs) in partials {
                window.partials.push_back((*time, resplit(blobs)?));
            }
            if let Some((time, blobs)) = previous {
                window.previous = Some((*time, resplit(blobs)?));
            }
            StageState::Window(window)
        }
    })
}

/// Splits a `[key, state, touched_ms]` record.
fn keyed_entry(record: &[u8]) -> anyhow::Result<(&[u8], &[u8], u64)> {
    let (len, header) = wire::read_array_header(record)?;
    anyhow::ensure!(len == 3, "a keyed state entry has {len} parts, not 3");
    let rest = &record[header..];
    let (key, rest) = rest.split_at(wire::value_len(rest)?);
    let (state, rest) = rest.split_at(wire::value_len(rest)?);
    Ok((key, state, wire::read_u64(rest)?))
}

/// A window partial at another partition count: keyed partials by key hash, raw
/// records spread evenly, single-record partials as they are.
fn repartition(op: Op, parts: Vec<Records>, n: usize) -> anyhow::Result<Vec<Records>> {
    if parts.len() == n
        || parts.len() <= 1
            && !matches!(
                op,
                Op::ReduceByKeyAndWindow | Op::CountByValueAndWindow | Op::Window
            )
    {
        return Ok(parts);
    }
    match op {
        Op::ReduceByKeyAndWindow | Op::CountByValueAndWindow => {
            let mut out = vec![Records::new(); n];
            for record in parts.iter().flat_map(Records::iter) {
                let (key, _) = wire::split_pair(record)?;
                out[partition_of(key, n)].push_encoded(record);
            }
            Ok(out)
        }
        _ if parts.is_empty() => Ok(parts),
        _ => Ok(Records::concat(&parts).split(n)),
    }
}
