//! reduce_by_key_and_window's two modes agree: recomputing every window from the
//! batches' partials, and updating the previous window incrementally (adding the
//! batches that entered, taking out with the inverse function those that left). A
//! property test over random batches, window and slide lengths and partition counts,
//! the executor run in process with native functions.

use super::Executor;
use crate::batch::BatchInput;
use crate::config::Pipeline;
use crate::plugin::{CallFailure, NativeGuest, PluginVersion, Registry};
use crate::record::Records;
use crate::source::{Descriptor, ReceivedCut, SourceBatch};
use proptest::prelude::*;
use sluice_sdk::wire::{self, Kind, ManifestEntry, ReduceMode};
use std::collections::BTreeMap;

const INTERVAL_MS: u64 = 1_000;

fn pipeline(incremental: bool, window: u64, slide: u64, partitions: usize) -> Pipeline {
    let dir = std::env::temp_dir().join(format!("sluice-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p.wasm"), b"").unwrap();
    let inverse = match incremental {
        true => "inverse_function = \"p::subtract\"\n",
        false => "",
    };
    let text = format!(
        r#"
[pipeline]
batch_interval = "{INTERVAL_MS}ms"
partitions = {partitions}

[plugins.p]
path = "p.wasm"

[sources.words]
type = "stdin"

[stages.pairs]
input = "words"
op = "map"
function = "p::pair"

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
    crate::config::parse_str(&dir.join("pipeline.toml"), &text).unwrap()
}

fn decode<T: serde::de::DeserializeOwned>(record: &[u8]) -> Result<T, CallFailure> {
    rmp_serde::from_slice(record).map_err(|e| CallFailure::Failed {
        message: e.to_string(),
    })
}

fn encode(value: &impl serde::Serialize) -> Vec<u8> {
    rmp_serde::to_vec(value).unwrap()
}

/// `pair` (word → [word, 1]), `sum` (reduce, both modes), `subtract` (its inverse) and
/// `nonzero` (keeps pairs whose count is not 0), as the SDK's kinds would run them.
fn counting() -> PluginVersion {
    let guest = NativeGuest::default()
        .with("pair", |r| Ok(vec![encode(&(decode::<String>(r)?, 1_u64))]))
        .with("nonzero", |r| {
            let (_, n): (String, u64) = decode(r)?;
            Ok(if n == 0 { vec![] } else { vec![r.to_vec()] })
        })
        .with("subtract", |r| {
            let (word, n, leaving): (String, u64, Vec<u64>) = decode(r)?;
            Ok(vec![encode(&(word, n - leaving.iter().sum::<u64>()))])
        })
        .with_partition("sum", |input, mode| {
            let mut out = Records::new();
            match ReduceMode::from_raw(mode) {
                Some(ReduceMode::Keyed) => {
                    // One pair per key, in the order keys were first seen.
                    let mut order: Vec<String> = Vec::new();
                    let mut sums: BTreeMap<String, u64> = BTreeMap::new();
                    for record in input.iter() {
                        let (word, n): (String, u64) = decode(record)?;
                        if !sums.contains_key(&word) {
                            order.push(word.clone());
                        }
                        *sums.entry(word).or_default() += n;
                    }
                    for word in order {
                        let n = sums[&word];
                        out.push_encoded(&encode(&(word, n)));
                    }
                }
                _ => {
                    let mut total = 0;
                    for record in input.iter() {
                        total += decode::<u64>(record)?;
                    }
                    if !input.is_empty() {
                        out.push_encoded(&encode(&total));
                    }
                }
            }
            Ok(out)
        });
    let entry = |name: &str, kind| ManifestEntry {
        abi: wire::ABI_VERSION,
        kind,
        name: name.into(),
        signature: String::new(),
    };
    PluginVersion::native(
        "p",
        vec![
            entry("pair", Kind::Map),
            entry("nonzero", Kind::Filter),
            entry("subtract", Kind::InverseReduce),
            entry("sum", Kind::Reduce),
        ],
        guest,
    )
}

/// Per batch time, the window's counts when the stage had output (a slide).
fn windows(pipeline: &Pipeline, batches: &[Vec<u8>]) -> BTreeMap<u64, BTreeMap<String, u64>> {
    let registry = Registry::of([counting()]);
    let mut executor = Executor::new(pipeline, &registry);
    let sink = executor.plan().sinks[0];
    let mut out = BTreeMap::new();
    for (i, words) in batches.iter().enumerate() {
        let time_ms = (i as u64 + 1) * INTERVAL_MS;
        let mut parts = vec![Records::new(); pipeline.partitions];
        for (j, w) in words.iter().enumerate() {
            parts[j % pipeline.partitions].push_str(&format!("w{w}"));
        }
        let input = executor.materialize(BatchInput {
            time_ms,
            sources: vec![SourceBatch::new(ReceivedCut {
                parts,
                descriptor: Descriptor::Volatile { records: 0 },
            })],
            last: false,
            not_durable: None,
        });
        let (result, changes) = executor.run(&input).unwrap();
        let partitions = result.outputs[sink].as_deref().unwrap_or(&[]);
        if !partitions.is_empty() {
            let counts: BTreeMap<String, u64> = partitions
                .iter()
                .flat_map(Records::iter)
                .map(|r| decode::<(String, u64)>(r).unwrap())
                .collect();
            out.insert(time_ms, counts);
        }
        drop(result);
        executor.commit(changes);
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
