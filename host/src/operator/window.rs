//! Window operators: results over the batches of the last `window`, computed every
//! `slide` (both multiples of the batch interval).
//!
//! Every batch, a window stage turns its input into a per-batch partial result (a
//! count, a reduced value, values reduced per key; only `window` itself must keep raw
//! records) and remembers it in its [`WindowState`]. At batch times that are multiples
//! of the slide it combines the partials of the batches in `(t - window, t]`. Between
//! slides the stage has no output at all (zero partitions), as Spark's windowed
//! DStreams have no RDD between slides.
//!
//! reduce_by_key_and_window has two modes with identical results: recompute (combine
//! every partial in the window) and incremental (with an inverse function: take the
//! previous window, add the batches that entered, take out those that left).

use super::global;
use super::shuffle::{self, BytesMap, count_values, not_a_pair};
use super::{StageError, StageFailure, StageRuntime, first_error};
use crate::config::Op;
use crate::record::Records;
use crate::state::{WindowChange, WindowState};
use rayon::prelude::*;
use sluice_sdk::wire::{self, ReduceMode};

/// Runs a window stage for the batch at `time_ms`.
pub fn run(
    stage: &StageRuntime,
    input: &[Records],
    time_ms: u64,
    state: &WindowState,
) -> Result<(Vec<Records>, WindowChange), StageError> {
    let (length, slide) = stage.window.expect("window ops have a window");
    let partial = (time_ms, partial(stage, input, time_ms)?);
    let incremental = stage.op == Op::ReduceByKeyAndWindow && stage.inverse.is_some();
    // Incremental mode subtracts the batches that just left, so it keeps one slide more.
    let reach = length + if incremental { slide } else { 0 };
    let mut change = WindowChange {
        forget_until: time_ms.saturating_sub(reach),
        partial,
        previous: None,
    };
    if !time_ms.is_multiple_of(slide) {
        return Ok((Vec::new(), change));
    }
    let start = time_ms.saturating_sub(length);
    let output = match stage.op {
        Op::Window => concat(&state.between(start, time_ms, &change.partial)),
        Op::CountByWindow => {
            let total = state
                .between(start, time_ms, &change.partial)
                .iter()
                .flat_map(|p| p.iter())
                .flat_map(Records::iter)
                .map(|r| wire::read_u64(r).unwrap_or(0))
                .sum();
            let mut out = Records::new();
            out.push_u64(total);
            vec![out]
        }
        Op::ReduceByWindow => {
            let values = Records::concat(
                state
                    .between(start, time_ms, &change.partial)
                    .iter()
                    .flat_map(|p| p.iter()),
            );
            let combined = if values.len() > 1 {
                stage.call(&values, ReduceMode::Whole as u32, time_ms, 0)?
            } else {
                values
            };
            vec![combined]
        }
        Op::CountByValueAndWindow => {
            let parts = concat(&state.between(start, time_ms, &change.partial));
            first_error(
                parts
                    .par_iter()
                    .enumerate()
                    .map(|(p, part)| sum_counts(stage, p, part))
                    .collect(),
            )?
        }
        Op::ReduceByKeyAndWindow => {
            let previous = state
                .previous
                .as_ref()
                .filter(|(t, _)| incremental && *t + slide == time_ms);
            let result = match previous {
                Some((_, previous)) => {
                    let entered = concat(&state.between(time_ms - slide, time_ms, &change.partial));
                    let left =
                        concat(&state.between(start.saturating_sub(slide), start, &change.partial));
                    first_error(
                        (0..stage.partitions)
                            .into_par_iter()
                            .map(|p| {
                                let base = Records::concat(
                                    [previous.get(p), entered.get(p)].into_iter().flatten(),
                                );
                                let combined = reduce_keyed(stage, &base, time_ms, p)?;
                                let reduced = subtract(stage, combined, left.get(p), time_ms, p)?;
                                keep(stage, reduced, time_ms, p)
                            })
                            .collect(),
                    )?
                }
                None => {
                    let parts = concat(&state.between(start, time_ms, &change.partial));
                    first_error(
                        (0..stage.partitions)
                            .into_par_iter()
                            .map(|p| {
                                let reduced = reduce_keyed(
                                    stage,
                                    parts.get(p).unwrap_or(&Records::new()),
                                    time_ms,
                                    p,
                                )?;
                                keep(stage, reduced, time_ms, p)
                            })
                            .collect(),
                    )?
                }
            };
            if incremental {
                change.previous = Some((time_ms, result.clone()));
            }
            result
        }
        other => unreachable!("{} is not a window op", other.name()),
    };
    Ok((output, change))
}

