//! One instance of a plugin version: its store, memory and exports, and the mechanics of
//! one call (write the partition in, call, read the result out, classify failures).

use super::compiled::{Call, Compiled};
use super::error::CallFailure;
use super::host_state::{CallInfo, HostState, MemoryLimiter};
use super::runtime::EPOCH_TICK;
use crate::record::Records;
use sluice_sdk::wire;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::{Memory, Store, Trap, TypedFunc, WasmBacktrace};

type FunctionExport = TypedFunc<(u32, i64, u32, u32), u32>;

/// A live instance of one plugin version.
pub struct PluginInstance {
    store: Store<HostState>,
    memory: Memory,
    input: TypedFunc<u32, u32>,
    output_ptr: TypedFunc<(), u32>,
    output_len: TypedFunc<(), u32>,
    chain: TypedFunc<(), u32>,
    functions: HashMap<String, FunctionExport>,
}

impl PluginInstance {
    /// Instantiates `version`. Exports were validated at load, so a missing one here is
    /// a protocol error rather than a panic.
    pub fn new(version: &Compiled) -> Result<Self, CallFailure> {
        let state = HostState {
            plugin: version.name.clone(),
            version: version.hash.clone(),
            call: CallInfo::default(),
            panic: None,
            log_budget: version.log_budget.clone(),
            limiter: MemoryLimiter {
                limit: version.limits.memory,
                refused: None,
            },
        };
        let mut store = Store::new(&version.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(deadline_ticks(version));
        store.epoch_deadline_trap();
        let instance = version
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify(&mut store, e, version))?;
        let protocol = |what: &str, e: wasmtime::Error| CallFailure::Protocol {
            message: format!("{what}: {e}"),
        };
        let memory =
            instance
                .get_memory(&mut store, "memory")
                .ok_or_else(|| CallFailure::Protocol {
                    message: "no memory export".into(),
                })?;
        let input = instance
            .get_typed_func(&mut store, "sluice_input")
            .map_err(|e| protocol("sluice_input", e))?;
        let output_ptr = instance
            .get_typed_func(&mut store, "sluice_output_ptr")
            .map_err(|e| protocol("sluice_output_ptr", e))?;
        let output_len = instance
            .get_typed_func(&mut store, "sluice_output_len")
            .map_err(|e| protocol("sluice_output_len", e))?;
        let chain = instance
            .get_typed_func(&mut store, "sluice_chain")
            .map_err(|e| protocol("sluice_chain", e))?;
        let mut functions = HashMap::new();
        for entry in &version.manifest {
            let export = entry.export_name();
            let func = instance
                .get_typed_func(&mut store, &export)
                .map_err(|e| protocol(&export, e))?;
            functions.insert(entry.name.clone(), func);
        }
        Ok(PluginInstance {
            store,
            memory,
            input,
            output_ptr,
            output_len,
            chain,
            functions,
        })
    }

