//! Keyed state across batches: update_state_by_key (Spark's updateStateByKey) and
//! map_with_state (mapWithState).
//!
//! Both shuffle the batch's pairs to the partition owning each key, then make one plugin
//! call per partition with every key to visit, its new values and its state. The state
//! map is only read here; each partition returns a [`KeyedChange`] that the engine
//! applies once the whole batch has succeeded.

use super::isolate::{DeadLetter, Isolated, call_items_isolating};
use super::shuffle::{BytesMap, group, not_a_pair, shuffle_pairs};
use super::{StageError, StageRuntime, first_error};
use crate::record::Records;
use crate::state::{KeyedChange, KeyedState, StateEntry};
use rayon::prelude::*;
use sluice_sdk::wire;

/// What a keyed-state stage produced for one batch.
pub struct StatefulOutput {
    /// The stage's output records, by partition.
    pub output: Vec<Records>,
    /// Every `(key, state)` after the batch, by partition, when snapshots were asked for.
    pub snapshots: Option<Vec<Records>>,
    /// The state changes, by partition.
    pub changes: Vec<KeyedChange>,
    /// The new values of keys the function failed on (their state stays as it was).
    pub dead_letters: Vec<DeadLetter>,
}

/// Whether a plugin version is on probation (its failures are not isolated).
pub type OnProbation<'a> = &'a (dyn Fn(&str) -> bool + Sync);

/// Calls the stage's function on `items` (one per key), isolating the keys it fails on:
/// their new values (or, for a key with none, `[key, nil]`) become dead letters.
fn call_keys(
    stage: &StageRuntime,
    items: &Records,
    time_ms: u64,
    p: usize,
    on_probation: OnProbation<'_>,
    dead: &mut Vec<DeadLetter>,
) -> Result<Isolated, StageError> {
    let isolated = call_items_isolating(stage, items, time_ms, p, on_probation)?;
    if !isolated.failed.is_empty() {
        let slices: Vec<&[u8]> = items.iter().collect();
        for failed in &isolated.failed {
            for record in key_records(slices[failed.index]) {
                dead.push(failed.letter(stage, p, &record));
            }
        }
    }
    Ok(isolated)
}

/// The `[key, value]` pairs an item `[key, [values], state, ...]` carries in, or
/// `[key, nil]` when it carries no value. The host built the item, so it is well formed.
fn key_records(item: &[u8]) -> Vec<Vec<u8>> {
    let pairs = || -> Result<Vec<Vec<u8>>, wire::WireError> {
        let (_, header) = wire::read_array_header(item)?;
        let rest = &item[header..];
        let key_len = wire::value_len(rest)?;
        let (key, rest) = rest.split_at(key_len);
        let (count, values_header) = wire::read_array_header(rest)?;
        let mut values = &rest[values_header..];
        let mut pairs = Vec::with_capacity(count.max(1));
        for _ in 0..count {
            let len = wire::value_len(values)?;
            let (value, tail) = values.split_at(len);
            pairs.push([&[0x92], key, value].concat());
            values = tail;
        }
        if pairs.is_empty() {
            pairs.push([&[0x92], key, &[NIL]].concat());
        }
        Ok(pairs)
    };
    pairs().unwrap_or_else(|_| vec![item.to_vec()])
}

/// The items of `before` that `isolated` kept.
fn kept<T: Copy>(before: Vec<T>, isolated: &Isolated) -> Vec<T> {
    match &isolated.kept {
        None => before,
        Some(kept) => kept.iter().map(|&i| before[i]).collect(),
    }
}

const NIL: u8 = 0xc0;

/// Writes the array header of `values`' length and the values.
fn write_values(buf: &mut Vec<u8>, values: &[&[u8]]) {
    wire::write_array_header(buf, values.len());
    for v in values {
        buf.extend_from_slice(v);
    }
}