/// The batch's partial result: what the window keeps of it.
fn partial(
    stage: &StageRuntime,
    input: &[Records],
    time_ms: u64,
) -> Result<Vec<Records>, StageError> {
    Ok(match stage.op {
        Op::Window => input.to_vec(),
        Op::CountByWindow => global::count(input),
        Op::ReduceByWindow => global::reduce(stage, input, time_ms)?,
        Op::ReduceByKeyAndWindow if input.is_empty() => Vec::new(),
        Op::ReduceByKeyAndWindow => shuffle::reduce_by_key(stage, input, time_ms)?,
        Op::CountByValueAndWindow if input.is_empty() => Vec::new(),
        Op::CountByValueAndWindow => shuffle::count_by_value(stage, input)?,
        other => unreachable!("{} is not a window op", other.name()),
    })
}

/// Partition `p` of the result holds partition `p` of every batch, oldest first. Batches
/// with fewer partitions (none: no input that batch) contribute nothing there.
fn concat(batches: &[&[Records]]) -> Vec<Records> {
    let n = batches.iter().map(|b| b.len()).max().unwrap_or(0);
    (0..n)
        .map(|p| Records::concat(batches.iter().filter_map(|b| b.get(p))))
        .collect()
}

fn reduce_keyed(
    stage: &StageRuntime,
    pairs: &Records,
    time_ms: u64,
    p: usize,
) -> Result<Records, StageError> {
    if pairs.is_empty() {
        return Ok(Records::new());
    }
    stage.call(pairs, ReduceMode::Keyed as u32, time_ms, p)
}

/// Takes the values of the batches that left the window out of `combined`, with the
/// inverse function. A key whose value was already dropped (by the filter function)
/// has nothing to take from and is skipped.
fn subtract(
    stage: &StageRuntime,
    combined: Records,
    left: Option<&Records>,
    time_ms: u64,
    p: usize,
) -> Result<Records, StageError> {
    let Some(left) = left.filter(|l| !l.is_empty()) else {
        return Ok(combined);
    };
    let mut leaving: BytesMap<'_, Vec<&[u8]>> = BytesMap::default();
    for (i, record) in left.iter().enumerate() {
        let (key, value) = wire::split_pair(record).map_err(|e| not_a_pair(stage, p, i, e))?;
        leaving.entry(key).or_default().push(value);
    }
    let mut items = Records::new();
    let mut touched = Vec::with_capacity(combined.len());
    for (i, record) in combined.iter().enumerate() {
        let (key, value) =
            wire::split_pair(record).map_err(|e| stage.bad_output(p, format!("pair {i}: {e}")))?;
        match leaving.get(key) {
            Some(values) => {
                items.push_with(|buf| {
                    buf.push(0x93);
                    buf.extend_from_slice(key);
                    buf.extend_from_slice(value);
                    wire::write_array_header(buf, values.len());
                    values.iter().for_each(|v| buf.extend_from_slice(v));
                });
                touched.push(true);
            }
            None => touched.push(false),
        }
    }
    if items.is_empty() {
        return Ok(combined);
    }
    let subtracted = stage.call_bound(stage.inverse.as_ref(), &items, 0, time_ms, p)?;
    if subtracted.len() != items.len() {
        return Err(stage.bad_output(
            p,
            format!(
                "inverse function: {} keys in, {} out",
                items.len(),
                subtracted.len()
            ),
        ));
    }
    let mut out = Records::with_capacity(combined.bytes().len());
    let mut results = subtracted.iter();
    for (record, touched) in combined.iter().zip(touched) {
        match touched {
            true => out.push_encoded(results.next().expect("counted above")),
            false => out.push_encoded(record),
        }
    }
    Ok(out)
}

/// Applies the filter function, if the stage has one.
fn keep(
    stage: &StageRuntime,
    pairs: Records,
    time_ms: u64,
    p: usize,
) -> Result<Records, StageError> {
    match &stage.filter {
        Some(filter) if !pairs.is_empty() => stage.call_bound(Some(filter), &pairs, 0, time_ms, p),
        _ => Ok(pairs),
    }
}

