//! The guest's side of the host imports: logging through the `log` crate and panic
//! messages, both sent to the host before anything else happens in a call.

use std::sync::Once;

#[cfg(target_arch = "wasm32")]
mod imports {
    #[link(wasm_import_module = "sluice")]
    unsafe extern "C" {
        #[link_name = "log"]
        pub fn host_log(level: u32, ptr: *const u8, len: usize);
        #[link_name = "panic"]
        pub fn host_panic(ptr: *const u8, len: usize);
    }
}

struct HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let message = record.args().to_string();
        #[cfg(target_arch = "wasm32")]
        // SAFETY: the pointer and length describe `message`, which outlives the call.
        unsafe {
            imports::host_log(record.level() as u32, message.as_ptr(), message.len());
        }
        #[cfg(not(target_arch = "wasm32"))]
        eprintln!("[{}] {message}", record.level());
    }

    fn flush(&self) {}
}

static LOGGER: HostLogger = HostLogger;

/// Installs the logger and the panic hook, once per instance.
pub(crate) fn install_once() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
        #[cfg(target_arch = "wasm32")]
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let what = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(a panic without a message)");
            let message = match info.location() {
                Some(at) => format!("{what} (at {}:{})", at.file(), at.line()),
                None => what.to_string(),
            };
            // SAFETY: the pointer and length describe `message`, which outlives the call.
            unsafe { imports::host_panic(message.as_ptr(), message.len()) };
        }));
    });
}