/// update_state_by_key: the function sees every key that has state or new values,
/// every batch; the output is `(key, state)` for every live key.
pub fn update_state_by_key(
    stage: &StageRuntime,
    input: &[Records],
    time_ms: u64,
    state: &KeyedState,
    on_probation: OnProbation<'_>,
) -> Result<StatefulOutput, StageError> {
    if input.is_empty() {
        // No batch upstream at this time: state stays as it is, and is the output (as
        // Spark's StateDStream returns the previous state RDD).
        return Ok(unchanged(state, true));
    }
    let shuffled = shuffle_pairs(stage, input)?;
    let done = first_error(
        shuffled
            .par_iter()
            .enumerate()
            .map(|(p, part)| {
                let map = state.partition(p);
                let groups = group(part).map_err(|(i, e)| not_a_pair(stage, p, i, e))?;
                let mut with_data: BytesMap<'_, ()> = BytesMap::default();
                let mut items = Records::with_capacity(part.bytes().len() + map.len() * 16);
                // The state each item carried in, to tell what changed.
                let mut before: Vec<Option<&[u8]>> = Vec::with_capacity(groups.len() + map.len());
                for (key, values) in &groups {
                    with_data.insert(key, ());
                    let old = map.get(*key).map(|e| &*e.state);
                    items.push_with(|buf| {
                        buf.push(0x93);
                        buf.extend_from_slice(key);
                        write_values(buf, values);
                        buf.extend_from_slice(old.unwrap_or(&[NIL]));
                    });
                    before.push(old);
                }
                for (key, entry) in map.iter().filter(|(k, _)| !with_data.contains_key(&k[..])) {
                    items.push_with(|buf| {
                        buf.push(0x93);
                        buf.extend_from_slice(key);
                        buf.push(0x90);
                        buf.extend_from_slice(&entry.state);
                    });
                    before.push(Some(&entry.state));
                }
                if items.is_empty() {
                    return Ok((Records::new(), KeyedChange::Unchanged, Vec::new()));
                }
                let mut dead = Vec::new();
                let isolated = call_keys(stage, &items, time_ms, p, on_probation, &mut dead)?;
                let before = kept(before, &isolated);
                let updated = isolated.output;
                if updated.len() != before.len() {
                    return Err(stage.bad_output(
                        p,
                        format!("{} keys in, {} out", before.len(), updated.len()),
                    ));
                }
                let mut output = Records::with_capacity(updated.bytes().len());
                let mut delta = Vec::new();
                for (i, (record, old)) in updated.iter().zip(before).enumerate() {
                    let (key, new) = wire::split_pair(record)
                        .map_err(|e| stage.bad_output(p, format!("item {i}: {e}")))?;
                    if new == [NIL] {
                        if old.is_some() {
                            delta.push((key.into(), None));
                        }
                        continue;
                    }
                    output.push_encoded(record);
                    if old != Some(new) {
                        let entry = StateEntry {
                            state: new.into(),
                            touched_ms: time_ms,
                        };
                        delta.push((key.into(), Some(entry)));
                    }
                }
                Ok((output, KeyedChange::Delta(delta), dead))
            })
            .collect(),
    )?;
    let mut out = StatefulOutput {
        output: Vec::with_capacity(done.len()),
        snapshots: None,
        changes: Vec::with_capacity(done.len()),
        dead_letters: Vec::new(),
    };
    for (output, change, dead) in done {
        out.output.push(output);
        out.changes.push(change);
        out.dead_letters.extend(dead);
    }
    Ok(out)
}

/// map_with_state: the function sees each value of a key with data, with the key's
/// state; keys idle for the timeout get one last call, then are removed.
pub fn map_with_state(
    stage: &StageRuntime,
    input: &[Records],
    time_ms: u64,
    state: &KeyedState,
    on_probation: OnProbation<'_>,
) -> Result<StatefulOutput, StageError> {
    if input.is_empty() {
        let mut out = unchanged(state, stage.snapshots);
        out.snapshots = out
            .snapshots
            .or(stage.snapshots.then(Vec::new))
            .filter(|_| stage.snapshots);
        out.output = Vec::new();
        return Ok(out);
    }
    let shuffled = shuffle_pairs(stage, input)?;
    let done = first_error(
        shuffled
            .par_iter()
            .enumerate()
            .map(|(p, part)| map_partition_with_state(stage, p, part, time_ms, state, on_probation))
            .collect(),
    )?;
    let mut out = StatefulOutput {
        output: Vec::with_capacity(done.len()),
        snapshots: stage.snapshots.then(Vec::new),
        changes: Vec::with_capacity(done.len()),
        dead_letters: Vec::new(),
    };
    for (output, snapshot, change, dead) in done {
        out.output.push(output);
        if let (Some(all), Some(snapshot)) = (&mut out.snapshots, snapshot) {
            all.push(snapshot);
        }
        out.changes.push(change);
        out.dead_letters.extend(dead);
    }
    Ok(out)
}

