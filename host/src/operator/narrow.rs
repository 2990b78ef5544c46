//! Narrow operators: a chain of stages run on one partition in one pass.

use super::isolate::{DeadLetter, call_isolating};
use super::{StageError, StageRuntime};
use crate::config::Op;
use crate::plugin::Call;
use crate::record::Records;
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// What one stage did on one partition.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageWork {
    /// Records the stage was given.
    pub records_in: u64,
    /// Records the stage emitted.
    pub records_out: u64,
    /// Time spent in the stage.
    pub time: Duration,
}

/// Runs `chain` on one partition. Union stages pass their input through untouched;
/// every other stage is one plugin call. Consecutive stages of one plugin version run
/// as one chained sequence in one instance, their intermediate outputs never leaving the
/// guest; if anything fails, the chain runs again stage by stage, where a failing record
/// can be isolated.
pub fn run_chain(
    chain: &[&StageRuntime],
    input: &Records,
    time_ms: u64,
    partition: usize,
    on_probation: &dyn Fn(&str) -> bool,
    dead: &mut Vec<DeadLetter>,
) -> Result<(Records, Vec<StageWork>), StageError> {
    if let Some(done) = run_chained(chain, input, time_ms, partition) {
        return Ok(done);
    }
    let mut current: Cow<'_, Records> = Cow::Borrowed(input);
    let mut work = Vec::with_capacity(chain.len());
    for stage in chain {
        let started = Instant::now();
        let records_in = current.len() as u64;
        if stage.op != Op::Union {
            current = Cow::Owned(call_isolating(
                stage,
                &current,
                time_ms,
                partition,
                on_probation,
                dead,
            )?);
        }
        work.push(StageWork {
            records_in,
            records_out: current.len() as u64,
            time: started.elapsed(),
        });
    }
    Ok((current.into_owned(), work))
}

/// The chain with each run of stages of one plugin version as one chained call; `None`
/// on any failure (the caller then runs it stage by stage).
fn run_chained(
    chain: &[&StageRuntime],
    input: &Records,
    time_ms: u64,
    partition: usize,
) -> Option<(Records, Vec<StageWork>)> {
    let mut current: Cow<'_, Records> = Cow::Borrowed(input);
    let mut work = Vec::with_capacity(chain.len());
    let mut at = 0;
    while at < chain.len() {
        let started = Instant::now();
        let records_in = current.len() as u64;
        let Some(bound) = chain[at]
            .function
            .as_ref()
            .filter(|_| chain[at].op != Op::Union)
        else {
            work.push(StageWork {
                records_in,
                records_out: records_in,
                time: started.elapsed(),
            });
            at += 1;
            continue;
        };
        let run = chain[at..]
            .iter()
            .take_while(|s| {
                s.op != Op::Union
                    && s.function
                        .as_ref()
                        .is_some_and(|f| std::sync::Arc::ptr_eq(&f.plugin, &bound.plugin))
            })
            .count();
        let calls: Vec<Call<'_>> = chain[at..at + run]
            .iter()
            .filter_map(|s| s.function.as_ref())
            .map(|f| Call {
                function: &f.function,
                mode: 0,
                batch_time_ms: time_ms as i64,
                partition: partition as u32,
            })
            .collect();
        let (records, counts) = bound.plugin.call_chain(&calls, &current).ok()?;
        // The chain's time, shared among its stages.
        let time = started.elapsed() / run as u32;
        let mut given = records_in;
        for count in counts {
            work.push(StageWork {
                records_in: given,
                records_out: count,
                time,
            });
            given = count;
        }
        current = Cow::Owned(records);
        at += run;
    }
    Some((current.into_owned(), work))
}

/// The union of several inputs' partitions: partition `i` of the result holds
/// partition `i` of every input when they have the same count; otherwise the inputs'
/// partitions are laid side by side, as Spark's union does.
pub fn union<'a>(inputs: &[&'a [Records]]) -> Cow<'a, [Records]> {
    match inputs {
        [one] => Cow::Borrowed(*one),
        _ if inputs.windows(2).all(|w| w[0].len() == w[1].len()) => {
            let n = inputs.first().map_or(0, |i| i.len());
            Cow::Owned(
                (0..n)
                    .map(|p| Records::concat(inputs.iter().map(|input| &input[p])))
                    .collect(),
            )
        }
        _ => Cow::Owned(
            inputs
                .iter()
                .flat_map(|input| input.iter().cloned())
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(lines: &[&str]) -> Records {
        lines.iter().copied().collect()
    }

    #[test]
    fn union_zips_equal_partition_counts_and_appends_others() {
        let a = [records(&["a0"]), records(&["a1"])];
        let b = [records(&["b0"]), records(&["b1"])];
        let c = [records(&["c0"])];
        let zipped = union(&[&a, &b]);
        assert_eq!(zipped.len(), 2);
        assert_eq!(zipped[0], records(&["a0", "b0"]));
        let appended = union(&[&a, &c]);
        assert_eq!(appended.len(), 3);
        assert!(matches!(union(&[&a]), Cow::Borrowed(_)));
    }
}
