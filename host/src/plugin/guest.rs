//! The seam between a plugin version and what runs its functions ([`Guest`]): a pool of
//! wasm instances ([`InstancePool`](super::pool::InstancePool)) in a real run, or native
//! Rust functions ([`NativeGuest`](super::native::NativeGuest)) in the engine's
//! in-process tests, which so cover rollback, bisection and `on_error` without building
//! wasm. Everything around a call (counting it, naming the plugin and version in its
//! error) is the version's, shared by both.

use super::compiled::Call;
use super::error::CallFailure;
use crate::record::Records;

/// What runs a plugin version's functions.
pub trait Guest: Send + Sync {
    /// Runs consecutive calls, each taking the previous one's output as its input;
    /// returns the last output with every call's output record count, or the index of
    /// the call that failed and why.
    fn call_chain(
        &self,
        calls: &[Call<'_>],
        input: &Records,
    ) -> Result<(Records, Vec<u64>), (usize, CallFailure)>;
}
