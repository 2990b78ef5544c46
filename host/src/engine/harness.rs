//! What the engine's in-process tests share: a pipeline parsed from text (its plugin a
//! placeholder file, its functions native), records encoded and decoded as the SDK
//! would, and batches of words built by hand and run through an [`Executor`].

use super::Executor;
use crate::batch::BatchInput;
use crate::config::Pipeline;
use crate::plugin::{CallFailure, NativeGuest, PluginVersion};
use crate::record::Records;
use crate::source::{Descriptor, ReceivedCut, SourceBatch};
use sluice_sdk::wire::{self, Kind, ManifestEntry, ReduceMode};
use std::collections::BTreeMap;

/// The batch interval of the tests' pipelines.
pub const INTERVAL_MS: u64 = 1_000;

/// The pipeline of `text`, whose `[plugins.p]` has `path = "p.wasm"` (only its presence
/// is checked: the tests give native functions).
pub fn parse(text: &str) -> Pipeline {
    let dir = std::env::temp_dir().join(format!("sluice-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p.wasm"), b"").unwrap();
    crate::config::parse_str(&dir.join("pipeline.toml"), text).unwrap()
}

/// A pipeline counting words with [`counting`]: `words` (stdin) → `pairs` (`p::pair`),
/// then `rest` (the stages and sinks under test, reading `pairs`).
pub fn counting_pipeline(partitions: usize, rest: &str) -> Pipeline {
    parse(&format!(
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

{rest}"#
    ))
}

/// A record decoded, failing as a guest would on one it cannot decode.
pub fn decode<T: serde::de::DeserializeOwned>(record: &[u8]) -> Result<T, CallFailure> {
    rmp_serde::from_slice(record).map_err(|e| CallFailure::Failed {
        message: e.to_string(),
    })
}

/// A value encoded as a record.
pub fn encode(value: &impl serde::Serialize) -> Vec<u8> {
    rmp_serde::to_vec(value).unwrap()
}

/// The batch at `time_ms` of one source whose records are `words` (`w<n>`), spread
/// round-robin over `partitions` partitions.
pub fn words_batch(time_ms: u64, words: &[u8], partitions: usize) -> BatchInput {
    let mut parts = vec![Records::new(); partitions];
    for (j, w) in words.iter().enumerate() {
        parts[j % partitions].push_str(&format!("w{w}"));
    }
    BatchInput {
        time_ms,
        sources: vec![SourceBatch::new(ReceivedCut {
            parts,
            descriptor: Descriptor::Volatile { records: 0 },
        })],
        last: false,
        not_durable: None,
    }
}

/// Runs `input` and commits its state changes; returns, per sink, the `[word, count]`
/// pairs its node got, or `None` when the node had no output (between slides).
pub fn step(executor: &mut Executor, input: BatchInput) -> Vec<Option<BTreeMap<String, u64>>> {
    let input = executor.materialize(input);
    let (result, changes) = executor.run(&input).unwrap();
    let counts = executor
        .plan()
        .sinks
        .iter()
        .map(|&sink| {
            let partitions = result.outputs[sink].as_deref().unwrap_or(&[]);
            (!partitions.is_empty()).then(|| {
                partitions
                    .iter()
                    .flat_map(Records::iter)
                    .map(|r| decode::<(String, u64)>(r).unwrap())
                    .collect()
            })
        })
        .collect();
    drop(result);
    executor.commit(changes);
    counts
}

/// The plugin `p` the tests count with, as the SDK's kinds would run it: `pair` (word →
/// [word, 1]), `sum` (reduce, both modes), `subtract` (its inverse), `nonzero` (keeps
/// pairs whose count is not 0) and `running_total` (update_state: a key's count so far).
pub fn counting() -> PluginVersion {
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
        .with("running_total", |r| {
            let (word, values, state): (String, Vec<u64>, Option<u64>) = decode(r)?;
            let total = state.unwrap_or(0) + values.iter().sum::<u64>();
            Ok(vec![encode(&(word, total))])
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
        "1",
        vec![
            entry("pair", Kind::Map),
            entry("nonzero", Kind::Filter),
            entry("subtract", Kind::InverseReduce),
            entry("sum", Kind::Reduce),
            entry("running_total", Kind::UpdateState),
        ],
        guest,
    )
}
