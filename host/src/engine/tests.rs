//! The engine in process: a pipeline parsed from text, its functions native
//! ([`NativeGuest`]), batches built by hand and run by the [`Executor`]. No wasm is built
//! and no process started, so what isolating poison records and `on_error` promise is
//! checked exactly, in milliseconds. (`on_error = "skip"` isolates as `dead_letter` does
//! here; the letters are dropped when the batch is committed.)

use super::Executor;
use super::harness::parse;
use crate::batch::BatchInput;
use crate::config::Pipeline;
use crate::plugin::{CallFailure, NativeGuest, PluginVersion, Registry};
use crate::record::Records;
use crate::source::{Descriptor, ReceivedCut, SourceBatch};
use sluice_sdk::wire::{self, Kind, ManifestEntry};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// `lines` (stdin) → `upper` (map of `p::upper`, with `on_error`) → print, on
/// `partitions` partitions.
fn pipeline(on_error: &str, partitions: usize) -> Pipeline {
    parse(&format!(
        r#"
[pipeline]
batch_interval = "1s"
partitions = {partitions}

[plugins.p]
path = "p.wasm"

[sources.lines]
type = "stdin"

[stages.upper]
input = "lines"
op = "map"
function = "p::upper"
on_error = "{on_error}"

[sinks.out]
input = "upper"
type = "print"
"#
    ))
}

fn text(record: &[u8]) -> String {
    rmp_serde::from_slice(record).unwrap()
}

/// `p::upper` upper-cases a line, failing as `fails` says.
fn upper(fails: impl Fn(&str) -> Option<CallFailure> + Send + Sync + 'static) -> PluginVersion {
    let guest = NativeGuest::default().with("upper", move |record| {
        let line = text(record);
        match fails(&line) {
            Some(failure) => Err(failure),
            None => Ok(vec![rmp_serde::to_vec(&line.to_uppercase()).unwrap()]),
        }
    });
    let entry = ManifestEntry {
        abi: wire::ABI_VERSION,
        kind: Kind::Map,
        name: "upper".into(),
        signature: "fn(String) -> String".into(),
    };
    PluginVersion::native("p", "1", vec![entry], guest)
}

/// Lines `l0`.. spread round-robin over `partitions` partitions.
fn batch(lines: usize, partitions: usize) -> BatchInput {
    let mut parts = vec![Records::new(); partitions];
    for i in 0..lines {
        parts[i % partitions].push_str(&format!("l{i}"));
    }
    BatchInput {
        time_ms: 1_000,
        sources: vec![SourceBatch::new(ReceivedCut {
            parts,
            descriptor: Descriptor::Volatile { records: 0 },
        })],
        last: false,
        not_durable: None,
    }
}

/// What the sink's node got, by partition, and the dead letters' records.
type Outcome = (Vec<Vec<String>>, Vec<String>);

fn run(pipeline: &Pipeline, version: PluginVersion, lines: usize) -> Result<Outcome, String> {
    let registry = Registry::of([version]);
    let executor = Executor::new(pipeline, &registry);
    let input = executor.materialize(batch(lines, pipeline.partitions));
    let (result, _) = executor.run(&input).map_err(|e| e.to_string())?;
    let sink = executor.plan().sinks[0];
    let output = result.outputs[sink]
        .as_deref()
        .unwrap()
        .iter()
        .map(|p| p.iter().map(text).collect())
        .collect();
    let dead = result
        .dead_letters
        .iter()
        .map(|d| text(&d.record))
        .collect();
    Ok((output, dead))
}

/// What `batch` should give through `upper`, without `poison`.
fn expected(lines: usize, partitions: usize, poison: &[&str]) -> Vec<Vec<String>> {
    let mut parts = vec![Vec::new(); partitions];
    for i in 0..lines {
        let line = format!("l{i}");
        if !poison.contains(&line.as_str()) {
            parts[i % partitions].push(line.to_uppercase());
        }
    }
    parts
}

fn failed(message: &str) -> CallFailure {
    CallFailure::Failed {
        message: message.into(),
    }
}

#[test]
fn poison_records_are_bisected_out_and_every_other_record_goes_on_in_order() {
    let poison = ["l137", "l600", "l601"];
    let version = upper(move |line| poison.contains(&line).then(|| failed("poison")));
    let (output, mut dead) = run(&pipeline("dead_letter", 2), version, 1_000).unwrap();
    assert_eq!(output, expected(1_000, 2, &poison));
    dead.sort();
    assert_eq!(dead, ["l137", "l600", "l601"]);
}

#[test]
fn a_function_that_hangs_on_a_record_costs_it_alone() {
    let version = upper(|line| {
        (line == "l5").then_some(CallFailure::DeadlineExceeded {
            deadline: std::time::Duration::from_secs(10),
        })
    });
    let (output, dead) = run(&pipeline("dead_letter", 1), version, 64).unwrap();
    assert_eq!(output, expected(64, 1, &["l5"]));
    assert_eq!(dead, ["l5"]);
}

#[test]
fn a_dead_letter_names_the_stage_function_version_partition_and_error() {
    let version = upper(|line| (line == "l3").then(|| failed("poison")));
    let hash = version.hash().to_string();
    let pipeline = pipeline("dead_letter", 2);
    let registry = Registry::of([version]);
    let executor = Executor::new(&pipeline, &registry);
    let input = executor.materialize(batch(10, 2));
    let (result, _) = executor.run(&input).unwrap();
    let [letter] = result.dead_letters.as_slice() else {
        panic!("{:?}", result.dead_letters)
    };
    assert_eq!(
        (
            letter.stage.as_str(),
            letter.function.as_str(),
            letter.version.as_str(),
            letter.partition
        ),
        ("upper", "p::upper", hash.as_str(), 1)
    );
    assert!(letter.error.contains("poison"), "{}", letter.error);
    assert_eq!(text(&letter.record), "l3");
}

#[test]
fn stop_fails_the_batch_naming_the_stage_and_the_record_error() {
    let version = upper(|line| (line == "l3").then(|| failed("poison")));
    let error = run(&pipeline("stop", 2), version, 10).unwrap_err();
    assert!(error.contains("upper"), "{error}");
    assert!(error.contains("poison"), "{error}");
}

#[test]
fn a_call_that_fails_once_is_retried_whole_and_nothing_is_set_aside() {
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    // The first record of the first call fails; every later call succeeds.
    let version = upper(move |line| {
        (line == "l0" && counted.fetch_add(1, Ordering::SeqCst) == 0).then(|| failed("flaky"))
    });
    let (output, dead) = run(&pipeline("dead_letter", 1), version, 20).unwrap();
    assert_eq!(output, expected(20, 1, &[]));
    assert!(dead.is_empty(), "{dead:?}");
}
