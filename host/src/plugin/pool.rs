//! The wasm [`Guest`]: a compiled module and a pool of its instances, so that every
//! worker thread calling the version has an instance of its own. An instance whose call
//! failed is dropped, so no later call sees what a trap left behind.

use super::compiled::{Call, Compiled};
use super::error::CallFailure;
use super::guest::Guest;
use super::guest_log::report_suppressed;
use super::instance::PluginInstance;
use super::runtime::Ticker;
use crate::record::Records;
use std::sync::{Arc, Mutex};

/// Instances of one compiled plugin version.
pub struct InstancePool {
    compiled: Compiled,
    idle: Mutex<Vec<PluginInstance>>,
    /// Keeps the epoch ticker, and so this version's deadlines, going.
    _ticker: Arc<Ticker>,
}

impl InstancePool {
    /// A pool of instances of `compiled`, its deadlines kept by `ticker`.
    pub fn new(compiled: Compiled, ticker: Arc<Ticker>) -> Self {
        InstancePool {
            compiled,
            idle: Mutex::new(Vec::new()),
            _ticker: ticker,
        }
    }
}

impl Drop for InstancePool {
    fn drop(&mut self) {
        let suppressed = self.compiled.log_budget.take_suppressed();
        if suppressed > 0 {
            report_suppressed(&self.compiled.name, &self.compiled.hash, suppressed);
        }
    }
}

impl Guest for InstancePool {
    fn call_chain(
        &self,
        calls: &[Call<'_>],
        input: &Records,
    ) -> Result<(Records, Vec<u64>), (usize, CallFailure)> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut instance = match idle {
            Some(instance) => instance,
            None => PluginInstance::new(&self.compiled).map_err(|f| (0, f))?,
        };
        let result = instance.call_chain(&self.compiled, calls, input)?;
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(instance);
        Ok(result)
    }
}
