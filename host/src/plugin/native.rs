//! A native [`Guest`] for the engine's in-process tests: each function is a Rust
//! closure over one encoded record, giving the records it outputs (one for a map, none
//! or one for a filter, any number for a flat_map), or over a whole partition and the
//! call's mode (a reduce), or a [`CallFailure`] as a trapping, panicking or hanging guest
//! would. The host cannot tell it from wasm: calls go through
//! the same [`PluginVersion`](super::PluginVersion), counted and named the same way, and
//! a "hang" costs no time, so tests of deadlines run in milliseconds.

use super::compiled::Call;
use super::error::CallFailure;
use super::guest::Guest;
use crate::record::Records;
use std::collections::BTreeMap;

/// What one native function makes of a partition, given the call's mode.
type PartitionFn = Box<dyn Fn(&Records, u32) -> Result<Records, CallFailure> + Send + Sync>;

/// Native functions by name.
#[derive(Default)]
pub struct NativeGuest {
    functions: BTreeMap<String, PartitionFn>,
}

impl NativeGuest {
    /// This guest with `function` doing `f` to every record.
    pub fn with(
        self,
        function: &str,
        f: impl Fn(&[u8]) -> Result<Vec<Vec<u8>>, CallFailure> + Send + Sync + 'static,
    ) -> Self {
        self.with_partition(function, move |input, _| {
            let mut out = Records::new();
            for record in input.iter() {
                for produced in f(record)? {
                    out.push_encoded(&produced);
                }
            }
            Ok(out)
        })
    }

    /// This guest with `function` doing `f` to a whole partition, given the mode.
    pub fn with_partition(
        mut self,
        function: &str,
        f: impl Fn(&Records, u32) -> Result<Records, CallFailure> + Send + Sync + 'static,
    ) -> Self {
        self.functions.insert(function.to_string(), Box::new(f));
        self
    }
}

impl Guest for NativeGuest {
    fn call_chain(
        &self,
        calls: &[Call<'_>],
        input: &Records,
    ) -> Result<(Records, Vec<u64>), (usize, CallFailure)> {
        let mut current = input.clone();
        let mut counts = Vec::with_capacity(calls.len());
        for (at, call) in calls.iter().enumerate() {
            let f = self.functions.get(call.function).ok_or_else(|| {
                let message = format!("no native function `{}`", call.function);
                (at, CallFailure::Protocol { message })
            })?;
            let out = f(&current, call.mode).map_err(|failure| (at, failure))?;
            counts.push(out.len() as u64);
            current = out;
        }
        Ok((current, counts))
    }
}
