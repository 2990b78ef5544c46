//! A checkpoint restored at another partition count carries on exactly where the run
//! stopped: keyed state (update_state_by_key) and a window's partials and previous
//! window (incremental reduce_by_key_and_window) are snapshotted, encoded as a
//! checkpoint file's bytes, decoded, and restored into an executor of the new count;
//! every batch after gives what an uninterrupted run gives. A property test over
//! random batches, stop points and partition counts, in process.

use super::Executor;
use super::harness::{INTERVAL_MS, counting, counting_pipeline, step, words_batch};
use crate::checkpoint::recovery::restore;
use crate::checkpoint::{Checkpoint, snapshot_state};
use crate::config::Pipeline;
use crate::plugin::Registry;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn pipeline(partitions: usize) -> Pipeline {
    counting_pipeline(
        partitions,
        &format!(
            r#"
[stages.totals]
input = "pairs"
op = "update_state_by_key"
function = "p::running_total"

[stages.windowed]
input = "pairs"
op = "reduce_by_key_and_window"
function = "p::sum"
inverse_function = "p::subtract"
filter_function = "p::nonzero"
window = "{}ms"

[sinks.totals]
input = "totals"
type = "print"

[sinks.windowed]
input = "windowed"
type = "print"
"#,
            3 * INTERVAL_MS
        ),
    )
}

/// What one batch gave each sink.
type Outputs = Vec<Option<BTreeMap<String, u64>>>;

fn run_batches(executor: &mut Executor, batches: &[Vec<u8>], first: usize) -> Vec<Outputs> {
    let partitions = executor.stages()[0].partitions;
    batches
        .iter()
        .enumerate()
        .map(|(i, words)| {
            let time_ms = (first + i + 1) as u64 * INTERVAL_MS;
            step(executor, words_batch(time_ms, words, partitions))
        })
        .collect()
}

/// The state of every stateful stage of `executor`, through a checkpoint's bytes,
/// restored into a new executor at `partitions`.
fn restored(pipeline: &Pipeline, executor: &Executor, partitions: usize) -> Executor {
    let states: Vec<_> = (0..pipeline.stages.len())
        .map(|i| executor.state(i))
        .collect();
    let checkpoint = Checkpoint {
        pipeline: "p".into(),
        pipeline_hash: String::new(),
        batch_time_ms: 0,
        sources: Vec::new(),
        stages: snapshot_state(&pipeline.stages, &states),
        plugins: Vec::new(),
    };
    let read = Checkpoint::decode(&checkpoint.encode().unwrap()).unwrap();
    let other = self::pipeline(partitions);
    let mut fresh = Executor::new(&other, &Registry::of([counting()]));
    for snapshot in &read.stages {
        let index = other
            .stages
            .iter()
            .position(|s| s.name == snapshot.name)
            .unwrap();
        let state = restore(other.stages[index].op, partitions, snapshot).unwrap();
        fresh.replace_state(index, state);
    }
    fresh
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_restore_at_another_partition_count_carries_on_exactly(
        batches in prop::collection::vec(prop::collection::vec(0u8..8, 0..24), 2..12),
        stop in 1usize..11,
        before in 1usize..5,
        after in 1usize..5,
    ) {
        let stop = stop.min(batches.len() - 1);
        let reference = run_batches(
            &mut Executor::new(&pipeline(before), &Registry::of([counting()])),
            &batches,
            0,
        );
        let first = pipeline(before);
        let mut executor = Executor::new(&first, &Registry::of([counting()]));
        let mut outputs = run_batches(&mut executor, &batches[..stop], 0);
        let mut resumed = restored(&first, &executor, after);
        outputs.extend(run_batches(&mut resumed, &batches[stop..], stop));
        prop_assert_eq!(outputs, reference);
    }
}
