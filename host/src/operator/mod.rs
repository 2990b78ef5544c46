//! The operators a stage applies, split by how they move data.
//!
//! - [`narrow`]: per partition, fused in chains (map, flat_map, filter, map_partition,
//!   union). One plugin call per partition per stage.
//! - [`shuffle`]: records move to the partition that owns their key
//!   (reduce_by_key, group_by_key, count_by_value) or are spread evenly (repartition).
//!   reduce_by_key combines map-side, in the guest, before anything moves.
//! - [`global`]: the whole batch becomes one record (count, reduce).
//! - [`stateful`]: keyed state across batches (update_state_by_key, map_with_state).
//! - [`window`]: results over the last N batches, from per-batch partials.
//! - [`join`]: two keyed inputs joined or co-grouped per batch.

pub mod global;
pub mod isolate;
pub mod join;
pub mod narrow;
pub mod shuffle;
pub mod stateful;
pub mod window;

use crate::config::{FunctionRef, OnError, Op, StageSpec};
use crate::plugin::{Call, CallError, PluginVersion, Registry};
use crate::record::Records;
use std::sync::Arc;

/// A plugin function bound to the plugin version that runs it.
#[derive(Clone, Debug)]
pub struct BoundFunction {
    /// The plugin version.
    pub plugin: Arc<PluginVersion>,
    /// The function's name in its manifest.
    pub function: String,
}

/// A stage ready to run: its op, settings, and the plugin functions it calls.
#[derive(Clone, Debug)]
pub struct StageRuntime {
    /// The stage's name.
    pub name: String,
    /// Its op.
    pub op: Op,
    /// `function`.
    pub function: Option<BoundFunction>,
    /// `inverse_function` (reduce_by_key_and_window, incremental mode).
    pub inverse: Option<BoundFunction>,
    /// `filter_function` (reduce_by_key_and_window).
    pub filter: Option<BoundFunction>,
    /// Output partitions, for ops that hash keys.
    pub partitions: usize,
    /// `window` and `slide`, in milliseconds, for window ops.
    pub window: Option<(u64, u64)>,
    /// `timeout` in milliseconds, for map_with_state.
    pub timeout_ms: Option<u64>,
    /// Whether map_with_state also outputs its state snapshots.
    pub snapshots: bool,
    /// What to do with records the function fails on.
    pub on_error: OnError,
    /// Its input was combined per key in the guest already (`#[flat_map(combine)]`), so
    /// the map-side combine is skipped.
    pub precombined: bool,
}

impl StageRuntime {
    /// Binds `spec`'s functions to the plugins in `registry`, which has checked them.
    pub fn new(spec: &StageSpec, registry: &Registry, default_partitions: usize) -> Self {
        let bind = |f: Option<&FunctionRef>| {
            f.and_then(|f| {
                Some(BoundFunction {
                    plugin: registry.get(&f.plugin)?.clone(),
                    function: f.function.clone(),
                })
            })
        };
        StageRuntime {
            name: spec.name.clone(),
            op: spec.op,
            function: bind(spec.function.as_ref()),
            inverse: bind(spec.inverse.as_ref()),
            filter: bind(spec.filter.as_ref()),
            partitions: spec.partitions.unwrap_or(default_partitions),
            window: spec
                .window
                .map(|w| (w.length.as_millis() as u64, w.slide.as_millis() as u64)),
            timeout_ms: spec.timeout.map(|t| t.as_millis() as u64),
            snapshots: spec.state_snapshots,
            on_error: spec.on_error,
            precombined: false,
        }
    }

    /// Calls the stage's `function` on one partition.
    pub fn call(
        &self,
        input: &Records,
        mode: u32,
        time_ms: u64,
        partition: usize,
    ) -> Result<Records, StageError> {
        self.call_bound(self.function.as_ref(), input, mode, time_ms, partition)
    }

    /// Calls one of the stage's functions on one partition.
    pub fn call_bound(
        &self,
        bound: Option<&BoundFunction>,
        input: &Records,
        mode: u32,
        time_ms: u64,
        partition: usize,
    ) -> Result<Records, StageError> {
        let bound = bound.ok_or_else(|| {
            self.error(
                Some(partition),
                StageFailure::Data("stage has no such function".into()),
            )
        })?;
        let call = Call {
            function: &bound.function,
            mode,
            batch_time_ms: time_ms as i64,
            partition: partition as u32,
        };
        bound
            .plugin
            .call(&call, input)
            .map_err(|e| self.error(Some(partition), StageFailure::Call(e)))
    }

    /// A stage with no functions, for tests of host-only ops.
    #[cfg(test)]
    pub fn bare(op: Op, partitions: usize) -> Self {
        StageRuntime {
            name: "s".into(),
            op,
            function: None,
            inverse: None,
            filter: None,
            partitions,
            window: None,
            timeout_ms: None,
            snapshots: false,
            on_error: OnError::default(),
            precombined: false,
        }
    }

    /// An error of this stage.
    pub fn error(&self, partition: Option<usize>, failure: StageFailure) -> StageError {
        StageError {
            stage: self.name.clone(),
            partition,
            failure: Box::new(failure),
        }
    }

    /// An error about the shape of a plugin's output (an ABI violation).
    pub fn bad_output(&self, partition: usize, what: impl std::fmt::Display) -> StageError {
        self.error(
            Some(partition),
            StageFailure::Data(format!("plugin output does not fit the op: {what}")),
        )
    }
}

/// A stage that failed on a batch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("stage `{stage}`{}: {failure}", partition.map(|p| format!(" (partition {p})")).unwrap_or_default())]
pub struct StageError {
    /// The stage.
    pub stage: String,
    /// The partition, when the failure belongs to one.
    pub partition: Option<usize>,
    /// What happened (boxed: errors travel through every partition's result).
    pub failure: Box<StageFailure>,
}

/// What made a stage fail.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StageFailure {
    /// A plugin call failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Records were not of the shape the op needs (a pair, for a keyed op).
    #[error("{0}")]
    Data(String),
}

/// Picks the first error in partition order, so that the reported failure does not
/// depend on thread timing.
pub fn first_error<T>(results: Vec<Result<T, StageError>>) -> Result<Vec<T>, StageError> {
    results.into_iter().collect()
}
