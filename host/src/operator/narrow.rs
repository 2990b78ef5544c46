//! Narrow operators: a chain of stages run on one partition in one pass.

use super::isolate::{DeadLetter, call_isolating};
use super::{StageError, StageRuntime};
use crate::config::Op;
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
/// every other stage is one plugin call.
pub fn run_chain(
    chain: &[&StageRuntime],
    input: &Records,
    time_ms: u64,
    partition: usize,
    on_probation: &dyn Fn(&str) -> bool,
    dead: &mut Vec<DeadLetter>,
) -> Result<(Records, Vec<StageWork>), StageError> {
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
        let mut r = Records::new();
        for l in lines {
            r.push_str(l);
        }
        r
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
