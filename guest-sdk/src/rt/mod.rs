//! The guest runtime that the attribute macros call into. Not a public API: its shape
//! may change with any release; the ABI it implements (`ABI.md`) may not.
//!
//! A call goes: the host asks [`sluice_input`] for a buffer and writes the partition into
//! it, then calls `sluice_fn_<name>`, whose generated body is one [`call`] of a kind's
//! loop from [`kinds`] (or `stateful`, for the kinds whose items are `[key, ...]` arrays
//! carrying a key's state). The loop decodes records with [`Input`], runs the user's function
//! and encodes results with [`Output`]; the host reads them back through
//! `sluice_output_ptr` and `sluice_output_len`. Both buffers live for the whole instance
//! so that steady-state batches allocate nothing for them.

mod host;
mod input;
mod kinds;
mod output;
mod stateful;

pub use input::Input;
pub use kinds::{
    filter, flat_map, flat_map_combine, map, map_partition, reduce, transform, try_flat_map,
    try_map, try_map_partition, try_transform,
};
pub use output::Output;
pub use stateful::{inverse_reduce, map_with_state, migrate_state, update_state};

use crate::context::{self, BatchContext};
use crate::wire;
use std::cell::RefCell;

thread_local! {
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static OUTPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs one call of a plugin function: sets the batch context, hands the input
/// partition and a fresh output to `body`, and returns the ABI status.
pub fn call(
    input_len: u32,
    batch_time_ms: i64,
    partition: u32,
    body: impl for<'a> FnOnce(&mut Input<'a>, &mut Output<'_>) -> Result<(), String>,
) -> u32 {
    host::install_once();
    context::set(BatchContext {
        batch_time_ms,
        partition,
    });
    INPUT.with_borrow(|input| {
        OUTPUT.with_borrow_mut(|out| {
            out.clear();
            let input = &input[..input_len as usize];
            let result = Input::new(input).and_then(|mut records| {
                let mut output = Output::new(out);
                body(&mut records, &mut output)?;
                output.finish();
                Ok(())
            });
            match result {
                Ok(()) => wire::STATUS_OK,
                Err(message) => {
                    out.clear();
                    out.extend_from_slice(message.as_bytes());
                    wire::STATUS_ERROR
                }
            }
        })
    })
}

/// Runs `body` over a partition given as bytes, outside wasm: the SDK's own tests use
/// it to drive the kinds' loops natively. Returns the output bytes or the error.
pub fn call_native(
    input: &[u8],
    body: impl for<'a> FnOnce(&mut Input<'a>, &mut Output<'_>) -> Result<(), String>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut records = Input::new(input)?;
    let mut output = Output::new(&mut out);
    body(&mut records, &mut output)?;
    output.finish();
    Ok(out)
}

/// ABI export: the address of an input buffer of at least `len` bytes.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn sluice_input(len: u32) -> *mut u8 {
    INPUT.with_borrow_mut(|buf| {
        let len = len as usize;
        if buf.len() < len {
            buf.resize(len, 0);
        }
        buf.as_mut_ptr()
    })
}

/// ABI export: makes the last call's output the next call's input, without it leaving
/// the guest; returns its length. The host chains consecutive stages of one plugin so.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn sluice_chain() -> u32 {
    INPUT.with_borrow_mut(|input| {
        OUTPUT.with_borrow_mut(|output| {
            std::mem::swap(input, output);
            output.clear();
            input.len() as u32
        })
    })
}

/// ABI export: the address of the last call's output.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn sluice_output_ptr() -> *const u8 {
    OUTPUT.with_borrow(|buf| buf.as_ptr())
}

/// ABI export: the length of the last call's output.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn sluice_output_len() -> u32 {
    OUTPUT.with_borrow(|buf| buf.len() as u32)
}
