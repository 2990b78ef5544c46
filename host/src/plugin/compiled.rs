//! What every instance of a plugin version is made from ([`Compiled`]: its identity,
//! manifest, limits and pre-linked module), and what one call asks of an instance
//! ([`Call`]). Instances need only this, not the version that pools them.

use super::guest_log::LogBudget;
use super::host_state::HostState;
use crate::config::Limits;
use sluice_sdk::wire::ManifestEntry;
use std::sync::Arc;
use wasmtime::{Engine, InstancePre};

/// One call: which function, in which mode, for which batch and partition.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// The function's name in the manifest.
    pub function: &'a str,
    /// The `mode` argument (see `wire::ReduceMode`); 0 for other kinds.
    pub mode: u32,
    /// The batch time, in milliseconds since the Unix epoch.
    pub batch_time_ms: i64,
    /// The partition index.
    pub partition: u32,
}

/// A plugin version's compiled module and what its instances are made with.
pub struct Compiled {
    pub(super) name: Arc<str>,
    pub(super) hash: Arc<str>,
    /// Sorted by name.
    pub(super) manifest: Vec<ManifestEntry>,
    pub(super) limits: Limits,
    pub(super) engine: Engine,
    pub(super) pre: InstancePre<HostState>,
    pub(super) log_budget: Arc<LogBudget>,
}

impl Compiled {
    /// The manifest entry of `function`.
    pub fn entry(&self, function: &str) -> Option<&ManifestEntry> {
        self.manifest.iter().find(|e| e.name == function)
    }
}
