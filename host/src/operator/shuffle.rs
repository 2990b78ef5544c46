//! Shuffle operators: records move to the partition that owns their key (hash of the
//! key's encoded bytes, see `partition`), or are spread evenly.
//!
//! Every shuffle is a map side (per input partition, in parallel), an exchange (bucket
//! `j` of every map side becomes input partition `j`), and a reduce side (per output
//! partition, in parallel).

use super::{StageError, StageFailure, StageRuntime, first_error};
use crate::config::Op;
use crate::partition::partition_of;
use crate::record::Records;
use rayon::prelude::*;
use sluice_sdk::wire::{self, ReduceMode};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use xxhash_rust::xxh3::Xxh3Default;

pub(crate) type BytesMap<'a, V> = HashMap<&'a [u8], V, BuildHasherDefault<Xxh3Default>>;

/// Keys with their values, as encoded bytes.
pub(crate) type Groups<'a> = Vec<(&'a [u8], Vec<&'a [u8]>)>;

/// Runs a shuffle stage over a batch's partitions.
pub fn run(
    stage: &StageRuntime,
    input: &[Records],
    time_ms: u64,
) -> Result<Vec<Records>, StageError> {
    if input.is_empty() {
        // No batch upstream at this time (a window between slides): none here either.
        return Ok(Vec::new());
    }
    match stage.op {
        Op::ReduceByKey => reduce_by_key(stage, input, time_ms),
        Op::GroupByKey => group_by_key(stage, input),
        Op::CountByValue => count_by_value(stage, input),
        Op::Repartition => Ok(repartition(input, stage.partitions)),
        other => unreachable!("{} is not a shuffle", other.name()),
    }
}

/// Spreads pairs over `n` buckets by their key's hash.
pub(crate) fn bucket_pairs(
    stage: &StageRuntime,
    records: &Records,
    n: usize,
    partition: usize,
) -> Result<Vec<Records>, StageError> {
    let mut buckets = vec![Records::new(); n];
    for (i, record) in records.iter().enumerate() {
        let (key, _) = wire::split_pair(record).map_err(|e| not_a_pair(stage, partition, i, e))?;
        buckets[partition_of(key, n)].push_encoded(record);
    }
    Ok(buckets)
}

pub(crate) fn not_a_pair(
    stage: &StageRuntime,
    partition: usize,
    index: usize,
    e: wire::WireError,
) -> StageError {
    stage.error(
        Some(partition),
        StageFailure::Data(format!(
            "record {index} is not a [key, value] pair ({e}); `{}` needs a pair stream, like the output of a flat_map returning (key, value) tuples",
            stage.op.name()
        )),
    )
}

/// Moves every pair to the partition, of `stage.partitions`, that owns its key.
pub(crate) fn shuffle_pairs(
    stage: &StageRuntime,
    input: &[Records],
) -> Result<Vec<Records>, StageError> {
    let n = stage.partitions;
    let buckets = input
        .par_iter()
        .enumerate()
        .map(|(p, part)| bucket_pairs(stage, part, n, p))
        .collect();
    Ok(exchange(first_error(buckets)?, n))
}

/// Bucket `j` of every map side, together.
pub(crate) fn exchange(buckets: Vec<Vec<Records>>, n: usize) -> Vec<Records> {
    (0..n)
        .into_par_iter()
        .map(|j| Records::concat(buckets.iter().map(|b| &b[j])))
        .collect()
}

pub(crate) fn reduce_by_key(
    stage: &StageRuntime,
    input: &[Records],
    time_ms: u64,
) -> Result<Vec<Records>, StageError> {
    let n = stage.partitions;
    let keyed = ReduceMode::Keyed as u32;
    let map_side = input
        .par_iter()
        .enumerate()
        .map(|(p, part)| {
            if part.is_empty() {
                return Ok(vec![Records::new(); n]);
            }
            if stage.precombined {
                return bucket_pairs(stage, part, n, p);
            }
            let combined = stage.call(part, keyed, time_ms, p)?;
            bucket_pairs(stage, &combined, n, p)
        })
        .collect();
    let gathered = exchange(first_error(map_side)?, n);
    if input.len() <= 1 && !stage.precombined {
        // One map side saw every key: its output is already combined. (A precombined
        // input may have been bisected around a poison record into several runs.)
        return Ok(gathered);
    }
    first_error(
        gathered
            .par_iter()
            .enumerate()
            .map(|(p, part)| {
                if part.is_empty() {
                    Ok(Records::new())
                } else {
                    stage.call(part, keyed, time_ms, p)
                }
            })
            .collect(),
    )
}

/// Keys in first-seen order with the values of each, as encoded bytes.
pub(crate) fn group<'a>(records: &'a Records) -> Result<Groups<'a>, (usize, wire::WireError)> {
    let mut slots: BytesMap<'a, usize> = BytesMap::default();
    let mut groups: Groups<'a> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let (key, value) = wire::split_pair(record).map_err(|e| (i, e))?;
        match slots.get(key) {
            Some(&slot) => groups[slot].1.push(value),
            None => {
                slots.insert(key, groups.len());
                groups.push((key, vec![value]));
            }
        }
    }
    Ok(groups)
}