    /// Runs `calls` one after the other, each on the previous one's output, which stays
    /// in the guest (`sluice_chain`); only the last output is copied out and checked.
    /// Returns it and every call's output count, or the failing call's index and why.
    /// On any error the instance must be dropped.
    pub fn call_chain(
        &mut self,
        version: &Compiled,
        calls: &[Call<'_>],
        input: &Records,
    ) -> Result<(Records, Vec<u64>), (usize, CallFailure)> {
        let mut counts = Vec::with_capacity(calls.len());
        // Arm the deadline before any guest code runs: `sluice_input` is guest code, and
        // an instance idle in the pool still holds the deadline of its last call, long
        // past by now.
        self.store.set_epoch_deadline(deadline_ticks(version));
        let mut len = self
            .write_input(input)
            .map_err(|e| (0, classify(&mut self.store, e, version)))?;
        let mut in_count = input.len() as u64;
        for (at, call) in calls.iter().enumerate() {
            let last = at + 1 == calls.len();
            // A map gives one record per record: any other count is a broken guest, not
            // records to lose or duplicate.
            let one_to_one = version
                .entry(call.function)
                .is_some_and(|e| e.kind == wire::Kind::Map);
            let check = |count: u64| {
                if one_to_one && count != in_count {
                    return Err(wasmtime::Error::new(Protocol(format!(
                        "map `{}` returned {count} records for {in_count}: a map returns exactly one record per record",
                        call.function
                    ))));
                }
                Ok(())
            };
            let step = (|| -> wasmtime::Result<Option<Records>> {
                // Each call of the chain has the whole deadline, its `sluice_chain` too.
                self.store.set_epoch_deadline(deadline_ticks(version));
                if at > 0 {
                    len = self.chain.call(&mut self.store, ())?;
                }
                let func = self.functions.get(call.function).cloned().ok_or_else(|| {
                    wasmtime::Error::new(Protocol(format!(
                        "no export for function `{}`",
                        call.function
                    )))
                })?;
                let state = self.store.data_mut();
                state.call = CallInfo {
                    function: Arc::from(call.function),
                    batch_time_ms: call.batch_time_ms,
                    partition: call.partition,
                };
                state.panic = None;
                state.limiter.refused = None;
                let status = func.call(
                    &mut self.store,
                    (len, call.batch_time_ms, call.partition, call.mode),
                )?;
                let output = self.output()?;
                match status {
                    wire::STATUS_OK if last => {
                        let records = Records::from_array(output)
                            .map_err(|e| wasmtime::Error::new(Protocol(format!("output: {e}"))))?;
                        check(records.len() as u64)?;
                        Ok(Some(records))
                    }
                    // An output the next call reads in place: only its count is needed.
                    wire::STATUS_OK => {
                        let (count, _) = wire::read_array_header(output)
                            .map_err(|e| wasmtime::Error::new(Protocol(format!("output: {e}"))))?;
                        check(count as u64)?;
                        counts.push(count as u64);
                        Ok(None)
                    }
                    wire::STATUS_ERROR => Err(wasmtime::Error::new(GuestError(
                        String::from_utf8_lossy(output).into_owned(),
                    ))),
                    other => Err(wasmtime::Error::new(Protocol(format!(
                        "unknown status {other}"
                    )))),
                }
            })();
            match step {
                Ok(Some(records)) => {
                    counts.push(records.len() as u64);
                    return Ok((records, counts));
                }
                Ok(None) => in_count = *counts.last().expect("pushed by the step"),
                Err(e) => return Err((at, classify(&mut self.store, e, version))),
            }
        }
        Err((
            0,
            CallFailure::Protocol {
                message: "an empty chain of calls".into(),
            },
        ))
    }

    /// Writes a partition into the guest's input buffer; returns its length.
    fn write_input(&mut self, input: &Records) -> wasmtime::Result<u32> {
        let header = input.array_header();
        let total = header.len() + input.bytes().len();
        let total32 = u32::try_from(total)
            .map_err(|_| wasmtime::format_err!("partition of {total} bytes exceeds 4 GiB"))?;
        let ptr = self.input.call(&mut self.store, total32)? as usize;
        self.memory.write(&mut self.store, ptr, &header)?;
        self.memory
            .write(&mut self.store, ptr + header.len(), input.bytes())?;
        Ok(total32)
    }

    /// The last call's output, in guest memory.
    fn output(&mut self) -> wasmtime::Result<&[u8]> {
        let out_ptr = self.output_ptr.call(&mut self.store, ())? as usize;
        let out_len = self.output_len.call(&mut self.store, ())? as usize;
        self.memory
            .data(&self.store)
            .get(out_ptr..out_ptr.saturating_add(out_len))
            .ok_or_else(|| {
                wasmtime::Error::new(Protocol(format!(
                    "output {out_ptr}+{out_len} is outside memory"
                )))
            })
    }
}

#[derive(Debug)]
struct Protocol(String);
impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Protocol {}

#[derive(Debug)]
struct GuestError(String);
impl std::fmt::Display for GuestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for GuestError {}

fn deadline_ticks(version: &Compiled) -> u64 {
    (version.limits.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1
}

/// Turns a wasmtime error into what happened, in the plugin's own words where it left
/// some (a panic message) and in the limit's terms where a limit was hit.
fn classify(
    store: &mut Store<HostState>,
    error: wasmtime::Error,
    version: &Compiled,
) -> CallFailure {
    let state = store.data_mut();
    if let Some(requested) = state.limiter.refused.take() {
        return CallFailure::MemoryExceeded {
            requested,
            limit: state.limiter.limit,
        };
    }
    if let Some(message) = state.panic.take() {
        return CallFailure::Panicked { message };
    }
    if let Some(GuestError(message)) = error.downcast_ref::<GuestError>() {
        return CallFailure::Failed {
            message: message.clone(),
        };
    }
    if let Some(Protocol(message)) = error.downcast_ref::<Protocol>() {
        return CallFailure::Protocol {
            message: message.clone(),
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallFailure::DeadlineExceeded {
            deadline: version.limits.deadline,
        },
        Some(trap) => {
            // The innermost function with a name, demangled without its hash.
            let place = error
                .downcast_ref::<WasmBacktrace>()
                .and_then(|bt| {
                    bt.frames().iter().find_map(|f| {
                        f.func_name()
                            .map(|n| format!("{:#}", rustc_demangle::demangle(n)))
                    })
                })
                .map(|name| format!(" in {name}"))
                .unwrap_or_default();
            let what = match trap {
                Trap::StackOverflow => "stack overflow (recursion too deep?)".to_string(),
                other => other.to_string(),
            };
            CallFailure::Trapped {
                trap: format!("{what}{place}"),
            }
        }
        None => CallFailure::Trapped {
            trap: format!("{error:#}"),
        },
    }
}
