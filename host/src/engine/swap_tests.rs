//! Hot swap in process: a version swapped in goes on probation; one that fails its first
//! batch is rolled back and the batch runs again on the version before, so the output
//! is whole and says which version wrote it; one that works writes the batch itself.
//! The versions are native, the batches built by hand.

use super::Job;
use super::harness::{decode, encode, parse, words_batch};
use crate::batch::ManualClock;
use crate::config::Pipeline;
use crate::plugin::{CallFailure, NativeGuest, PluginVersion, Registry};
use crate::swap::SwapRequest;
use sluice_sdk::wire::{self, Kind, ManifestEntry};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Build `build` of plugin `p`, whose `tag` maps a word to `[word, build]`, failing on
/// every record when `broken`.
fn tagging(build: &str, broken: bool) -> PluginVersion {
    let tag = build.to_string();
    let guest = NativeGuest::default().with("tag", move |r| {
        let word: String = decode(r)?;
        if broken {
            return Err(CallFailure::Trapped {
                trap: "unreachable".into(),
            });
        }
        Ok(vec![encode(&(word, tag.clone()))])
    });
    let entry = ManifestEntry {
        abi: wire::ABI_VERSION,
        kind: Kind::Map,
        name: "tag".into(),
        signature: String::new(),
    };
    PluginVersion::native("p", build, vec![entry], guest)
}

/// `words` → `tagged` (`p::tag`) → a files sink at `<out>/`.
fn job(out: &str, first: PluginVersion) -> Job {
    let pipeline = parse(&format!(
        r#"
[pipeline]
batch_interval = "1s"
partitions = 2

[plugins.p]
path = "p.wasm"

[sources.words]
type = "stdin"

[stages.tagged]
input = "words"
op = "map"
function = "p::tag"

[sinks.out]
input = "tagged"
type = "files"
path = "{out}"
"#
    ));
    let _ = std::fs::remove_dir_all(sink_dir(&pipeline));
    Job::assemble(pipeline, Registry::of([first])).unwrap()
}

fn sink_dir(pipeline: &Pipeline) -> PathBuf {
    pipeline.sinks[0]
        .settings
        .directory()
        .unwrap()
        .to_path_buf()
}

fn swap(job: &mut Job, version: PluginVersion) -> String {
    let version = Arc::new(version);
    let hash = version.hash().to_string();
    let executor = &mut job.executor;
    job.plugins.swap_in(
        SwapRequest {
            plugin: "p".into(),
            version,
            noticed: Instant::now(),
            build_time: Duration::ZERO,
            compile_time: Duration::ZERO,
        },
        executor,
    );
    hash
}

/// The batch directory of `time_ms` under the job's sink: the version its `_SUCCESS`
/// names and the tags of its records, sorted.
fn written(job: &Job, time_ms: u64) -> (String, Vec<String>) {
    let dir = sink_dir(&job.pipeline);
    let batch = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with(&time_ms.to_string())
        })
        .unwrap_or_else(|| panic!("no batch {time_ms} in {}", dir.display()));
    let success: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(batch.join("_SUCCESS")).unwrap()).unwrap();
    let mut tags = Vec::new();
    for part in std::fs::read_dir(&batch)
        .unwrap()
        .flatten()
        .map(|e| e.path())
    {
        if part.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&part).unwrap().lines() {
                let pair: serde_json::Value = serde_json::from_str(line).unwrap();
                tags.push(pair[1].as_str().unwrap().to_string());
            }
        }
    }
    tags.sort();
    (success["plugins"]["p"].as_str().unwrap().to_string(), tags)
}

fn on_probation(job: &Job) -> std::collections::HashSet<String> {
    job.plugins.probation_hashes()
}

#[test]
fn a_version_that_fails_its_first_batch_is_rolled_back_and_the_batch_runs_again() {
    let out = "swap-rollback";
    let first = tagging("1", false);
    let first_hash = first.hash().to_string();
    let mut job = job(out, first);
    let broken = swap(&mut job, tagging("2", true));
    assert_eq!(on_probation(&job).len(), 1);
    let clock = ManualClock::new(1_000);
    let report = job.process(words_batch(1_000, &[1, 2, 3, 4, 5], 2), &clock);
    assert_eq!(report.error, None);
    assert_eq!(report.records_out, 5);
    // Written whole by the version before, which runs on.
    assert_eq!(
        written(&job, 1_000),
        (first_hash.clone(), vec!["1".into(); 5])
    );
    assert_eq!(job.plugins.registry().get("p").unwrap().hash(), first_hash);
    assert_ne!(broken, first_hash);
    assert!(on_probation(&job).is_empty());
}

#[test]
fn a_version_that_works_writes_its_batches_and_completes_its_probation() {
    let out = "swap-kept";
    let mut job = job(out, tagging("1", false));
    let second = swap(&mut job, tagging("2", false));
    let clock = ManualClock::new(1_000);
    let needed = job.pipeline.failure.probation_batches as u64;
    for batch in 1..=needed {
        let time_ms = batch * 1_000;
        let report = job.process(words_batch(time_ms, &[7, 8], 2), &clock);
        assert_eq!(report.error, None);
        assert_eq!(
            written(&job, time_ms),
            (second.clone(), vec!["2".into(); 2])
        );
    }
    assert!(
        on_probation(&job).is_empty(),
        "probation over after {needed} batches"
    );
}
