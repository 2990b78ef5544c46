//! Joins and co-grouping of two keyed inputs, per batch (Spark's join, leftOuterJoin,
//! rightOuterJoin, fullOuterJoin, cogroup). Both inputs are shuffled to the partition
//! owning each key; each partition then matches keys by their encoded bytes. A missing
//! side is nil, which a plugin decodes as `None`.
//!
//! Windowed joins are joins of windowed inputs: between slides such inputs have no
//! batch, and neither does the join.

use super::shuffle::{group, not_a_pair, shuffle_pairs};
use super::{StageError, StageRuntime, first_error};
use crate::config::Op;
use crate::record::Records;
use rayon::prelude::*;
use sluice_sdk::wire;
use std::collections::HashMap;

const NIL: &[u8] = &[0xc0];

/// Joins `left` and `right` as the stage's op says.
pub fn run(
    stage: &StageRuntime,
    left: &[Records],
    right: &[Records],
) -> Result<Vec<Records>, StageError> {
    if left.is_empty() && right.is_empty() {
        return Ok(Vec::new());
    }
    let left = shuffle_pairs(stage, left)?;
    let right = shuffle_pairs(stage, right)?;
    first_error(
        left.par_iter()
            .zip(right.par_iter())
            .enumerate()
            .map(|(p, (l, r))| join_partition(stage, p, l, r))
            .collect(),
    )
}

fn join_partition(
    stage: &StageRuntime,
    p: usize,
    left: &Records,
    right: &Records,
) -> Result<Records, StageError> {
    let left = group(left).map_err(|(i, e)| not_a_pair(stage, p, i, e))?;
    let right = group(right).map_err(|(i, e)| not_a_pair(stage, p, i, e))?;
    let right_index: HashMap<&[u8], usize> = right
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (*k, i))
        .collect();
    let mut right_matched = vec![false; right.len()];
    let mut out = Records::new();
    let (keep_left, keep_right) = match stage.op {
        Op::Join => (false, false),
        Op::LeftOuterJoin => (true, false),
        Op::RightOuterJoin => (false, true),
        Op::FullOuterJoin | Op::Cogroup => (true, true),
        other => unreachable!("{} is not a join", other.name()),
    };
    for (key, lvalues) in &left {
        let matched = right_index.get(key).copied();
        if let Some(i) = matched {
            right_matched[i] = true;
        }
        if stage.op == Op::Cogroup {
            let rvalues = matched.map_or(&[][..], |i| &right[i].1[..]);
            push_cogroup(&mut out, key, lvalues, rvalues);
            continue;
        }
        match matched {
            Some(i) => {
                for lv in lvalues {
                    for rv in &right[i].1 {
                        push_joined(&mut out, key, lv, rv);
                    }
                }
            }
            None if keep_left => lvalues
                .iter()
                .for_each(|lv| push_joined(&mut out, key, lv, NIL)),
            None => {}
        }
    }
    if keep_right {
        for ((key, rvalues), matched) in right.iter().zip(right_matched) {
            if matched {
                continue;
            }
            if stage.op == Op::Cogroup {
                push_cogroup(&mut out, key, &[], rvalues);
            } else {
                rvalues
                    .iter()
                    .for_each(|rv| push_joined(&mut out, key, NIL, rv));
            }
        }
    }
    Ok(out)
}

/// `[key, [left, right]]`.
fn push_joined(out: &mut Records, key: &[u8], left: &[u8], right: &[u8]) {
    out.push_with(|buf| {
        buf.push(0x92);
        buf.extend_from_slice(key);
        buf.push(0x92);
        buf.extend_from_slice(left);
        buf.extend_from_slice(right);
    });
}

/// `[key, [[left values], [right values]]]`.
fn push_cogroup(out: &mut Records, key: &[u8], left: &[&[u8]], right: &[&[u8]]) {
    out.push_with(|buf| {
        buf.push(0x92);
        buf.extend_from_slice(key);
        buf.push(0x92);
        for side in [left, right] {
            wire::write_array_header(buf, side.len());
            side.iter().for_each(|v| buf.extend_from_slice(v));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(op: Op) -> StageRuntime {
        StageRuntime::bare(op, 2)
    }

    fn pairs(items: &[(&str, u32)]) -> Vec<Records> {
        let mut r = Records::new();
        for item in items {
            r.push_encoded(&rmp_serde::to_vec(item).unwrap());
        }
        vec![r]
    }

    fn run_sorted<T: serde::de::DeserializeOwned + Ord>(op: Op) -> Vec<T> {
        let left = pairs(&[("a", 1), ("a", 2), ("b", 3)]);
        let right = pairs(&[("a", 10), ("c", 30)]);
        let mut out: Vec<T> = run(&stage(op), &left, &right)
            .unwrap()
            .iter()
            .flat_map(|p| {
                p.iter()
                    .map(|r| rmp_serde::from_slice(r).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn the_four_joins_and_cogroup_match_spark() {
        type Row = (String, (Option<u32>, Option<u32>));
        let row = |k: &str, l: Option<u32>, r: Option<u32>| (k.to_string(), (l, r));
        assert_eq!(
            run_sorted::<Row>(Op::Join),
            [row("a", Some(1), Some(10)), row("a", Some(2), Some(10))]
        );
        assert_eq!(
            run_sorted::<Row>(Op::LeftOuterJoin),
            [
                row("a", Some(1), Some(10)),
                row("a", Some(2), Some(10)),
                row("b", Some(3), None)
            ]
        );
        assert_eq!(
            run_sorted::<Row>(Op::RightOuterJoin),
            [
                row("a", Some(1), Some(10)),
                row("a", Some(2), Some(10)),
                row("c", None, Some(30))
            ]
        );
        assert_eq!(
            run_sorted::<Row>(Op::FullOuterJoin),
            [
                row("a", Some(1), Some(10)),
                row("a", Some(2), Some(10)),
                row("b", Some(3), None),
                row("c", None, Some(30))
            ]
        );
        type Group = (String, (Vec<u32>, Vec<u32>));
        assert_eq!(
            run_sorted::<Group>(Op::Cogroup),
            [
                ("a".into(), (vec![1, 2], vec![10])),
                ("b".into(), (vec![3], vec![])),
                ("c".into(), (vec![], vec![30]))
            ]
        );
    }
}
