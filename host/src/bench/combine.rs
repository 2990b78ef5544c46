//! The two designs of the map-side combine, measured on the word count at one
//! partition:
//!
//! - in the guest (what sluice does): `#[flat_map(combine = sum)]` folds the pairs per
//!   key inside the plugin call, in a hash map over the decoded keys, and the partition
//!   leaves as one pair per distinct word;
//! - on the host: the flat_map emits every pair, the host groups them by their encoded
//!   key bytes in native code, and the guest is called once more to merge each key's
//!   values in bulk.
//!
//! The host design is measured from below: the flat_map emitting every pair plus the
//! native grouping of their keys, with the merge of the values counted as free. If that
//! bound is already slower than the whole word count combined in the guest, the guest
//! design wins by at least the ratio, whatever the merge would cost.

use super::data::Dataset;
use crate::engine::Executor;
use crate::operator::shuffle;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Mean times per batch.
pub struct Designs {
    /// The whole word count with the combine in the guest.
    pub in_guest: Duration,
    /// The flat_map alone, emitting every `(word, 1)` pair.
    pub flat_map: Duration,
    /// Grouping those pairs by key bytes on the host.
    pub grouping: Duration,
}

/// Measures both designs over `data`.
pub fn measure(plugins: &[(&str, PathBuf)], data: &Dataset) -> anyhow::Result<Designs> {
    let batches = super::engine::materialize(data, 1, 1_000);
    let per_batch = |d: Duration| d / batches.len().max(1) as u32;

    let (in_guest, _) =
        super::engine::run(&super::pipeline(plugins, super::WORD_COUNT), data, 1, 1_000)?;

    let flat_map_only = "[stages.out]\ninput = \"lines\"\nop = \"flat_map\"\nfunction = \"wordcount::split_words\"\n";
    let (pipeline, registry) = super::engine::load(&super::pipeline(plugins, flat_map_only), 1)?;
    let mut executor = Executor::new(&pipeline, &registry);
    let (mut flat_map, mut grouping) = (Duration::ZERO, Duration::ZERO);
    let mut keys = 0;
    for (i, batch) in batches.iter().enumerate() {
        let began = Instant::now();
        let (result, changes) = executor.run(batch).map_err(|e| anyhow::anyhow!("{e}"))?;
        let took = began.elapsed();
        let pairs = result
            .outputs
            .iter()
            .flatten()
            .next()
            .ok_or_else(|| anyhow::anyhow!("the flat_map has no output"))?;
        let began = Instant::now();
        for part in pairs.iter() {
            let groups = shuffle::group(part)
                .map_err(|(r, e)| anyhow::anyhow!("record {r} is not a pair: {e}"))?;
            keys += groups.len();
        }
        // The first batch warms the instance up and is not counted.
        if i > 0 {
            flat_map += took;
            grouping += began.elapsed();
        }
        drop(result);
        executor.commit(changes);
    }
    std::hint::black_box(keys);
    let counted = |d: Duration| d / batches.len().saturating_sub(1).max(1) as u32;
    Ok(Designs {
        in_guest: per_batch(in_guest),
        flat_map: counted(flat_map),
        grouping: counted(grouping),
    })
}
