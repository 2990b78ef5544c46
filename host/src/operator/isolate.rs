//! Poison records: when a plugin function fails on a partition, the call is retried once
//! (a deadline missed under load, say), then the partition's items are bisected until
//! the items that fail are alone; those become dead letters with the plugin's message,
//! and every other item is processed as usual. The batch completes.
//!
//! An item is what one call takes apart: a record for map, flat_map and filter, whose
//! output is per record, so a subset of the input gives exactly the subset's output; a
//! key with its new values and state for update_state_by_key and map_with_state, whose
//! output is one item per key. A key that fails keeps its state as it was, and its new
//! values become the dead letters. A version on probation (just swapped in) is never
//! bisected: failing, it is rolled back instead.
//!
//! Isolation has a budget: [`BUDGET_DEADLINES`] times the plugin's deadline of wall time
//! per partition. A record that hangs the plugin costs a deadline per call it is in, and
//! bisection puts it in about log2(records) calls; without a bound, a few hundred such
//! records would stall the stream for hours. When the budget is spent, the items not yet
//! decided become dead letters too, each saying that it was set aside undecided, and the
//! batch completes. Progress is logged every few seconds while it runs.

use super::{StageError, StageFailure, StageRuntime};
use crate::config::{Limits, OnError, Op};
use crate::record::Records;
use std::time::{Duration, Instant};

/// The wall time isolation may take per partition, in deadlines of the plugin.
pub const BUDGET_DEADLINES: u32 = 4;

/// How often isolation logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// A record set aside because a plugin function failed on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The stage.
    pub stage: String,
    /// The function, as `plugin::function`.
    pub function: String,
    /// The plugin version that failed.
    pub version: String,
    /// The partition it was in.
    pub partition: usize,
    /// What the plugin said.
    pub error: String,
    /// The record, encoded.
    pub record: Vec<u8>,
}

/// An item a function failed on alone.
#[derive(Clone, Debug)]
pub struct FailedItem {
    /// Its index in the call's input.
    pub index: usize,
    /// The function, as `plugin::function`.
    pub function: String,
    /// The plugin version that failed.
    pub version: String,
    /// What the plugin said.
    pub error: String,
    /// Set aside without being tried alone: the isolation budget was spent.
    pub undecided: bool,
}

impl FailedItem {
    /// A dead letter of `record` (the item itself, or one of the records it stands for).
    pub fn letter(&self, stage: &StageRuntime, partition: usize, record: &[u8]) -> DeadLetter {
        DeadLetter {
            stage: stage.name.clone(),
            function: self.function.clone(),
            version: self.version.clone(),
            partition,
            error: self.error.clone(),
            record: record.to_vec(),
        }
    }
}

/// What a call over items returned once the items it fails on were set aside.
pub struct Isolated {
    /// The outputs of the items that succeeded, in input order.
    pub output: Records,
    /// The indexes of the items that succeeded, when some failed (`None`: all did).
    pub kept: Option<Vec<usize>>,
    /// The items that failed alone.
    pub failed: Vec<FailedItem>,
}

/// Whether a failure of `stage` may be bisected.
fn isolatable(
    stage: &StageRuntime,
    error: &StageError,
    on_probation: &dyn Fn(&str) -> bool,
) -> bool {
    let StageFailure::Call(call) = &*error.failure else {
        return false;
    };
    stage.on_error != OnError::Stop
        && matches!(
            stage.op,
            Op::Map | Op::FlatMap | Op::Filter | Op::UpdateStateByKey | Op::MapWithState
        )
        && !on_probation(&call.version)
}

/// Calls the stage's function on `input`, isolating records it fails on into `dead`.
pub fn call_isolating(
    stage: &StageRuntime,
    input: &Records,
    time_ms: u64,
    partition: usize,
    on_probation: &dyn Fn(&str) -> bool,
    dead: &mut Vec<DeadLetter>,
) -> Result<Records, StageError> {
    let isolated = call_items_isolating(stage, input, time_ms, partition, on_probation)?;
    if !isolated.failed.is_empty() {
        let records: Vec<&[u8]> = input.iter().collect();
        for failed in &isolated.failed {
            dead.push(failed.letter(stage, partition, records[failed.index]));
        }
    }
    Ok(isolated.output)
}

