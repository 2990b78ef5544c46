//! Server errors per service over a sliding window: parse JSON request logs, keep the
//! 5xx responses, and count them per service with `reduce_by_key_and_window`. Because
//! `subtract` undoes `sum`, each window is computed from the previous one (add the
//! batches that entered, take out those that left) instead of from scratch, and
//! `nonzero` drops services whose count fell back to zero.

use serde::Deserialize;
use sluice_sdk::{filter, flat_map, inverse_reduce, map, reduce};

/// One request, as a JSON log line: `{"service": "checkout", "status": 503, "ms": 120}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Request {
    /// The service that answered.
    pub service: String,
    /// The HTTP status of the response.
    pub status: u16,
}

/// Parses a JSON log line; other lines are logged and skipped.
#[flat_map]
pub fn parse(line: &str) -> Option<Request> {
    match serde_json::from_str(line) {
        Ok(request) => Some(request),
        Err(e) => {
            sluice_sdk::log::warn!("skipping a line that is not a request ({e}): {line:?}");
            None
        }
    }
}

/// Keeps server errors (5xx).
#[filter]
pub fn is_server_error(request: &Request) -> bool {
    (500..600).contains(&request.status)
}

/// Keys an error by its service, counting one.
#[map]
pub fn by_service(request: Request) -> (String, u64) {
    (request.service, 1)
}

/// Adds counts.
#[reduce]
pub fn sum(a: u64, b: u64) -> u64 {
    a + b
}

/// Takes a count back out.
#[inverse_reduce]
pub fn subtract(a: u64, b: u64) -> u64 {
    a - b
}

/// Keeps services that still have errors in the window.
#[filter]
pub fn nonzero(pair: &(&str, u64)) -> bool {
    pair.1 > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_server_errors_only() {
        let error = parse(r#"{"service": "checkout", "status": 503, "ms": 120}"#).unwrap();
        assert!(is_server_error(&error));
        assert_eq!(by_service(error), ("checkout".to_string(), 1));
        assert!(!is_server_error(
            &parse(r#"{"service": "cart", "status": 404}"#).unwrap()
        ));
        assert_eq!(parse("not json"), None);
    }

    #[test]
    fn subtract_undoes_sum() {
        assert_eq!(subtract(sum(3, 4), 4), 3);
        assert!(!nonzero(&("cart", 0)));
    }
}
