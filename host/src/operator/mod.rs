//! The operators a stage applies, split by how they move data.
//!
//! - [`narrow`]: per partition, fused in chains (map, flat_map, filter, map_partition,
//!   union). One plugin call per partition per stage.
//! - [`shuffle`]: records move to the partition that owns their key
//!   (reduce_by_key, group_by_key, count_by_value) or are spread evenly (repartition).
//!   reduce_by_key combines map-side, in the guest, before anything moves.
//! - [`global`]: the whole batch becomes one record (count, reduce).

pub mod global;
pub mod narrow;
pub mod shuffle;

use crate::config::{Op, StageSpec};
use crate::plugin::{Call, CallError, PluginVersion, Registry};
use crate::record::Records;
use std::sync::Arc;

/// A stage ready to run: its op and, if it calls one, its plugin function.
#[derive(Clone, Debug)]
pub struct StageRuntime {
    /// The stage's name.
    pub name: String,
    /// Its op.
    pub op: Op,
    /// The plugin and function it calls.
    pub function: Option<(Arc<PluginVersion>, String)>,
    /// Output partitions, for ops that shuffle.
    pub partitions: usize,
}

impl StageRuntime {
    /// Resolves `spec`'s function in `registry`, which has checked that it exists.
    pub fn new(spec: &StageSpec, registry: &Registry, default_partitions: usize) -> Self {
        let function = spec.function.as_ref().and_then(|f| {
            let plugin = registry.get(&f.plugin)?;
            Some((plugin.clone(), f.function.clone()))
        });
        StageRuntime {
            name: spec.name.clone(),
            op: spec.op,
            function,
            partitions: spec.partitions.unwrap_or(default_partitions),
        }
    }

    /// Calls the stage's plugin function on one partition.
    pub fn call(
        &self,
        input: &Records,
        mode: u32,
        time_ms: u64,
        partition: usize,
    ) -> Result<Records, StageError> {
        let (plugin, function) = self.function.as_ref().ok_or_else(|| {
            self.error(
                Some(partition),
                StageFailure::Data("stage has no function".into()),
            )
        })?;
        let call = Call {
            function,
            mode,
            batch_time_ms: time_ms as i64,
            partition: partition as u32,
        };
        plugin
            .call(&call, input)
            .map_err(|e| self.error(Some(partition), StageFailure::Call(e)))
    }

    /// An error of this stage.
    pub fn error(&self, partition: Option<usize>, failure: StageFailure) -> StageError {
        StageError {
            stage: self.name.clone(),
            partition,
            failure: Box::new(failure),
        }
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