fn map_partition_with_state(
    stage: &StageRuntime,
    p: usize,
    part: &Records,
    time_ms: u64,
    state: &KeyedState,
    on_probation: OnProbation<'_>,
) -> Result<(Records, Option<Records>, KeyedChange, Vec<DeadLetter>), StageError> {
    let map = state.partition(p);
    let groups = group(part).map_err(|(i, e)| not_a_pair(stage, p, i, e))?;
    let mut items = Records::with_capacity(part.bytes().len() + groups.len() * 8);
    let mut with_data: BytesMap<'_, ()> = BytesMap::default();
    for (key, values) in &groups {
        with_data.insert(key, ());
        let old = map.get(*key).map(|e| &*e.state);
        items.push_with(|buf| {
            buf.push(0x94);
            buf.extend_from_slice(key);
            write_values(buf, values);
            buf.extend_from_slice(old.unwrap_or(&[NIL]));
            buf.push(0xc2);
        });
    }
    let with_values = items.len();
    if let Some(timeout) = stage.timeout_ms {
        let idle = map.iter().filter(|(k, e)| {
            e.touched_ms.saturating_add(timeout) <= time_ms && !with_data.contains_key(&k[..])
        });
        for (key, entry) in idle {
            items.push_with(|buf| {
                buf.push(0x94);
                buf.extend_from_slice(key);
                buf.push(0x90);
                buf.extend_from_slice(&entry.state);
                buf.push(0xc3);
            });
        }
    }
    let mut dead = Vec::new();
    let (results, indexes) = if items.is_empty() {
        (Records::new(), Vec::new())
    } else {
        let isolated = call_keys(stage, &items, time_ms, p, on_probation, &mut dead)?;
        let indexes = kept((0..items.len()).collect(), &isolated);
        (isolated.output, indexes)
    };
    if results.len() != indexes.len() {
        return Err(stage.bad_output(
            p,
            format!("{} keys in, {} out", indexes.len(), results.len()),
        ));
    }
    let mut output = Records::new();
    let mut delta: Vec<(Box<[u8]>, Option<StateEntry>)> = Vec::with_capacity(results.len());
    for (i, item) in results.iter().enumerate() {
        let (key, new, mapped) =
            split_mapped(item).map_err(|e| stage.bad_output(p, format!("item {i}: {e}")))?;
        for record in mapped {
            output.push_encoded(record.map_err(|e| stage.bad_output(p, format!("item {i}: {e}")))?);
        }
        let timed_out = indexes[i] >= with_values;
        let entry = (!timed_out && new != [NIL]).then(|| StateEntry {
            state: new.into(),
            touched_ms: time_ms,
        });
        if entry.is_some() || map.contains_key(key) {
            delta.push((key.into(), entry));
        }
    }
    let snapshot = stage.snapshots.then(|| snapshot(map, &delta));
    Ok((output, snapshot, KeyedChange::Delta(delta), dead))
}

/// The output of a batch that changes nothing: every `(key, state)` as both output
/// and snapshots (when `snapshots`).
fn unchanged(state: &KeyedState, snapshots: bool) -> StatefulOutput {
    let all: Vec<Records> = (0..state.partition_count())
        .map(|p| snapshot(state.partition(p), &[]))
        .collect();
    StatefulOutput {
        output: all.clone(),
        snapshots: snapshots.then_some(all),
        changes: (0..state.partition_count())
            .map(|_| KeyedChange::Unchanged)
            .collect(),
        dead_letters: Vec::new(),
    }
}

/// Splits a map_with_state output item `[key, state, [records]]`.
fn split_mapped(item: &[u8]) -> Result<(&[u8], &[u8], wire::Values<'_>), wire::WireError> {
    let shape = wire::WireError {
        offset: 0,
        what: "expected [key, state, [records]]",
    };
    let (len, header) = wire::read_array_header(item)?;
    if len != 3 {
        return Err(shape);
    }
    let rest = &item[header..];
    let key_len = wire::value_len(rest)?;
    let (key, rest) = rest.split_at(key_len);
    let state_len = wire::value_len(rest)?;
    let (state, rest) = rest.split_at(state_len);
    let (_, records_header) = wire::read_array_header(rest)?;
    Ok((key, state, wire::Values::new(&rest[records_header..])))
}

/// Every `(key, state)` of a partition after `delta` is applied.
fn snapshot(map: &crate::state::StateMap, delta: &[(Box<[u8]>, Option<StateEntry>)]) -> Records {
    let changed: BytesMap<'_, ()> = delta.iter().map(|(k, _)| (&k[..], ())).collect();
    let mut out = Records::new();
    for (key, entry) in map.iter().filter(|(k, _)| !changed.contains_key(&k[..])) {
        out.push_pair(key, &entry.state);
    }
    for (key, entry) in delta {
        if let Some(entry) = entry {
            out.push_pair(key, &entry.state);
        }
    }
    out
}