fn group_by_key(stage: &StageRuntime, input: &[Records]) -> Result<Vec<Records>, StageError> {
    let n = stage.partitions;
    let map_side = input
        .par_iter()
        .enumerate()
        .map(|(p, part)| bucket_pairs(stage, part, n, p))
        .collect();
    let gathered = exchange(first_error(map_side)?, n);
    first_error(
        gathered
            .par_iter()
            .enumerate()
            .map(|(p, part)| {
                let groups = group(part).map_err(|(i, e)| not_a_pair(stage, p, i, e))?;
                let mut out = Records::with_capacity(part.bytes().len() + groups.len() * 8);
                let mut values = Vec::new();
                for (key, vals) in groups {
                    values.clear();
                    wire::write_array_header(&mut values, vals.len());
                    for v in vals {
                        values.extend_from_slice(v);
                    }
                    out.push_pair(key, &values);
                }
                Ok(out)
            })
            .collect(),
    )
}

/// Counts per distinct record (or key) in first-seen order: the map side counts whole
/// records, the reduce side sums the counts of `[record, count]` pairs.
pub(crate) fn count_values<'a>(pairs: impl Iterator<Item = (&'a [u8], u64)>) -> Records {
    let mut slots: BytesMap<'a, usize> = BytesMap::default();
    let mut counts: Vec<(&[u8], u64)> = Vec::new();
    for (value, n) in pairs {
        match slots.get(value) {
            Some(&slot) => counts[slot].1 += n,
            None => {
                slots.insert(value, counts.len());
                counts.push((value, n));
            }
        }
    }
    let mut out = Records::new();
    let mut count = Vec::with_capacity(9);
    for (value, n) in counts {
        count.clear();
        wire::write_u64(&mut count, n);
        out.push_pair(value, &count);
    }
    out
}

pub(crate) fn count_by_value(
    stage: &StageRuntime,
    input: &[Records],
) -> Result<Vec<Records>, StageError> {
    let n = stage.partitions;
    let map_side = input
        .par_iter()
        .enumerate()
        .map(|(p, part)| bucket_pairs(stage, &count_values(part.iter().map(|r| (r, 1))), n, p))
        .collect();
    let gathered = exchange(first_error(map_side)?, n);
    first_error(
        gathered
            .par_iter()
            .enumerate()
            .map(|(p, part)| {
                let pairs: Result<Vec<(&[u8], u64)>, StageError> = part
                    .iter()
                    .enumerate()
                    .map(|(i, record)| {
                        let (key, count) =
                            wire::split_pair(record).map_err(|e| not_a_pair(stage, p, i, e))?;
                        let count =
                            wire::read_u64(count).map_err(|e| not_a_pair(stage, p, i, e))?;
                        Ok((key, count))
                    })
                    .collect();
                Ok(count_values(pairs?.into_iter()))
            })
            .collect(),
    )
}

/// Spreads records evenly over `n` partitions, round robin, starting each input
/// partition at a different output so that small partitions do not all land on 0.
pub fn repartition(input: &[Records], n: usize) -> Vec<Records> {
    let buckets: Vec<Vec<Records>> = input
        .par_iter()
        .enumerate()
        .map(|(p, part)| {
            let mut buckets = vec![Records::with_capacity(part.bytes().len() / n + 16); n];
            for (i, record) in part.iter().enumerate() {
                buckets[(p + i) % n].push_encoded(record);
            }
            buckets
        })
        .collect();
    exchange(buckets, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(op: Op, partitions: usize) -> StageRuntime {
        StageRuntime::bare(op, partitions)
    }

    fn pairs(items: &[(&str, u64)]) -> Records {
        let mut r = Records::new();
        for item in items {
            r.push_encoded(&rmp_serde::to_vec(item).unwrap());
        }
        r
    }

    fn decode<T: serde::de::DeserializeOwned>(parts: &[Records]) -> Vec<T> {
        let mut all: Vec<T> = Vec::new();
        for part in parts {
            for r in part.iter() {
                all.push(rmp_serde::from_slice(r).unwrap());
            }
        }
        all
    }

    #[test]
    fn group_by_key_puts_every_value_of_a_key_together() {
        let input = [pairs(&[("a", 1), ("b", 2)]), pairs(&[("a", 3)])];
        let out = group_by_key(&stage(Op::GroupByKey, 3), &input).unwrap();
        assert_eq!(out.len(), 3);
        let mut groups: Vec<(String, Vec<u64>)> = decode(&out);
        groups.sort();
        assert_eq!(
            groups,
            [("a".to_string(), vec![1, 3]), ("b".to_string(), vec![2])]
        );
        // Each key lives in exactly the partition its hash names.
        for (p, part) in out.iter().enumerate() {
            for r in part.iter() {
                let (key, _) = wire::split_pair(r).unwrap();
                assert_eq!(partition_of(key, 3), p);
            }
        }
    }

    #[test]
    fn count_by_value_counts_whole_records() {
        let a: Records = ["x", "y", "x"].into_iter().collect();
        let b: Records = ["x"].into_iter().collect();
        let out = count_by_value(&stage(Op::CountByValue, 2), &[a, b]).unwrap();
        let mut counts: Vec<(String, u64)> = decode(&out);
        counts.sort();
        assert_eq!(counts, [("x".to_string(), 3), ("y".to_string(), 1)]);
    }

    #[test]
    fn keyed_ops_reject_records_that_are_not_pairs_with_a_hint() {
        let mut lines = Records::new();
        lines.push_str("not a pair");
        let err = group_by_key(&stage(Op::GroupByKey, 2), &[lines]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("record 0 is not a [key, value] pair") && text.contains("group_by_key"),
            "{text}"
        );
    }

    #[test]
    fn repartition_balances_and_keeps_every_record() {
        let mut skewed = Records::new();
        for i in 0..10 {
            skewed.push_u64(i);
        }
        let out = repartition(&[skewed, Records::new()], 4);
        assert_eq!(
            out.iter().map(Records::len).collect::<Vec<_>>(),
            [3, 3, 2, 2]
        );
        let mut all: Vec<u64> = decode(&out);
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