fn sum_counts(stage: &StageRuntime, p: usize, part: &Records) -> Result<Records, StageError> {
    let pairs = part
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let (key, count) = wire::split_pair(record).map_err(|e| not_a_pair(stage, p, i, e))?;
            let count = wire::read_u64(count).map_err(|e| {
                stage.error(
                    Some(p),
                    StageFailure::Data(format!("count of record {i}: {e}")),
                )
            })?;
            Ok((key, count))
        })
        .collect::<Result<Vec<_>, StageError>>()?;
    Ok(count_values(pairs.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const INTERVAL: u64 = 100;

    fn stage(op: Op, length_batches: u64, slide_batches: u64) -> StageRuntime {
        let mut stage = StageRuntime::bare(op, 2);
        stage.window = Some((length_batches * INTERVAL, slide_batches * INTERVAL));
        stage
    }

    /// One batch's input: string records spread over two partitions.
    fn batch(values: &[u8]) -> Vec<Records> {
        let mut parts = vec![Records::new(), Records::new()];
        for (i, v) in values.iter().enumerate() {
            parts[i % 2].push_str(&format!("v{v}"));
        }
        parts
    }

    /// Runs a window op over consecutive batches, committing each change, and returns
    /// the output of every batch time that had one.
    fn run_all(
        stage: &StageRuntime,
        batches: &[Vec<u8>],
        first: u64,
    ) -> BTreeMap<u64, Vec<Records>> {
        let mut state = WindowState::default();
        let mut outputs = BTreeMap::new();
        for (i, values) in batches.iter().enumerate() {
            let t = first + i as u64 * INTERVAL;
            let (out, change) = run(stage, &batch(values), t, &state).unwrap();
            if !out.is_empty() {
                outputs.insert(t, out);
            }
            state.apply(change);
        }
        outputs
    }

    proptest! {
        #[test]
        fn each_batch_is_counted_in_exactly_the_windows_that_cover_it(
            batches in prop::collection::vec(prop::collection::vec(0u8..4, 0..6), 1..30),
            length in 1u64..6,
            slide in 1u64..4,
            first_batch in 1u64..20,
        ) {
            let first = first_batch * INTERVAL;
            let last = first + (batches.len() as u64 - 1) * INTERVAL;
            let counts = run_all(&stage(Op::CountByWindow, length, slide), &batches, first);
            let by_value = run_all(&stage(Op::CountByValueAndWindow, length, slide), &batches, first);
            let raw = run_all(&stage(Op::Window, length, slide), &batches, first);
            // Windows exist exactly at the multiples of the slide.
            let slide_times: Vec<u64> = (first..=last).step_by(INTERVAL as usize).filter(|t| t.is_multiple_of(slide * INTERVAL)).collect();
            prop_assert_eq!(counts.keys().copied().collect::<Vec<_>>(), slide_times.clone());
            prop_assert_eq!(raw.keys().copied().collect::<Vec<_>>(), slide_times.clone());
            for t in slide_times {
                // The batches a window at t covers: (t - length, t].
                let covered: Vec<&Vec<u8>> = batches
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        let bt = first + *i as u64 * INTERVAL;
                        bt + length * INTERVAL > t && bt <= t
                    })
                    .map(|(_, b)| b)
                    .collect();
                let expected_total: usize = covered.iter().map(|b| b.len()).sum();
                let total = wire::read_u64(counts[&t][0].iter().next().unwrap()).unwrap();
                prop_assert_eq!(total as usize, expected_total);
                prop_assert_eq!(raw[&t].iter().map(Records::len).sum::<usize>(), expected_total);
                let mut expected: BTreeMap<String, u64> = BTreeMap::new();
                for v in covered.iter().flat_map(|b| b.iter()) {
                    *expected.entry(format!("v{v}")).or_default() += 1;
                }
                let mut got: BTreeMap<String, u64> = BTreeMap::new();
                for record in by_value.get(&t).into_iter().flatten().flat_map(Records::iter) {
                    let (value, count): (String, u64) = rmp_serde::from_slice(record).unwrap();
                    prop_assert!(got.insert(value, count).is_none(), "a value counted twice in one window");
                }
                prop_assert_eq!(got, expected);
            }
        }
    }

    #[test]
    fn partials_beyond_reach_are_forgotten() {
        let stage = stage(Op::CountByWindow, 3, 1);
        let mut state = WindowState::default();
        for i in 1..=10u64 {
            let (_, change) = run(&stage, &batch(&[1]), i * INTERVAL, &state).unwrap();
            state.apply(change);
            assert!(
                state.partials.len() <= 3,
                "{} partials kept",
                state.partials.len()
            );
        }
    }
}