/// Calls the stage's function on `items`; when it fails, retries once, then bisects
/// until the items it fails on are alone.
pub fn call_items_isolating(
    stage: &StageRuntime,
    items: &Records,
    time_ms: u64,
    partition: usize,
    on_probation: &dyn Fn(&str) -> bool,
) -> Result<Isolated, StageError> {
    let all = |output| Isolated {
        output,
        kept: None,
        failed: Vec::new(),
    };
    let error = match stage.call(items, 0, time_ms, partition) {
        Ok(output) => return Ok(all(output)),
        Err(error) => error,
    };
    if !isolatable(stage, &error, on_probation) {
        return Err(error);
    }
    if let Ok(output) = stage.call(items, 0, time_ms, partition) {
        tracing::warn!(
            "stage `{}` (partition {partition}) failed once and succeeded on retry: {error}",
            stage.name
        );
        return Ok(all(output));
    }
    let slices: Vec<&[u8]> = items.iter().collect();
    let deadline = stage
        .function
        .as_ref()
        .map_or(Limits::default().deadline, |f| f.plugin.limits().deadline);
    let now = Instant::now();
    let mut run = Bisection {
        stage,
        time_ms,
        partition,
        started: now,
        budget: deadline * BUDGET_DEADLINES,
        logged: now,
        decided: 0,
        total: slices.len(),
        into: Isolated {
            output: Records::new(),
            kept: Some(Vec::with_capacity(slices.len())),
            failed: Vec::new(),
        },
    };
    run.bisect(&slices, 0)?;
    let undecided = run.into.failed.iter().filter(|f| f.undecided).count();
    tracing::warn!(
        failed = run.into.failed.len(),
        undecided,
        items = slices.len(),
        "stage `{}` (partition {partition}): {} of {} {} failed and were set aside{}; the rest were processed",
        stage.name,
        run.into.failed.len(),
        slices.len(),
        run.unit(),
        if undecided > 0 {
            format!(
                " ({undecided} of them undecided: isolating took the whole budget of {} s, {BUDGET_DEADLINES} deadlines)",
                run.budget.as_secs_f64()
            )
        } else {
            String::new()
        }
    );
    Ok(run.into)
}

/// One partition's bisection, with its budget.
struct Bisection<'a> {
    stage: &'a StageRuntime,
    time_ms: u64,
    partition: usize,
    started: Instant,
    budget: Duration,
    logged: Instant,
    /// Items known to succeed or fail so far.
    decided: usize,
    total: usize,
    into: Isolated,
}

impl Bisection<'_> {
    fn unit(&self) -> &'static str {
        if self.stage.op.is_keyed_state() {
            "keys"
        } else {
            "records"
        }
    }

    fn progress(&mut self) {
        if self.logged.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.logged = Instant::now();
        tracing::warn!(
            decided = self.decided,
            items = self.total,
            failed = self.into.failed.len(),
            "stage `{}` (partition {}): isolating the {} its function fails on: {} of {} decided, {} failed so far, {:.0} of {:.0} s of the budget spent",
            self.stage.name,
            self.partition,
            self.unit(),
            self.decided,
            self.total,
            self.into.failed.len(),
            self.started.elapsed().as_secs_f64(),
            self.budget.as_secs_f64()
        );
    }

    fn bisect(&mut self, items: &[&[u8]], first: usize) -> Result<(), StageError> {
        if items.is_empty() {
            return Ok(());
        }
        self.progress();
        if self.started.elapsed() >= self.budget {
            // One letter per item, all alike.
            let bound = self.stage.function.as_ref();
            let undecided = FailedItem {
                index: first,
                function: bound.map_or_else(String::new, |f| {
                    format!("{}::{}", f.plugin.name(), f.function)
                }),
                version: bound.map_or_else(String::new, |f| f.plugin.hash().to_string()),
                error: format!(
                    "set aside undecided: isolating the failing {} of this partition took the whole budget of {} s ({BUDGET_DEADLINES} deadlines)",
                    self.unit(),
                    self.budget.as_secs_f64()
                ),
                undecided: true,
            };
            self.into
                .failed
                .extend((first..first + items.len()).map(|index| FailedItem {
                    index,
                    ..undecided.clone()
                }));
            self.decided += items.len();
            return Ok(());
        }
        let mut part = Records::new();
        for item in items {
            part.push_encoded(item);
        }
        match self.stage.call(&part, 0, self.time_ms, self.partition) {
            Ok(out) => {
                self.into.output.append(&out);
                if let Some(kept) = &mut self.into.kept {
                    kept.extend(first..first + items.len());
                }
                self.decided += items.len();
                Ok(())
            }
            Err(error) => {
                let StageFailure::Call(call) = &*error.failure else {
                    return Err(error);
                };
                if items.len() == 1 {
                    self.into.failed.push(FailedItem {
                        index: first,
                        function: format!("{}::{}", call.plugin, call.function),
                        version: call.version.clone(),
                        error: call.failure.to_string(),
                        undecided: false,
                    });
                    self.decided += 1;
                    return Ok(());
                }
                let half = items.len() / 2;
                let (left, right) = items.split_at(half);
                self.bisect(left, first)?;
                self.bisect(right, first + half)
            }
        }
    }
}

impl DeadLetter {
    /// The dead letter as a record: a map with the stage, function, version, batch time,
    /// partition, error and the record itself (as it was, not re-encoded).
    pub fn encode(&self, batch_time_ms: u64) -> Vec<u8> {
        use sluice_sdk::wire::{write_str, write_u64};
        let mut out = vec![0x87];
        for (key, value) in [
            ("stage", &self.stage),
            ("function", &self.function),
            ("version", &self.version),
            ("error", &self.error),
        ] {
            write_str(&mut out, key);
            write_str(&mut out, value);
        }
        write_str(&mut out, "batch_time_ms");
        write_u64(&mut out, batch_time_ms);
        write_str(&mut out, "partition");
        write_u64(&mut out, self.partition as u64);
        write_str(&mut out, "record");
        out.extend_from_slice(&self.record);
        out
    }
}
