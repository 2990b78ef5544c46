//! reduce_by_key_and_window's two modes agree: recomputing every window from the
//! batches' partials, and updating the previous window incrementally (adding the
//! batches that entered, taking out with the inverse function those that left). A
//! property test over random batches, window and slide lengths and partition counts,
//! the executor run in process with native functions.

use super::Executor;
use super::harness::{INTERVAL_MS, counting, counting_pipeline, step, words_batch};
use crate::config::Pipeline;
use crate::plugin::Registry;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn pipeline(incremental: bool, window: u64, slide: u64, partitions: usize) -> Pipeline {
    let inverse = match incremental {
        true => "inverse_function = \"p::subtract\"\n",
        false => "",
    };
    let rest = format!(
        r#"
[stages.counts]
input = "pairs"
op = "reduce_by_key_and_window"
function = "p::sum"
{inverse}filter_function = "p::nonzero"
window = "{}ms"
slide = "{}ms"

[sinks.out]
input = "counts"
type = "print"
"#,
        window * INTERVAL_MS,
        slide * INTERVAL_MS,
    );
    counting_pipeline(partitions, &rest)
}

/// Per batch time, the window's counts when the stage had output (a slide).
fn windows(pipeline: &Pipeline, batches: &[Vec<u8>]) -> BTreeMap<u64, BTreeMap<String, u64>> {
    let registry = Registry::of([counting()]);
    let mut executor = Executor::new(pipeline, &registry);
    let mut out = BTreeMap::new();
    for (i, words) in batches.iter().enumerate() {
        let time_ms = (i as u64 + 1) * INTERVAL_MS;
        let [output] = &step(
            &mut executor,
            words_batch(time_ms, words, pipeline.partitions),
        )[..] else {
            unreachable!("one sink")
        };
        if let Some(counts) = output.clone() {
            out.insert(time_ms, counts);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn incremental_and_recomputed_windows_agree(
        batches in prop::collection::vec(prop::collection::vec(0u8..6, 0..24), 1..14),
        window in 1u64..5,
        slide in 1u64..4,
        partitions in 1usize..4,
    ) {
        let recomputed = windows(&pipeline(false, window, slide, partitions), &batches);
        let incremental = windows(&pipeline(true, window, slide, partitions), &batches);
        prop_assert_eq!(&recomputed, &incremental);
        // And both are the word counts of the batches in each window.
        for (time_ms, counts) in &recomputed {
            let last = (time_ms / INTERVAL_MS) as usize;
            let first = last.saturating_sub(window as usize);
            let mut expected: BTreeMap<String, u64> = BTreeMap::new();
            for w in batches[first..last].iter().flatten() {
                *expected.entry(format!("w{w}")).or_default() += 1;
            }
            prop_assert_eq!(counts, &expected, "window ending at {}", time_ms);
        }
    }
}
