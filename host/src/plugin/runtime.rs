//! The process's one wasmtime engine, the host functions plugins may import, and the
//! ticker that drives call deadlines.

use super::guest_log::report_suppressed;
use super::host_state::HostState;
use crate::render::escape_controls;
use sluice_sdk::wire::IMPORT_MODULE;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wasmtime::{Caller, Config, Engine, Linker, OptLevel};

/// How often the engine's epoch advances. A call's deadline is rounded up to it.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The wasmtime engine shared by every plugin, with the host imports linked.
pub struct Runtime {
    pub(super) engine: Engine,
    pub(super) linker: Linker<HostState>,
    pub(super) ticker: Arc<Ticker>,
}

/// The epoch ticker's life: it ticks while the runtime or any plugin version loaded with
/// it lives, so that a version outliving its runtime (`sluice plugin test`) still has
/// its deadlines enforced.
#[derive(Debug)]
pub struct Ticker(Arc<AtomicBool>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Creates the engine and starts the epoch ticker.
    pub fn new() -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.cranelift_opt_level(OptLevel::Speed);
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(IMPORT_MODULE, "log", host_log)
            .and_then(|l| l.func_wrap(IMPORT_MODULE, "panic", host_panic))
            .map_err(anyhow::Error::from)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticking = engine.clone();
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("sluice-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticking.increment_epoch();
                }
            })?;
        Ok(Runtime {
            engine,
            linker,
            ticker: Arc::new(Ticker(stop)),
        })
    }

    /// The imports a plugin may have, as `(module, name)`.
    pub fn provided_imports() -> [(&'static str, &'static str); 2] {
        [(IMPORT_MODULE, "log"), (IMPORT_MODULE, "panic")]
    }
}

/// Longest guest log or panic message kept; the rest is cut.
const MAX_MESSAGE: usize = 16 << 10;

fn guest_str(caller: &mut Caller<'_, HostState>, ptr: u32, len: u32) -> String {
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        return "(plugin has no memory export)".into();
    };
    let data = memory.data(&caller);
    let start = ptr as usize;
    let end = start.saturating_add((len as usize).min(MAX_MESSAGE));
    match data.get(start..end) {
        Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        None => "(message out of bounds)".into(),
    }
}

fn host_log(mut caller: Caller<'_, HostState>, level: u32, ptr: u32, len: u32) {
    let admit = caller.data().log_budget.admit(Instant::now());
    if admit.suppressed_before > 0 {
        let state = caller.data();
        report_suppressed(&state.plugin, &state.version, admit.suppressed_before);
    }
    if !admit.emit {
        return;
    }
    let message = guest_str(&mut caller, ptr, len);
    let message = escape_controls(&message);
    let state = caller.data();
    let call = &state.call;
    macro_rules! emit {
        ($level:expr) => {
            tracing::event!(
                target: "sluice::plugin",
                $level,
                plugin = %state.plugin,
                version = %state.version,
                function = %call.function,
                batch = call.batch_time_ms,
                partition = call.partition,
                "{message}"
            )
        };
    }
    match level {
        1 => emit!(tracing::Level::ERROR),
        2 => emit!(tracing::Level::WARN),
        3 => emit!(tracing::Level::INFO),
        4 => emit!(tracing::Level::DEBUG),
        _ => emit!(tracing::Level::TRACE),
    }
}

fn host_panic(mut caller: Caller<'_, HostState>, ptr: u32, len: u32) {
    let message = guest_str(&mut caller, ptr, len);
    caller.data_mut().panic = Some(message);
}
