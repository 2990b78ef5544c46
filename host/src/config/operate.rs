//! The keys that say how a stream is operated: where its batch timeline, metrics and
//! API are served (`[pipeline] http`, `retained_batches`) and how fast its sources may
//! take records (`[pipeline] backpressure`; `[sources.NAME] max_rate`, `backpressure`,
//! `initial_rate`).

use super::{Pipeline, RateSpec};
use crate::settings::TableReader;
use std::net::{SocketAddr, ToSocketAddrs};

/// Batches the metrics keep by default (Spark's `spark.streaming.ui.retainedBatches`).
pub const DEFAULT_RETAINED_BATCHES: usize = 1000;

const HTTP_HINT: &str = "write it like \"127.0.0.1:4040\" (port 0 picks a free port)";

/// Reads this file's `[pipeline]` keys into `pipeline`.
pub(super) fn pipeline_keys(r: &TableReader<'_, '_>, pipeline: &mut Pipeline) {
    if let Some((address, _)) = r.string("http") {
        match check_http_address(&address) {
            Ok(_) => pipeline.http = Some(address),
            Err(message) => r.error("http", message, Some(HTTP_HINT.into())),
        }
    }
    if let Some(n) = r.integer("retained_batches", 1) {
        pipeline.retained_batches = n as usize;
    }
    if let Some(on) = r.boolean("backpressure") {
        pipeline.backpressure = on;
    }
}

/// Reads a source's rate keys; `backpressure` defaults to the pipeline's.
pub(super) fn source_rate(r: &TableReader<'_, '_>, default_backpressure: bool) -> RateSpec {
    let max_rate = rate(r, "max_rate", "remove `max_rate` for no limit");
    let backpressure = r.boolean("backpressure").unwrap_or(default_backpressure);
    let initial_rate = rate(
        r,
        "initial_rate",
        "remove `initial_rate` to start at 100 records per second",
    );
    if initial_rate.is_some() && !backpressure {
        r.error(
            "initial_rate",
            "applies only with backpressure",
            Some(
                "set `backpressure = true` here or in [pipeline], or remove `initial_rate`".into(),
            ),
        );
    }
    RateSpec {
        max_rate,
        backpressure,
        initial_rate,
    }
}

/// A rate in records per second: a whole number, at least 1.
fn rate(r: &TableReader<'_, '_>, key: &'static str, hint: &str) -> Option<u64> {
    let n = r.integer(key, i64::MIN)?;
    if n < 1 {
        r.error(
            key,
            format!("must be at least 1 record per second, found {n}"),
            Some(hint.to_string()),
        );
        return None;
    }
    Some(n as u64)
}

/// Checks an address to serve HTTP on: `host:port`, the host resolvable. Returns the
/// addresses it resolves to.
pub fn check_http_address(text: &str) -> Result<Vec<SocketAddr>, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(vec![address]);
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("`{text}` is not host:port"));
    };
    if host.is_empty() {
        return Err(format!("`{text}` has no host"));
    }
    if port.parse::<u16>().is_err() {
        return Err(format!("`{port}` is not a port number (0 to 65535)"));
    }
    match text.to_socket_addrs() {
        Ok(addresses) => {
            let addresses: Vec<SocketAddr> = addresses.collect();
            if addresses.is_empty() {
                Err(format!("`{host}` resolves to no address"))
            } else {
                Ok(addresses)
            }
        }
        Err(e) => Err(format!("cannot resolve `{host}`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_addresses_are_host_and_port() {
        assert_eq!(
            check_http_address("127.0.0.1:4040"),
            Ok(vec!["127.0.0.1:4040".parse().unwrap()])
        );
        assert!(check_http_address("[::1]:0").is_ok());
        assert!(check_http_address("localhost:4040").is_ok());
        assert_eq!(
            check_http_address("4040"),
            Err("`4040` is not host:port".into())
        );
        assert_eq!(
            check_http_address("127.0.0.1:99999"),
            Err("`99999` is not a port number (0 to 65535)".into())
        );
        assert_eq!(check_http_address(":80"), Err("`:80` has no host".into()));
    }
}
